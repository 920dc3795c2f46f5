/**
 * metav1.Condition handling. A condition's lastTransitionTime changes only when its status changes, so
 * re-running a reconcile that reaches the same verdict writes nothing.
 */
import type { Condition } from '../../crds/v1alpha1/common.ts';

export type { Condition };

export type ConditionInput = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>;

/** Returns a new list with `input` set, keeping lastTransitionTime when the status is unchanged. */
export function setCondition(
  existing: readonly Condition[] | undefined,
  input: ConditionInput,
  generation: number | undefined,
  now: Date,
): Condition[] {
  const list = [...(existing ?? [])];
  const i = list.findIndex((c) => c.type === input.type);
  const prev = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    ...input,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    lastTransitionTime:
      prev && prev.status === input.status
        ? prev.lastTransitionTime
        : now.toISOString().replace(/\.\d+Z$/, 'Z'),
  };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

/** Sets every condition in order. */
export function setConditions(
  existing: readonly Condition[] | undefined,
  inputs: readonly ConditionInput[],
  generation: number | undefined,
  now: Date,
): Condition[] {
  return inputs.reduce<Condition[]>((acc, c) => setCondition(acc, c, generation, now), [...(existing ?? [])]);
}

export function findCondition(list: readonly Condition[] | undefined, type: string): Condition | undefined {
  return list?.find((c) => c.type === type);
}

/**
 * The `Ready` summary: True when every listed concern is True; otherwise the first failing concern's
 * reason and message (the chain's order is the order of importance).
 */
export function readySummary(concerns: readonly ConditionInput[], readyReason = 'Ready'): ConditionInput {
  const failing = concerns.find((c) => c.status !== 'True');
  if (!failing) return { type: 'Ready', status: 'True', reason: readyReason, message: 'All checks passed' };
  return { type: 'Ready', status: failing.status, reason: failing.reason, message: failing.message };
}

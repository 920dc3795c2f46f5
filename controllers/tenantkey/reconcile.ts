import type { TenantKey, TenantKeyStatus } from '../../crds/v1alpha1/index.ts';
import { IndexKey } from '../keystore/entries.ts';
import { tenantOfNamespace } from '../keystore/tenants.ts';
import { readySummary, setConditions, type ConditionInput } from '../runtime/conditions.ts';
import type { Kind, Outcome } from '../runtime/reconciler.ts';
import type { TenantKeyDeps } from './deps.ts';
import { TENANTKEY_FINALIZER, TenantKeyCondition, TenantKeyReason } from './conditions.ts';
import { finalizeTenantKey } from './deletion.ts';
import { destroyVersion, generateVersion, type KeyPlace } from './keymaterial.ts';
import { foundSecret, unwrapAll, type UnwrapProblem } from './verify.ts';
import {
  groupVersions,
  missingVersions,
  nextVersion,
  policyAhead,
  rotationDue,
  statusVersions,
  versionStates,
  type ObservedVersion,
} from './versions.ts';

const NO_TENANT_RECHECK_MS = 30_000;
const ROOT_MISSING_RECHECK_MS = 30_000;
/** Rotation deadlines further away than this are re-checked then (timers cannot span weeks). */
const MAX_REQUEUE_MS = 10 * 60_000;

/**
 * TenantKey: read every version from the keystore, check each unwraps for this tenant and key, then —
 * only when all do — generate (first version or a due rotation), destroy what the spec says to destroy,
 * and report. Rewrapping under a new root version is the keystore's own loop (keystore/rewrap.ts).
 * Every step is create-first / delete-last, so a crash anywhere resumes.
 */
export function tenantKeyKind(d: TenantKeyDeps): Kind<TenantKey, TenantKeyStatus> {
  return {
    finalizer: TENANTKEY_FINALIZER,
    finalize: (tk) => finalizeTenantKey(d, tk),
    reconcile: (tk) => reconcileTenantKey(d, tk),
  };
}

async function reconcileTenantKey(d: TenantKeyDeps, tk: TenantKey): Promise<Outcome<TenantKeyStatus>> {
  const ns = tk.metadata.namespace ?? '';
  // NB: the tenant comes from Palisade's own record of which tenant owns this namespace, never from labels.
  const record = tenantOfNamespace(d.keystore, ns);
  const tenantUID = record?.uid;
  if (!tenantUID) {
    const message = `namespace ${ns} belongs to no Tenant; TenantKeys live in a tenant's namespace (a Tenant's spec.namespace)`;
    return {
      status: report(d, tk, undefined, [], notReady(TenantKeyReason.TenantNotFound, message)),
      requeueAfterMs: NO_TENANT_RECHECK_MS,
    };
  }
  const found = d.keystore.find(IndexKey.key(tenantUID, tk.metadata.name));
  const versions = groupVersions(found.map(foundSecret));
  // NB: the namespace outlives a Tenant deleted with Retain, and so do its editors' rights there: its keys
  // stay exactly as they were (nothing generated, rotated or destroyed) until a Tenant adopts them.
  if (record.retained) {
    const message = `Tenant ${record.tenant}, which owned namespace ${ns}, was deleted (deletionPolicy Retain kept its keys): no version is generated, rotated or destroyed unless Tenant ${record.tenant} is created again`;
    return {
      status: report(d, tk, tenantUID, versions, notReady(TenantKeyReason.TenantNotFound, message)),
      requeueAfterMs: NO_TENANT_RECHECK_MS,
    };
  }
  const held = new Set(d.keystore.rootKeys.versions().map((r) => r.version));
  const secretOf = (name: string) => d.keystore.get(name);
  const { problems } = unwrapAll(tk, tenantUID, versions, secretOf, d.keystore.rootKeys.lookup, held);
  const [problem] = problems;
  if (problem) return refuse(d, tk, tenantUID, versions, problem, problems.length);
  const gone = await missingMaterial(d, tk, tenantUID, versions);
  if (gone) return gone;
  const place: KeyPlace = { tk, tenantUID };
  const view = await converge(d, place, versions);
  const rotation = rotationDue(tk.spec, view[view.length - 1], d.env.now());
  const status = report(d, tk, tenantUID, view);
  if (rotation.due || !rotation.nextAt) return { status };
  const untilRotation = Math.max(1000, rotation.nextAt.getTime() - d.env.now().getTime());
  return { status, requeueAfterMs: Math.min(MAX_REQUEUE_MS, untilRotation) };
}

/**
 * Versions the key's own status lists but the keystore no longer holds (never destroyed): reported, and
 * nothing generated in their place. NB: the Secret cache may not have seen a version the status already
 * lists (two watch streams, no common order): missing key material is claimed only after a live read agrees.
 */
async function missingMaterial(
  d: TenantKeyDeps,
  tk: TenantKey,
  tenantUID: string,
  versions: ObservedVersion[],
): Promise<Outcome<TenantKeyStatus> | undefined> {
  const missing = missingVersions(versions, tk.status?.versions ?? [], tk.spec);
  if (missing.length === 0) return undefined;
  if (await d.keystore.liveVersionsPresent(tenantUID, tk.metadata.name, missing))
    throw new Error(
      `version(s) ${missing.join(', ')} exist but the Secret cache has not seen them yet; retrying`,
    );
  const message = `the keystore entries of version(s) ${missing.join(', ')} are gone although they were never destroyed; restore them from a backup (no new key is generated in their place)`;
  return {
    status: report(d, tk, tenantUID, versions, notReady(TenantKeyReason.KeyMaterialMissing, message)),
    requeueAfterMs: ROOT_MISSING_RECHECK_MS,
  };
}

/** The effectful steps, in order; returns the versions as they are afterwards. */
async function converge(
  d: TenantKeyDeps,
  p: KeyPlace,
  before: ObservedVersion[],
): Promise<ObservedVersion[]> {
  let view = before;
  const rotation = rotationDue(p.tk.spec, view[view.length - 1], d.env.now());
  if (rotation.due) {
    const keyUID = view[0]?.keyUID ?? p.tk.metadata.uid ?? '';
    const version = nextVersion(view, p.tk.status?.versions ?? []);
    view = [...view, await generateVersion(d, p, version, keyUID, rotation.reason)];
  }
  const states = versionStates(
    p.tk.spec,
    view.map((v) => v.version),
  );
  for (const v of view) {
    if (states.get(v.version) === 'Destroyed') await destroyVersion(d, p, v);
  }
  return view;
}

/** A version does not unwrap where it is: report it, warn, audit, and touch nothing. */
function refuse(
  d: TenantKeyDeps,
  tk: TenantKey,
  tenantUID: string,
  versions: ObservedVersion[],
  problem: UnwrapProblem,
  count: number,
): Outcome<TenantKeyStatus> {
  const others = count > 1 ? ` (and ${count - 1} more version(s) with problems)` : '';
  const message = `keystore entry ${problem.secret} (version ${problem.version}) ${problem.message}${others}; the other versions are untouched`;
  d.events.record(tk, 'Warning', problem.reason, 'Verify', message);
  d.audit.record({
    action: 'tenantkey.verify',
    outcome: 'Failure',
    resource: {
      kind: 'TenantKey',
      name: tk.metadata.name,
      namespace: tk.metadata.namespace,
      uid: tk.metadata.uid,
    },
    tenantUID,
    version: problem.version,
    reason: problem.reason,
  });
  const status = report(d, tk, tenantUID, versions, notReady(problem.reason, message));
  return problem.reason === TenantKeyReason.RootKeyMissing
    ? { status, requeueAfterMs: ROOT_MISSING_RECHECK_MS }
    : { status };
}

function notReady(reason: string, message: string): ConditionInput {
  return { type: TenantKeyCondition.KeyReady, status: 'False', reason, message };
}

function keyConcerns(d: TenantKeyDeps, tk: TenantKey, view: ObservedVersion[]): ConditionInput[] {
  const states = versionStates(
    tk.spec,
    view.map((v) => v.version),
  );
  const active = view[view.length - 1];
  const usable = [...states.values()].filter((s) => s === 'DecryptOnly').length;
  const ahead = active ? policyAhead(tk.spec, active.version) : undefined;
  return [
    {
      type: TenantKeyCondition.KeyReady,
      status: active ? 'True' : 'False',
      reason: ahead ? TenantKeyReason.PolicyAheadOfVersion : TenantKeyReason.VersionsAvailable,
      message: active
        ? `version ${active.version} is active; ${usable} older version(s) decrypt${ahead ? `. But ${ahead}` : ''}`
        : 'no version yet',
    },
    ...rootConcern(d, tk, view),
  ];
}

/**
 * Which root version wraps the versions, from the keystore entries alone: it holds whether or not a
 * version unwraps, so a KeyReady failure does not leave an earlier RootKeyCurrent standing.
 */
function rootConcern(d: TenantKeyDeps, tk: TenantKey, view: ObservedVersion[]): ConditionInput[] {
  if (view.length === 0 || d.keystore.rootKeys.versions().length === 0) return [];
  const states = versionStates(
    tk.spec,
    view.map((v) => v.version),
  );
  const root = d.keystore.rootKeys.active().version;
  const behind = view.filter((v) => v.current.rootVersion < root && states.get(v.version) !== 'Destroyed');
  return [
    behind.length === 0
      ? {
          type: TenantKeyCondition.RootKeyCurrent,
          status: 'True',
          reason: TenantKeyReason.Rewrapped,
          message: `every version is wrapped by root key version ${root}`,
        }
      : {
          type: TenantKeyCondition.RootKeyCurrent,
          status: 'False',
          reason: TenantKeyReason.RewrapPending,
          message: `${behind.length} version(s) still wrapped by an older root key version`,
        },
  ];
}

/**
 * Ready: every concern True. A key whose policy is ahead of its versions works — Ready stays True — but
 * Ready carries that reason and message instead of "All checks passed", so `kubectl get` shows it.
 */
function readyOf(concerns: readonly ConditionInput[]): ConditionInput {
  const ready = readySummary(concerns, TenantKeyReason.Ready);
  const ahead = concerns.find((c) => c.reason === TenantKeyReason.PolicyAheadOfVersion);
  return ready.status === 'True' && ahead
    ? { ...ready, reason: ahead.reason, message: ahead.message }
    : ready;
}

/** The one status (the driver writes it): versions derived from the keystore, conditions from the verdict. */
function report(
  d: TenantKeyDeps,
  tk: TenantKey,
  tenantUID: string | undefined,
  view: ObservedVersion[],
  failure?: ConditionInput,
): TenantKeyStatus {
  const concerns = failure ? [failure, ...rootConcern(d, tk, view)] : keyConcerns(d, tk, view);
  const ready = readyOf(concerns);
  const wasReady = tk.status?.conditions?.find((c) => c.type === TenantKeyCondition.Ready);
  if (ready.reason === TenantKeyReason.PolicyAheadOfVersion && wasReady?.reason !== ready.reason)
    d.events.record(tk, 'Warning', ready.reason, 'Reconcile', ready.message);
  const states = versionStates(
    tk.spec,
    view.map((v) => v.version),
  );
  const active = view[view.length - 1];
  return {
    ...tk.status,
    ...(tenantUID ? { tenantUID } : {}),
    ...(active ? { currentVersion: active.version, lastRotationTrigger: active.trigger } : {}),
    ...(active && active.version > 1 ? { lastRotationTime: active.created } : {}),
    versions: statusVersions(view, states, tk.status?.versions ?? [], tk.spec),
    observedGeneration: tk.metadata.generation,
    conditions: setConditions(
      tk.status?.conditions,
      [...concerns, ready],
      tk.metadata.generation,
      d.env.now(),
    ),
  };
}

/**
 * The API contract the operator relies on, as one set of cases run against two targets: the in-memory
 * server (controllers/runtime/testing/fake.test.ts) and the real kube-apiserver with
 * kube-controller-manager (contract.int.test.ts). A behaviour the fake gets wrong fails on the fake; a
 * real-server behaviour that differs from what the fake assumes (a new Kubernetes release) fails on the
 * real one. Each case asserts outcomes (objects, codes, reasons, events), so each can fail.
 */
import { DELETION_CASES } from './deletion.ts';
import { INFORMER_CASES } from './informer.ts';
import type { ContractTarget } from './support.ts';
import { WRITE_CASES } from './writes.ts';

export type { ContractTarget } from './support.ts';

/** Every case, by its sentence. */
export const CONTRACT_CASES = { ...WRITE_CASES, ...DELETION_CASES, ...INFORMER_CASES };

/** Defines the contract's cases (mocha `it`s), each against a target `setup` makes for it alone. */
export function apiContract(
  setup: () => Promise<ContractTarget>,
  teardown?: (t: ContractTarget) => Promise<void>,
): void {
  let target: ContractTarget | undefined;
  beforeEach(async () => {
    target = await setup();
  });
  afterEach(async () => {
    if (target) await teardown?.(target);
    target = undefined;
  });
  for (const [sentence, run] of Object.entries(CONTRACT_CASES))
    it(sentence, async () => {
      if (!target) throw new Error('no contract target');
      await run(target);
    });
}

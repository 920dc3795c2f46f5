// The control plane shared by every integration test of a mocha run (started by hooks.ts).
import type { ControlPlane } from '../controlplane/index.ts';

let current: ControlPlane | undefined;

export function testEnv(): ControlPlane {
  if (!current) {
    throw new Error(
      'no test control plane: run integration tests with --config .mocharc.int.json (hack/testenv/hooks.ts)',
    );
  }
  return current;
}

export function setTestEnv(cp: ControlPlane | undefined): void {
  current = cp;
}

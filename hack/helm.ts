// Runs the project's helm (hack/build-tools.sh; stamped like a release, so `helm template` needs no
// --kube-version) and returns its stdout.
import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import { binaries } from './controlplane/binaries.ts';

const run = promisify(execFile);

export async function helm(args: string[]): Promise<string> {
  const { helm: bin } = await binaries();
  const { stdout } = await run(bin, args, {
    maxBuffer: 64 << 20,
    env: { ...process.env, HELM_CACHE_HOME: os.tmpdir() },
  });
  return stdout;
}

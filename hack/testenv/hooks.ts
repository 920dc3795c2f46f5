// Mocha root hooks for integration runs (.mocharc.int.json): build the binaries if needed, start ONE real
// control plane for the whole run, stop it at the end.
//
// Environment knobs:
//   PALISADE_TEST_CERT_MANAGER=0   do not run the cert-manager controller (on by default: the
//                                  CertificateBinding journeys in e2e/certificate*.int.test.ts need it)
//   PALISADE_TEST_CRDS=<dir>:<dir> CRD dirs to apply instead of <repo>/crds ('' for none)
//   PALISADE_TEST_VERBOSE=1        print startup progress
// Logs of every process stay in <dir>/logs while the run lasts.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { BUILD_TOOLS, REPO_ROOT } from '../controlplane/binaries.ts';
import { hasYaml } from '../controlplane/crds.ts';
import { startControlPlane, type ControlPlane } from '../controlplane/index.ts';
import { setTestEnv } from './env.ts';

// A cold build compiles Kubernetes from source: tens of minutes on two cores. A warm one is a no-op.
const BUILD_TIMEOUT_MS = 60 * 60_000;
const START_TIMEOUT_MS = 3 * 60_000;

// Everything, cert-manager's controller included: hack/controlplane/certmanager.int.test.ts runs it even
// when the shared control plane does not.
function buildTools(): Promise<void> {
  return new Promise((resolve, reject) => {
    // Output goes to stderr: it only appears on cold builds and explains the wait.
    const build = spawn('bash', [BUILD_TOOLS], { stdio: ['ignore', process.stderr, process.stderr] });
    build.once('error', reject);
    build.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`hack/build-tools.sh failed (exit ${code})`)),
    );
  });
}

async function crdDirsToApply(): Promise<string[]> {
  const override = process.env.PALISADE_TEST_CRDS;
  if (override !== undefined) return override.split(':').filter((d) => d !== '');
  const crds = path.join(REPO_ROOT, 'crds');
  return (await hasYaml(crds)) ? [crds] : [];
}

let cp: ControlPlane | undefined;

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    this.timeout(BUILD_TIMEOUT_MS + START_TIMEOUT_MS);
    const certManager = process.env.PALISADE_TEST_CERT_MANAGER !== '0';
    await buildTools();
    const crdDirs = await crdDirsToApply();
    const verbose = process.env.PALISADE_TEST_VERBOSE === '1';
    const started = Date.now();
    cp = await startControlPlane({
      crdDirs,
      certManager,
      ...(verbose ? { log: (line: string) => console.error(`[controlplane] ${line}`) } : {}),
    });
    setTestEnv(cp);
    // Code under test that loads the default kubeconfig or NATS URL finds this control plane.
    process.env.KUBECONFIG = cp.kubeconfig;
    if (cp.natsUrl) process.env.NATS_URL = cp.natsUrl;
    console.error(`[controlplane] up in ${Date.now() - started} ms: ${cp.apiserverUrl}, state in ${cp.dir}`);
  },

  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(30_000);
    setTestEnv(undefined);
    await cp?.stop();
    cp = undefined;
  },
};

// The long-lived process behind `cli.ts up`: owns one control plane, writes its state files, and stops
// everything on SIGTERM (`cli.ts down`) or when the TTL runs out. Its children die with it (see proc.ts),
// so killing this one process is always enough.
//
//   node hack/controlplane/supervisor.ts --state <dir> --ttl-ms <n> [--crds <dir>]... [--cert-manager]
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startControlPlane, type ControlPlane } from './index.ts';
import { STATE_FILES } from './state.ts';

const { values } = parseArgs({
  options: {
    state: { type: 'string' },
    'ttl-ms': { type: 'string' },
    crds: { type: 'string', multiple: true },
    'cert-manager': { type: 'boolean' },
  },
});

const log = (line: string): void => console.log(`${new Date().toISOString()} ${line}`);

async function writeStateFiles(state: string, cp: ControlPlane): Promise<void> {
  const pids = { supervisor: process.pid, ...cp.pids() };
  const pidLines = Object.entries(pids).map(([name, pid]) => `${pid} ${name}\n`);
  await writeFile(path.join(state, STATE_FILES.pids), pidLines.join(''));
  const env = [`KUBECONFIG=${cp.kubeconfig}`, `PALISADE_APISERVER=${cp.apiserverUrl}`];
  if (cp.natsUrl) env.push(`NATS_URL=${cp.natsUrl}`);
  // Written last: its existence is what `cli.ts up` waits for.
  await writeFile(path.join(state, STATE_FILES.env), `${env.join('\n')}\n`);
}

async function removeStateFiles(state: string): Promise<void> {
  await rm(path.join(state, STATE_FILES.env), { force: true });
  await rm(path.join(state, STATE_FILES.pids), { force: true });
}

async function main(): Promise<void> {
  if (!values.state || !values['ttl-ms']) throw new Error('usage: supervisor.ts --state <dir> --ttl-ms <n>');
  const state = path.resolve(values.state);
  const ttlMs = Number(values['ttl-ms']);
  let cp: ControlPlane | undefined;
  let stopping = false;
  const shutdown = async (why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log(`stopping: ${why}`);
    await cp?.stop();
    await removeStateFiles(state);
    log('stopped');
    process.exit(0);
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => void shutdown(sig));
  try {
    cp = await startControlPlane({
      dir: state,
      crdDirs: values.crds ?? [],
      certManager: values['cert-manager'] ?? false,
      log,
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    await writeFile(path.join(state, STATE_FILES.error), `${message}\n`);
    throw err;
  }
  if (stopping) return;
  await writeStateFiles(state, cp);
  log(`up; stops by itself in ${Math.round(ttlMs / 60_000)} min`);
  setTimeout(() => void shutdown('TTL expired'), ttlMs);
}

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});

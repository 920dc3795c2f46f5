import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderServerConfig, type ServerConfigInput } from './protocol/index.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { NATS_SECRETS, secretText } from './secrets.ts';

export interface LocalServerFiles {
  configFile: string;
  caFile: string;
}

/**
 * Writes what a local nats-server needs from the operator's Secrets: `nats.conf` (rendered for `dir`),
 * `tls.crt`, `tls.key` (mode 0600) and `ca.crt`. Used by the local control plane, the demo and the tests;
 * the Helm chart mounts the same Secrets instead. Returns undefined while the Secrets do not exist yet.
 */
export async function writeLocalServerConfig(
  client: KubeClient,
  namespace: string,
  dir: string,
  resolverDir = path.join(dir, 'jwt'),
): Promise<LocalServerFiles | undefined> {
  const server = await client.get<Secret>({ kind: 'Secret', name: NATS_SECRETS.server, namespace });
  const tls = await client.get<Secret>({ kind: 'Secret', name: NATS_SECRETS.tls, namespace });
  if (!server || !tls) return undefined;
  const input: ServerConfigInput = {
    operatorJwt: secretText(server, 'operator.jwt'),
    systemAccount: secretText(server, 'system-account'),
    systemAccountJwt: secretText(server, 'system-account.jwt'),
    palisadeAccount: secretText(server, 'palisade-account'),
    palisadeAccountJwt: secretText(server, 'palisade-account.jwt'),
  };
  await writeLocalTlsFiles(dir, tls);
  const f = (name: string) => path.join(path.resolve(dir), name);
  const layout = {
    resolverDir: path.resolve(resolverDir),
    tlsCertFile: f('tls.crt'),
    tlsKeyFile: f('tls.key'),
    pidFile: f('nats.pid'),
  };
  await writeFile(f('nats.conf'), renderServerConfig(input, layout));
  return { configFile: f('nats.conf'), caFile: f('ca.crt') };
}

/**
 * Writes `tls.crt`, `tls.key` (0600) and `ca.crt` of Secret `palisade-nats-tls` into `dir`, each by
 * rename (a reloading server never reads half a file); only files whose content differs are written.
 * True when any was.
 */
export async function writeLocalTlsFiles(dir: string, tls: Secret): Promise<boolean> {
  await mkdir(dir, { recursive: true });
  let changed = false;
  for (const [name, mode] of [
    ['tls.key', 0o600],
    ['tls.crt', 0o644],
    ['ca.crt', 0o644],
  ] as const) {
    const file = path.join(path.resolve(dir), name);
    const content = secretText(tls, name);
    if ((await readFile(file, 'utf8').catch(() => undefined)) === content) continue;
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, content, { mode });
    await chmod(tmp, mode);
    await rename(tmp, file);
    changed = true;
  }
  return changed;
}

/**
 * Keeps a local nats-server's certificate current: every `intervalMs` (default 30 s) rewrites the TLS
 * files from `palisade-nats-tls` when the operator renewed or reissued it, then calls `onChanged` —
 * typically `process.kill(natsPid, 'SIGHUP')`: nats-server reloads its configuration, TLS files included
 * (as the chart's reloader makes it do). `onChanged` returning false (the server could not be signalled
 * now, e.g. it is restarting) has it called again next round. Errors (API server away) are reported and
 * the next round retries. Nothing is signalled once stopped; the timer does not keep the process alive.
 */
export function watchLocalServerTls(o: {
  client: KubeClient;
  namespace: string;
  dir: string;
  onChanged: () => boolean | void;
  onError?: (e: unknown) => void;
  intervalMs?: number;
}): { stop(): void } {
  let stopped = false;
  let unsignalled = false;
  const round = async () => {
    const tls = await o.client.get<Secret>({
      kind: 'Secret',
      name: NATS_SECRETS.tls,
      namespace: o.namespace,
    });
    if (tls && (await writeLocalTlsFiles(o.dir, tls))) unsignalled = true;
    if (unsignalled && !stopped) unsignalled = o.onChanged() === false;
  };
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    round()
      .catch((e: unknown) => o.onError?.(e))
      .finally(() => (busy = false));
  }, o.intervalMs ?? 30_000);
  timer.unref();
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}

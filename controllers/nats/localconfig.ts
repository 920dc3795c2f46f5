import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderServerConfig, type ServerConfigInput } from '../messaging/index.ts';
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
  await mkdir(dir, { recursive: true });
  const f = (name: string) => path.join(path.resolve(dir), name);
  await writeFile(f('tls.crt'), secretText(tls, 'tls.crt'));
  await writeFile(f('tls.key'), secretText(tls, 'tls.key'), { mode: 0o600 });
  await chmod(f('tls.key'), 0o600);
  await writeFile(f('ca.crt'), secretText(tls, 'ca.crt'));
  const layout = {
    resolverDir: path.resolve(resolverDir),
    tlsCertFile: f('tls.crt'),
    tlsKeyFile: f('tls.key'),
  };
  await writeFile(f('nats.conf'), renderServerConfig(input, layout));
  return { configFile: f('nats.conf'), caFile: f('ca.crt') };
}

/**
 * Shared set-up of the messaging journeys: an operator with messaging on, and the shared nats-server
 * restarted in operator mode from the config the operator published. Also test-only NATS users made
 * from the installation's Secrets (an admin can read them; tests use them as observers).
 */
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { testEnv } from '../hack/testenv/env.ts';
import { unwrap } from '../controllers/crypto/index.ts';
import {
  CLIENT_TLS,
  connectionOptions,
  createKeyPair,
  fromSeed,
  serviceUserJwt,
  type NKeyPair,
} from '../controllers/nats/protocol/index.ts';
import { watchLocalServerTls, writeLocalServerConfig } from '../controllers/nats/localconfig.ts';
import { NATS_SECRETS, secretData, secretText } from '../controllers/nats/secrets.ts';
import { accountSeedSlot } from '../controllers/keystore/entries.ts';
import { accountSeedBinding } from '../controllers/keystore/store.ts';
import type { Secret } from '../controllers/runtime/kube/types.ts';
import { ensureNamespace, kube } from './support/cluster.ts';
import { eventually, startOperator, waitForControllers, type OperatorProcess } from './support/operator.ts';

export interface MessagingEnv {
  op: OperatorProcess;
  operatorNs: string;
  server: string;
  caPem: string;
  /** Where nats-server's config and TLS files are (writeLocalTlsFiles rewrites the latter). */
  serverDir: string;
  serverConfig: string;
}

let reloading: { stop(): void } | undefined;

export async function startMessaging(
  operatorNs: string,
  identity: string,
  extraEnv: Record<string, string> = {},
  kubeconfig = testEnv().kubeconfig,
  checkout?: string,
  args: string[] = [],
): Promise<MessagingEnv> {
  const cp = testEnv();
  const server = (cp.natsUrl ?? '').replace(/^nats:\/\//, '');
  await ensureNamespace(operatorNs);
  const saved = { ...process.env };
  Object.assign(process.env, { PALISADE_NATS_URL: server, ...extraEnv });
  let op: OperatorProcess;
  try {
    op = await startOperator({
      kubeconfig,
      namespace: operatorNs,
      identity,
      args,
      ...(checkout ? { checkout } : {}),
    });
  } finally {
    for (const k of ['PALISADE_NATS_URL', ...Object.keys(extraEnv)]) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
  await waitForControllers(op, 60_000);
  const dir = await mkdtemp(path.join(cp.dir, 'palisade-nats-'));
  const files = await eventually('the NATS server config Secret', () =>
    writeLocalServerConfig(kube(), operatorNs, dir, path.join(cp.dir, 'nats-store', 'jwt')),
  );
  // What the chart's reloader does: nats-server reloads a renewed or reissued certificate (one reloader
  // for the shared nats-server: the latest operator's, so the earlier one stops before the restart).
  reloading?.stop();
  await cp.restartNats({ wipeStore: true, configFile: files.configFile });
  reloading = watchLocalServerTls({
    client: kube(),
    namespace: operatorNs,
    dir,
    intervalMs: 1_000,
    onChanged: () => cp.reloadNats(),
  });
  const tls = await kube().get<Secret>({ kind: 'Secret', name: NATS_SECRETS.tls, namespace: operatorNs });
  return {
    op,
    operatorNs,
    server,
    caPem: secretText(tls as Secret, 'ca.crt'),
    serverDir: dir,
    serverConfig: files.configFile,
  };
}

export async function stopMessaging(env: MessagingEnv | undefined): Promise<void> {
  reloading?.stop();
  reloading = undefined;
  await env?.op.stop();
  await testEnv().restartNats({ wipeStore: true, configFile: null });
}

async function seedOf(namespace: string, name: string): Promise<string> {
  const s = await kube().get<Secret>({ kind: 'Secret', name, namespace });
  if (!s) throw new Error(`no Secret ${namespace}/${name}`);
  return secretText(s, 'seed');
}

/** A user of an account with the given permissions (test observers). */
export async function connectAs(
  env: MessagingEnv,
  account: NKeyPair,
  perms: { pub: string[]; sub: string[] },
  name: string,
): Promise<NatsConnection> {
  const u = createKeyPair('U');
  const jwt = serviceUserJwt(account, u.publicKey, name, Math.floor(Date.now() / 1000), perms);
  return connect({
    ...connectionOptions([env.server], env.caPem, { jwt, seed: u.seed }, name),
    waitOnFirstConnect: false,
    maxReconnectAttempts: -1,
  });
}

export async function systemAccount(env: MessagingEnv): Promise<NKeyPair> {
  return fromSeed(await seedOf(env.operatorNs, NATS_SECRETS.systemAccount), 'A');
}

export async function palisadeAccount(env: MessagingEnv): Promise<NKeyPair> {
  return fromSeed(await seedOf(env.operatorNs, NATS_SECRETS.palisadeAccount), 'A');
}

/** The tenant account's key, unwrapped with the root key (as only the operator normally does). */
export async function tenantAccount(env: MessagingEnv, uid: string): Promise<NKeyPair> {
  const root = await kube().get<Secret>({
    kind: 'Secret',
    name: 'palisade-root-key-v1',
    namespace: env.operatorNs,
  });
  const wrapped = await kube().get<Secret>({
    kind: 'Secret',
    name: accountSeedSlot(uid),
    namespace: env.operatorNs,
  });
  if (!root || !wrapped) throw new Error('root key or account seed keystore entry missing');
  const key = secretData(root, 'key');
  const seed = unwrap(secretData(wrapped, 'wrapped'), () => key, accountSeedBinding(uid));
  return fromSeed(new TextDecoder().decode(seed), 'A');
}

/** Writes a credentials Secret's data as files, the way a Secret volume mounts it; returns the dir. */
export async function mountSecret(secret: Secret, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const [k, v] of Object.entries(secret.data ?? {}))
    await writeFile(path.join(dir, k), Buffer.from(v, 'base64'));
  return dir;
}

export function credsOf(secret: Secret): string {
  return secretText(secret, 'agent.creds');
}

/** Whether credentials get a connection through to nats-server: `true`, or the refusal's text. */
export async function agentConnects(
  env: Pick<MessagingEnv, 'server' | 'caPem'>,
  creds: string,
): Promise<true | string> {
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({
      servers: env.server,
      tls: { ca: env.caPem, ...CLIENT_TLS } as { ca: string },
      authenticator: credsAuthenticator(new TextEncoder().encode(creds)),
      reconnect: false,
      maxReconnectAttempts: 0,
    });
    await nc.flush();
    return true;
  } catch (e) {
    return String(e);
  } finally {
    await nc?.close().catch(() => undefined);
  }
}

// Helpers of the TenantKey suites: a private control plane (so root versions and Tenants of other suites
// cannot interfere), the operator's controllers in-process with a controllable clock, and checks that
// read key material the way the platform would (controllers/keyservice/tenantdata.ts).
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tenant, TenantKey } from '../../crds/v1alpha1/index.ts';
import { ensureInstallationKeys } from '../../controllers/installation/keys.ts';
import { RootKeyring } from '../../controllers/installation/keyring.ts';
import { setupKeystore } from '../../controllers/keystore/setup.ts';
import { Keystore } from '../../controllers/keystore/store.ts';
import { KubeClient, loadKubeConfig } from '../../controllers/runtime/kube/client.ts';
import type { KubeObject, Secret } from '../../controllers/runtime/kube/types.ts';
import { Manager } from '../../controllers/runtime/manager.ts';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../../controllers/runtime/objects.ts';
import { setupTenantController } from '../../controllers/tenant/controller.ts';
import { setupTenantKeyController } from '../../controllers/tenantkey/controller.ts';
import {
  keyEntries,
  loadRootKeyring,
  loadTenantDataKeys,
  tenantUIDOf,
} from '../../controllers/keyservice/tenantdata.ts';
import { foundSecret, unwrapVersion } from '../../controllers/tenantkey/verify.ts';
import { startControlPlane, type ControlPlane } from '../../hack/controlplane/index.ts';
import { TenantNamespaceAccess } from '../../controllers/tenant/access.ts';
import { scratchDir } from '../../hack/controlplane/proc.ts';

export const rand = (n: number) => new Uint8Array(randomBytes(n));
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function privateControlPlane(): Promise<ControlPlane> {
  return startControlPlane({ crdDirs: [path.join(repo, 'crds')], nats: false });
}

export function adminClient(cp: ControlPlane): KubeClient {
  return new KubeClient(loadKubeConfig(cp.kubeconfig), 'palisade-e2e');
}

export interface InProcessOperator {
  mgr: Manager;
  /** Moves the controllers' clock (env.now) forward. */
  advance(ms: number): void;
  /** Re-queues a TenantKey now (a rotation deadline on the moved clock is not a real timer). */
  poke(namespace: string, name: string): void;
  audit(): Promise<string>;
  stop(): Promise<void>;
}

/** The operator's key controllers in this process (no leader election), with env.now = real time + offset. */
export async function startInProcessOperator(o: {
  kubeconfig: string;
  namespace: string;
  graceMs?: number;
}): Promise<InProcessOperator> {
  let offset = 0;
  const env = { now: () => new Date(Date.now() + offset), rand };
  const auditFile = path.join(await scratchDir('palisade-audit-'), 'audit.log');
  const mgr = new Manager({
    kubeconfig: o.kubeconfig,
    namespace: o.namespace,
    identity: 'in-process',
    leaderElection: false,
    probeAddress: '127.0.0.1:0',
    logLevel: 'error',
    auditFile,
  });
  mgr.addStartupTask('installation-keys', async () => {
    await ensureInstallationKeys({
      client: mgr.client,
      namespace: o.namespace,
      rand,
      log: mgr.log,
      audit: mgr.audit,
    });
  });
  const secrets = mgr.namespacedInformer<Secret>('Secret', `${MANAGED_BY_LABEL}=${MANAGED_BY}`);
  const access = new TenantNamespaceAccess({
    client: mgr.client,
    namespaces: mgr.namespaces,
    keystoreNamespace: o.namespace,
    log: mgr.log,
  });
  access.track(secrets);
  mgr.addStartupTask('tenant-namespaces', async () => access.resume(secrets));
  const rootKeys = new RootKeyring(secrets, o.namespace);
  const keystore = new Keystore({ client: mgr.client, secrets, namespace: o.namespace, rootKeys, rand });
  setupTenantController(mgr, { env, keystore, secrets, access });
  const keys = setupTenantKeyController(mgr, { env, keystore, secrets });
  setupKeystore(mgr, { keystore, secrets, access, graceMs: o.graceMs ?? 500, now: env.now });
  await mgr.start();
  while (!mgr.isRunning()) await new Promise((r) => setTimeout(r, 50));
  return {
    mgr,
    advance: (ms) => void (offset += ms),
    poke: (ns, name) => keys.enqueue(`${ns}/${name}`),
    audit: () => readFile(auditFile, 'utf8').catch(() => ''),
    stop: () => mgr.stop(),
  };
}

/**
 * A tenant namespace made the only way one exists: a Tenant whose `spec.namespace` it is. Waits for the
 * Tenant's UID (Palisade's record) and returns it.
 */
export async function tenantNamespace(client: KubeClient, name: string): Promise<string> {
  const tenant = name
    .replace(/^tenant-/, 't-')
    .slice(0, 56)
    .replace(/-+$/, '');
  await client.apply({
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'Tenant',
    metadata: { name: tenant },
    spec: { namespace: name },
  } as KubeObject);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const t = await client.get<Tenant>({ kind: 'Tenant', name: tenant });
    if (
      t?.status?.uid &&
      t.status.conditions?.some((c) => c.type === 'NamespaceReady' && c.status === 'True')
    )
      return t.status.uid;
    if (Date.now() > deadline) throw new Error(`Tenant ${tenant} got no UID: ${JSON.stringify(t?.status)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function tenantKey(namespace: string, name: string, spec: Record<string, unknown> = {}) {
  return { apiVersion: 'palisade.dev/v1alpha1', kind: 'TenantKey', metadata: { name, namespace }, spec };
}

/** The keystore entries of a TenantKey (in the operator's namespace, found through the tenant record). */
export async function versionSecrets(
  client: KubeClient,
  namespace: string,
  key: string,
  operatorNamespace = 'palisade-system',
): Promise<Secret[]> {
  const uid = await tenantUIDOf(client, operatorNamespace, namespace);
  return keyEntries(client, operatorNamespace, uid, key);
}

/**
 * Unwraps every Secret of every version of a key with the installation's root keys; throws unless each
 * version unwraps, and all wraps of one version hold the same key. Returns version → key (hex).
 */
export async function unwrapEveryVersion(
  client: KubeClient,
  operatorNamespace: string,
  namespace: string,
  key: string,
): Promise<Map<number, string>> {
  const tk = await client.get<TenantKey>({ kind: 'TenantKey', name: key, namespace });
  if (!tk) throw new Error(`TenantKey ${namespace}/${key} not found`);
  const uid = await tenantUIDOf(client, operatorNamespace, namespace);
  const root = await loadRootKeyring(client, operatorNamespace);
  const out = new Map<number, string>();
  for (const s of await versionSecrets(client, namespace, key, operatorNamespace)) {
    const r = unwrapVersion(tk, uid, s, root.keyring, new Set(root.versions));
    if (!r.ok) throw new Error(`${s.metadata.name}: ${r.problem.message}`);
    const hex = Buffer.from(r.key).toString('hex');
    const version = foundSecret(s).version;
    if (out.has(version) && out.get(version) !== hex)
      throw new Error(`two different keys for version ${version}`);
    out.set(version, hex);
  }
  return out;
}

export async function eventuallyKey(
  client: KubeClient,
  namespace: string,
  name: string,
  pred: (tk: TenantKey) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<TenantKey> {
  const deadline = Date.now() + timeoutMs;
  let last: TenantKey | undefined;
  for (;;) {
    last = await client.get<TenantKey>({ kind: 'TenantKey', name, namespace });
    if (last && pred(last)) return last;
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${namespace}/${name}: ${what}; last status ${JSON.stringify(last?.status)}`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Tenant data sealed (base64) and opened the way an administrator's check does it, with the root key read
 * directly: for journeys about key material itself (loss, restore, upgrade). Platform code, and the admin
 * CLI, go through the key service instead (e2e/keyservice.int.test.ts).
 */
export async function sealData(
  client: KubeClient,
  o: { namespace: string; key?: string; operatorNamespace?: string },
  plain: string,
): Promise<string> {
  const keys = await loadTenantDataKeys(client, { key: 'primary', ...o, rand });
  return Buffer.from(keys.encrypt(new TextEncoder().encode(plain))).toString('base64');
}

export async function openData(
  client: KubeClient,
  o: { namespace: string; key?: string; operatorNamespace?: string },
  box: string,
): Promise<string> {
  const keys = await loadTenantDataKeys(client, { key: 'primary', ...o, rand });
  return new TextDecoder().decode(keys.decrypt(new Uint8Array(Buffer.from(box.trim(), 'base64'))));
}

export const ready = (tk: TenantKey) =>
  tk.status?.observedGeneration === tk.metadata.generation &&
  tk.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';

/**
 * An installation on the in-memory API server (controllers/runtime/testing), for unit tests of the kinds:
 * the operator namespace with its installation keys made by the real start-up path, the labelled-Secret
 * cache per managed namespace (as main.ts wires it), the root keyring and the keystore over it, a clock
 * the test moves, and recorders for Events and audit lines. Caches are synchronous: a write is visible
 * in them at once, unless made with `hold` (then `flush()` delivers what they missed).
 */
import { randomBytes } from 'node:crypto';
import winston from 'winston';
import { ensureInstallationKeys } from '../../installation/keys.ts';
import { RootKeyring } from '../../installation/keyring.ts';
import type { Env } from '../../runtime/env.ts';
import type { KubeApi } from '../../runtime/kube/api.ts';
import type { KubeObject, Secret } from '../../runtime/kube/types.ts';
import { ManagedNamespaces, NamespacedInformer } from '../../runtime/namespaced.ts';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../../runtime/objects.ts';
import { FakeCache, type FakeCacheOptions } from '../../runtime/testing/cache.ts';
import { FakeApiServer } from '../../runtime/testing/fakeapi.ts';
import { RecordingAudit, RecordingEvents } from '../../runtime/testing/recorder.ts';
import { Keystore } from '../store.ts';
import { tenantRecordSecret } from '../tenants.ts';

export const OPERATOR_NAMESPACE = 'palisade-system';
export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
const START = Date.parse('2030-01-01T00:00:00Z');

export interface FakeInstallation {
  server: FakeApiServer;
  /** Palisade's client (field manager `palisade`). */
  client: KubeApi;
  env: Env & { advance(ms: number): void };
  events: RecordingEvents;
  audit: RecordingAudit;
  /** The namespaces whose labelled Secrets Palisade reads (the operator's, then each tenant's). */
  namespaces: ManagedNamespaces;
  secrets: NamespacedInformer<Secret>;
  keystore: Keystore;
  log: winston.Logger;
  /** A started cache of `kind` over the server (all namespaces unless `namespace` is given). */
  cache<T extends KubeObject>(kind: string, opts?: Omit<FakeCacheOptions, 'kind'>): Promise<FakeCache<T>>;
  /** Delivers every change the caches made with `hold` are holding back. */
  flush(): void;
  /** Lets pending promise callbacks run (a tenant namespace's Secret cache starts asynchronously). */
  tick(): Promise<void>;
}

/**
 * Makes the installation. `holdSecrets` makes the labelled-Secret caches lag (until `flush()`), as an
 * informer does behind the server: for tests of what a kind does with a cache that has not seen a write.
 */
export async function fakeInstallation(o: { holdSecrets?: boolean } = {}): Promise<FakeInstallation> {
  let now = START;
  const server = new FakeApiServer({ namespaces: [OPERATOR_NAMESPACE], now: () => now });
  const client = server.client('palisade');
  const env = {
    now: () => new Date(now),
    rand: (n: number) => new Uint8Array(randomBytes(n)),
    advance: (ms: number) => void (now += ms),
  };
  const log = winston.createLogger({ silent: true });
  await ensureInstallationKeys({
    client,
    namespace: OPERATOR_NAMESPACE,
    rand: env.rand,
    log,
    audit: new RecordingAudit(),
    now: env.now,
  });
  const held: FakeCache<KubeObject>[] = [];
  const make = <T extends KubeObject>(opts: FakeCacheOptions) => {
    const c = new FakeCache<T>(server, opts);
    if (opts.hold) held.push(c as unknown as FakeCache<KubeObject>);
    return c;
  };
  const namespaces = new ManagedNamespaces([OPERATOR_NAMESPACE]);
  const secrets = new NamespacedInformer<Secret>(
    namespaces,
    (namespace) =>
      make<Secret>({
        kind: 'Secret',
        namespace,
        labelSelector: MANAGED_SELECTOR,
        ...(o.holdSecrets ? { hold: true } : {}),
      }),
    'Secret',
  );
  const rootKeys = new RootKeyring(secrets, OPERATOR_NAMESPACE);
  const keystore = new Keystore({ client, secrets, namespace: OPERATOR_NAMESPACE, rootKeys, rand: env.rand });
  await secrets.start();
  return {
    server,
    client,
    env,
    events: new RecordingEvents(),
    audit: new RecordingAudit(),
    namespaces,
    secrets,
    keystore,
    log,
    async cache<T extends KubeObject>(kind: string, opts: Omit<FakeCacheOptions, 'kind'> = {}) {
      const c = make<T>({ kind, ...opts });
      await c.start();
      return c;
    },
    flush: () => held.forEach((c) => c.flush()),
    tick: () => new Promise((r) => setImmediate(r)),
  };
}

/**
 * A tenant as Palisade records it: its namespace, and its record in the keystore. `watch` also makes the
 * namespace managed (its labelled Secrets cached), as the Tenant kind's access grant does.
 */
export async function fakeTenant(
  w: FakeInstallation,
  o: { namespace: string; uid: string; tenant: string; watch?: boolean },
): Promise<void> {
  await w.client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: o.namespace } });
  await w.keystore.createOnce(
    tenantRecordSecret({
      namespace: o.namespace,
      keystoreNamespace: OPERATOR_NAMESPACE,
      uid: o.uid,
      tenant: o.tenant,
      created: w.env.now().toISOString(),
    }),
  );
  if (o.watch) w.namespaces.add(o.namespace);
  w.flush();
  await w.tick();
}

/**
 * A Secret written by a tenant's editor in its own namespace, carrying Palisade's managed-by label (which
 * anyone who can write there can set), then seen by the caches.
 */
export async function plantAsTenant(
  w: FakeInstallation,
  namespace: string,
  o: {
    name: string;
    labels: Record<string, string>;
    annotations?: Record<string, string>;
    data?: Record<string, string>;
  },
): Promise<void> {
  await w.server.client('tenant-editor').create({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: o.name,
      namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY, ...o.labels },
      ...(o.annotations ? { annotations: o.annotations } : {}),
    },
    ...(o.data ? { data: o.data } : {}),
  } as Secret);
  await w.tick();
}

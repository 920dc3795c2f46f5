/**
 * The ClusterAgent kind's unit-test world, on the in-memory API server with the in-memory NATS service: a
 * Tenant made by its own kind (record, namespace, NATS account) and a ClusterAgent reconcile, with pairing
 * mode when `pairing` is given.
 */
import type { ClusterAgent, ClusterAgentSpec, Tenant, TenantKey } from '../../../crds/v1alpha1/index.ts';
import { agentRecordName } from '../../keystore/entries.ts';
import {
  fakeInstallation,
  MANAGED_SELECTOR,
  OPERATOR_NAMESPACE,
} from '../../keystore/testing/installation.ts';
import type { Namespace, Secret } from '../../runtime/kube/types.ts';
import { reconcilerFor } from '../../runtime/reconciler.ts';
import { TenantNamespaceAccess } from '../../tenant/access.ts';
import { PRIMARY_KEY_SETTLE_MS, tenantKind } from '../../tenant/reconcile.ts';
import type { PairingDeps } from '../pairing.ts';
import { clusterAgentKind } from '../reconcile.ts';
import { readAgentRecord } from '../record.ts';
import { FakeNats } from './nats.ts';

/** The namespace of the world's default Tenant, `acme`. */
export const NS = 'tenant-acme';

/** `tenant.spec` is as a user applies it: the server fills in the defaults. */
export async function agentWorld(
  o: { pairing?: PairingDeps; tenant?: { name: string; spec?: Record<string, unknown> } } = {},
) {
  const tenantName = o.tenant?.name ?? 'acme';
  const w = await fakeInstallation();
  const nats = new FakeNats(w.env.now);
  const tenants = await w.cache<Tenant>('Tenant');
  const agents = await w.cache<ClusterAgent>('ClusterAgent');
  const common = {
    client: w.client,
    events: w.events,
    audit: w.audit,
    env: w.env,
    tenants,
    keystore: w.keystore,
  };
  const access = new TenantNamespaceAccess({
    client: w.client,
    namespaces: w.namespaces,
    keystoreNamespace: OPERATOR_NAMESPACE,
    log: w.log,
  });
  const tenant = reconcilerFor(
    { cache: tenants, client: w.client, now: () => w.env.now().getTime() },
    tenantKind({
      ...common,
      namespaces: await w.cache<Namespace>('Namespace', { labelSelector: MANAGED_SELECTOR }),
      tenantKeys: await w.cache<TenantKey>('TenantKey'),
      access,
      messaging: { nats, rand: w.env.rand },
    }),
  );
  const agent = reconcilerFor(
    { cache: agents, client: w.client },
    clusterAgentKind({
      ...common,
      agents,
      secrets: w.secrets,
      nats,
      ...(o.pairing ? { pairing: o.pairing } : {}),
    }),
  );
  const user = w.server.client('kubectl');
  await user.create({
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'Tenant',
    metadata: { name: tenantName },
    spec: o.tenant?.spec ?? {},
  });
  await tenant(tenantName);
  // No TenantKey controller here: the new Tenant's status waits out the primary key's settle time.
  w.env.advance(PRIMARY_KEY_SETTLE_MS);
  await tenant(tenantName);
  await w.tick(); // the tenant namespace's Secret cache starts
  const t = (await w.client.get<Tenant>({ kind: 'Tenant', name: tenantName })) as Tenant;
  const uid = t.status?.uid ?? '';
  const ns = t.status?.namespace ?? '';
  const get = (name: string, namespace = ns) =>
    w.client.get<ClusterAgent>({ kind: 'ClusterAgent', name, namespace });
  return {
    ...w,
    nats,
    tenants,
    agents,
    user,
    uid,
    namespace: ns,
    account: t.status?.natsAccount?.publicKey ?? '',
    reconcileTenant: () => tenant(tenantName),
    /** The ClusterAgent reconcile by key (`namespace/name`), as its controller calls it. */
    reconcileKey: agent,
    /** One reconcile, then the caches catch up with what it wrote. */
    reconcile: async (name: string, namespace = ns) => {
      const out = await agent(`${namespace}/${name}`);
      await w.tick();
      return out;
    },
    get,
    create: (name: string, spec: Partial<ClusterAgentSpec> = {}, namespace = ns) =>
      user.create({
        apiVersion: 'palisade.dev/v1alpha1',
        kind: 'ClusterAgent',
        metadata: { name, namespace },
        spec: { clusterName: `${name}-cluster`, ...spec },
      }),
    /** Changes the spec as a user would (an update over the live object). */
    edit: async (name: string, spec: Partial<ClusterAgentSpec>) => {
      const a = (await get(name)) as ClusterAgent;
      await user.update({ ...a, spec: { ...a.spec, ...spec } });
    },
    secret: (name: string, namespace = ns) => w.client.get<Secret>({ kind: 'Secret', name, namespace }),
    credentials: (name: string) =>
      w.client.get<Secret>({ kind: 'Secret', name: `${name}-nats-creds`, namespace: ns }),
    keystoreEntry: (name: string) =>
      w.client.get<Secret>({ kind: 'Secret', name, namespace: OPERATOR_NAMESPACE }),
    record: async (name: string) =>
      readAgentRecord(
        await w.client.get<Secret>({
          kind: 'Secret',
          name: agentRecordName(uid, name),
          namespace: OPERATOR_NAMESPACE,
        }),
      ),
  };
}

export const conditions = (a: ClusterAgent | undefined): string[] =>
  (a?.status?.conditions ?? []).map((c) => `${c.type}=${c.status}/${c.reason}`);

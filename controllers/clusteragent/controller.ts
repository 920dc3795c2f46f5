import { Gauge } from 'prom-client';
import type { ClusterAgent, Tenant } from '../../crds/v1alpha1/index.ts';
import type { Env } from '../runtime/env.ts';
import {
  AGENT_LABEL,
  EntryKind,
  entryKind,
  IndexKey,
  isKeystoreEntry,
  TENANT_NAMESPACE_LABEL,
} from '../keystore/entries.ts';
import type { Keystore } from '../keystore/store.ts';
import { recordOf } from '../keystore/tenants.ts';
import { NatsComponent } from '../nats/secrets.ts';
import type { NatsService } from '../nats/service.ts';
import type { HeartbeatStore } from '../nats/heartbeats.ts';
import { heartbeatsOf } from './deps.ts';
import { caBundleInformer } from '../internalca/setup.ts';
import { KEYSERVICE_TLS_SECRET } from '../keyservice/setup.ts';
import { watchMapped } from '../runtime/controller.ts';
import type { Manager } from '../runtime/manager.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { COMPONENT_LABEL } from '../runtime/objects.ts';
import { AgentCondition, AgentReason } from './conditions.ts';
import { moveCompleted, recordMoveCompleted } from '../keystore/layout.ts';
import { migrateAgentRecords } from './migrate.ts';
import { clusterAgentKind } from './reconcile.ts';
import { PAIRING_CODE_COMPONENT, type PairingDeps } from './pairing.ts';
import { reconcilerFor } from '../runtime/reconciler.ts';
import { awaitReadableNamespaces, type NamespacedInformer } from '../runtime/namespaced.ts';

export interface AgentControllerOptions {
  env: Env;
  keystore: Keystore;
  secrets: NamespacedInformer<Secret>;
  /** Messaging; without it only pairing-mode agents are served (reports over the cluster channel). */
  nats?: NatsService;
  /** Where reports are held (the cluster channel's store, which is the NATS service's when both run). */
  heartbeats?: HeartbeatStore;
  agentUrl?: string;
  statusRefreshMs?: number;
  pairing?: PairingDeps;
}

/**
 * Wires the ClusterAgent controller: agents; their delivered credentials Secrets; the tenant's keystore
 * entries (record, account, revocations, agent records) and the Tenant itself (mapped to the agents of
 * the namespace); and heartbeats, which enqueue an agent only when its status may change.
 */
export function setupClusterAgentController(mgr: Manager, o: AgentControllerOptions) {
  // NB: after the keystore's own move (set up earlier in main.ts), which makes the tenant records.
  mgr.addStartupTask('clusteragent-migration', async () => {
    // NB: an earlier layout kept agents' records in their namespaces, which hold ClusterAgents and so are
    // watched (followed below); their caches must be whole before the move reads them.
    // NB: once, not at every start: the Secrets it reads are tenant-writable (keystore/layout.ts).
    if (await moveCompleted(mgr.client, o.keystore.namespace, 'agents')) return;
    await awaitReadableNamespaces(o.secrets, mgr.client);
    await migrateAgentRecords({
      keystore: o.keystore,
      secrets: o.secrets,
      audit: mgr.audit,
      log: mgr.log,
      now: o.env.now,
    });
    await recordMoveCompleted(mgr.client, o.keystore.namespace, 'agents', o.env.now());
  });
  const agents = mgr.informer<ClusterAgent>('ClusterAgent');
  // A ClusterAgent's namespace holds its credentials and pairing code: Palisade's Secrets are read there.
  mgr.secretHolders.follow('ClusterAgent', agents);
  const tenants = mgr.informer<Tenant>('Tenant');
  const ks = o.keystore;
  const deps = { client: mgr.client, events: mgr.events, audit: mgr.audit, agents, tenants, ...o };
  const agentsOf = (namespace: string | undefined) =>
    namespace ? agents.list(namespace).map((a) => `${namespace}/${a.metadata.name}`) : [];
  const fromSecret = (s: Secret): string[] => {
    // A new server certificate (from a new CA, after a rotation): a code shown meanwhile must pin that CA.
    if (s.metadata.namespace === ks.namespace && s.metadata.name === KEYSERVICE_TLS_SECRET) {
      return agents
        .list()
        .filter((a) => a.status?.pairing?.state === 'Pending')
        .map((a) => `${a.metadata.namespace}/${a.metadata.name}`);
    }
    if (isKeystoreEntry(s, ks.namespace)) {
      const ns = s.metadata.labels?.[TENANT_NAMESPACE_LABEL] ?? '';
      if (entryKind(s) === EntryKind.Agent) return [`${ns}/${s.metadata.labels?.[AGENT_LABEL] ?? ''}`];
      return agentsOf(ns);
    }
    const agent = s.metadata.labels?.[AGENT_LABEL];
    const component = s.metadata.labels?.[COMPONENT_LABEL];
    const delivered = component === NatsComponent.AgentCredentials || component === PAIRING_CODE_COMPONENT;
    return delivered && agent ? [`${s.metadata.namespace}/${agent}`] : [];
  };
  const controller = mgr.addController({
    name: 'clusteragent',
    primary: agents,
    // Mostly status writes waiting on the API server: more in flight shortens a burst of first heartbeats.
    concurrency: 16,
    watches: [
      watchMapped(o.secrets, fromSecret),
      watchMapped(tenants, (t) => agentsOf(t.status?.namespace)),
      // A tenant namespace whose Secret cache just became whole: its agents can see what was delivered.
      { register: (enqueue) => o.secrets.onNamespaceSynced((ns) => agentsOf(ns).forEach(enqueue)) },
      // A CA rotation changes the bundle delivered beside Secret-mode agents' credentials (twice per rotation).
      ...(o.nats
        ? [
            watchMapped(caBundleInformer(mgr), () =>
              agents.list().map((a) => `${a.metadata.namespace}/${a.metadata.name}`),
            ),
          ]
        : []),
    ],
    reconcile: reconcilerFor({ cache: agents, client: mgr.client }, clusterAgentKind(deps)),
  });
  // Read from the written Connected condition at scrape time: no series to keep or forget. Agents that never
  // connected or are suspended are left out (offline by design, not an incident).
  new Gauge({
    name: 'palisade_clusteragent_connected',
    help: '1 while a ClusterAgent heartbeats within its deadline, 0 once it missed it (never-connected and suspended agents omitted).',
    labelNames: ['namespace', 'name'] as const,
    registers: [mgr.metrics.registry],
    collect() {
      this.reset();
      for (const a of agents.list()) {
        const c = a.status?.conditions?.find((x) => x.type === AgentCondition.Connected);
        if (!c || a.spec.suspended || c.reason === AgentReason.NeverConnected) continue;
        this.set(
          { namespace: a.metadata.namespace ?? '', name: a.metadata.name },
          c.status === 'True' ? 1 : 0,
        );
      }
    },
  });
  // Silence means something only once reports can arrive (NATS: once connected; the gRPC channel alone:
  // from the start): the grace before declaring agents missing.
  const beats = heartbeatsOf(o);
  if (o.nats) o.nats.onConnected(() => beats.listening(o.env.now().getTime()));
  else beats.listening(o.env.now().getTime());
  beats.onChange((uid, agent) => {
    for (const r of ks.find(IndexKey.tenantByUID(uid)))
      controller.enqueue(`${recordOf(r).namespace}/${agent}`);
  });
  return controller;
}

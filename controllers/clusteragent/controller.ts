import type { ClusterAgent, Tenant } from '../../crds/v1alpha1/index.ts';
import type { RandomSource } from '../crypto/index.ts';
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
import { watchMapped } from '../runtime/controller.ts';
import type { Informer } from '../runtime/informer.ts';
import type { Manager } from '../runtime/manager.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { COMPONENT_LABEL } from '../runtime/objects.ts';
import { reconcileAgent } from './reconcile.ts';

export interface AgentControllerOptions {
  env: { now(): Date; rand: RandomSource };
  keystore: Keystore;
  secrets: Informer<Secret>;
  nats: NatsService;
  agentUrl?: string;
  statusRefreshMs?: number;
}

/**
 * Wires the ClusterAgent controller: agents; their delivered credentials Secrets; the tenant's keystore
 * entries (record, account, revocations, agent records) and the Tenant itself (mapped to the agents of
 * the namespace); and heartbeats, which enqueue an agent only when its status may change.
 */
export function setupClusterAgentController(mgr: Manager, o: AgentControllerOptions) {
  const agents = mgr.informer<ClusterAgent>('ClusterAgent');
  const tenants = mgr.informer<Tenant>('Tenant');
  const ks = o.keystore;
  const deps = { client: mgr.client, events: mgr.events, audit: mgr.audit, agents, tenants, ...o };
  const agentsOf = (namespace: string | undefined) =>
    namespace ? agents.list(namespace).map((a) => `${namespace}/${a.metadata.name}`) : [];
  const fromSecret = (s: Secret): string[] => {
    if (isKeystoreEntry(s, ks.namespace)) {
      const ns = s.metadata.labels?.[TENANT_NAMESPACE_LABEL] ?? '';
      if (entryKind(s) === EntryKind.Agent) return [`${ns}/${s.metadata.labels?.[AGENT_LABEL] ?? ''}`];
      return agentsOf(ns);
    }
    const agent = s.metadata.labels?.[AGENT_LABEL];
    return s.metadata.labels?.[COMPONENT_LABEL] === NatsComponent.AgentCredentials && agent
      ? [`${s.metadata.namespace}/${agent}`]
      : [];
  };
  const controller = mgr.addController({
    name: 'clusteragent',
    primary: agents,
    // Mostly status writes waiting on the API server: more in flight shortens a burst of first heartbeats.
    concurrency: 16,
    watches: [watchMapped(o.secrets, fromSecret), watchMapped(tenants, (t) => agentsOf(t.status?.namespace))],
    reconcile: (key) => reconcileAgent(deps, key),
  });
  o.nats.heartbeats.onChange((uid, agent) => {
    for (const r of ks.find(IndexKey.tenantByUID(uid)))
      controller.enqueue(`${recordOf(r).namespace}/${agent}`);
  });
  return controller;
}

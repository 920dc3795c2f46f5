import type { ClusterAgent, Tenant } from '../../crds/v1alpha1/index.ts';
import type { RandomSource } from '../crypto/index.ts';
import type { RootKeyring } from '../installation/keyring.ts';
import { NatsComponent } from '../nats/secrets.ts';
import type { NatsService } from '../nats/service.ts';
import { watchMapped } from '../runtime/controller.ts';
import type { Informer } from '../runtime/informer.ts';
import type { Manager } from '../runtime/manager.ts';
import type { Namespace, Secret } from '../runtime/kube/types.ts';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../runtime/objects.ts';
import { UID_INDEX } from '../tenant/reconcile.ts';
import { AGENT_LABEL } from './conditions.ts';
import { reconcileAgent } from './reconcile.ts';

export interface AgentControllerOptions {
  env: { now(): Date; rand: RandomSource };
  rootKeys: RootKeyring;
  secrets: Informer<Secret>;
  nats: NatsService;
  agentUrl?: string;
  statusRefreshMs?: number;
}

/**
 * Wires the ClusterAgent controller: agents; their credentials Secrets; the tenant's account and
 * revocation Secrets and the Tenant itself (mapped to every agent of the namespace); and heartbeats,
 * which enqueue an agent only when its status may change.
 */
export function setupClusterAgentController(mgr: Manager, o: AgentControllerOptions) {
  const agents = mgr.informer<ClusterAgent>('ClusterAgent');
  const tenants = mgr.informer<Tenant>('Tenant');
  const namespaces = mgr.informer<Namespace>('Namespace', `${MANAGED_BY_LABEL}=${MANAGED_BY}`);
  const deps = {
    client: mgr.client,
    events: mgr.events,
    audit: mgr.audit,
    agents,
    tenants,
    namespaces,
    ...o,
  };
  const agentsOf = (namespace: string | undefined) =>
    namespace ? agents.list(namespace).map((a) => `${namespace}/${a.metadata.name}`) : [];
  const controller = mgr.addController({
    name: 'clusteragent',
    primary: agents,
    // Mostly status writes waiting on the API server: more in flight shortens a burst of first heartbeats.
    concurrency: 16,
    watches: [
      watchMapped(o.secrets, (s) => {
        const component = s.metadata.labels?.[COMPONENT_LABEL];
        const agent = s.metadata.labels?.[AGENT_LABEL];
        if (component === NatsComponent.AgentCredentials && agent)
          return [`${s.metadata.namespace}/${agent}`];
        if (component === NatsComponent.TenantAccount) return agentsOf(s.metadata.namespace);
        return [];
      }),
      watchMapped(tenants, (t) => agentsOf(t.status?.namespace)),
    ],
    reconcile: (key) => reconcileAgent(deps, key),
  });
  o.nats.heartbeats.onChange((uid, agent) => {
    for (const name of tenants.byIndex(UID_INDEX, uid)) {
      const ns = tenants.get(name)?.status?.namespace;
      if (ns) controller.enqueue(`${ns}/${agent}`);
    }
  });
  return controller;
}

import type { ClusterAgent, Tenant } from '../../crds/v1alpha1/index.ts';
import type { Env } from '../runtime/env.ts';
import type { Keystore } from '../keystore/store.ts';
import type { NatsService } from '../nats/service.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { Informer } from '../runtime/informer.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { Secret } from '../runtime/kube/types.ts';
import type { AuditLog } from '../runtime/log.ts';
import type { NamespacedInformer } from '../runtime/namespaced.ts';

/** Everything the ClusterAgent kind reads and writes through, injected (controller.ts wires the real ones). */
export interface AgentDeps {
  client: KubeClient;
  events: EventRecorder;
  audit: AuditLog;
  env: Env;
  agents: Informer<ClusterAgent>;
  tenants: Informer<Tenant>;
  /** The labelled-Secret informer: where delivered credentials Secrets are seen. */
  secrets: NamespacedInformer<Secret>;
  keystore: Keystore;
  nats: NatsService;
  /** The URL written into credentials Secrets for agents (optional). */
  agentUrl?: string;
  statusRefreshMs?: number;
}

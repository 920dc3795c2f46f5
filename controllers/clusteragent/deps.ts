import type { ClusterAgent, Tenant } from '../../crds/v1alpha1/index.ts';
import type { Env } from '../runtime/env.ts';
import type { Keystore } from '../keystore/store.ts';
import type { NatsService } from '../nats/service.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { KubeApi } from '../runtime/kube/api.ts';
import type { Secret } from '../runtime/kube/types.ts';
import type { AuditLog } from '../runtime/log.ts';
import type { NamespacedInformer } from '../runtime/namespaced.ts';
import type { PairingDeps } from './pairing.ts';

/** Everything the ClusterAgent kind reads and writes through, injected (controller.ts wires the real ones). */
export interface AgentDeps {
  client: KubeApi;
  events: EventRecorder;
  audit: AuditLog;
  env: Env;
  agents: ObjectCache<ClusterAgent>;
  tenants: ObjectCache<Tenant>;
  /** The labelled-Secret informer: where delivered credentials Secrets are seen. */
  secrets: NamespacedInformer<Secret>;
  keystore: Keystore;
  /** What the kind uses of the NATS service: heartbeats held in memory, and the CA agents trust. */
  nats: Pick<NatsService, 'heartbeats' | 'installation'>;
  /** The URL written into credentials Secrets for agents (optional). */
  agentUrl?: string;
  statusRefreshMs?: number;
  /** Pairing mode (spec.pairing); without it, pairing-mode agents wait (PairingUnavailable). */
  pairing?: PairingDeps;
}

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
import type { HeartbeatStore } from '../nats/heartbeats.ts';

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
  /**
   * What the kind uses of the NATS service: heartbeats held in memory, and the CA agents trust. Absent
   * when messaging is off: then only pairing-mode agents (the gRPC cluster channel) get credentials.
   */
  nats?: Pick<NatsService, 'heartbeats' | 'installation' | 'trustBundle'>;
  /** Where reports from any channel are held; defaults to the NATS service's. */
  heartbeats?: HeartbeatStore;
  /** The URL written into credentials Secrets for agents (optional). */
  agentUrl?: string;
  statusRefreshMs?: number;
  /** Pairing mode (spec.pairing); without it, pairing-mode agents wait (PairingUnavailable). */
  pairing?: PairingDeps;
}

/** The report store the kind reads (the channel's, or the NATS service's). */
export function heartbeatsOf(d: Pick<AgentDeps, 'heartbeats' | 'nats'>): HeartbeatStore {
  const h = d.heartbeats ?? d.nats?.heartbeats;
  if (!h) throw new Error('the ClusterAgent kind was wired without a heartbeat store');
  return h;
}

import { setupClusterAgentController } from '../clusteragent/controller.ts';
import { migrateAgentRecords } from '../clusteragent/migrate.ts';
import type { RandomSource } from '../crypto/index.ts';
import type { Keystore } from '../keystore/store.ts';
import { internalCaIssuer } from './tls.ts';
import type { Manager } from '../runtime/manager.ts';
import type { Secret } from '../runtime/kube/types.ts';
import type { TenantMessagingDeps } from '../tenant/account.ts';
import { ensureNatsInstallation } from './bootstrap.ts';
import { NatsService } from './service.ts';
import type { NamespacedInformer } from '../runtime/namespaced.ts';

export interface MessagingSetup {
  /** nats-server URLs (`tls://host:port`); messaging is off when empty. */
  servers: string[];
  /** The URL written into agents' credentials Secrets. */
  agentUrl?: string;
  env: { now(): Date; rand: RandomSource };
  keystore: Keystore;
  secrets: NamespacedInformer<Secret>;
  statusRefreshMs?: number;
}

/**
 * Messaging wiring: a start-up task that bootstraps the NATS installation (keys, TLS, server config
 * Secret) and connects; the ClusterAgent controller. Returns what the Tenant controller needs.
 */
export function setupMessaging(mgr: Manager, o: MessagingSetup): TenantMessagingDeps {
  const nats = new NatsService({ servers: o.servers, log: mgr.log, now: o.env.now });
  mgr.addStartupTask('nats-bootstrap', async () => {
    const installation = await ensureNatsInstallation({
      client: mgr.client,
      namespace: mgr.namespace,
      log: mgr.log,
      audit: mgr.audit,
      tls: internalCaIssuer({ client: mgr.client, namespace: mgr.namespace, rand: o.env.rand }),
      now: o.env.now,
    });
    nats.start(installation);
  });
  // NB: after the keystore's own move (set up earlier in main.ts), which makes the tenant records.
  mgr.addStartupTask('clusteragent-migration', async () => {
    await migrateAgentRecords({ keystore: o.keystore, secrets: o.secrets, audit: mgr.audit, now: o.env.now });
  });
  setupClusterAgentController(mgr, {
    env: o.env,
    keystore: o.keystore,
    secrets: o.secrets,
    nats,
    ...(o.agentUrl ? { agentUrl: o.agentUrl } : {}),
    ...(o.statusRefreshMs ? { statusRefreshMs: o.statusRefreshMs } : {}),
  });
  return { nats, rand: o.env.rand };
}

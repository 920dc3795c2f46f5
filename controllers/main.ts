#!/usr/bin/env node
/** The operator process: configuration → manager → controllers → start; stops gracefully on SIGTERM. */
import { randomBytes } from 'node:crypto';
import { CACHE_DICTIONARIES } from './cachedictionaries.ts';
import { parseConfig } from './config.ts';
import { RootKeyring } from './installation/keyring.ts';
import { setupInstallationKeys } from './installation/setup.ts';
import type { Secret } from './runtime/kube/types.ts';
import { MANAGED_BY, MANAGED_BY_LABEL } from './runtime/objects.ts';
import { Manager } from './runtime/manager.ts';
import { setupTenantController } from './tenant/controller.ts';
import { TenantNamespaceAccess } from './tenant/access.ts';
import { setupTenantKeyController } from './tenantkey/controller.ts';
import { Keystore } from './keystore/store.ts';
import { tenantOfNamespace } from './keystore/tenants.ts';
import type { Tenant } from '../crds/v1alpha1/index.ts';
import { setupKeystore } from './keystore/setup.ts';
import { setupMessaging } from './nats/setup.ts';
import { setupClusterAgentController } from './clusteragent/controller.ts';
import { setupCertificateBindings } from './certificatebinding/controller.ts';
import { setupInternalCA } from './internalca/setup.ts';
import { startSecureEndpoint } from './serving/https.ts';
import { probeHandler } from './runtime/server.ts';
import { setupKeyService } from './keyservice/setup.ts';
import { DEFAULT_CERTIFICATE_LIFETIME_MS, setupAgentChannel } from './agentchannel/setup.ts';
import { ADVERTISE_ANNOTATION, advertisement } from './agentchannel/relay.ts';

const rand = (n: number) => new Uint8Array(randomBytes(n));

async function main(): Promise<void> {
  const config = parseConfig(process.argv.slice(2));
  const mgr = new Manager({
    ...config,
    reconcile: config.role === 'operator',
    // NB: where the replicas that do not lead relay agents' reports (agentchannel/relay.ts).
    ...(config.advertiseAddress
      ? {
          leaseAnnotations: {
            [ADVERTISE_ANNOTATION]: advertisement(config.identity, config.advertiseAddress),
          },
        }
      : {}),
    extraNamespaces: config.certificateNamespaces,
    cacheDictionaries: CACHE_DICTIONARIES,
    onFatal: (reason) => {
      mgr.log.error('exiting', { reason });
      process.exit(1);
    },
  });
  // NB: Secrets carrying Palisade's label, in the namespaces Palisade manages only (RBAC grants no others).
  const secrets = mgr.namespacedInformer<Secret>(
    'Secret',
    `${MANAGED_BY_LABEL}=${MANAGED_BY}`,
    mgr.secretHolders,
  );
  const access = new TenantNamespaceAccess({
    client: mgr.client,
    namespaces: mgr.namespaces,
    keystoreNamespace: config.namespace,
    log: mgr.log,
    ...(config.namespaceRole && config.serviceAccount
      ? {
          role: {
            clusterRole: config.namespaceRole,
            serviceAccount: config.serviceAccount,
            serviceAccountNamespace: config.namespace,
          },
        }
      : {}),
  });
  access.track(secrets);
  // NB: first: its start-up task makes or checks the installation keys before any other task runs.
  setupInstallationKeys(mgr, { namespace: config.namespace, rand, secrets });
  const env = { now: () => new Date(mgr.clock.now()), rand };
  const rootKeys = new RootKeyring(secrets, config.namespace);
  const keystore = new Keystore({ client: mgr.client, secrets, namespace: config.namespace, rootKeys, rand });
  // NB: before the keystore's start-up task, which reads the tenant namespaces it makes managed here.
  mgr.addStartupTask('tenant-namespaces', async () => access.resume(secrets));
  // NB: before the kinds: its start-up task moves an earlier layout into the keystore before they run.
  setupKeystore(mgr, { keystore, secrets, access, graceMs: config.rootRetireGraceMs, now: env.now });
  // NB: before messaging: the NATS server certificate is issued by the internal CA, a start-up task here.
  const agentCertificateLifetimeMs = config.agentCertificateLifetimeMs ?? DEFAULT_CERTIFICATE_LIFETIME_MS;
  // NB: an internal CA rotation overlaps twice the agent certificate lifetime (internalca servingCA).
  const caOverlapMs = 2 * agentCertificateLifetimeMs;
  setupInternalCA(mgr, env, { overlapMs: caOverlapMs });
  await setupCertificateBindings(mgr, env);
  const nats = config.natsServers.length
    ? setupMessaging(mgr, { servers: config.natsServers, env, caOverlapMs, secrets })
    : undefined;
  // Pairing and the cluster channel ride on the key service's gRPC server; they work with messaging off.
  const agentChannel = config.keyServiceAddress
    ? setupAgentChannel(mgr, {
        secrets,
        keystore,
        rand,
        certificateLifetimeMs: agentCertificateLifetimeMs,
        ...(nats ? { nats } : {}),
        ...(config.natsAgentUrl ? { natsUrl: config.natsAgentUrl } : {}),
        ...(config.agentChannelAddress ? { address: config.agentChannelAddress } : {}),
      })
    : undefined;
  if (nats || agentChannel) {
    setupClusterAgentController(mgr, {
      env,
      keystore,
      secrets,
      ...(nats ? { nats } : {}),
      ...(agentChannel ? { heartbeats: agentChannel.heartbeats, pairing: agentChannel.pairing } : {}),
      ...(config.natsAgentUrl ? { agentUrl: config.natsAgentUrl } : {}),
      ...(config.agentStatusRefreshMs ? { statusRefreshMs: config.agentStatusRefreshMs } : {}),
    });
  }
  const messaging = nats ? { nats, rand } : undefined;
  const tenants = setupTenantController(mgr, {
    env,
    keystore,
    secrets,
    access,
    ...(messaging ? { messaging } : {}),
  });
  // NB: Tenants reconciled before NATS was reachable backed off; they (and, through them, their agents)
  // go again as soon as it is.
  nats?.onConnected(() => tenants.requeueAll());
  setupTenantKeyController(mgr, { env, keystore, secrets });
  // NB: after every controller is set up. A namespace's shard is its Tenant's, by Palisade's own record.
  mgr.shardBy(
    { tenant: 'tenant', tenantkey: 'namespace', clusteragent: 'namespace', certificatebinding: 'namespace' },
    {
      tenants: mgr.informer<Tenant>('Tenant'),
      tenantOfNamespace: (ns) => {
        const r = tenantOfNamespace(keystore, ns);
        return r && !r.retained ? r.tenant : undefined;
      },
      namespaceOf: (t) => (t as Tenant).status?.namespace,
    },
  );
  // NB: after the certificate bindings: its start-up task issues its certificate from the internal CA.
  const keyService = config.keyServiceAddress
    ? setupKeyService(mgr, {
        address: config.keyServiceAddress,
        audiences: config.keyServiceAudiences,
        ...(config.tokenIssuer ? { tokenIssuer: config.tokenIssuer } : {}),
        secrets,
        keystore,
        rootKeys,
        rand,
        caOverlapMs,
        ...(agentChannel ? { services: agentChannel.services } : {}),
      })
    : undefined;
  if (config.secureAddress) {
    startSecureEndpoint({
      address: config.secureAddress,
      client: mgr.client,
      namespace: config.namespace,
      handler: probeHandler({ metrics: mgr.metrics, ready: () => mgr.readiness() }),
      log: mgr.log,
      clock: mgr.clock,
    });
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    mgr.log.info('shutting down', { signal });
    agentChannel?.channel.close();
    agentChannel?.relay.close();
    Promise.all([keyService?.close(), mgr.stop()]).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await mgr.start();
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});

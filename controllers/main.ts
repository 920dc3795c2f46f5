#!/usr/bin/env node
/** The operator process: configuration → manager → controllers → start; stops gracefully on SIGTERM. */
import { randomBytes } from 'node:crypto';
import { parseConfig } from './config.ts';
import { ensureInstallationKeys } from './installation/keys.ts';
import { RootKeyring } from './installation/keyring.ts';
import type { Secret } from './runtime/kube/types.ts';
import { MANAGED_BY, MANAGED_BY_LABEL } from './runtime/objects.ts';
import { Manager } from './runtime/manager.ts';
import { setupTenantController } from './tenant/controller.ts';
import { setupTenantKeyController } from './tenantkey/controller.ts';
import { setupRootKeyRetirement } from './installation/retire.ts';
import { setupMessaging } from './nats/setup.ts';
import { setupCertificateBindings } from './certificatebinding/controller.ts';
import { startSecureEndpoint } from './certificatebinding/serving.ts';
import { probeHandler } from './runtime/server.ts';

const rand = (n: number) => new Uint8Array(randomBytes(n));

async function main(): Promise<void> {
  const config = parseConfig(process.argv.slice(2));
  const mgr = new Manager({
    ...config,
    onFatal: (reason) => {
      mgr.log.error('exiting', { reason });
      process.exit(1);
    },
  });
  mgr.addStartupTask('installation-keys', async () => {
    await ensureInstallationKeys({
      client: mgr.client,
      namespace: config.namespace,
      rand,
      log: mgr.log,
      audit: mgr.audit,
    });
  });
  // NB: the only Secret informer: it sees nothing but Secrets carrying Palisade's label.
  const secrets = mgr.informer<Secret>('Secret', `${MANAGED_BY_LABEL}=${MANAGED_BY}`);
  const env = { now: () => new Date(mgr.clock.now()), rand };
  const rootKeys = new RootKeyring(secrets, config.namespace);
  // NB: before messaging: the NATS server certificate is issued by the internal CA, a start-up task here.
  await setupCertificateBindings(mgr, env);
  const messaging = config.natsServers.length
    ? setupMessaging(mgr, {
        servers: config.natsServers,
        agentUrl: config.natsAgentUrl,
        env,
        rootKeys,
        secrets,
        statusRefreshMs: config.agentStatusRefreshMs,
      })
    : undefined;
  setupTenantController(mgr, env, messaging);
  setupTenantKeyController(mgr, { env, rootKeys, secrets, namespace: config.namespace });
  setupRootKeyRetirement(mgr, {
    secrets,
    rootKeys,
    namespace: config.namespace,
    graceMs: config.rootRetireGraceMs,
  });
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
    mgr.stop().then(
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

import type { Env } from '../runtime/env.ts';
import type { Manager } from '../runtime/manager.ts';
import { publishedBundleReader } from '../internalca/setup.ts';
import type { Secret } from '../runtime/kube/types.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import { secretString } from '../runtime/objects.ts';
import { ensureNatsInstallation } from './bootstrap.ts';
import { NATS_SECRETS } from './secrets.ts';
import { NatsService } from './service.ts';
import { internalCaIssuer } from './tls.ts';

export interface MessagingSetup {
  /** nats-server URLs (`tls://host:port`); messaging is off when empty. */
  servers: string[];
  env: Env;
  /** How long after an internal CA rotation nats-server's certificate stays on the older CA (internalca `servingCA`). */
  caOverlapMs?: number;
  /** Palisade's Secrets cache (main.ts), the operator's namespace among them: `palisade-nats-tls` is read there. */
  secrets: ObjectCache<Secret>;
}

/**
 * The operator's NATS service: a start-up task bootstraps the NATS installation (keys, TLS, server config
 * Secret) and connects. The kinds that use it (Tenant accounts, ClusterAgent credentials) are wired in
 * main.ts with the service this returns.
 */
export function setupMessaging(mgr: Manager, o: MessagingSetup): NatsService {
  const published = publishedBundleReader(mgr);
  const nats = new NatsService({
    servers: o.servers,
    log: mgr.log,
    now: o.env.now,
    trustSources: () => {
      const tls = o.secrets.get(NATS_SECRETS.tls, mgr.namespace);
      return [published(), tls ? secretString(tls, 'ca.crt') : undefined];
    },
  });
  mgr.addStartupTask('nats-bootstrap', async () => {
    const installation = await ensureNatsInstallation({
      client: mgr.client,
      namespace: mgr.namespace,
      log: mgr.log,
      audit: mgr.audit,
      tls: internalCaIssuer({
        client: mgr.client,
        namespace: mgr.namespace,
        rand: o.env.rand,
        ...(o.caOverlapMs ? { overlapMs: o.caOverlapMs } : {}),
      }),
      now: o.env.now,
    });
    nats.start(installation);
  });
  return nats;
}

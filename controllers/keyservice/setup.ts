/**
 * Wires the key service into the operator. Every replica serves it, leader or not: its reads come from
 * informers the Manager starts on every replica (the labelled Secrets of the operator's namespace — the
 * keystore and the root key versions —, the TenantKeys and the KeyAccessPolicies). Only the leader
 * writes: its start-up task issues the service's certificate, Secret `palisade-keyservice-tls`, from the
 * internal CA (an installation certificate, renewed by the CA keeper); every replica serves with it from
 * its Secret cache and takes a renewal without a restart.
 */
import type { KeyAccessPolicy, TenantKey } from '../../crds/v1alpha1/index.ts';
import { ensureInstallationCertNow, type InstallationCertSpec } from '../internalca/installationcerts.ts';
import { secretText } from '../certificatebinding/validate.ts';
import type { RandomSource } from '../crypto/index.ts';
import type { RootKeyring } from '../installation/keyring.ts';
import type { Keystore } from '../keystore/store.ts';
import { describeError } from '../runtime/errors.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { ConfigMap, Secret } from '../runtime/kube/types.ts';
import type { Manager } from '../runtime/manager.ts';
import { HashSaltRing } from '../installation/saltring.ts';
import { Component } from '../installation/secrets.ts';
import { COMPONENT_LABEL } from '../runtime/objects.ts';
import { Authenticator } from './auth.ts';
import { serviceHandlers, type CallDeps } from './calls.ts';
import { tenantDataHandlers } from './handlers.ts';
import { identifierOperations } from './hashing.ts';
import { RefreshFamilies, sweepExpiredFamilies } from './refreshstore.ts';
import { tokenOperations } from './tokens.ts';
import { TenantKeyCache } from './keycache.ts';
import { keyServiceMetrics } from './metrics.ts';
import { POLICY_SUBJECT_INDEX, policySubjects, subjectKeys, type Identity } from './policy.ts';
import { setupPolicyStatus } from './policystatus.ts';
import { startKeyServer, type GrpcService, type KeyServer, type ServerTls } from './server.ts';
import { identifiersService, tenantDataService, tokensService } from './proto.ts';
import { apiTokenReviewer } from './tokenreview.ts';

export const KEYSERVICE_TLS_SECRET = 'palisade-keyservice-tls';

/** The certificate, key and CA bundle a key service Secret holds, once all three are there. */
export function keyServiceTls(s: Secret | undefined): ServerTls | undefined {
  const cert = s && secretText(s, 'tls.crt');
  const key = s && secretText(s, 'tls.key');
  const ca = s && secretText(s, 'ca.crt');
  return cert && key && ca ? { cert, key, ca } : undefined;
}
const JWT_INDEX = 'keyservice-jwt-signing-key';
/** The chart's Service: the names the certificate carries besides loopback. */
export const KEYSERVICE_SERVICE = 'palisade-keyservice';

export function keyServiceTlsSpec(namespace: string): InstallationCertSpec {
  const svc = KEYSERVICE_SERVICE;
  return {
    name: KEYSERVICE_TLS_SECRET,
    component: 'keyservice-tls',
    dnsNames: [
      svc,
      `${svc}.${namespace}`,
      `${svc}.${namespace}.svc`,
      `${svc}.${namespace}.svc.cluster.local`,
      'localhost',
    ],
    ipAddresses: ['127.0.0.1', '::1'],
  };
}

export interface KeyServiceOptions {
  /** `host:port` to listen on. */
  address: string;
  /** Token audiences accepted. */
  audiences: readonly string[];
  /** The operator's labelled-Secret informer (the keystore lives in its operator-namespace cache). */
  secrets: ObjectCache<Secret>;
  keystore: Keystore;
  rootKeys: RootKeyring;
  rand: RandomSource;
  maxKeys?: number;
  /** The access tokens' `iss` (default `https://palisade-keyservice.<namespace>.svc`). */
  tokenIssuer?: string;
  /** How often the leader drops expired refresh token families (default 10 minutes). */
  familySweepMs?: number;
  /** How long after an internal CA rotation its certificate stays on the older CA (internalca `servingCA`). */
  caOverlapMs?: number;
  /**
   * Further services on the same server (same TLS, same port): the cluster channel's. Their handlers
   * authenticate their own callers.
   */
  services?: readonly GrpcService[];
}

export interface KeyService {
  /** The bound port once listening. */
  port(): number | undefined;
  close(): Promise<void>;
}

export function setupKeyService(mgr: Manager, o: KeyServiceOptions): KeyService {
  const ns = mgr.namespace;
  const tenantKeys = mgr.informer<TenantKey>('TenantKey');
  const policies = mgr.informer<KeyAccessPolicy>('KeyAccessPolicy');
  policies.addIndex(POLICY_SUBJECT_INDEX, policySubjects);
  mgr.runOnEveryReplica(o.secrets, tenantKeys, policies);
  const keys = new TenantKeyCache(
    { keystore: o.keystore, rootKeys: o.rootKeys, tenantKeys, rand: o.rand },
    { maxKeys: o.maxKeys },
  );
  keys.watch(o.secrets, tenantKeys);
  setupPolicyStatus(mgr, { policies });

  const observe = keyServiceMetrics(mgr.metrics.registry);

  let synced = false;
  const common = {
    authenticator: new Authenticator({ reviewer: apiTokenReviewer(mgr.client, o.audiences) }),
    policiesOf: (id: Identity) => {
      const names = new Set(subjectKeys(id).flatMap((k) => policies.byIndex(POLICY_SUBJECT_INDEX, k)));
      return [...names].map((n) => policies.get(n)).filter((p): p is KeyAccessPolicy => !!p);
    },
    audit: mgr.audit,
    notReady: () => (synced ? undefined : 'this replica is still loading its caches; retry'),
    observe,
  };
  const handlers = tenantDataHandlers({ ...common, keys, rand: o.rand });
  const now = () => mgr.clock.now();
  const callDeps: CallDeps = { ...common, tenant: (name) => keys.tenant(name) };
  const salts = new HashSaltRing(o.secrets, ns);
  const identifiers = serviceHandlers(callDeps, identifierOperations({ salts, rand: o.rand, now }));
  o.secrets.addIndex(JWT_INDEX, (s) =>
    s.metadata.namespace === ns && s.metadata.labels?.[COMPONENT_LABEL] === Component.JwtSigningKey
      ? ['jwt']
      : [],
  );
  const families = new RefreshFamilies({ client: mgr.client, namespace: ns, rand: o.rand, now });
  const tokens = serviceHandlers(
    callDeps,
    tokenOperations({
      signingKeys: () =>
        o.secrets
          .byIndex(JWT_INDEX, 'jwt')
          .map((k) => o.secrets.get(k.slice(k.indexOf('/') + 1), ns))
          .filter((s): s is Secret => !!s),
      families,
      issuer: o.tokenIssuer ?? `https://${KEYSERVICE_SERVICE}.${ns}.svc`,
      rand: o.rand,
      now,
    }),
  );
  setupFamilySweep(mgr, o.familySweepMs ?? 10 * 60_000);

  mgr.setUnready('keyservice', 'the key service is not serving yet');
  mgr.addStartupTask('keyservice-certificate', async () => {
    await ensureInstallationCertNow(
      {
        client: mgr.client,
        namespace: ns,
        rand: o.rand,
        now: () => new Date(mgr.clock.now()),
        log: mgr.log,
        audit: mgr.audit,
        ...(o.caOverlapMs ? { overlapMs: o.caOverlapMs } : {}),
      },
      keyServiceTlsSpec(ns),
    );
  });

  let server: KeyServer | undefined;
  let starting: Promise<void> | undefined;
  let loaded: string | undefined;
  let closed = false;
  const follow = () => {
    const s = o.secrets.get(KEYSERVICE_TLS_SECRET, ns);
    const tls = keyServiceTls(s);
    if (!s || !tls || closed || s.metadata.resourceVersion === loaded || starting) return;
    loaded = s.metadata.resourceVersion;
    if (server) {
      server.reload(tls);
      mgr.log.info('reloaded the key service certificate', { secret: KEYSERVICE_TLS_SECRET });
      return;
    }
    const services = [
      { definition: tenantDataService(), handlers },
      { definition: identifiersService(), handlers: identifiers },
      { definition: tokensService(), handlers: tokens },
      ...(o.services ?? []),
    ];
    starting = startKeyServer({ address: o.address, tls, services }).then(
      (s) => {
        server = s;
        starting = undefined;
        mgr.log.info('key service listening', { address: o.address, port: s.port });
        if (synced) mgr.setUnready('keyservice', undefined);
        follow();
      },
      (e: unknown) => {
        starting = undefined;
        loaded = undefined;
        mgr.log.error('the key service could not listen', { address: o.address, error: describeError(e) });
        mgr.setUnready('keyservice', `the key service could not listen on ${o.address}`);
      },
    );
  };
  for (const e of ['add', 'update'] as const)
    o.secrets.on(e, (s) => {
      if (s.metadata.name === KEYSERVICE_TLS_SECRET && s.metadata.namespace === ns) follow();
    });
  void mgr.everyReplicaSynced().then(() => {
    synced = true;
    if (server) mgr.setUnready('keyservice', undefined);
    follow();
  });

  return {
    port: () => server?.port,
    close: async () => {
      closed = true;
      await starting;
      await server?.close();
    },
  };
}

/**
 * The leader drops expired refresh token families at an interval: a time-driven controller keyed on the
 * JWKS ConfigMap (one object, always there), so it runs only where controllers run.
 */
function setupFamilySweep(mgr: Manager, everyMs: number): void {
  const jwks = mgr.informer<ConfigMap>('ConfigMap', `${COMPONENT_LABEL}=jwks`, mgr.namespace);
  mgr.addController({
    name: 'refresh-family-sweep',
    primary: jwks,
    concurrency: 1,
    reconcile: async () => {
      const dropped = await sweepExpiredFamilies(mgr.client, mgr.namespace, mgr.clock.now());
      if (dropped) mgr.log.info('dropped expired refresh token families', { count: dropped });
      return { requeueAfterMs: everyMs };
    },
  });
}

/**
 * Wires pairing and the cluster channel: gRPC services for the key service's server (same port,
 * TLS, CA — KeyServiceOptions.services), the pairing deps the ClusterAgent controller uses to make
 * codes, and the caches both read. Like the key service, every replica serves: the informers run on
 * every replica; any replica's write to an agent record is conditional, so replicas never race a code;
 * the reports a replica that does not lead receives go to the leader (relay.ts).
 */
import { Counter, Gauge } from 'prom-client';
import type { ClusterAgent, Tenant } from '../../crds/v1alpha1/index.ts';
import type { PairingDeps } from '../clusteragent/pairing.ts';
import { Component, secretBytes, secretName } from '../installation/secrets.ts';
import { RECORD_CONFIGMAP, parseRecord, RECORD_KEY } from '../installation/record.ts';
import { caSecretsIn, caVersions, issuingCA } from '../internalca/ca.ts';
import { CA_ID_LABEL } from '../internalca/leaf.ts';
import { KEYSERVICE_TLS_SECRET, keyServiceTls } from '../keyservice/setup.ts';
import type { GrpcService } from '../keyservice/server.ts';
import type { Keystore } from '../keystore/store.ts';
import { HeartbeatStore } from '../nats/heartbeats.ts';
import type { NatsService } from '../nats/service.ts';
import type { RandomSource } from '../pki/index.ts';
import { describeError } from '../runtime/errors.ts';
import type { ConfigMap, Secret } from '../runtime/kube/types.ts';
import type { Manager } from '../runtime/manager.ts';
import type { NamespacedInformer } from '../runtime/namespaced.ts';
import { secretString } from '../runtime/objects.ts';
import { accountEntry, unwrapAccountKey } from '../tenant/account.ts';
import { ClusterChannel } from './channel.ts';
import {
  AGENT_UID_INDEX,
  agentUIDIndex,
  PAIRING_LOOKUP_INDEX,
  pairingLookupIndex,
  type ChannelDeps,
} from './deps.ts';
import { spkiFingerprint } from './identity.ts';
import { pairingHandlers } from './pairing.ts';
import { ReplicaRelay, replicaRelayService } from './relay.ts';
import { clusterChannelService, pairingService } from './proto.ts';
import { AttemptLimiter, DEFAULT_PAIRING_LIMITS, type RateLimitOptions } from './ratelimit.ts';

export const DEFAULT_CERTIFICATE_LIFETIME_MS = 24 * 3_600_000;

export interface AgentChannelOptions {
  secrets: NamespacedInformer<Secret>;
  keystore: Keystore;
  rand: RandomSource;
  /** Messaging, when configured: agents' NATS JWTs are signed by their tenant's account. */
  nats?: NatsService;
  /** The NATS URL returned to agents. */
  natsUrl?: string;
  /** Where agents reach the channel (`host:port`), written beside the code. */
  address?: string;
  limits?: RateLimitOptions;
  certificateLifetimeMs?: number;
}

export interface AgentChannel {
  services: GrpcService[];
  pairing: PairingDeps;
  heartbeats: HeartbeatStore;
  channel: ClusterChannel;
  relay: ReplicaRelay;
}

export function setupAgentChannel(mgr: Manager, o: AgentChannelOptions): AgentChannel {
  const ns = mgr.namespace;
  const agents = mgr.informer<ClusterAgent>('ClusterAgent');
  const tenants = mgr.informer<Tenant>('Tenant');
  mgr.runOnEveryReplica(o.secrets, agents, tenants);
  agents.addIndex(AGENT_UID_INDEX, agentUIDIndex);
  o.secrets.addIndex(PAIRING_LOOKUP_INDEX, pairingLookupIndex(ns));
  // NB: the installation ID never changes once recorded: read it once, retrying until it is there.
  let installationID: string | undefined;
  let loaded: () => void = () => undefined;
  const installationRead = new Promise<void>((r) => (loaded = r));
  const readInstallation = async (): Promise<void> => {
    try {
      const cm = await mgr.client.get<ConfigMap>({
        kind: 'ConfigMap',
        name: RECORD_CONFIGMAP,
        namespace: ns,
      });
      installationID = parseRecord(cm?.data?.[RECORD_KEY]).installationID;
      loaded();
    } catch (e) {
      mgr.log.info('the installation record is not readable yet; agent identities wait for it', {
        error: describeError(e),
      });
      await new Promise((r) => setTimeout(r, 1_000).unref());
      return readInstallation();
    }
  };
  void readInstallation();
  const ca = () => {
    const bundle = secretString(o.secrets.get(KEYSERVICE_TLS_SECRET, ns) ?? emptySecret, 'ca.crt');
    const v = issuingCA(caVersions(caSecretsIn(o.secrets, ns), ns), bundle);
    return v && bundle ? { pair: v.pair, bundle } : undefined;
  };
  const pepper = () => {
    const s = o.secrets.get(secretName(Component.HashSalt), ns);
    return s ? secretBytes(s, 'salt') : undefined;
  };
  const heartbeats = o.nats?.heartbeats ?? new HeartbeatStore();
  // NB: the channel needs the relay (its deps) and the relay delivers to the channel: set once both exist.
  const streams: { channel?: ClusterChannel } = {};
  // NB: the leader's reports go into its store; every other replica's go to the leader.
  const relay = new ReplicaRelay({
    client: mgr.client,
    namespace: ns,
    leaseName: mgr.shard.leaseName,
    leading: () => mgr.leads(),
    store: heartbeats,
    tls: () => keyServiceTls(o.secrets.get(KEYSERVICE_TLS_SECRET, ns)),
    deliver: (uid, agent, verb) => streams.channel?.send(uid, agent, verb),
    now: () => mgr.clock.now(),
    log: mgr.log,
    audit: mgr.audit,
    registry: mgr.metrics.registry,
  });
  const deps: ChannelDeps = {
    client: mgr.client,
    keystore: o.keystore,
    secrets: o.secrets,
    agents,
    tenants,
    audit: mgr.audit,
    log: mgr.log,
    now: () => new Date(mgr.clock.now()),
    rand: o.rand,
    installationID: () => installationID,
    installationLoaded: async (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([installationRead, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
      return installationID;
    },
    pepper,
    ca,
    ...(o.nats
      ? {
          nats: {
            accountKey: (uid: string) => {
              const entry = accountEntry(o.keystore, uid);
              return entry ? unwrapAccountKey(o.keystore, entry, uid) : undefined;
            },
            ...(o.natsUrl ? { url: o.natsUrl } : {}),
          },
        }
      : {}),
    heartbeats: relay,
    limiter: new AttemptLimiter(o.limits ?? DEFAULT_PAIRING_LIMITS, mgr.clock.now()),
    certificateLifetimeMs: o.certificateLifetimeMs ?? DEFAULT_CERTIFICATE_LIFETIME_MS,
    written: new Map(),
  };
  const attempts = new Counter({
    name: 'palisade_pairing_attempts_total',
    help: 'Pairing.Pair calls by outcome: OK, PERMISSION_DENIED (a bad code), RESOURCE_EXHAUSTED (rate-limited), INVALID_ARGUMENT, UNAVAILABLE.',
    labelNames: ['outcome'] as const,
    registers: [mgr.metrics.registry],
  });
  deps.countAttempt = (outcome) => attempts.inc({ outcome });
  const channel = new ClusterChannel(deps);
  streams.channel = channel;
  new Gauge({
    name: 'palisade_clusterchannel_streams',
    help: 'Open ClusterChannel Commands streams on this replica (one per connected gRPC agent).',
    registers: [mgr.metrics.registry],
    collect() {
      this.set(channel.openStreams);
    },
  });
  // Reports can arrive once the server serves: silence means something from then on.
  void mgr.everyReplicaSynced().then(() => {
    heartbeats.listening(mgr.clock.now());
    relay.start();
  });
  return {
    services: [
      { definition: pairingService(), handlers: pairingHandlers(deps) },
      { definition: clusterChannelService(), handlers: channel.handlers() },
      { definition: replicaRelayService(), handlers: relay.handlers() },
    ],
    pairing: {
      pepper,
      // NB: the CA the channel's server certificate is from, which the agent pins to reach it: for a while
      // after a CA rotation an older one than the CA agents' certificates come from (internalca servingCA).
      caPin: () => {
        const served = o.secrets.get(KEYSERVICE_TLS_SECRET, ns)?.metadata.labels?.[CA_ID_LABEL];
        const v = caVersions(caSecretsIn(o.secrets, ns), ns).find((c) => c.keyId === served);
        return v ? spkiFingerprint(v.pair.certPem) : undefined;
      },
      ...(o.address ? { address: o.address } : {}),
      command: (uid, agent, verb) => {
        channel.send(uid, agent, verb);
        relay.broadcast(uid, agent, verb);
        try {
          o.nats?.publishCommand(uid, agent, verb, '');
        } catch {
          // NB: NATS not connected: the gRPC stream got it, and the controller asks again until it renews.
        }
      },
    },
    heartbeats,
    channel,
    relay,
  };
}

const emptySecret: Secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: '' } };

import type { ClusterAgent, Tenant } from '../../crds/v1alpha1/index.ts';
import { PAIRING_LOOKUP_LABEL } from '../clusteragent/record.ts';
import { isKeystoreEntry } from '../keystore/entries.ts';
import type { Keystore } from '../keystore/store.ts';
import type { ReportContent, ReportSender } from '../nats/heartbeats.ts';
import type { NKeyPair } from '../nats/protocol/index.ts';
import type { IssuedPair, RandomSource } from '../pki/index.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { KubeApi } from '../runtime/kube/api.ts';
import type { Secret } from '../runtime/kube/types.ts';
import type { AuditLog, Logger } from '../runtime/log.ts';
import type { AttemptLimiter } from './ratelimit.ts';

/** Everything the Pairing and ClusterChannel services read and write through (setup.ts wires them). */
export interface ChannelDeps {
  client: KubeApi;
  keystore: Keystore;
  /** The labelled-Secret cache holding the keystore, with the {@link PAIRING_LOOKUP_INDEX}. */
  secrets: ObjectCache<Secret>;
  agents: ObjectCache<ClusterAgent>;
  tenants: ObjectCache<Tenant>;
  audit: AuditLog;
  log: Logger;
  now(): Date;
  rand: RandomSource;
  /** The installation's ID (trust domain of agent identities); undefined until read. */
  installationID(): string | undefined;
  /** The installation's ID once read, waiting at most `timeoutMs` for it (undefined if it is still not). */
  installationLoaded?(timeoutMs: number): Promise<string | undefined>;
  /** The installation's hash salt, the pepper of code hashes. */
  pepper(): Uint8Array | undefined;
  /** The internal CA that signs agent certificates, and the bundle agents trust. */
  ca(): { pair: IssuedPair; bundle: string } | undefined;
  /** NATS, when messaging is on: the tenant account's signing key and the URL agents dial. */
  nats?: { accountKey(tenantUID: string): NKeyPair | undefined; url?: string };
  /** Where agents' reports go: the leader's store, or the relay to the leader (relay.ts). */
  heartbeats: { report(who: ReportSender, content: ReportContent, now: number): void };
  limiter: AttemptLimiter;
  /** Lifetime of agent client certificates and NATS user JWTs (default 24 h). */
  certificateLifetimeMs: number;
  /**
   * Agent records this process wrote, until the cache shows them: an agent that pairs or renews and
   * reports at once must not be refused because the keystore cache lags its own write.
   */
  written: Map<string, { secret: Secret; at: number }>;
  /** Counts a pairing attempt by outcome (a gRPC status name, or OK); never by code or source. */
  countAttempt?(outcome: string): void;
}

export const WRITE_GRACE_MS = 10_000;

/** The newer of the cached and the just-written agent record. */
export function freshRecord(d: ChannelDeps, name: string): Secret | undefined {
  const cached = d.keystore.get(name);
  const mine = d.written.get(name);
  if (!mine) return cached;
  const rv = (s: Secret | undefined) => Number(s?.metadata.resourceVersion ?? 0);
  // NB: a write the cache never shows within the grace was undone (the record deleted): the cache wins.
  if ((cached && rv(cached) >= rv(mine.secret)) || d.now().getTime() - mine.at > WRITE_GRACE_MS) {
    d.written.delete(name);
    return cached;
  }
  return mine.secret;
}

/** Index on the ClusterAgent cache: an agent by its metadata.uid (the identity in its certificate). */
export const AGENT_UID_INDEX = 'clusteragent-uid';
export const agentUIDIndex = (a: ClusterAgent): string[] => (a.metadata.uid ? [a.metadata.uid] : []);

/** Index on the keystore cache: a pending pairing record by its lookup label. */
export const PAIRING_LOOKUP_INDEX = 'pairing-lookup';
/** Only keystore entries of `keystoreNamespace` are indexed: the label is Palisade's there alone. */
export const pairingLookupIndex =
  (keystoreNamespace: string) =>
  (s: Secret): string[] => {
    const v = s.metadata.labels?.[PAIRING_LOOKUP_LABEL];
    return v && isKeystoreEntry(s, keystoreNamespace) ? [v] : [];
  };

/** Remembers a record this process wrote; entries older than the grace are dropped as new ones come. */
export function rememberWrite(d: ChannelDeps, secret: Secret): void {
  const now = d.now().getTime();
  if (d.written.size >= 1024)
    for (const [k, v] of d.written) if (now - v.at > WRITE_GRACE_MS) d.written.delete(k);
  d.written.set(secret.metadata.name, { secret, at: now });
}

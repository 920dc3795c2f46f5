import { Gauge } from 'prom-client';
import type { RootKeyring } from '../installation/keyring.ts';
import type { RootKey } from '../installation/keys.ts';
import { isRetiring, ROOT_RETIRING_ANNOTATION } from '../installation/rootversion.ts';
import { Component, secretName } from '../installation/secrets.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Reconcile, Watch } from '../runtime/controller.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { Secret } from '../runtime/kube/types.ts';
import type { AuditLog } from '../runtime/log.ts';
import type { Manager } from '../runtime/manager.ts';
import {
  COMPONENT_LABEL_SELECTOR,
  ROOT_KEY_VERSION_LABEL,
  WRAPPED_KINDS,
  entryKind,
  keystoreRootIndex,
} from './entries.ts';
import type { Keystore } from './store.ts';

export interface RetirementOptions {
  secrets: ObjectCache<Secret>;
  keystore: Keystore;
  /**
   * How long a non-active root version must have had nothing wrapped by it before it is deleted: covers
   * a write in flight that read the keyring before the new version appeared (default 30 s).
   */
  graceMs?: number;
}

/** What the retirement loop reads and writes (the Manager's pieces; tests pass their own). */
export interface RetirementDeps {
  secrets: ObjectCache<Secret>;
  /** The keystore's namespace: root versions and the entries that reference them live there only. */
  namespace: string;
  rootKeys: Pick<RootKeyring, 'versions'>;
  client: Pick<KubeClient, 'list' | 'delete' | 'jsonPatch'>;
  clock: Clock;
  events: EventRecorder;
  audit: AuditLog;
  pending: Gauge<'root_version'>;
  graceMs: number;
}

const ROOT_PREFIX = `${secretName(Component.RootKey)}-v`;

/**
 * How many wrapped keystore entries each root version wraps, by the keystore's own rule
 * (`keystoreRootIndex`), kept from the Secret cache's events in O(1) each. Reading the count from the
 * index instead would copy every entry under the version, on every event.
 */
export class RootReferences {
  private readonly counts = new Map<number, number>();
  private readonly namespace: string;
  private readonly rootVersionOf: (s: Secret) => string[];

  constructor(namespace: string) {
    this.namespace = namespace;
    this.rootVersionOf = keystoreRootIndex(namespace);
  }

  count(rootVersion: number): number {
    return this.counts.get(rootVersion) ?? 0;
  }

  /**
   * Takes in one change of an entry: `old` is what the cache held before (none for an add), `now` what it
   * holds after (none for a delete). Returns the root versions whose count changed.
   * NB: what wrapped an entry before comes from the cache's previous object, not from a copy kept per
   * entry here: nothing is held per entry.
   */
  note(old: Secret | undefined, now: Secret | undefined): number[] {
    const before = old ? this.versionOf(old) : 0;
    const after = now ? this.versionOf(now) : 0;
    if (before === after) return [];
    if (before) this.add(before, -1);
    if (after) this.add(after, 1);
    return [before, after].filter((v) => v > 0);
  }

  private versionOf(s: Secret): number {
    return s.metadata.namespace === this.namespace ? Number(this.rootVersionOf(s)[0] ?? 0) : 0;
  }

  private add(rootVersion: number, n: number): void {
    const c = this.count(rootVersion) + n;
    if (c > 0) this.counts.set(rootVersion, c);
    else this.counts.delete(rootVersion);
  }
}

/**
 * Retires old root key versions. The one rule of what references a root version: a wrapped keystore
 * entry (in the keystore's namespace; nothing else counts, so a Secret elsewhere that merely carries the
 * label can neither block retirement nor be touched). A version R below the active one is deleted only
 * when (1) no cached keystore entry is wrapped by R, (2) that stayed so for the grace period, (3) R's
 * Secret is marked retiring (`palisade.dev/retiring`), and (4) a live list of the keystore from the API
 * server, made after the mark, agrees. The mark is the fence for writers whose cache lags by more than
 * the grace period (another shard's replica, a stalled process): one that has just wrapped under R reads
 * R live afterwards, and finding it marked or gone wraps again under the newest version
 * (`Keystore.createWrapped`); finding it unmarked, its entry was written before the mark, so (4) sees it. Progress is the gauge
 * `palisade_rootkey_rewrap_pending{root_version}`: keystore entries still wrapped by each old version.
 *
 * Every Secret event costs O(1) here: a count moves, and an old version whose count moved is enqueued.
 * NB: the keyring is read only on a root key Secret's own events (rare): `RootKeyring.versions()` looks
 * through every watched namespace's cache.
 */
export function rootKeyRetirement(d: RetirementDeps): {
  watch: Watch;
  reconcile: Reconcile;
  /** The keys a start or a resync re-checks: every root version's. */
  resyncKeys: () => string[];
} {
  const refs = new RootReferences(d.namespace);
  const keyPrefix = `${d.namespace}/${ROOT_PREFIX}`;
  const rootKey = (v: number) => `${keyPrefix}${v}`;
  const emptySince = new Map<number, number>();
  let versions: readonly RootKey[] = [];
  const active = () => versions.at(-1)?.version ?? 0;
  const isRoot = (s: Secret) =>
    s.metadata.namespace === d.namespace && s.metadata.name.startsWith(ROOT_PREFIX);

  const watch: Watch = {
    register(enqueue) {
      const changed = (s: Secret, old: Secret | undefined, now: Secret | undefined) => {
        if (isRoot(s)) {
          versions = d.rootKeys.versions();
          for (const r of versions) enqueue(rootKey(r.version));
          return;
        }
        for (const v of refs.note(old, now)) if (v < active()) enqueue(rootKey(v));
      };
      d.secrets.on('add', (s) => changed(s, undefined, s));
      d.secrets.on('update', (s, old) => changed(s, old, s));
      d.secrets.on('delete', (s, old) => changed(s, old ?? s, undefined));
    },
  };

  const reconcile: Reconcile = async (key) => {
    const version = Number(key.slice(keyPrefix.length));
    const label = { root_version: String(version) };
    const root = versions.find((r) => r.version === version);
    if (!root || version >= active()) {
      if (Number.isInteger(version)) d.pending.remove(label);
      emptySince.delete(version);
      return;
    }
    const references = refs.count(version);
    d.pending.set(label, references);
    if (references > 0) {
      emptySince.delete(version);
      return;
    }
    const since = emptySince.get(version) ?? d.clock.now();
    emptySince.set(version, since);
    const wait = since + d.graceMs - d.clock.now();
    if (wait > 0) return { requeueAfterMs: wait };
    const secret = d.secrets.get(`${ROOT_PREFIX}${version}`, d.namespace);
    if (!secret) return;
    if (!isRetiring(secret)) await markRetiring(d, secret);
    const live = await d.client.list<Secret>('Secret', {
      namespace: d.namespace,
      labelSelector: `${COMPONENT_LABEL_SELECTOR},${ROOT_KEY_VERSION_LABEL}=${version}`,
    });
    if (live.items.some((s) => WRAPPED_KINDS.has(entryKind(s)))) {
      emptySince.delete(version);
      return { requeueAfterMs: d.graceMs };
    }
    await d.client.delete(
      { kind: 'Secret', name: secret.metadata.name, namespace: d.namespace },
      { uid: secret.metadata.uid },
    );
    d.pending.remove(label);
    emptySince.delete(version);
    const note = `retired root key version ${version}: nothing is wrapped by it any more (active: ${active()})`;
    d.events.record(secret, 'Normal', 'RootKeyRetired', 'Delete', note);
    d.audit.record({
      action: 'root-key.retire',
      outcome: 'Success',
      resource: { kind: 'Secret', name: secret.metadata.name, namespace: d.namespace },
      version,
      keyId: root.keyId,
    });
  };
  const resyncKeys = () => {
    versions = d.rootKeys.versions();
    return versions.map((r) => rootKey(r.version));
  };
  return { watch, reconcile, resyncKeys };
}

/**
 * Marks a root version's Secret retiring (a JSON patch guarded by its UID); the mark stays until the
 * version is deleted: the version is never active again, so a writer seeing it only wraps once more.
 */
async function markRetiring(d: RetirementDeps, secret: Secret): Promise<void> {
  const value = new Date(d.clock.now()).toISOString();
  const ops = secret.metadata.annotations
    ? [{ op: 'add', path: `/metadata/annotations/${ROOT_RETIRING_ANNOTATION.replace('/', '~1')}`, value }]
    : [{ op: 'add', path: '/metadata/annotations', value: { [ROOT_RETIRING_ANNOTATION]: value } }];
  await d.client.jsonPatch({ kind: 'Secret', name: secret.metadata.name, namespace: d.namespace }, [
    { op: 'test', path: '/metadata/uid', value: secret.metadata.uid },
    ...ops,
  ]);
}

/** Wires {@link rootKeyRetirement} as the `root-key-retirement` controller. */
export function setupRootKeyRetirement(mgr: Manager, o: RetirementOptions) {
  const pending = new Gauge({
    name: 'palisade_rootkey_rewrap_pending',
    help: 'Keystore entries still wrapped by a root key version older than the active one, by root version.',
    labelNames: ['root_version'] as const,
    registers: [mgr.metrics.registry],
  });
  const { watch, reconcile, resyncKeys } = rootKeyRetirement({
    secrets: o.secrets,
    namespace: o.keystore.namespace,
    rootKeys: o.keystore.rootKeys,
    client: mgr.client,
    clock: mgr.clock,
    events: mgr.events,
    audit: mgr.audit,
    pending,
    graceMs: o.graceMs ?? 30_000,
  });
  return mgr.addController({
    name: 'root-key-retirement',
    // NB: the keys are root versions, not Secrets: a Secret event moves a count, and costs a reconcile
    // only when an old version's count moved.
    resyncKeys,
    concurrency: 1,
    watches: [watch],
    reconcile,
  });
}

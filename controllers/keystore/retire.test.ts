import assert from 'node:assert/strict';
import { Gauge, Registry } from 'prom-client';
import { RootKeyring } from '../installation/keyring.ts';
import { ROOT_RETIRING_ANNOTATION } from '../installation/rootversion.ts';
import { Component, installationSecret, KEY_ID_ANNOTATION } from '../installation/secrets.ts';
import { FakeClock } from '../runtime/clock.ts';
import type { IndexFn, ObjectCache } from '../runtime/informer.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { Secret } from '../runtime/kube/types.ts';
import type { AuditRecord } from '../runtime/log.ts';
import { entriesWalked } from '../runtime/testdata/walks.ts';
import {
  EntryKind,
  keystoreLabels,
  keystoreSecret,
  keyVersionSlot,
  rewrapName,
  ROOT_KEY_VERSION_LABEL,
} from './entries.ts';
import { rootKeyRetirement } from './retire.ts';

const NS = 'palisade-system';
const GRACE_MS = 30_000;
type Event = 'add' | 'update' | 'delete';

/** The Secret cache as the informer keeps it: objects by `ns/name`, handlers, secondary indexes. */
class FakeSecrets implements ObjectCache<Secret> {
  readonly kind = 'Secret';
  private readonly objects = new Map<string, Secret>();
  private readonly handlers: Record<Event, ((s: Secret, old?: Secret) => void)[]> = {
    add: [],
    update: [],
    delete: [],
  };
  private readonly indexFns = new Map<string, IndexFn<Secret>>();
  private readonly indexes = new Map<string, Map<string, Set<string>>>();
  private readonly indexed = new Map<string, Map<string, string[]>>();

  on(event: Event, fn: (s: Secret, old?: Secret) => void): void {
    this.handlers[event].push(fn);
  }
  addIndex(name: string, fn: IndexFn<Secret>): void {
    this.indexFns.set(name, fn);
    this.indexes.set(name, new Map());
    this.indexed.set(name, new Map());
  }
  get(name: string, namespace?: string): Secret | undefined {
    return this.objects.get(`${namespace}/${name}`);
  }
  list(namespace?: string): Secret[] {
    return [...this.objects.values()].filter((s) => !namespace || s.metadata.namespace === namespace);
  }
  keys(namespace?: string): string[] {
    return this.list(namespace).map((s) => `${s.metadata.namespace}/${s.metadata.name}`);
  }
  byIndex(name: string, value: string): string[] {
    return [...(this.indexes.get(name)?.get(value) ?? [])];
  }
  hasSynced = () => true;
  waitForSync = async () => undefined;
  start = async () => undefined;
  stop = async () => undefined;

  put(s: Secret): void {
    const key = `${s.metadata.namespace}/${s.metadata.name}`;
    // NB: handlers get what was held before, as the informer hands it over (update and delete).
    const old = this.objects.get(key);
    this.objects.set(key, s);
    this.reindex(key, s);
    for (const h of this.handlers[old ? 'update' : 'add']) h(s, old);
  }
  remove(s: Secret): void {
    const key = `${s.metadata.namespace}/${s.metadata.name}`;
    const old = this.objects.get(key);
    this.objects.delete(key);
    this.reindex(key, undefined);
    if (old) for (const h of this.handlers.delete) h(s, old);
  }
  private reindex(key: string, s: Secret | undefined): void {
    for (const [name, fn] of this.indexFns) {
      const index = this.indexes.get(name) as Map<string, Set<string>>;
      const previous = this.indexed.get(name) as Map<string, string[]>;
      for (const v of previous.get(key) ?? []) index.get(v)?.delete(key);
      const values = s ? fn(s) : [];
      for (const v of values) {
        const set = index.get(v) ?? new Set<string>();
        index.set(v, set.add(key));
      }
      previous.set(key, values);
    }
  }
}

const rootSecret = (version: number): Secret => {
  const s = installationSecret({
    namespace: NS,
    component: Component.RootKey,
    version,
    data: { key: new Uint8Array(32).fill(version) },
    annotations: { [KEY_ID_ANNOTATION]: `root-${version}` },
  });
  return { ...s, metadata: { ...s.metadata, uid: `uid-root-${version}` } };
};

const entry = (i: number, rootVersion: number): Secret => {
  const slot = keyVersionSlot(`t${i}`, 'primary', 1);
  return keystoreSecret({
    name: rootVersion === 1 ? slot : rewrapName(slot, rootVersion),
    namespace: NS,
    labels: keystoreLabels(EntryKind.TenantKey, `t${i}`, { [ROOT_KEY_VERSION_LABEL]: String(rootVersion) }),
    data: { wrapped: 'testdata: not a wrapped key' },
    immutable: true,
  });
};

/** The retirement loop over a fake cache and API, driven like the controller drives it (queue of keys). */
function harness() {
  const clock = new FakeClock(1_000_000);
  const secrets = new FakeSecrets();
  const rootKeys = new RootKeyring(secrets, NS);
  const deleted: string[] = [];
  /** The API calls the loop made, in order. */
  const calls: string[] = [];
  const audits: AuditRecord[] = [];
  const client = {
    list: async (_kind: string, o: { labelSelector: string }) => (
      calls.push(`list ${o.labelSelector.split(',').at(-1)}`),
      {
        items: secrets.list(NS).filter((s) =>
          o.labelSelector.split(',').every((term) => {
            const [k = '', v] = term.split('=');
            return s.metadata.labels?.[k] === v;
          }),
        ),
      }
    ),
    jsonPatch: async (ref: { name: string }, ops: { op: string; path: string; value: unknown }[]) => {
      calls.push(`patch ${ref.name}`);
      const s = secrets.get(ref.name, NS);
      const add = ops.find(
        (o) => o.path === `/metadata/annotations/${ROOT_RETIRING_ANNOTATION.replace('/', '~1')}`,
      );
      if (s && add)
        secrets.put({
          ...s,
          metadata: {
            ...s.metadata,
            annotations: { ...s.metadata.annotations, [ROOT_RETIRING_ANNOTATION]: String(add.value) },
          },
        });
      return s;
    },
    delete: async (ref: { name: string }) => {
      calls.push(`delete ${ref.name}`);
      deleted.push(ref.name);
      const s = secrets.get(ref.name, NS);
      if (s) secrets.remove(s);
    },
  } as unknown as KubeClient;
  const registry = new Registry();
  const pending = new Gauge({
    name: 'palisade_rootkey_rewrap_pending',
    help: 'test',
    labelNames: ['root_version'] as const,
    registers: [registry],
  });
  const { watch, reconcile } = rootKeyRetirement({
    secrets,
    namespace: NS,
    rootKeys,
    client,
    clock,
    events: { record: () => undefined },
    audit: { record: (e) => void audits.push(e) },
    pending,
    graceMs: GRACE_MS,
  });
  const queue = new Set<string>();
  // As the Controller does: every primary object's own key, plus the watch's keys.
  for (const e of ['add', 'update', 'delete'] as const)
    secrets.on(e, (s) => queue.add(`${s.metadata.namespace}/${s.metadata.name}`));
  watch.register((k) => queue.add(k));
  const drain = async () => {
    while (queue.size) {
      const [key] = queue;
      queue.delete(key as string);
      const r = await reconcile(key as string);
      if (r?.requeueAfterMs !== undefined) clock.setTimer(r.requeueAfterMs, () => queue.add(key as string));
    }
  };
  const pendingOf = async (v: number) =>
    (await pending.get()).values.find((x) => x.labels.root_version === String(v))?.value;
  return { clock, secrets, deleted, calls, audits, drain, pendingOf };
}

describe('root key retirement', function () {
  it('walks O(1) entries per event while 20,000 entries move from an old root version to the new one', async function () {
    const h = harness();
    const n = 20_000;
    h.secrets.put(rootSecret(1));
    for (let i = 0; i < n; i++) h.secrets.put(entry(i, 1));
    h.secrets.put(rootSecret(2));
    await h.drain();
    assert.equal(await h.pendingOf(1), n);

    // The rewrap loop's writes, one event at a time, each followed by the loop's reconciles.
    const walked = await entriesWalked(async () => {
      for (let i = 0; i < n - 1; i++) {
        h.secrets.put(entry(i, 2));
        await h.drain();
        h.secrets.remove(entry(i, 1));
        await h.drain();
      }
    });
    const perEvent = walked / (2 * (n - 1));
    assert.ok(perEvent <= 10, `${perEvent.toFixed(1)} entries walked per event`);
    assert.equal(await h.pendingOf(1), 1);
  });

  it('keeps an old root version while one entry is still wrapped by it, past the grace period', async function () {
    const h = harness();
    h.secrets.put(rootSecret(1));
    for (let i = 0; i < 3; i++) h.secrets.put(entry(i, 1));
    h.secrets.put(rootSecret(2));
    for (let i = 0; i < 2; i++) {
      h.secrets.put(entry(i, 2));
      h.secrets.remove(entry(i, 1));
    }
    await h.drain();
    h.clock.advance(2 * GRACE_MS);
    await h.drain();
    assert.deepEqual(h.deleted, []);
    assert.equal(await h.pendingOf(1), 1);
  });

  it('retires an old root version once nothing is wrapped by it and the grace period passed', async function () {
    const h = harness();
    h.secrets.put(rootSecret(1));
    h.secrets.put(entry(0, 1));
    h.secrets.put(rootSecret(2));
    await h.drain();
    h.secrets.put(entry(0, 2));
    h.secrets.remove(entry(0, 1));
    await h.drain();
    assert.equal(await h.pendingOf(1), 0);
    h.clock.advance(GRACE_MS - 1);
    await h.drain();
    assert.deepEqual(h.deleted, [], 'not before the grace period');
    assert.deepEqual(h.calls, [], 'nor marked');
    h.clock.advance(1);
    await h.drain();
    assert.deepEqual(h.deleted, ['palisade-root-key-v1']);
    assert.deepEqual(
      h.calls,
      ['patch palisade-root-key-v1', 'list palisade.dev/root-key-version=1', 'delete palisade-root-key-v1'],
      'marked retiring before the live list that decides (a lagging writer reads the mark after writing)',
    );
    assert.equal(await h.pendingOf(1), undefined);
    assert.deepEqual(
      h.audits.map((a) => [a.action, a.version]),
      [['root-key.retire', 1]],
    );
  });

  it('never retires the active version, nor counts Secrets outside the keystore namespace', async function () {
    const h = harness();
    h.secrets.put(rootSecret(1));
    const stray = entry(0, 1);
    h.secrets.put({ ...stray, metadata: { ...stray.metadata, namespace: 'tenant-x' } });
    await h.drain();
    h.clock.advance(2 * GRACE_MS);
    await h.drain();
    assert.deepEqual(h.deleted, []);
    h.secrets.put(rootSecret(2));
    await h.drain();
    h.clock.advance(GRACE_MS);
    await h.drain();
    assert.deepEqual(h.deleted, ['palisade-root-key-v1'], 'the stray Secret is no reference');
  });
});

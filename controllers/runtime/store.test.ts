import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CACHE_DICTIONARIES } from '../cachedictionaries.ts';
import type { Secret } from './kube/types.ts';
import { CompactStore, forgetDecoded } from './store.ts';

interface Tenant {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; uid: string; resourceVersion: string };
  status?: { conditions?: { type: string; message: string }[] };
}

/** A Ready Tenant as the API server sends it (managedFields aside). */
const tenant = (): Tenant =>
  JSON.parse(readFileSync(new URL('./testdata/tenant-ready.json', import.meta.url), 'utf8')) as Tenant;

describe('runtime/store: CompactStore keeps objects deflated against their kind’s dictionary', () => {
  it('gives back what it was given, field for field (non-Latin-1 text included)', () => {
    const store = new CompactStore<Tenant>(CACHE_DICTIONARIES.Tenant ?? '');
    const t = tenant();
    const [first] = t.status?.conditions ?? [];
    assert.ok(first, 'the fixture has conditions');
    first.message = 'NATS account AAFP… is current — ünïcödé ✓';
    const given = structuredClone(t);
    store.put(given);
    assert.equal(store.get('', t.metadata.name), given, 'what was just put is read as it was given');
    forgetDecoded();
    const read = store.get('', t.metadata.name);
    assert.notEqual(read, given, 'decoded');
    assert.deepEqual(read, t);
    forgetDecoded();
    assert.deepEqual(store.list(), [t]);
  });

  it('gives back an object whose JSON and deflated form each span many zlib output chunks', () => {
    const store = new CompactStore<Secret>(CACHE_DICTIONARIES.Secret ?? '');
    // NB: random bytes do not deflate, so the packed form is as long as the data (zlib writes 2 KiB at a time).
    const data = { blob: randomBytes(24 * 1024).toString('base64') };
    const given: Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'big', namespace: 'ns' },
      data,
    };
    store.put(structuredClone(given));
    assert.ok(store.heldLength() > 8 * 1024, `${store.heldLength()} bytes held`);
    forgetDecoded();
    assert.deepEqual(store.get('ns', 'big'), given);
  });

  it('holds a cached Tenant in under a fifth of its JSON, and its dictionary is what makes it so', () => {
    const t = tenant();
    const json = JSON.stringify(t).length;
    const held = (dictionary: string) => {
      const store = new CompactStore<Tenant>(dictionary);
      store.put(t);
      return store.heldLength();
    };
    const withDictionary = held(CACHE_DICTIONARIES.Tenant ?? '');
    assert.ok(withDictionary < json / 5, `${withDictionary} bytes held for ${json} of JSON`);
    assert.ok(held('') > 2 * withDictionary, 'without the dictionary it holds more than twice as much');
  });

  it('never hands out an object older than the last put, though it keeps the last ones decoded', () => {
    const store = new CompactStore<Tenant>(CACHE_DICTIONARIES.Tenant ?? '');
    const t = tenant();
    store.put({ ...t, metadata: { ...t.metadata, resourceVersion: '1' } });
    assert.equal(store.get('', t.metadata.name)?.metadata.resourceVersion, '1');
    store.put({ ...t, metadata: { ...t.metadata, resourceVersion: '2' } });
    assert.equal(store.get('', t.metadata.name)?.metadata.resourceVersion, '2');
    forgetDecoded();
    assert.equal(store.get('', t.metadata.name)?.metadata.resourceVersion, '2', 'decoded too');
    assert.equal(store.remove('', t.metadata.name), true);
    assert.equal(store.get('', t.metadata.name), undefined);
    assert.equal(store.remove('', t.metadata.name), false);
  });

  it('keeps stores apart: the same namespace and name in two stores are two objects', () => {
    const a = new CompactStore<Secret>(CACHE_DICTIONARIES.Secret ?? '');
    const b = new CompactStore<Secret>(CACHE_DICTIONARIES.Secret ?? '');
    const s = (v: string): Secret => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'same', namespace: 'ns', resourceVersion: v },
      data: { value: Buffer.from(v).toString('base64') },
    });
    a.put(s('a'));
    b.put(s('b'));
    forgetDecoded();
    assert.equal(a.get('ns', 'same')?.data?.value, Buffer.from('a').toString('base64'));
    assert.equal(b.get('ns', 'same')?.data?.value, Buffer.from('b').toString('base64'));
  });

  it('names what it holds without decoding, as a namespace goes from one object to two and back', () => {
    const store = new CompactStore<Secret>(CACHE_DICTIONARIES.Secret ?? '');
    const s = (name: string): Secret => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: 'ns' },
    });
    store.put(s('a'));
    assert.deepEqual(store.names(), [['ns', 'a']]);
    store.put(s('b'));
    assert.deepEqual(store.names().sort(), [
      ['ns', 'a'],
      ['ns', 'b'],
    ]);
    store.remove('ns', 'a');
    assert.deepEqual(store.names(), [['ns', 'b']]);
    assert.equal(store.get('ns', 'b')?.metadata.name, 'b');
    assert.equal(store.get('ns', 'a'), undefined);
  });
});

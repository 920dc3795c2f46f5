import assert from 'node:assert/strict';
import { ApiError } from './kube/errors.ts';
import type { ConfigMap, ObjectList } from './kube/types.ts';
import type { WatchCallback, WatchDone, Watcher } from './kube/watch.ts';
import { ListWatch, MIN_CLEAN_WATCH_MS } from './listwatch.ts';
import { CompactStore, PlainStore, type ObjectStore } from './store.ts';

const cm = (name: string, rv: string, namespace = 'ns'): ConfigMap => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace, resourceVersion: rv },
});

interface OpenedWatch {
  query: Record<string, unknown>;
  send: WatchCallback;
  end: WatchDone;
  aborted: boolean;
}

/** An API server in miniature: what the next list returns, and the watches opened on it. */
class FakeServer implements Watcher {
  lists = 0;
  nextList: ObjectList<ConfigMap> | Error = { metadata: { resourceVersion: '10' }, items: [] };
  readonly watches: OpenedWatch[] = [];

  async list(): Promise<ObjectList<ConfigMap>> {
    this.lists++;
    if (this.nextList instanceof Error) throw this.nextList;
    return structuredClone(this.nextList);
  }

  async watch(
    _path: string,
    query: Record<string, unknown>,
    send: WatchCallback,
    end: WatchDone,
  ): Promise<AbortController> {
    const w: OpenedWatch = { query, send, end, aborted: false };
    this.watches.push(w);
    const c = new AbortController();
    c.signal.addEventListener('abort', () => (w.aborted = true));
    return c;
  }

  get last(): OpenedWatch {
    const w = this.watches.at(-1);
    assert.ok(w, 'no watch was opened');
    return w;
  }
}

/** Lets the loop's pending promises (a relist, a re-watch) run. */
const settle = () => new Promise((r) => setImmediate(r));

/** The loop behaves the same whichever way its store keeps the objects. */
const plain = (): ObjectStore<ConfigMap> => new PlainStore<ConfigMap>();
const stores: [string, () => ObjectStore<ConfigMap>][] = [
  ['objects as they are', plain],
  ['objects compacted', () => new CompactStore<ConfigMap>(JSON.stringify(cm('name', '1')))],
];
let makeStore = plain;

function setup() {
  const server = new FakeServer();
  const seen: string[] = [];
  const errors: unknown[] = [];
  let now = 0;
  const lw = new ListWatch<ConfigMap>({
    path: '/api/v1/namespaces/ns/configmaps',
    labelSelector: 'app=x',
    list: () => server.list(),
    watcher: server,
    now: () => now,
    store: makeStore(),
    handlers: {
      add: (o) => seen.push(`add ${o.metadata.name}@${o.metadata.resourceVersion}`),
      // NB: with the version the cache held before: what an Indexer unindexes.
      update: (o, old) =>
        seen.push(
          `update ${o.metadata.name}@${o.metadata.resourceVersion} was ${old.metadata.resourceVersion}`,
        ),
      delete: (o, old) =>
        seen.push(
          `delete ${o.metadata.name}@${o.metadata.resourceVersion} was ${old.metadata.resourceVersion}`,
        ),
      error: (e) => errors.push(e),
    },
  });
  return { server, lw, seen, errors, advance: (ms: number) => (now += ms) };
}

for (const [storeName, store] of stores)
  describe(`runtime/listwatch: list, then watch from the list’s resourceVersion (${storeName})`, () => {
    before(() => (makeStore = store));
    after(() => (makeStore = plain));

    it('lists, then watches from its resourceVersion with the label selector; events and bookmarks move it', async () => {
      const { server, lw, seen } = setup();
      server.nextList = { metadata: { resourceVersion: '10' }, items: [cm('a', '9')] };
      await lw.start();
      assert.deepEqual(server.last.query, { resourceVersion: '10', labelSelector: 'app=x' });
      server.last.send('ADDED', cm('b', '11'));
      server.last.send('MODIFIED', cm('a', '12'));
      server.last.send('BOOKMARK', { kind: 'ConfigMap', metadata: { resourceVersion: '15' } });
      server.last.send('DELETED', cm('b', '16'));
      server.last.send('DELETED', cm('never-held', '17'));
      assert.deepEqual(seen, ['add a@9', 'add b@11', 'update a@12 was 9', 'delete b@16 was 11']);
      assert.deepEqual(
        lw.list().map((o) => o.metadata.name),
        ['a'],
      );
      assert.equal(lw.get('a', 'ns')?.metadata.resourceVersion, '12');
      assert.equal(lw.latestResourceVersion(), '17', 'a delete of an object never held still moves it');
    });

    it('keeps each namespace’s objects apart as a namespace goes from one object to three and back to none', async () => {
      const { server, lw, seen } = setup();
      await lw.start();
      const names = (ns?: string) => lw.list(ns).map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
      server.last.send('ADDED', cm('a', '11', 'one'));
      server.last.send('ADDED', cm('a', '12', 'two'));
      assert.equal(lw.get('b', 'one'), undefined, 'another name in a namespace of one object');
      server.last.send('ADDED', cm('b', '13', 'one'));
      server.last.send('ADDED', cm('c', '14', 'one'));
      server.last.send('MODIFIED', cm('b', '15', 'one'));
      assert.deepEqual(names('one').sort(), ['one/a', 'one/b', 'one/c']);
      assert.deepEqual(names().sort(), ['one/a', 'one/b', 'one/c', 'two/a']);
      assert.deepEqual(
        lw
          .names()
          .map(([ns, name]) => `${ns}/${name}`)
          .sort(),
        names().sort(),
        'names without reading the objects',
      );
      assert.deepEqual(lw.names('two'), [['two', 'a']]);
      server.last.send('DELETED', cm('a', '16', 'one'));
      server.last.send('DELETED', cm('c', '17', 'one'));
      assert.deepEqual(names('one'), ['one/b']);
      assert.equal(lw.get('b', 'one')?.metadata.resourceVersion, '15');
      server.last.send('MODIFIED', cm('b', '18', 'one'));
      server.last.send('DELETED', cm('a', '19', 'one'));
      server.last.send('DELETED', cm('b', '20', 'one'));
      assert.deepEqual([names('one'), names('two')], [[], ['two/a']]);
      assert.deepEqual(seen.slice(-3), ['delete c@17 was 14', 'update b@18 was 15', 'delete b@20 was 18']);
    });

    it('re-watches at once from the last resourceVersion when the server ends a watch, however quiet it was', async () => {
      const { server, lw, errors, advance } = setup();
      await lw.start();
      server.last.send('MODIFIED', cm('a', '20'));
      server.last.end(null);
      await settle();
      assert.equal(server.watches.length, 2);
      assert.equal(server.last.query.resourceVersion, '20');
      advance(300_000); // a whole server timeout without one event, not even a bookmark
      server.last.end(null);
      await settle();
      assert.deepEqual([server.watches.length, server.lists, errors], [3, 1, []]);
    });

    it('re-watches at once after a watch went silent (TimeoutError)', async () => {
      const { server, lw, errors } = setup();
      await lw.start();
      server.last.end(Object.assign(new Error('silent'), { name: 'TimeoutError' }));
      await settle();
      assert.deepEqual([server.watches.length, server.lists, errors], [2, 1, []]);
    });

    it('reports a watch the server ends as soon as it began, without an event, as a failure (an apiserver going down)', async () => {
      const { server, lw, errors, advance } = setup();
      await lw.start();
      advance(MIN_CLEAN_WATCH_MS - 1);
      server.last.end(null);
      await settle();
      assert.equal(server.watches.length, 1, 'not re-watched at once');
      assert.match(String(errors[0]), /ended the watch .* as it began/);
    });

    for (const [how, gone] of [
      ['refused with 410 Gone', (w: OpenedWatch) => w.end(new ApiError(410, 'Expired', 'too old'))],
      [
        'ended after an ERROR event with code 410',
        (w: OpenedWatch) => {
          w.send('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old' });
          w.end(null);
        },
      ],
    ] as const)
      it(`relists when the watch is ${how}, reporting what vanished as deleted and only what changed as updated`, async () => {
        const { server, lw, seen, errors } = setup();
        server.nextList = {
          metadata: { resourceVersion: '10' },
          items: [cm('kept', '5'), cm('changed', '6'), cm('gone', '7', 'other')],
        };
        await lw.start();
        seen.length = 0;
        server.nextList = {
          metadata: { resourceVersion: '30' },
          items: [cm('kept', '5'), cm('changed', '25'), cm('new', '26')],
        };
        gone(server.last);
        await settle();
        assert.deepEqual(seen, ['delete gone@7 was 7', 'update changed@25 was 6', 'add new@26']);
        assert.deepEqual([server.lists, server.last.query.resourceVersion, errors], [2, '30', []]);
        assert.deepEqual(lw.list('other'), []);
      });

    it('reports other failures to error, and resumes from the last resourceVersion when started again', async () => {
      const { server, lw, errors } = setup();
      await lw.start();
      server.last.send('ADDED', cm('a', '11'));
      server.last.send('ERROR', {
        kind: 'Status',
        code: 500,
        reason: 'InternalError',
        message: 'etcd unhappy',
      });
      server.last.end(null);
      server.last.send('ADDED', cm('late', '12'));
      const refused = new ApiError(403, 'Forbidden', 'no');
      await lw.start();
      server.last.end(refused);
      await settle();
      assert.equal(server.watches.length, 2, 'no re-watch after a failure');
      assert.ok(errors[0] instanceof ApiError);
      assert.deepEqual([errors[0].code, errors[0].reason, errors[1]], [500, 'InternalError', refused]);
      assert.deepEqual([server.lists, server.watches[1]?.query.resourceVersion], [1, '11']);
      assert.equal(lw.get('late', 'ns'), undefined, 'nothing after the end counts');
    });

    it('reports a failed list and opens no watch', async () => {
      const { server, lw, errors } = setup();
      server.nextList = new ApiError(0, 'ConnectionFailed', 'refused');
      await lw.start();
      assert.deepEqual([server.watches.length, errors], [0, [server.nextList]]);
    });

    it('stops: aborts its watch and ignores what it still says; started again, resumes without a list', async () => {
      const { server, lw, seen, errors } = setup();
      await lw.start();
      const first = server.last;
      await lw.stop();
      assert.ok(first.aborted);
      first.send('ADDED', cm('a', '11'));
      first.end(null);
      await settle();
      assert.deepEqual([server.watches.length, seen, errors], [1, [], []]);
      await lw.start();
      assert.deepEqual(
        [server.lists, server.watches.length, server.last.query.resourceVersion],
        [1, 2, '10'],
      );
    });

    it('drops a list that returns after it was stopped', async () => {
      const { server, lw, seen } = setup();
      let release: () => void = () => undefined;
      const gate = new Promise<void>((r) => (release = r));
      const list = server.list.bind(server);
      server.list = async () => {
        await gate;
        return list();
      };
      server.nextList = { metadata: { resourceVersion: '40' }, items: [cm('b', '39')] };
      const starting = lw.start();
      await lw.stop();
      release();
      await starting;
      assert.deepEqual([server.watches.length, seen, lw.list()], [0, [], []]);
    });
  });

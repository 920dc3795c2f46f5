import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CredentialsRefusedError } from './agent.ts';
import { Backoff } from './backoff.ts';
import { pairAgent } from './pair.ts';
import { runChannels, type RunningChannels } from './run.ts';
import { DirectoryStore, type StoredCredentials } from './store.ts';
import { startFakePalisade, type FakePalisade } from './testdata/server.ts';

const CODE = 'K7QP-4MZX';
const INTERVAL_MS = 20;
const FAST = { baseMs: 10, maxMs: 50 };

/** Polls `probe` until it returns something truthy; fails with `what` after `ms`. */
async function until<T>(what: string, probe: () => T | undefined | false, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const serialOf = (c: StoredCredentials) => new X509Certificate(c.certPem).serialNumber;

/** A directory store that notes each save on a shared timeline. */
class RecordingStore extends DirectoryStore {
  readonly timeline: string[];
  constructor(dir: string, timeline: string[]) {
    super(dir);
    this.timeline = timeline;
  }
  override async save(c: StoredCredentials): Promise<void> {
    await super.save(c);
    this.timeline.push(`saved ${serialOf(c)}`);
  }
}

describe('palisade-agent run over gRPC', function () {
  this.timeout(30_000);
  let palisade: FakePalisade;
  let dir: string;
  let store: DirectoryStore;
  let agent: RunningChannels | undefined;
  let lines: string[];

  beforeEach(async () => {
    palisade = await startFakePalisade({ code: CODE });
    dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-run-'));
    store = new DirectoryStore(dir);
    await pairAgent({ code: CODE, server: palisade.address, caFingerprint: palisade.pin, store });
    lines = [];
  });
  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    await palisade.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const start = (o: Partial<Parameters<typeof runChannels>[0]> = {}) =>
    runChannels({
      store,
      channels: ['grpc'],
      intervalMs: INTERVAL_MS,
      backoff: FAST,
      log: (l) => lines.push(l),
      ...o,
    });

  it('reports health and statistics every interval on its own client certificate', async () => {
    agent = await start({ health: () => 'Degraded', statistics: () => ({ pods: 7 }) });
    await until('three reports', () => palisade.seen.reports.length >= 3);
    const serial = serialOf(agent.credentials());
    for (const r of palisade.seen.reports) {
      assert.equal(r.serial, serial);
      assert.equal(r.health, 'HEALTH_DEGRADED');
      assert.equal(r.statistics.pods, '7');
      assert.match(r.statistics.uptimeSeconds ?? '', /^\d+$/);
    }
  });

  it('renews at renew-after: new keys, stored before any report uses them, and no report fails meanwhile', async () => {
    const timeline: string[] = [];
    store = new RecordingStore(dir, timeline);
    // Credentials whose renew-after has passed; the renewed ones are good for 40 minutes.
    const before = {
      ...((await store.load()) as StoredCredentials),
      renewAfter: Math.floor(Date.now() / 1000) - 1,
    };
    await store.save(before);
    timeline.length = 0;
    agent = await start();
    const renewed = await until('a renewal', () => {
      const c = agent?.credentials();
      return c && serialOf(c) !== serialOf(before) ? c : undefined;
    });
    const count = palisade.seen.reports.length;
    await until('reports on the renewed certificate', () => palisade.seen.reports.length >= count + 3);
    const newSerial = serialOf(renewed);
    const firstNew = palisade.seen.reports.findIndex((r) => r.serial === newSerial);
    assert.ok(firstNew > 0, 'reports on the old certificate, then on the new one');
    assert.ok(
      palisade.seen.reports.slice(firstNew).every((r) => r.serial === newSerial),
      'never back to the old',
    );
    assert.equal(timeline[0], `saved ${newSerial}`, 'stored before use');
    assert.deepEqual(await store.load(), renewed);
    assert.notEqual(renewed.keyPem, before.keyPem, 'a new TLS key');
    assert.notEqual(renewed.natsSeed, before.natsSeed, 'a new NATS key');
    assert.notEqual(palisade.seen.renewals[0]?.natsUserPublicKey, palisade.seen.pairs[0]?.natsUserPublicKey);
    assert.deepEqual(
      lines.filter((l) => /failed/.test(l)),
      [],
      'no report failed',
    );
  });

  it('renews when Palisade sends refresh-credentials on the command stream', async () => {
    agent = await start();
    const first = serialOf(agent.credentials());
    await until('the command stream', () => palisade.seen.reports.length > 0);
    await until('a renewal', () => {
      palisade.command('refresh-credentials');
      return serialOf(agent?.credentials() as StoredCredentials) !== first;
    });
    assert.ok(lines.some((l) => /^command refresh-credentials/.test(l)));
  });

  it('ends with CredentialsRefusedError and stops reporting once Palisade refuses it', async () => {
    agent = await start();
    await until('a report', () => palisade.seen.reports.length > 0);
    palisade.revoke();
    const why = await agent.ended;
    assert.ok(why instanceof CredentialsRefusedError, String(why));
    assert.match(why.message, /^credentials revoked or refused: agent unknown, deleted or suspended/);
    const count = palisade.seen.reports.length;
    await new Promise((r) => setTimeout(r, INTERVAL_MS * 3));
    assert.equal(palisade.seen.reports.length, count, 'nothing sent after the refusal');
  });

  it('keeps retrying while Palisade is down and reports again when it is back', async () => {
    agent = await start();
    await until('a report', () => palisade.seen.reports.length > 0);
    const port = Number(palisade.address.split(':')[1]);
    const ca = palisade.ca;
    await palisade.stop();
    await until('a failed report', () => lines.some((l) => /report over gRPC failed/.test(l)));
    palisade = await startFakePalisade({ code: CODE, port, ca });
    await until('reports again', () => palisade.seen.reports.length > 0);
    await until('the log saying so', () => lines.includes('reporting over gRPC again'));
    assert.equal(await Promise.race([agent.ended, Promise.resolve('running')]), 'running');
  });
});

describe('palisade-agent run without messaging', function () {
  this.timeout(30_000);
  it('stores no NATS user, runs over gRPC, and refuses --channels nats with the reason', async () => {
    const palisade = await startFakePalisade({ code: CODE, messaging: false });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-run-'));
    try {
      const store = new DirectoryStore(dir);
      await pairAgent({ code: CODE, server: palisade.address, caFingerprint: palisade.pin, store });
      assert.equal((await store.load())?.natsJwt, '');
      await assert.rejects(
        runChannels({ store, channels: ['nats'] }),
        /no NATS user: Palisade runs without messaging/,
      );
      const agent = await runChannels({ store, channels: ['grpc'], intervalMs: INTERVAL_MS });
      await until('a report', () => palisade.seen.reports.length > 0);
      await agent.stop();
    } finally {
      await palisade.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('jittered exponential backoff', () => {
  it('doubles its step up to the maximum and waits between half and all of it', () => {
    const low = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 0 });
    const high = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 1 });
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map(() => low.next()),
      [50, 100, 200, 400, 500, 500],
    );
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map(() => high.next()),
      [100, 200, 400, 800, 1000, 1000],
    );
    high.reset();
    assert.equal(high.next(), 100);
  });
});

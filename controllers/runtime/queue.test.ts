import assert from 'node:assert/strict';
import { FakeClock } from './clock.ts';
import { WorkQueue } from './queue.ts';

const flush = () => new Promise((r) => setImmediate(r));

function makeQueue(clock = new FakeClock(), concurrency = 2) {
  return new WorkQueue({ clock, concurrency, baseDelayMs: 100, maxDelayMs: 1000 });
}

describe('WorkQueue', () => {
  it('handles a key added several times before processing only once', async () => {
    const q = makeQueue();
    const seen: string[] = [];
    q.add('a');
    q.add('a');
    q.add('b');
    q.start(async (k) => void seen.push(k));
    await q.idle();
    assert.deepEqual(seen, ['a', 'b']);
  });

  it('never handles the same key twice at once and re-runs it when added during handling', async () => {
    const q = makeQueue();
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    let release: () => void = () => undefined;
    q.start(async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      runs++;
      if (runs === 1) await new Promise<void>((r) => (release = r));
      running--;
    });
    q.add('a');
    await flush();
    q.add('a');
    q.add('a');
    release();
    await q.idle();
    assert.equal(maxRunning, 1);
    assert.equal(runs, 2);
  });

  it('bounds concurrency', async () => {
    const q = makeQueue(new FakeClock(), 2);
    const releases: (() => void)[] = [];
    q.start(() => new Promise<void>((r) => releases.push(r)));
    for (const k of ['a', 'b', 'c', 'd']) q.add(k);
    await flush();
    assert.equal(q.inFlight, 2);
    assert.equal(q.depth, 2);
    releases.forEach((r) => r());
    await flush();
    assert.equal(q.inFlight, 2);
    assert.equal(q.depth, 0);
  });

  it('backs off exponentially per key up to the maximum, and forget resets it', () => {
    const q = makeQueue();
    assert.deepEqual(
      [1, 2, 3, 4, 5].map(() => q.addRateLimited('a')),
      [100, 200, 400, 800, 1000],
    );
    assert.equal(q.addRateLimited('b'), 100);
    q.forget('a');
    assert.equal(q.addRateLimited('a'), 100);
  });

  it('fires a delayed add only when its time comes, keeping the earliest deadline', async () => {
    const clock = new FakeClock();
    const q = makeQueue(clock);
    const seen: string[] = [];
    q.start(async (k) => void seen.push(k));
    q.addAfter('a', 500);
    q.addAfter('a', 200);
    q.addAfter('a', 900);
    clock.advance(199);
    await flush();
    assert.deepEqual(seen, []);
    clock.advance(1);
    await flush();
    assert.deepEqual(seen, ['a']);
    clock.advance(1000);
    await flush();
    assert.deepEqual(seen, ['a'], 'the later deadlines were merged into the earliest');
  });

  it('takes no new keys after shutdown and waits for the ones in flight', async () => {
    const q = makeQueue();
    let finished = false;
    q.start(async () => {
      await flush();
      finished = true;
    });
    q.add('a');
    await q.shutdown();
    assert.equal(finished, true);
    q.add('b');
    assert.equal(q.depth, 0);
  });
});

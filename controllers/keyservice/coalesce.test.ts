import assert from 'node:assert/strict';
import { COALESCE_MAX_BYTES, COALESCE_MAX_ITEMS, Coalescer } from './coalesce.ts';
import type { BatchResponse } from './proto.ts';

/** A coalescer over fake calls that records what was sent: `single key item` or `batch key [items]`. */
function recorder(o: { failBatch?: Error; dropLast?: boolean } = {}) {
  const sent: string[] = [];
  const c = new Coalescer<string, string, string>({
    keyOf: (k) => k,
    sizeOf: (i) => i.length,
    itemError: (e) => Object.assign(new Error(e.message), { code: e.code }),
    single: async (k, i) => {
      sent.push(`single ${k} ${i.slice(0, 10)}`);
      return `${k}:${i}`;
    },
    batch: async (k, items): Promise<BatchResponse<string>> => {
      sent.push(`batch ${k} ${items.length}`);
      if (o.failBatch) throw o.failBatch;
      const results = items.map((i) =>
        i.startsWith('bad')
          ? { result: 'error' as const, error: { code: 3, message: `${i} is bad` } }
          : { result: 'ok' as const, ok: `${k}:${i}` },
      );
      return { results: o.dropLast ? results.slice(0, -1) : results };
    },
  });
  return { c, sent };
}

describe('Coalescer', () => {
  it('sends the calls of one turn on one key as one batch, each caller getting its own result', async () => {
    const { c, sent } = recorder();
    const results = await Promise.all(['a', 'b', 'c'].map((i) => c.call('k', i)));
    assert.deepEqual(results, ['k:a', 'k:b', 'k:c']);
    assert.deepEqual(sent, ['batch k 3']);
  });

  it('sends a lone call as a single call, and calls of later turns in batches of their own', async () => {
    const { c, sent } = recorder();
    assert.equal(await c.call('k', 'a'), 'k:a');
    await Promise.all([c.call('k', 'b'), c.call('k', 'c')]);
    assert.deepEqual(sent, ['single k a', 'batch k 2']);
  });

  it('keeps keys apart', async () => {
    const { c, sent } = recorder();
    const results = await Promise.all([c.call('x', '1'), c.call('y', '2'), c.call('x', '3')]);
    assert.deepEqual(results, ['x:1', 'y:2', 'x:3']);
    assert.deepEqual(sent.sort(), ['batch x 2', 'single y 2']);
  });

  it('fails a bad item alone, and every caller when the whole call fails', async () => {
    const { c } = recorder();
    const outcomes = await Promise.allSettled([c.call('k', 'ok'), c.call('k', 'bad one')]);
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message)),
      ['k:ok', 'bad one is bad'],
    );
    const failing = recorder({ failBatch: new Error('PERMISSION_DENIED') }).c;
    const all = await Promise.allSettled([failing.call('k', 'a'), failing.call('k', 'b')]);
    assert.deepEqual(
      all.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : o.value)),
      ['PERMISSION_DENIED', 'PERMISSION_DENIED'],
    );
  });

  it('rejects a caller whose result the batch left out instead of leaving it waiting', async () => {
    const { c } = recorder({ dropLast: true });
    const outcomes = await Promise.allSettled([c.call('k', 'a'), c.call('k', 'b')]);
    assert.equal(outcomes[0]?.status, 'fulfilled');
    assert.match(String((outcomes[1] as PromiseRejectedResult).reason), /no result for item 1/);
  });

  it('splits at the item and byte limits, and sends an item over the byte limit alone', async () => {
    const { c, sent } = recorder();
    const many = Array.from({ length: COALESCE_MAX_ITEMS + 1 }, (_, i) => c.call('k', `i${i}`));
    assert.equal((await Promise.all(many)).length, COALESCE_MAX_ITEMS + 1);
    assert.deepEqual(sent, [`batch k ${COALESCE_MAX_ITEMS}`, 'single k i256']);

    sent.length = 0;
    const half = 'h'.repeat(COALESCE_MAX_BYTES / 2 + 1);
    const huge = 'g'.repeat(COALESCE_MAX_BYTES + 1);
    await Promise.all([c.call('k', half), c.call('k', half), c.call('k', huge), c.call('k', 'small')]);
    assert.deepEqual(sent, [`single k ${'h'.repeat(10)}`, `single k ${'g'.repeat(10)}`, 'batch k 2']);
  });
});

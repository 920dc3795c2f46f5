import assert from 'node:assert/strict';
import { AttemptLimiter, sourceAddress } from './ratelimit.ts';

describe('pairing attempt limits', () => {
  const limits = { perSource: { burst: 3, perSecond: 1 }, global: { burst: 5, perSecond: 10 } };

  it('allows a burst per source, then refuses with a retry-after, and refills with time', () => {
    const l = new AttemptLimiter(limits, 0);
    for (let i = 0; i < 3; i++) assert.deepEqual(l.take('a', 0), { ok: true });
    const refused = l.take('a', 0);
    assert.deepEqual(refused, { ok: false, scope: 'source', retryAfterSeconds: 1 });
    assert.deepEqual(l.take('a', 1000), { ok: true });
  });

  it('caps all sources together', () => {
    const l = new AttemptLimiter(limits, 0);
    for (const s of ['a', 'b', 'c', 'd', 'e']) assert.ok(l.take(s, 0).ok);
    const r = l.take('f', 0);
    assert.ok(!r.ok && r.scope === 'global');
  });

  it('gives a successful attempt back', () => {
    const l = new AttemptLimiter(limits, 0);
    for (let i = 0; i < 3; i++) l.take('a', 0);
    l.refund('a');
    assert.ok(l.take('a', 0).ok);
  });

  it('forgets the least recently seen source past maxSources', () => {
    const l = new AttemptLimiter({ ...limits, global: { burst: 100, perSecond: 1 }, maxSources: 2 }, 0);
    for (let i = 0; i < 3; i++) l.take('a', 0);
    l.take('b', 0);
    l.take('c', 0);
    assert.ok(l.take('a', 0).ok, 'a was dropped and starts again');
  });

  const peers: Record<string, string> = {
    '127.0.0.1:5555': '127.0.0.1',
    'ipv4:10.0.0.2:443': '10.0.0.2',
    '::1:5555': '0:0:0:0::/64',
    '[2001:db8:1:2::7]:5555': '2001:db8:1:2::/64',
    '2001:db8:1:2:aaaa::9:40000': '2001:db8:1:2::/64',
    '::ffff:192.0.2.1:80': '192.0.2.1',
  };
  for (const [peer, source] of Object.entries(peers)) {
    it(`counts peer ${peer} as source ${source}`, () => assert.equal(sourceAddress(peer), source));
  }
});

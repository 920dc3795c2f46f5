import assert from 'node:assert/strict';
import { FakeClock } from '../runtime/clock.ts';
import { CERT_MANAGER_RECHECK_MS, CertManagerDetection } from './certmanagerapi.ts';

const settle = () => new Promise((r) => setImmediate(r));

function detection(answers: boolean[]) {
  const clock = new FakeClock(1_000_000);
  const calls = { served: 0, installed: 0, errors: [] as unknown[] };
  const d = new CertManagerDetection({
    clock,
    served: async () => {
      calls.served++;
      const answer = answers.shift();
      if (answer === undefined) throw new Error('apiserver unreachable');
      return answer;
    },
    installed: async () => void calls.installed++,
    onError: (e) => calls.errors.push(e),
  });
  return { d, clock, calls };
}

describe('cert-manager detection while running', () => {
  it('asks the API at most once per recheck interval, however many bindings wait', async () => {
    const { d, clock, calls } = detection([false, false, true]);
    for (let i = 0; i < 50; i++) d.recheck();
    await settle();
    assert.equal(calls.served, 1);
    clock.advance(CERT_MANAGER_RECHECK_MS - 1);
    d.recheck();
    await settle();
    assert.equal(calls.served, 1);
    clock.advance(1);
    d.recheck();
    await settle();
    assert.equal(calls.served, 2);
    assert.equal(calls.installed, 0);
  });

  it('starts what cert-manager needs once, when the API appears, and then stops asking', async () => {
    const { d, clock, calls } = detection([false, true]);
    d.recheck();
    await settle();
    clock.advance(CERT_MANAGER_RECHECK_MS);
    d.recheck();
    await settle();
    assert.equal(calls.installed, 1);
    clock.advance(CERT_MANAGER_RECHECK_MS);
    d.recheck();
    await settle();
    assert.deepEqual([calls.served, calls.installed], [2, 1]);
  });

  it('reports a failed check and tries again at the next interval', async () => {
    const { d, clock, calls } = detection([]);
    d.recheck();
    await settle();
    assert.equal(calls.errors.length, 1);
    clock.advance(CERT_MANAGER_RECHECK_MS);
    d.recheck();
    await settle();
    assert.equal(calls.served, 2);
    assert.equal(calls.installed, 0);
  });
});

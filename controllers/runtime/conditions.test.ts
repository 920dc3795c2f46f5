import assert from 'node:assert/strict';
import { readySummary, setCondition } from './conditions.ts';

const t0 = new Date('2026-01-01T00:00:00.123Z');
const t1 = new Date('2026-01-01T01:00:00Z');

describe('conditions', () => {
  it('keeps lastTransitionTime when the status does not change', () => {
    const a = setCondition([], { type: 'Ready', status: 'True', reason: 'Ready', message: 'ok' }, 1, t0);
    const b = setCondition(a, { type: 'Ready', status: 'True', reason: 'Ready', message: 'still ok' }, 2, t1);
    assert.equal(b[0]?.lastTransitionTime, '2026-01-01T00:00:00Z');
    assert.equal(b[0]?.observedGeneration, 2);
    assert.equal(b[0]?.message, 'still ok');
  });

  it('stamps a new lastTransitionTime when the status changes', () => {
    const a = setCondition([], { type: 'Ready', status: 'True', reason: 'Ready', message: 'ok' }, 1, t0);
    const b = setCondition(a, { type: 'Ready', status: 'False', reason: 'Broken', message: 'no' }, 1, t1);
    assert.equal(b[0]?.lastTransitionTime, '2026-01-01T01:00:00Z');
    assert.equal(b.length, 1);
  });

  it('summarises Ready from the first failing concern', () => {
    const r = readySummary([
      { type: 'A', status: 'True', reason: 'Ok', message: '' },
      { type: 'B', status: 'False', reason: 'NamespaceConflict', message: 'taken' },
      { type: 'C', status: 'Unknown', reason: 'Pending', message: '' },
    ]);
    assert.deepEqual(r, { type: 'Ready', status: 'False', reason: 'NamespaceConflict', message: 'taken' });
    assert.equal(readySummary([{ type: 'A', status: 'True', reason: 'Ok', message: '' }]).status, 'True');
  });
});

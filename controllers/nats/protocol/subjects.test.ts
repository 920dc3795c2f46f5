import assert from 'node:assert/strict';
import {
  agentCommandSubject,
  agentPermissions,
  agentReportSubject,
  parseReportSubject,
  reportImportSubject,
  SubjectError,
} from './subjects.ts';

const UID = '0123456789ab';

describe('nats/protocol/subjects: who sent it is in the subject', () => {
  it('builds the report and command subjects of an agent', () => {
    assert.equal(
      agentReportSubject(UID, 'edge-1', 'heartbeat'),
      'palisade.t.0123456789ab.agent.edge-1.heartbeat',
    );
    assert.equal(
      agentCommandSubject(UID, 'edge-1', 'restart'),
      'palisade.t.0123456789ab.agent.edge-1.cmd.restart',
    );
    assert.equal(reportImportSubject(UID, 'stats'), 'palisade.t.0123456789ab.agent.*.stats');
  });

  it('refuses names that could widen a subject', () => {
    for (const bad of ['a.b', '*', '>', 'A', 'a b', '', '-a'])
      assert.throws(() => agentReportSubject(UID, bad, 'heartbeat'), SubjectError, bad);
    for (const bad of ['0123456789aB', '0123456789a', '*', '0123456789ab.x'])
      assert.throws(() => agentReportSubject(bad, 'a', 'heartbeat'), SubjectError, bad);
  });

  it('parses a report subject back into tenant, agent and kind, and nothing else', () => {
    assert.deepEqual(parseReportSubject('palisade.t.0123456789ab.agent.edge-1.health'), {
      tenantUID: UID,
      agent: 'edge-1',
      kind: 'health',
    });
    for (const s of [
      'palisade.t.0123456789ab.agent.edge-1.cmd',
      'palisade.t.0123456789ab.agent.edge-1.health.x',
      'palisade.t.*.agent.edge-1.health',
      'palisade.x.0123456789ab.agent.edge-1.health',
      'other',
    ])
      assert.equal(parseReportSubject(s), undefined, s);
  });

  it('gives an agent permission for its own reports and commands only', () => {
    const p = agentPermissions(UID, 'a');
    assert.ok(
      p.pub.every(
        (s) => s.startsWith('palisade.t.0123456789ab.agent.a.') && !s.includes('*') && !s.includes('>'),
      ),
    );
    assert.deepEqual(p.sub, ['palisade.t.0123456789ab.agent.a.cmd.>']);
  });
});

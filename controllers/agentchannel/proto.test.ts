import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  HEALTH_VALUES,
  PROTO_FILE,
  clusterChannelService,
  pairingService,
  type AgentCredentials,
  type ClusterChannelMethods,
  type Command,
  type PairRequest,
  type PairResponse,
  type PairingMethods,
  type RenewRequest,
  type RenewResponse,
  type ReportRequest,
  type ReportResponse,
} from './proto.ts';

/** The fields of every message, as the .proto declares them (camelCased, as proto-loader delivers them). */
function protoFields(): Map<string, string[]> {
  const text = readFileSync(PROTO_FILE, 'utf8');
  const out = new Map<string, string[]>();
  for (const m of text.matchAll(/^message (\w+) \{(\}|[\s\S]*?^\})/gm)) {
    const fields = [...(m[2] ?? '').matchAll(/^\s+(?:repeated )?(?:map<\w+, ?\w+>|\w+) (\w+) = \d+;/gm)].map(
      (f) => (f[1] as string).replace(/_(\w)/g, (_, c: string) => c.toUpperCase()),
    );
    out.set(m[1] as string, fields);
  }
  return out;
}

/** Every key of T, listed once: a field added to or dropped from the type fails to compile here. */
type Keys<T> = Record<keyof T, true>;
const keys = <T>(k: Keys<T>): string[] => Object.keys(k);

describe('proto/palisade/agents/v1/agents.proto', () => {
  it('declares exactly the RPCs the TypeScript method types list', () => {
    const pairing: Keys<PairingMethods> = { Pair: true };
    const channel: Keys<ClusterChannelMethods> = { Report: true, Commands: true, Renew: true };
    assert.deepEqual(Object.keys(pairingService()).sort(), Object.keys(pairing).sort());
    assert.deepEqual(Object.keys(clusterChannelService()).sort(), Object.keys(channel).sort());
    assert.equal(clusterChannelService().Commands?.responseStream, true);
    assert.equal(clusterChannelService().Report?.responseStream, false);
  });

  it('has the fields the TypeScript types use, in order (a renamed or dropped field fails here)', () => {
    const fields = protoFields();
    const want: Record<string, string[]> = {
      PairRequest: keys<PairRequest>({
        code: true,
        natsUserPublicKey: true,
        certificateRequest: true,
        agentVersion: true,
        tenant: true,
      }),
      PairResponse: keys<PairResponse>({
        credentials: true,
        tenant: true,
        namespace: true,
        clusterAgent: true,
        clusterName: true,
        codeId: true,
      }),
      AgentCredentials: keys<AgentCredentials>({
        clientCertificate: true,
        caBundle: true,
        natsUserJwt: true,
        natsUrl: true,
        notAfter: true,
        renewAfter: true,
      }),
      ReportRequest: keys<ReportRequest>({ health: true, statistics: true }),
      ReportResponse: keys<ReportResponse>({ reportIntervalSeconds: true }),
      CommandsRequest: [],
      Command: keys<Command>({ id: true, verb: true }),
      RenewRequest: keys<RenewRequest>({ natsUserPublicKey: true, certificateRequest: true }),
      RenewResponse: keys<RenewResponse>({ credentials: true }),
    };
    assert.deepEqual([...fields.keys()].sort(), Object.keys(want).sort());
    for (const [message, f] of Object.entries(want)) assert.deepEqual(fields.get(message), f, message);
  });

  it('lists the Health values the .proto declares', () => {
    const text = readFileSync(PROTO_FILE, 'utf8');
    const body = /^enum Health \{([\s\S]*?)^\}/m.exec(text)?.[1] ?? '';
    assert.deepEqual(
      [...body.matchAll(/^\s+(\w+) = \d+;/gm)].map((m) => m[1]),
      [...HEALTH_VALUES],
    );
  });

  it('round-trips messages with bytes, a map, an enum and an int64 as proto-loader delivers them', () => {
    const pair = pairingService().Pair;
    assert.ok(pair);
    const req = pair.requestDeserialize(
      pair.requestSerialize({ code: 'ABCD-EFGH', certificateRequest: Buffer.from([1, 2, 3]) }),
    ) as PairRequest;
    assert.equal(req.code, 'ABCD-EFGH');
    assert.equal(req.natsUserPublicKey, '');
    assert.deepEqual([...req.certificateRequest], [1, 2, 3]);

    const report = clusterChannelService().Report;
    assert.ok(report);
    const r = report.requestDeserialize(
      report.requestSerialize({ health: 'HEALTH_DEGRADED', statistics: { nodes: '3' } }),
    ) as ReportRequest;
    assert.equal(r.health, 'HEALTH_DEGRADED');
    assert.deepEqual({ ...r.statistics }, { nodes: '3' });

    const res = pair.responseDeserialize(
      pair.responseSerialize({ credentials: { notAfter: 1_900_000_000 }, codeId: 'c1' }),
    ) as PairResponse;
    assert.equal(res.credentials.notAfter, 1_900_000_000);
    assert.equal(typeof res.credentials.notAfter, 'number');
    assert.equal(res.codeId, 'c1');
  });
});

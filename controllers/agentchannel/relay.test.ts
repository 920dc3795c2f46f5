/**
 * ReplicaRelay over real gRPC on loopback: a replica that does not lead batches its agents' reports to
 * the leader found through the Lease, and receives the leader's commands; only the key service's own
 * certificate is accepted at either end.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { credentials, status } from '@grpc/grpc-js';
import { Registry, type Counter } from 'prom-client';
import { startKeyServer, type KeyServer } from '../keyservice/server.ts';
import type { ReportContent, ReportSender } from '../nats/heartbeats.ts';
import { createCA, issueLeaf, type IssuedPair } from '../pki/index.ts';
import type { KubeApi } from '../runtime/kube/api.ts';
import { createLogger, type AuditRecord } from '../runtime/log.ts';
import {
  ADVERTISE_ANNOTATION,
  advertisedAddress,
  advertisement,
  ReplicaRelay,
  replicaRelayClient,
  replicaRelayService,
  type ReplicaRelayMethods,
  type ReplicaTls,
} from './relay.ts';

const rand = (n: number) => new Uint8Array(randomBytes(n));
const log = createLogger({ level: 'error' });

async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function lease(holder: string, annotation?: string) {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: 'palisade-operator-leader',
      namespace: 'palisade-system',
      ...(annotation ? { annotations: { [ADVERTISE_ANNOTATION]: annotation } } : {}),
    },
    spec: { holderIdentity: holder },
  };
}

interface Replica {
  relay: ReplicaRelay;
  reports: { who: ReportSender; content: ReportContent }[];
  delivered: string[];
  audited: AuditRecord[];
  registry: Registry;
  leading: boolean;
}

function replica(tls: ReplicaTls, leaseOf: () => unknown): Replica {
  const r = {
    reports: [],
    delivered: [],
    audited: [],
    registry: new Registry(),
    leading: false,
  } as unknown as Replica;
  r.relay = new ReplicaRelay({
    client: { get: async () => leaseOf() } as unknown as KubeApi,
    namespace: 'palisade-system',
    leaseName: 'palisade-operator-leader',
    leading: () => r.leading,
    store: { report: (who, content) => r.reports.push({ who, content }) },
    tls: () => tls,
    deliver: (uid, agent, verb) => r.delivered.push(`${uid}/${agent}:${verb}`),
    now: () => Date.now(),
    log,
    audit: { record: (e) => r.audited.push(e) },
    registry: r.registry,
    flushMs: 10,
  });
  return r;
}

async function relayed(r: Replica, outcome: string): Promise<number> {
  const c = r.registry.getSingleMetric('palisade_clusterchannel_relayed_reports_total') as Counter;
  return (await c.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

describe('ReplicaRelay', function () {
  this.timeout(30_000);
  let ca: IssuedPair;
  let own: ReplicaTls;
  let impostor: ReplicaTls;
  let leader: Replica;
  let server: KeyServer;
  let address = '';
  let currentLease: unknown;
  const followers: Replica[] = [];

  before(async () => {
    const now = new Date();
    const validity = {
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + 3_600_000),
    };
    ca = await createCA({ subject: 'CN=testdata relay CA', ...validity, rand });
    // NB: the same CA and names for both: the impostor is what a CertificateBinding could be issued.
    const leaf = () =>
      issueLeaf({
        ca,
        dnsNames: ['palisade-keyservice', 'localhost'],
        ipAddresses: ['127.0.0.1'],
        ...validity,
        rand,
      });
    const [a, b] = await Promise.all([leaf(), leaf()]);
    own = { cert: a.certPem, key: a.keyPem, ca: ca.certPem };
    impostor = { cert: b.certPem, key: b.keyPem, ca: ca.certPem };
    leader = replica(own, () => undefined);
    leader.leading = true;
    server = await startKeyServer({
      address: '127.0.0.1:0',
      tls: own,
      services: [{ definition: replicaRelayService(), handlers: leader.relay.handlers() }],
    });
    address = `127.0.0.1:${server.port}`;
    currentLease = lease('leader-0', advertisement('leader-0', address));
  });

  after(async () => {
    for (const f of followers) f.relay.close();
    leader.relay.close();
    await server.close();
  });

  const follower = (tls = own) => {
    const f = replica(tls, () => currentLease);
    followers.push(f);
    return f;
  };

  it('serves the RPCs proto/palisade/replicas/v1/relay.proto declares', () => {
    const methods: Record<keyof ReplicaRelayMethods, boolean> = { Report: false, Commands: true };
    const service = replicaRelayService();
    assert.deepEqual(Object.keys(service).sort(), Object.keys(methods).sort());
    for (const [name, streams] of Object.entries(methods))
      assert.equal(service[name]?.responseStream, streams, name);
  });

  it('reads the address only from the Lease holder’s own advertisement', () => {
    assert.equal(advertisedAddress(lease('a', advertisement('a', '10.0.0.1:8443'))), '10.0.0.1:8443');
    assert.equal(
      advertisedAddress(lease('b', advertisement('a', '10.0.0.1:8443'))),
      undefined,
      'an older leader’s',
    );
    assert.equal(
      advertisedAddress(lease('', advertisement('', '10.0.0.1:8443'))),
      undefined,
      'a released Lease',
    );
    assert.equal(advertisedAddress(lease('a', 'not json')), undefined);
    assert.equal(advertisedAddress(lease('a')), undefined);
  });

  it('keeps a leader’s own reports in its store, at once', () => {
    const before = leader.reports.length;
    leader.relay.report({ tenantUID: 'u-1', agent: 'edge' }, { health: 'Healthy' }, Date.now());
    assert.equal(leader.reports.length, before + 1);
    leader.reports.length = before;
  });

  it('relays a standby’s reports to the leader, merged per agent as the store merges them', async () => {
    const f = follower();
    f.relay.report({ tenantUID: 'u-1', agent: 'edge-a' }, { health: 'Degraded' }, Date.now());
    f.relay.report({ tenantUID: 'u-1', agent: 'edge-a' }, { statistics: { pods: '3' } }, Date.now());
    f.relay.report({ tenantUID: 'u-2', agent: 'edge-b' }, {}, Date.now());
    await until('two reports at the leader', () => leader.reports.length === 2);
    const byAgent = new Map(leader.reports.map((r) => [`${r.who.tenantUID}/${r.who.agent}`, r.content]));
    assert.deepEqual(byAgent.get('u-1/edge-a'), { health: 'Degraded', statistics: { pods: '3' } });
    assert.deepEqual(byAgent.get('u-2/edge-b'), {}, 'a bare heartbeat');
    assert.equal(f.reports.length, 0, 'nothing in the standby’s own store');
    leader.reports.length = 0;
    // NB: the leader stores them before the relaying replica hears back.
    await until('two counted sent', async () => (await relayed(f, 'sent')) === 2);
  });

  it('keeps what waited in its own store when it becomes the leader before the batch goes', async () => {
    const f = follower();
    f.relay.report({ tenantUID: 'u-3', agent: 'edge-c' }, { health: 'Healthy' }, Date.now());
    f.leading = true;
    await until('the report in its own store', () => f.reports.length === 1);
    assert.deepEqual(f.reports[0]?.who, { tenantUID: 'u-3', agent: 'edge-c' });
    assert.equal(await relayed(f, 'sent'), 0);
    assert.equal(leader.reports.length, 0);
  });

  it('delivers the leader’s commands to a standby that follows it', async () => {
    const f = follower();
    f.relay.start();
    await until('the standby following', () => leader.relay.followerCount >= 1);
    leader.relay.broadcast('u-1', 'edge-a', 'refresh-credentials');
    await until('the command delivered', () => f.delivered.length === 1);
    assert.deepEqual(f.delivered, ['u-1/edge-a:refresh-credentials']);
  });

  it('refuses a caller with another certificate of the same CA and names', async () => {
    const creds = credentials.createSsl(
      Buffer.from(impostor.ca),
      Buffer.from(impostor.key),
      Buffer.from(impostor.cert),
    );
    const client = replicaRelayClient(address, creds);
    const err = await new Promise<(Error & { code?: number }) | null>((resolve) =>
      client.Report(
        {
          reports: [
            { tenantUid: 'u-1', agent: 'edge-a', health: 'RELAYED_HEALTH_UNHEALTHY', statistics: {} },
          ],
        },
        { deadline: Date.now() + 5_000 },
        (e) => resolve(e),
      ),
    );
    client.close();
    assert.equal(err?.code, status.PERMISSION_DENIED);
    assert.equal(leader.reports.length, 0);
    const [refused] = leader.audited;
    assert.equal(refused?.action, 'replica-relay.Report');
    assert.equal(refused?.outcome, 'Failure');
    assert.match(refused?.actor ?? '', /^source .*127\.0\.0\.1.*, certificate [0-9A-F:]+…$/);
  });

  it('does not send to a peer that is not the key service (an impostor leader), and counts the failure', async () => {
    const f = follower(impostor);
    f.relay.report({ tenantUID: 'u-1', agent: 'edge-a' }, { health: 'Unhealthy' }, Date.now());
    await until('the failure counted', async () => (await relayed(f, 'failed')) === 1);
    assert.equal(await relayed(f, 'sent'), 0);
    assert.equal(leader.reports.length, 0);
  });

  it('drops reports when no leader is advertised, and when the called replica does not lead', async () => {
    const saved = currentLease;
    currentLease = lease('leader-1', advertisement('leader-0', address));
    const f = follower();
    f.relay.report({ tenantUID: 'u-1', agent: 'edge-a' }, {}, Date.now());
    await until('no leader counted', async () => (await relayed(f, 'no_leader')) === 1);
    currentLease = saved;
    leader.leading = false;
    const g = follower();
    g.relay.report({ tenantUID: 'u-1', agent: 'edge-a' }, {}, Date.now());
    await until('the refusal counted', async () => (await relayed(g, 'failed')) === 1);
    leader.leading = true;
    assert.equal(leader.reports.length, 0);
  });
});

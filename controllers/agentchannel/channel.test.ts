// Who a ClusterChannel call comes from: only a verified certificate whose URI SAN names this installation,
// a tenant Palisade knows, a live paired ClusterAgent of that tenant, and a serial its record holds.
import assert from 'node:assert/strict';
import type { PeerCertificate } from 'node:tls';
import { status } from '@grpc/grpc-js';
import type { ClusterAgent, Tenant, TenantKey } from '../../crds/v1alpha1/index.ts';
import { agentRecordSecret, type AgentRecord } from '../clusteragent/record.ts';
import { FakeNats } from '../clusteragent/testdata/nats.ts';
import { fakeInstallation, MANAGED_SELECTOR, OPERATOR_NAMESPACE } from '../keystore/testing/installation.ts';
import type { Namespace } from '../runtime/kube/types.ts';
import { reconcilerFor } from '../runtime/reconciler.ts';
import { TenantNamespaceAccess } from '../tenant/access.ts';
import { PRIMARY_KEY_SETTLE_MS, tenantKind } from '../tenant/reconcile.ts';
import { authorize } from './channel.ts';
import { AGENT_UID_INDEX, agentUIDIndex, type ChannelDeps } from './deps.ts';
import { identityURI } from './identity.ts';
import { RpcError } from './pairing.ts';
import { AttemptLimiter, DEFAULT_PAIRING_LIMITS } from './ratelimit.ts';

const INSTALLATION = '0123456789abcdef0123456789abcdef';

async function world() {
  const w = await fakeInstallation();
  const nats = new FakeNats(w.env.now);
  const tenants = await w.cache<Tenant>('Tenant');
  const agents = await w.cache<ClusterAgent>('ClusterAgent');
  agents.addIndex(AGENT_UID_INDEX, agentUIDIndex);
  const tenant = reconcilerFor(
    { cache: tenants, client: w.client, now: () => w.env.now().getTime() },
    tenantKind({
      client: w.client,
      events: w.events,
      audit: w.audit,
      env: w.env,
      tenants,
      keystore: w.keystore,
      namespaces: await w.cache<Namespace>('Namespace', { labelSelector: MANAGED_SELECTOR }),
      tenantKeys: await w.cache<TenantKey>('TenantKey'),
      access: new TenantNamespaceAccess({
        client: w.client,
        namespaces: w.namespaces,
        keystoreNamespace: OPERATOR_NAMESPACE,
        log: w.log,
      }),
      messaging: { nats, rand: w.env.rand },
    }),
  );
  const user = w.server.client('kubectl');
  const uids: Record<string, string> = {};
  for (const t of ['acme', 'beta']) {
    await user.create({
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'Tenant',
      metadata: { name: t },
      spec: {},
    });
    await tenant(t);
    // No TenantKey controller here: the new Tenant's status waits out the primary key's settle time.
    w.env.advance(PRIMARY_KEY_SETTLE_MS);
    await tenant(t);
    await w.tick();
    uids[t] = (await w.client.get<Tenant>({ kind: 'Tenant', name: t }))?.status?.uid ?? '';
  }
  const d: ChannelDeps = {
    client: w.client,
    keystore: w.keystore,
    secrets: w.secrets,
    agents,
    tenants,
    audit: w.audit,
    log: w.log,
    now: w.env.now,
    rand: w.env.rand,
    installationID: () => INSTALLATION,
    pepper: () => undefined,
    ca: () => undefined,
    heartbeats: nats.heartbeats,
    limiter: new AttemptLimiter(DEFAULT_PAIRING_LIMITS, 0),
    certificateLifetimeMs: 86_400_000,
    written: new Map(),
  };
  /** A paired agent: the ClusterAgent and the record a pairing and one renewal leave. */
  const paired = async (t: string, name: string, serials: string[]) => {
    const a = await user.create<ClusterAgent>({
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'ClusterAgent',
      metadata: { name, namespace: `tenant-${t}` },
      spec: {
        clusterName: name,
        heartbeatDeadline: '90s',
        suspended: false,
        pairing: { ttl: '15m', uses: 1 },
      },
    });
    const notAfter = new Date(w.env.now().getTime() + 86_400_000).toISOString();
    const record: AgentRecord = {
      user: 'UCURRENT',
      version: 2,
      issuedAt: w.env.now().toISOString(),
      trigger: '',
      retired: [],
      mode: 'pairing',
      agentUID: a.metadata.uid ?? '',
      certificates: serials.map((serial) => ({ serial, notAfter })),
    };
    await w.client.create(
      agentRecordSecret({
        keystoreNamespace: OPERATOR_NAMESPACE,
        uid: uids[t] ?? '',
        agent: name,
        tenantNamespace: `tenant-${t}`,
        record,
      }),
    );
    await w.tick();
    return a;
  };
  const cert = (tenantUID: string, agentUID: string, serial: string, o: Partial<PeerCertificate> = {}) =>
    ({
      raw: Buffer.from([1]),
      subjectaltname: `URI:${identityURI({ installationID: INSTALLATION, tenantUID, clusterAgentUID: agentUID })}`,
      serialNumber: serial.toUpperCase(),
      valid_to: new Date(w.env.now().getTime() + 3_600_000).toUTCString(),
      ...o,
    }) as PeerCertificate;
  return { w, d, user, uids, paired, cert };
}

const refused = (r: unknown, code = status.PERMISSION_DENIED) => r instanceof RpcError && r.code === code;

describe('ClusterChannel authorization (peer certificate → Palisade records)', () => {
  it('takes the tenant and agent from the certificate, for the current and the previous serial only', async () => {
    const { d, uids, paired, cert } = await world();
    const edge = await paired('acme', 'edge', ['a2', 'a1']);
    const uid = edge.metadata.uid ?? '';
    for (const serial of ['a2', 'a1']) {
      const who = authorize(d, cert(uids.acme ?? '', uid, serial));
      assert.ok(!(who instanceof RpcError), `serial ${serial}`);
      assert.equal(who.tenantUID, uids.acme);
      assert.equal(who.agent.metadata.name, 'edge');
    }
    assert.ok(
      !(authorize(d, cert(uids.acme ?? '', uid, '00A2')) instanceof RpcError),
      'leading zeros and case',
    );
    assert.ok(refused(authorize(d, cert(uids.acme ?? '', uid, 'a0'))), 'a serial the record does not hold');
  });

  it('answers UNAVAILABLE, not a refusal, before the installation ID is read (an agent retries, not exits)', async () => {
    const { d, uids, paired, cert } = await world();
    const uid = (await paired('acme', 'edge', ['a1'])).metadata.uid ?? '';
    const starting = authorize({ ...d, installationID: () => undefined }, cert(uids.acme ?? '', uid, 'a1'));
    assert.ok(starting instanceof RpcError);
    assert.equal(starting.code, status.UNAVAILABLE);
    assert.ok(!(authorize(d, cert(uids.acme ?? '', uid, 'a1')) instanceof RpcError), 'accepted once read');
  });

  it('refuses a missing certificate, another installation, an expired certificate and two URI SANs', async () => {
    const { d, uids, paired, cert } = await world();
    const uid = (await paired('acme', 'edge', ['a1'])).metadata.uid ?? '';
    assert.ok(refused(authorize(d, undefined), status.UNAUTHENTICATED));
    const good = cert(uids.acme ?? '', uid, 'a1');
    const san = good.subjectaltname ?? '';
    assert.ok(refused(authorize(d, { ...good, subjectaltname: san.replace(INSTALLATION, 'f'.repeat(32)) })));
    assert.ok(refused(authorize(d, { ...good, valid_to: new Date(0).toUTCString() })));
    assert.ok(refused(authorize(d, { ...good, subjectaltname: `${san}, ${san}` })));
  });

  it("refuses tenant A's UID with tenant B's agent, and B's agent with a serial only A holds", async () => {
    const { d, uids, paired, cert } = await world();
    const a = await paired('acme', 'edge', ['a1']);
    const b = await paired('beta', 'edge', ['b1']);
    assert.ok(
      refused(authorize(d, cert(uids.acme ?? '', b.metadata.uid ?? '', 'b1'))),
      "A's tenant, B's agent",
    );
    assert.ok(
      refused(authorize(d, cert(uids.beta ?? '', b.metadata.uid ?? '', 'a1'))),
      "B's agent, A's serial",
    );
    assert.ok(
      refused(authorize(d, cert(uids.beta ?? '', a.metadata.uid ?? '', 'a1'))),
      "B's tenant, A's agent",
    );
  });

  it('refuses a suspended agent, one being deleted, and one taken out of pairing mode', async () => {
    const { w, d, user, uids, paired, cert } = await world();
    const edge = await paired('acme', 'edge', ['a1']);
    const c = cert(uids.acme ?? '', edge.metadata.uid ?? '', 'a1');
    assert.ok(!(authorize(d, c) instanceof RpcError));
    const edit = async (spec: Partial<ClusterAgent['spec']>) => {
      const now = (await user.get<ClusterAgent>({
        kind: 'ClusterAgent',
        name: 'edge',
        namespace: 'tenant-acme',
      })) as ClusterAgent;
      await user.update({ ...now, spec: { ...now.spec, ...spec } });
      await w.tick();
    };
    await edit({ suspended: true });
    assert.ok(refused(authorize(d, c)), 'suspended');
    await edit({ suspended: false, pairing: undefined });
    assert.ok(refused(authorize(d, c)), 'not in pairing mode');
    await edit({ pairing: { ttl: '15m', uses: 1 } });
    assert.ok(!(authorize(d, c) instanceof RpcError), 'back');
    await user.delete({ kind: 'ClusterAgent', name: 'edge', namespace: 'tenant-acme' });
    await w.tick();
    assert.ok(refused(authorize(d, c)), 'deleted');
  });
});

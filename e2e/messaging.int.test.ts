import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { connect, credsAuthenticator, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { testEnv } from '../hack/testenv/env.ts';
import { CLIENT_TLS, type NKeyPair } from '../controllers/nats/protocol/index.ts';
import type { KubeObject, Secret } from '../controllers/runtime/kube/types.ts';
import { deleteTenants, kube, readyStatus, tenantManifest, uniqueName } from './support/cluster.ts';
import { eventually } from './support/operator.ts';
import {
  connectAs,
  credsOf,
  palisadeAccount,
  startMessaging,
  stopMessaging,
  systemAccount,
  tenantAccount,
  type MessagingEnv,
} from './messaging.support.ts';

interface AgentView extends KubeObject {
  status?: {
    credentialsVersion?: number;
    userPublicKey?: string;
    conditions?: { type: string; status: string; reason: string }[];
  };
}
interface Agent {
  tenant: string;
  uid: string;
  ns: string;
  name: string;
  id: string;
}

const TENANTS = 5;
const AGENT_NAMES = ['a', 'b'];
const enc = (o: unknown) => JSON.stringify(o);

function agentManifest(ns: string, name: string, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'ClusterAgent',
    metadata: { name, namespace: ns },
    spec: { clusterName: `${ns}-${name}`, heartbeatDeadline: '10s', ...spec },
  };
}

async function readyAgent(ns: string, name: string, minVersion = 1): Promise<AgentView> {
  return eventually(
    `ClusterAgent ${ns}/${name} credentials v${minVersion}`,
    async () => {
      const a = await kube().get<AgentView>({ kind: 'ClusterAgent', name, namespace: ns });
      return readyStatus(a)?.status === 'True' && (a?.status?.credentialsVersion ?? 0) >= minVersion
        ? a
        : undefined;
    },
    60_000,
  );
}

async function credsSecret(ns: string, name: string): Promise<Secret> {
  const s = await kube().get<Secret>({ kind: 'Secret', name: `${name}-nats-creds`, namespace: ns });
  if (!s) throw new Error(`no creds Secret for ${ns}/${name}`);
  return s;
}

function agentConnect(env: MessagingEnv, creds: string, reconnect = true): Promise<NatsConnection> {
  return connect({
    servers: env.server,
    tls: { ca: env.caPem, ...CLIENT_TLS } as { ca: string },
    authenticator: credsAuthenticator(new TextEncoder().encode(creds)),
    reconnect,
    maxReconnectAttempts: reconnect ? -1 : 0,
  });
}

async function refused(env: MessagingEnv, creds: string): Promise<string | undefined> {
  try {
    const nc = await agentConnect(env, creds, false);
    await nc.close();
    return undefined;
  } catch (e) {
    return String(e);
  }
}

describe('Messaging: a NATS account per tenant, agent credentials, isolation (real nats-server)', function () {
  this.timeout(300_000);
  let env: MessagingEnv;
  const agents: Agent[] = [];
  const tenants: { name: string; uid: string; ns: string }[] = [];

  before(async function () {
    env = await startMessaging(uniqueName('palisade-msg'), 'messaging-suite');
    for (let i = 0; i < TENANTS; i++) {
      const name = uniqueName(`iso${i}`);
      await kube().apply(tenantManifest(name));
      tenants.push({ name, uid: '', ns: `tenant-${name}` });
    }
    for (const t of tenants) {
      await eventually(`namespace ${t.ns}`, () => kube().get({ kind: 'Namespace', name: t.ns }));
      for (const a of AGENT_NAMES) await kube().apply(agentManifest(t.ns, a));
    }
    for (const t of tenants) {
      const view = await eventually(
        `Tenant ${t.name} MessagingReady`,
        async () => {
          const v = await kube().get<
            { status?: { uid?: string; conditions?: { type: string; status: string }[] } } & Secret
          >({ kind: 'Tenant', name: t.name });
          return v?.status?.conditions?.find((c) => c.type === 'MessagingReady')?.status === 'True'
            ? v
            : undefined;
        },
        60_000,
      );
      t.uid = view.status?.uid ?? '';
      for (const a of AGENT_NAMES) {
        await readyAgent(t.ns, a);
        agents.push({ tenant: t.name, uid: t.uid, ns: t.ns, name: a, id: `${t.uid}/${a}` });
      }
    }
  });

  after(async function () {
    await deleteTenants(tenants.map((t) => t.name));
    await stopMessaging(env);
  });

  it('shows the account public key and the confirmed push in Tenant status', async function () {
    const t = await kube().get<
      {
        status?: { natsAccount?: { publicKey?: string; lastPushed?: string; jwtIssuedAt?: string } };
      } & Secret
    >({ kind: 'Tenant', name: tenants[0]?.name ?? '' });
    assert.match(t?.status?.natsAccount?.publicKey ?? '', /^A[A-Z2-7]{55}$/);
    assert.ok(t?.status?.natsAccount?.lastPushed);
    assert.ok(t?.status?.natsAccount?.jwtIssuedAt);
  });

  it('lets nothing cross between agents, tenants, $SYS and Palisade, and reports every denied operation', async function () {
    const report = (a: Agent, kind: string) => `palisade.t.${a.uid}.agent.${a.name}.${kind}`;
    const cmd = (a: Agent) => `palisade.t.${a.uid}.agent.${a.name}.cmd.x`;
    const concrete = agents.flatMap((b) => [
      report(b, 'heartbeat'),
      report(b, 'health'),
      report(b, 'stats'),
      cmd(b),
    ]);
    const wild = [
      '>',
      '*.>',
      '$SYS.>',
      'palisade.>',
      'palisade.t.*.agent.*.*',
      'palisade.t.*.agent.*.cmd.>',
      '_INBOX.>',
    ];
    const sysSubjects = ['$SYS.REQ.CLAIMS.UPDATE', '$SYS.REQ.SERVER.PING', '$SYS.REQ.CLAIMS.DELETE'];

    // Observers: a spy per tenant account (subscribes to everything there), and one in Palisade's account.
    const received: { where: string; subject: string; from: string }[] = [];
    const record = (e: Error | null, m: Msg, where: string) => {
      if (!e) received.push({ where, subject: m.subject, from: String(m.json<{ from: string }>().from) });
    };
    const conns: NatsConnection[] = [];
    try {
      const observe = (nc: NatsConnection, where: string) =>
        nc.subscribe('>', {
          callback: (e, m) => record(e, m, where),
        });
      const spies: NatsConnection[] = [];
      for (const t of tenants) {
        const key: NKeyPair = await tenantAccount(env, t.uid);
        const spy = await connectAs(env, key, { pub: ['spy.none'], sub: ['>'] }, `spy-${t.uid}`);
        observe(spy, t.uid);
        spies.push(spy);
        conns.push(spy);
      }
      const palisade = await connectAs(
        env,
        await palisadeAccount(env),
        { pub: ['palisade.t.*.agent.*.cmd.>'], sub: ['>'] },
        'observer',
      );
      conns.push(palisade);
      observe(palisade, 'palisade');
      await Promise.all([...spies, palisade].map((c) => c.flush()));

      const violations: string[] = [];
      const expectedDenied: string[] = [];
      let ops = 0;
      for (const a of agents) {
        const nc = await agentConnect(env, credsOf(await credsSecret(a.ns, a.name)));
        conns.push(nc);
        void (async () => {
          for await (const s of nc.status()) {
            const e =
              s.type === 'error'
                ? (s.error as { name?: string; operation?: string; subject?: string })
                : undefined;
            if (e?.name === 'PermissionViolationError')
              violations.push(`${a.id} ${e.operation} ${e.subject}`);
          }
        })();
        for (const subject of [...concrete, ...wild, ...sysSubjects]) {
          ops++;
          nc.subscribe(subject, {
            callback: (e, m) => record(e, m, `agent:${a.id}`),
          });
          if (subject !== cmd(a)) expectedDenied.push(`${a.id} subscription ${subject}`);
        }
        for (const subject of [...concrete, ...sysSubjects, 'palisade.x']) {
          ops++;
          nc.publish(subject, enc({ from: a.id }));
          if (![report(a, 'heartbeat'), report(a, 'health'), report(a, 'stats')].includes(subject)) {
            expectedDenied.push(`${a.id} publish ${subject}`);
          }
        }
        await nc.flush();
      }
      for (const a of agents) palisade.publish(cmd(a), enc({ from: 'palisade' }));
      palisade.publish('palisade.t.000000000000.agent.a.cmd.x', enc({ from: 'palisade' }));
      await palisade.flush();
      console.log(
        `      isolation matrix: ${TENANTS} tenants × ${AGENT_NAMES.length} agents, ${ops} operations (${ops / agents.length} per agent), ${expectedDenied.length} expected denials`,
      );

      await eventually(
        'every denied operation to be reported',
        async () => violations.length >= expectedDenied.length,
        30_000,
      );
      await eventually(
        'every command to arrive',
        async () => received.filter((r) => r.where.startsWith('agent:')).length >= agents.length,
        10_000,
      );
      await new Promise((r) => setTimeout(r, 500)); // stragglers would show up as extra deliveries below
      assert.deepEqual([...violations].sort(), [...expectedDenied].sort());

      const uidOf = (subject: string) => subject.split('.')[2];
      const agentOf = (subject: string) => `${uidOf(subject)}/${subject.split('.')[4]}`;
      for (const r of received) {
        if (r.where === 'palisade' && r.from !== 'palisade')
          assert.equal(agentOf(r.subject), r.from, `Palisade got ${r.subject} from ${r.from}`);
        if (r.where.startsWith('agent:')) {
          assert.equal(r.from, 'palisade', `${r.where} received ${r.subject} from ${r.from}`);
          assert.equal(`agent:${agentOf(r.subject)}`, r.where);
        }
        if (!r.where.includes(':') && r.where !== 'palisade') {
          assert.equal(uidOf(r.subject), r.where, `tenant ${r.where} saw ${r.subject}`);
          assert.ok(
            r.from === 'palisade' || r.from.startsWith(`${r.where}/`),
            `tenant ${r.where} saw a message from ${r.from}`,
          );
        }
      }
      const reports = received.filter((r) => r.where === 'palisade' && r.from !== 'palisade');
      assert.equal(
        reports.length,
        agents.length * 3,
        'Palisade receives each agent’s three own reports, nothing else',
      );
      assert.equal(
        received.filter((r) => r.where.startsWith('agent:')).length,
        agents.length,
        'each agent gets exactly its own command',
      );
    } finally {
      for (const c of conns) await c.close();
    }
  });

  it('refuses rotated-out, suspended and deleted agents’ credentials, and accepts the new ones', async function () {
    const [t0, t1] = tenants;
    if (!t0 || !t1) throw new Error('tenants missing');
    const before = credsOf(await credsSecret(t0.ns, 'a'));
    const live = await agentConnect(env, before);
    await kube().apply(agentManifest(t0.ns, 'a', { credentialRotationTrigger: 'rotate-1' }));
    await readyAgent(t0.ns, 'a', 2);
    const rotatedOut = await eventually(
      'the rotated-out credentials to be refused',
      () => refused(env, before),
      30_000,
    );
    assert.match(rotatedOut, /Authorization|authorization/);
    await eventually(
      'the server to disconnect the rotated-out connection',
      async () =>
        live.isClosed() ||
        (live as unknown as { protocol: { connected: boolean } }).protocol.connected === false,
      15_000,
    );
    await live.close();
    const fresh = await agentConnect(env, credsOf(await credsSecret(t0.ns, 'a')));
    await fresh.close();

    const suspended = credsOf(await credsSecret(t1.ns, 'a'));
    await kube().apply(agentManifest(t1.ns, 'a', { suspended: true }));
    assert.match(
      await eventually('suspended credentials to be refused', () => refused(env, suspended), 30_000),
      /uthorization/,
    );

    const deleted = credsOf(await credsSecret(t0.ns, 'b'));
    await kube().delete({ kind: 'ClusterAgent', name: 'b', namespace: t0.ns });
    assert.match(
      await eventually('a deleted agent’s credentials to be refused', () => refused(env, deleted), 30_000),
      /uthorization/,
    );
  });

  it('refuses a TLS 1.1 client and accepts TLS 1.2', async function () {
    const port = Number(env.server.split(':')[1]);
    const handshake = (version: 'TLSv1.1' | 'TLSv1.2') =>
      new Promise<string>((resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        socket.once('data', () => {
          // NATS greets in clear text (INFO with tls_required), then the client upgrades.
          const t = tls.connect({
            socket,
            minVersion: version,
            maxVersion: version,
            ciphers: 'DEFAULT@SECLEVEL=0',
            ca: env.caPem,
            servername: 'localhost',
          });
          t.once('secureConnect', () => {
            resolve(`connected ${t.getProtocol()}`);
            t.destroy();
          });
          t.once('error', (e) => {
            resolve(`refused: ${e.message}`);
            socket.destroy();
          });
        });
        socket.once('error', (e) => resolve(`socket error: ${e.message}`));
      });
    const old = await handshake('TLSv1.1');
    assert.match(old, /^refused: /);
    console.log(`      TLS 1.1 client: ${old}`);
    assert.equal(await handshake('TLSv1.2'), 'connected TLSv1.2');
  });

  it('gets every tenant account back within 30 s after nats-server restarts with an empty JWT store, without touching the CRs', async function () {
    const sys = await connectAs(
      env,
      await systemAccount(env),
      { pub: ['$SYS.REQ.>'], sub: ['_INBOX.>'] },
      'drift-check',
    );
    const accounts = await Promise.all(
      tenants.map(
        async (t) =>
          (
            await kube().get<{ status?: { natsAccount?: { publicKey?: string } } } & Secret>({
              kind: 'Tenant',
              name: t.name,
            })
          )?.status?.natsAccount?.publicKey ?? '',
      ),
    );
    const rvs = await Promise.all(
      tenants.map(
        async (t) => (await kube().get<Secret>({ kind: 'Tenant', name: t.name }))?.metadata.resourceVersion,
      ),
    );
    const held = async () => {
      const found = await Promise.all(
        accounts.map((a) =>
          sys.request(`$SYS.REQ.ACCOUNT.${a}.CLAIMS.LOOKUP`, '', { timeout: 2000 }).then(
            (m) => m.string() !== '',
            () => false,
          ),
        ),
      );
      return found.filter(Boolean).length;
    };
    assert.equal(await held(), accounts.length);
    const t0 = Date.now();
    await testEnv().restartNats({ wipeStore: true });
    await eventually(
      'every tenant account to be back on the resolver',
      async () => (await held()) === accounts.length,
      30_000,
      200,
    );
    console.log(
      `      ${accounts.length} accounts back ${Date.now() - t0} ms after the restart with an empty store`,
    );
    await sys.close();
    const after = await Promise.all(
      tenants.map(
        async (t) => (await kube().get<Secret>({ kind: 'Tenant', name: t.name }))?.metadata.resourceVersion,
      ),
    );
    assert.deepEqual(after, rvs, 'no Tenant was written during the repair');
    const a = agents.find((x) => x.tenant === tenants[2]?.name);
    if (a) await (await agentConnect(env, credsOf(await credsSecret(a.ns, a.name)))).close();
  });

  it('deletes the account of a Tenant deleted with deletionPolicy Delete', async function () {
    const name = uniqueName('gone');
    await kube().apply(tenantManifest(name, { deletionPolicy: 'Delete' }));
    await eventually('the namespace', () => kube().get({ kind: 'Namespace', name: `tenant-${name}` }));
    await kube().apply(agentManifest(`tenant-${name}`, 'a'));
    await readyAgent(`tenant-${name}`, 'a');
    const creds = credsOf(await credsSecret(`tenant-${name}`, 'a'));
    await (await agentConnect(env, creds)).close();
    await kube().delete({ kind: 'Tenant', name });
    assert.match(
      await eventually('the deleted tenant’s agent to be refused', () => refused(env, creds), 60_000),
      /uthorization/,
    );
  });
});

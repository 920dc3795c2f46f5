/**
 * `make bench-pairing`: pairings per second through the real Pairing service (gRPC over TLS 1.3 on
 * loopback, the code checked against its keyed hash, the PKCS#10 request verified, a client certificate
 * signed by an RSA-2048 CA, a NATS user JWT signed, the keystore record written conditionally), then the
 * same agents' reports over gRPC (ClusterChannel.Report, each agent on its own mTLS connection) beside
 * the same over NATS (a real nats-server, reports read as MessagingBus reads them), in one table: reports
 * per second, operator CPU seconds per 1,000 reports, API writes per second, and report-to-status lag (a
 * health change sent → the ClusterAgent's status.health showing it). Prints figures; asserts nothing.
 *
 *   node hack/bench/pairing.ts [--agents 5000] [--concurrency 16] [--reports 20000] [--changes 500]
 *
 * The API server is the in-memory one the unit tests use (controllers/runtime/testing/), so what is
 * measured is Palisade's side, not an API server's write latency; status is written by the real
 * ClusterAgent reconcile, driven as its controller drives it (a heartbeat enqueues a key only when status
 * may change). Pairing: server and client share this process (its CPU figures are for both). Reports:
 * the agents are a child process (pairing-reports.ts), so CPU is the operator side alone.
 */
import { randomBytes, webcrypto, type webcrypto as wc, KeyObject } from 'node:crypto';
import { parseArgs } from 'node:util';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import type { Tenant } from '../../crds/v1alpha1/index.ts';
import { ClusterChannel } from '../../controllers/agentchannel/channel.ts';
import {
  AGENT_UID_INDEX,
  agentUIDIndex,
  PAIRING_LOOKUP_INDEX,
  pairingLookupIndex,
  type ChannelDeps,
} from '../../controllers/agentchannel/deps.ts';
import { pairingHandlers } from '../../controllers/agentchannel/pairing.ts';
import {
  clusterChannelService,
  pairingClient,
  pairingService,
  type AgentClient,
  type PairResponse,
} from '../../controllers/agentchannel/proto.ts';
import { AttemptLimiter } from '../../controllers/agentchannel/ratelimit.ts';
import { agentWorld } from '../../controllers/clusteragent/testdata/world.ts';
import { startKeyServer } from '../../controllers/keyservice/server.ts';
import { OPERATOR_NAMESPACE } from '../../controllers/keystore/testing/installation.ts';
import { createKeyPair } from '../../controllers/nats/protocol/index.ts';
import { createCA, issueLeaf } from '../../controllers/pki/index.ts';
import { x509 } from '../../controllers/pki/peculiar.ts';
import { secretString } from '../../controllers/runtime/objects.ts';
import { accountEntry, unwrapAccountKey } from '../../controllers/tenant/account.ts';
import { reportPhase } from './pairing-reports.ts';

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '16' },
    reports: { type: 'string', default: '20000' },
    changes: { type: 'string', default: '500' },
  },
});
const AGENTS = Number(values.agents);
const CONCURRENCY = Number(values.concurrency);
const REPORTS = Number(values.reports);
const CHANGES = Number(values.changes);
const NS = 'tenant-bench';
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const rand = (n: number) => new Uint8Array(randomBytes(n));

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? 0;

async function world() {
  const pepper = new Uint8Array(randomBytes(32));
  const aw = await agentWorld({
    pairing: { pepper: () => pepper, caPin: () => undefined },
    tenant: { name: 'bench', spec: { messaging: { maxAgents: AGENTS + 1 } } },
  });
  // NB: both caches are still empty: an index added now sees every object.
  aw.secrets.addIndex(PAIRING_LOOKUP_INDEX, pairingLookupIndex(OPERATOR_NAMESPACE));
  aw.agents.addIndex(AGENT_UID_INDEX, agentUIDIndex);
  return { w: aw, nats: aw.nats, tenants: aw.tenants, agents: aw.agents, user: aw.user, pepper };
}

async function agentKeys() {
  const tls = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as wc.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=bench',
    keys: tls,
    signingAlgorithm: EC,
  });
  return {
    nats: createKeyPair('U').publicKey,
    csr: new Uint8Array(csr.rawData),
    keyPem: KeyObject.from(tls.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

function call<T>(client: AgentClient, method: string, req: unknown): Promise<T> {
  return new Promise((resolve, reject) =>
    (client[method] as (r: unknown, cb: (e: ServiceError | null, v: T) => void) => void)(req, (e, v) =>
      e ? reject(e) : resolve(v),
    ),
  );
}

async function main(): Promise<void> {
  const { w, nats, tenants, agents, user, pepper } = await world();
  process.stdout.write(`making ${AGENTS} ClusterAgents in pairing mode…\n`);
  for (let i = 0; i < AGENTS; i++) {
    await user.create({
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'ClusterAgent',
      metadata: { name: `a${i}`, namespace: NS },
      spec: { clusterName: `c${i}`, pairing: { ttl: '1h', uses: 1 } },
    });
    await w.reconcileKey(`${NS}/a${i}`);
  }
  await w.tick();
  const codes = w.secrets
    .list(NS)
    .filter((s) => s.metadata.name.endsWith('-pairing-code'))
    .map((s) => ({
      name: s.metadata.name.replace(/-pairing-code$/, ''),
      code: secretString(s, 'code') ?? '',
    }));
  const now = new Date();
  const ca = await createCA({
    subject: 'CN=bench CA',
    notBefore: now,
    notAfter: new Date(+now + 86_400_000),
    rand,
  });
  const leaf = await issueLeaf({
    ca,
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    notBefore: now,
    notAfter: new Date(+now + 86_400_000),
    rand,
  });
  const uid = (await w.client.get<Tenant>({ kind: 'Tenant', name: 'bench' }))?.status?.uid ?? '';
  const installationID = 'b'.repeat(32);
  const deps: ChannelDeps = {
    client: w.client,
    keystore: w.keystore,
    secrets: w.secrets,
    agents,
    tenants,
    audit: w.audit,
    log: w.log,
    now: () => new Date(),
    rand,
    installationID: () => installationID,
    pepper: () => pepper,
    ca: () => ({ pair: ca, bundle: ca.certPem }),
    nats: {
      accountKey: (u) => {
        const e = accountEntry(w.keystore, u);
        return e ? unwrapAccountKey(w.keystore, e, u) : undefined;
      },
    },
    heartbeats: nats.heartbeats,
    limiter: new AttemptLimiter(
      { perSource: { burst: 1e9, perSecond: 1e9 }, global: { burst: 1e9, perSecond: 1e9 } },
      Date.now(),
    ),
    certificateLifetimeMs: 86_400_000,
    written: new Map(),
  };
  const channel = new ClusterChannel(deps);
  const server = await startKeyServer({
    address: '127.0.0.1:0',
    tls: { cert: leaf.certPem, key: leaf.keyPem, ca: ca.certPem },
    services: [
      { definition: pairingService(), handlers: pairingHandlers(deps) },
      { definition: clusterChannelService(), handlers: channel.handlers() },
    ],
  });
  const address = `127.0.0.1:${server.port}`;
  process.stdout.write(`generating ${codes.length} agents' keys (not timed)…\n`);
  const keys: Awaited<ReturnType<typeof agentKeys>>[] = [];
  for (let i = 0; i < codes.length; i++) keys.push(await agentKeys());
  const pairing = pairingClient(address, credentials.createSsl(Buffer.from(ca.certPem)));

  const latencies: number[] = [];
  const paired: { cert: string; keyPem: string; name: string }[] = [];
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < codes.length; i = next++) {
        const k = keys[i] as Awaited<ReturnType<typeof agentKeys>>;
        const s = performance.now();
        const res = await call<PairResponse>(pairing, 'Pair', {
          code: codes[i]?.code,
          natsUserPublicKey: k.nats,
          certificateRequest: k.csr,
        });
        latencies.push(performance.now() - s);
        paired.push({
          cert: res.credentials.clientCertificate,
          keyPem: k.keyPem,
          name: codes[i]?.name ?? '',
        });
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(
    `pairing: ${paired.length} agents in ${seconds.toFixed(2)} s = ${(paired.length / seconds).toFixed(1)} pairings/s ` +
      `(concurrency ${CONCURRENCY}); p50 ${pct(latencies, 0.5).toFixed(1)} ms, p99 ${pct(latencies, 0.99).toFixed(1)} ms; ` +
      `CPU ${(((cpu.user + cpu.system) / 1e6 / paired.length) * 1000).toFixed(1)} ms per pairing (server and client)\n`,
  );
  pairing.close();
  await reportPhase({
    w,
    nats,
    agents,
    reconcile: w.reconcileKey,
    address,
    caPem: ca.certPem,
    tenantUID: uid,
    paired,
    reports: REPORTS,
    changes: CHANGES,
  });
  channel.close();
  await server.close(1000);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);

/**
 * `make bench-keyservice`: 1 KiB encrypt and decrypt through the key service over loopback (gRPC, TLS 1.3,
 * a ServiceAccount token per call, authorization by policy, an audit line per call to a file), with 1, 8
 * and 64 concurrent clients each making one call at a time: ops/s, p50 and p99 latency. Then batches
 * (100 items a call) and, in the same run, the in-process AEAD ceiling (the same PALD encrypt/decrypt,
 * no RPC) with the ratio. Then access tokens: issued through the Tokens service (EdDSA, no refresh token),
 * and verified by a relying party with jose against the JWKS (in-process, one thread). Prints figures;
 * asserts nothing about speed.
 *
 *   node hack/bench/keyservice.ts [--as operator|keyservice] [--seconds 3] [--only REGEX] [--profile DIR]
 *                                 [--no-audit] [--client-v8-defaults] [--shared-channel] [--server-v8 FLAGS]
 *
 * `--only` runs the cases whose `name/clients` matches (the ceiling always runs); `--profile` writes the
 * server's CPU profile (`node --cpu-prof`) into DIR, for `node hack/bench/profile.ts`. By default each
 * concurrent client has its own client object, so its own HTTP/2 connection (separate callers, as separate
 * pods); `--shared-channel` has them all call through one (concurrent callers in one process, as ghz and
 * grpc-go's benchmarks run by default). The "coalesced" cases are n callers sharing one client made with
 * `coalesce: true`: their concurrent single calls go as batch calls (controllers/keyservice/coalesce.ts).
 *
 * Every row also gives the garbage-collection pauses of both processes during the case (total ms and the
 * longest): a pause stops an event loop, and the calls in flight wait it out, so they are where the p99 of
 * single calls goes. The clients run with the same V8 flags as the server (`--client-v8-defaults`: V8's).
 *
 * The server is the real one (controllers/keyservice/) in a child process with the chart's V8 flags for
 * the operator's replicas (`operator.nodeOptions`, `operator.nodeArgs`) or, `--as keyservice`, for the
 * key-API replicas (`keyService.nodeOptions`, `keyService.nodeArgs`), over an in-memory keystore
 * (controllers/keyservice/testdata/world.ts): token verdicts are cached as in production, so what is
 * measured is the per-call path, not TokenReview round trips to an API server.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { sendUnaryData, ServerUnaryCall, ServiceDefinition } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { parse } from 'yaml';
import { decryptData, encryptData, generateDataKey, prepareKey } from '../../controllers/crypto/index.ts';
import { KeyServiceClient } from '../../controllers/keyservice/client.ts';
import { keyServiceMetrics } from '../../controllers/keyservice/metrics.ts';
import { startWorld } from '../../controllers/keyservice/testdata/world.ts';
import { createAuditLog } from '../../controllers/runtime/log.ts';
import { cpuSecondsOf } from './support.ts';
import { scratchDir } from '../controlplane/proc.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    serve: { type: 'boolean', default: false },
    // Attribution only: the same run with audit records dropped instead of written.
    'no-audit': { type: 'boolean', default: false },
    // Attribution only: the server runs with --cpu-prof, writing its profile into this directory.
    profile: { type: 'string' },
    // Only the cases whose "name/clients" matches this regular expression (e.g. '^encrypt 1 KiB/8$').
    only: { type: 'string' },
    // The clients' process with V8's defaults instead of the chart's flags (what its own GC adds).
    'client-v8-defaults': { type: 'boolean', default: false },
    // All concurrent clients call through one client object (one HTTP/2 connection) instead of one each.
    'shared-channel': { type: 'boolean', default: false },
    // Whose V8 flags in the chart the server (and the clients) run with: the operator's replicas
    // (operator.nodeOptions, operator.nodeArgs) or the key-API replicas (keyService.nodeOptions,
    // keyService.nodeArgs; the chart's keyService.replicas).
    as: { type: 'string', default: 'operator' },
    // The server's V8 flags instead of the chart's ('' for V8's defaults).
    'server-v8': { type: 'string' },
  },
});
const SECONDS = Number(values.seconds);
const TOKEN = 'sa:bench:client';
const KEY = { tenant: 'bench' };
const rand = (n: number) => new Uint8Array(randomBytes(n));

/**
 * The transport floor: a method on the same server that returns its request's bytes, called with the same
 * client, channel, TLS, token metadata and deadline, and no authentication, policy, keys, AEAD, audit or
 * metrics. What a key service call costs beyond it is the key service's own.
 */
const raw = (b: Buffer) => b;
const rawMethod = (name: string) => ({
  path: `/palisade.bench.Floor/${name}`,
  requestStream: false,
  responseStream: false,
  requestSerialize: raw,
  requestDeserialize: raw,
  responseSerialize: raw,
  responseDeserialize: raw,
  originalName: name.toLowerCase(),
});
const ECHO: ServiceDefinition = { Echo: rawMethod('Echo'), GcPauses: rawMethod('GcPauses') };

/**
 * This process's garbage-collection pauses (all kinds) since the last read: total and longest ms. Every pause stops the event loop, so the calls in flight wait it out on either side.
 */
function gcPauses(): () => { totalMs: number; longestMs: number } {
  let p = { totalMs: 0, longestMs: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      p.totalMs += e.duration;
      p.longestMs = Math.max(p.longestMs, e.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  return () => {
    const read = p;
    p = { totalMs: 0, longestMs: 0 };
    return read;
  };
}

/** The server side: prints `{ port, ca }` on stdout, serves until stdin closes. */
async function serve(): Promise<void> {
  const dir = await scratchDir('palisade-bench-keyservice-');
  const pauses = gcPauses();
  const w = await startWorld({
    tenants: ['bench'],
    observe: keyServiceMetrics(new Registry()),
    services: [
      {
        definition: ECHO,
        handlers: {
          Echo: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) =>
            callback(null, call.request),
          GcPauses: (_: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) =>
            callback(null, Buffer.from(JSON.stringify(pauses()))),
        },
      },
    ],
    audit: values['no-audit']
      ? { record: () => undefined }
      : createAuditLog({ file: path.join(dir, 'audit.log'), actor: 'system:palisade:bench' }),
  });
  w.addVersion('bench', 'primary', 1);
  w.grant(
    'bench',
    { kind: 'ServiceAccount', namespace: 'bench', name: 'client' },
    ['bench'],
    ['Encrypt', 'Decrypt', 'IssueToken'],
  );
  process.stdout.write(`${JSON.stringify({ port: w.server.port, ca: w.ca.certPem })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void w.close().then(() => process.exit(0)));
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** CPU time (user + system, µs) the process `pid` has used; undefined where there is none. */
function cpuMicros(pid: number): number | undefined {
  const s = cpuSecondsOf(pid);
  return s === undefined ? undefined : s * 1e6;
}

/**
 * `clients` closed loops of `call` for SECONDS: ops/s (items/s for batches), latency quantiles (ms), the
 * CPU time per op (per item for batches) of the server process and of this one (the clients), and both
 * processes' GC pauses meanwhile.
 */
async function measure(
  clients: number,
  call: (i: number) => Promise<unknown>,
  itemsPerCall = 1,
  server?: Server,
) {
  const serverPid = server?.pid;
  const latencies: number[] = [];
  await server?.pauses();
  clientPauses?.();
  const end = performance.now() + SECONDS * 1000;
  const serverBefore = serverPid === undefined ? undefined : cpuMicros(serverPid);
  const clientBefore = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      while (performance.now() < end) {
        const t = performance.now();
        await call(i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  const client = process.cpuUsage(clientBefore);
  const serverAfter = serverPid === undefined ? undefined : cpuMicros(serverPid);
  const gc = { client: clientPauses?.(), server: await server?.pauses() };
  const ops = latencies.length * itemsPerCall;
  const sorted = Float64Array.from(latencies).sort();
  return {
    opsPerSec: ops / elapsed,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    serverUsPerOp:
      serverBefore === undefined || serverAfter === undefined
        ? undefined
        : (serverAfter - serverBefore) / ops,
    clientUsPerOp: (client.user + client.system) / ops,
    gc,
    load: os.loadavg()[0] ?? 0,
  };
}

type Pauses = ReturnType<ReturnType<typeof gcPauses>>;
/** The server child: its pid (for CPU time) and its GC pauses since the last read. */
interface Server {
  pid: number | undefined;
  pauses(): Promise<Pauses>;
}
const clientPauses = values.serve ? undefined : gcPauses();

/**
 * The V8 flags the chart sets for the operator's replicas (`operator.nodeOptions`, `operator.nodeArgs`)
 * or for the key-API replicas (`keyService.nodeOptions`, `keyService.nodeArgs`): the server runs as deployed.
 */
function chartNodeOptions(as: string): string[] {
  if (as !== 'operator' && as !== 'keyservice') throw new Error('--as must be operator or keyservice');
  const chart = fileURLToPath(new URL('../../charts/palisade/values.yaml', import.meta.url));
  type Flags = { nodeOptions?: string; nodeArgs?: string[] };
  const v = parse(readFileSync(chart, 'utf8')) as { operator?: Flags; keyService?: Flags };
  const f = (as === 'operator' ? v.operator : v.keyService) ?? {};
  return [...(f.nodeOptions ?? '').split(/\s+/).filter(Boolean), ...(f.nodeArgs ?? [])];
}

/** The AEAD work of one call, as the service does it (a PreparedKey, as TenantDataKeys holds), no RPC. */
function ceiling(op: 'encrypt' | 'decrypt', plaintext: Uint8Array): number {
  const key = prepareKey(generateDataKey(rand));
  const box = encryptData(plaintext, key, { keyVersion: 1 }, rand);
  const fn =
    op === 'encrypt'
      ? () => encryptData(plaintext, key, { keyVersion: 1 }, rand)
      : () => decryptData(box, () => key);
  for (let i = 0; i < 2000; i++) fn();
  let ops = 0;
  const start = performance.now();
  while (performance.now() - start < SECONDS * 1000) {
    for (let i = 0; i < 100; i++) fn();
    ops += 100;
  }
  return ops / ((performance.now() - start) / 1000);
}

/**
 * The clients run with the chart's V8 flags too, as a service calling the key API from its own pod would
 * be tuned: with V8's defaults this process's own scavenges (10–30 ms) were the longest pauses of the run
 * and most of the single calls' p99. Re-runs this script so; undefined when it already runs so.
 */
async function clientsWithChartFlags(v8: string[]): Promise<number | undefined> {
  if (values['client-v8-defaults'] || v8.every((f) => process.execArgv.includes(f))) return undefined;
  const self = spawn(
    process.execPath,
    [...v8, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  return new Promise((resolve) => self.once('exit', (code) => resolve(code ?? 1)));
}

async function main(): Promise<void> {
  const serverArgs = ['--serve', ...(values['no-audit'] ? ['--no-audit'] : [])];
  const profile = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : [];
  const v8 = chartNodeOptions(values.as);
  const rerun = await clientsWithChartFlags(v8);
  if (rerun !== undefined) process.exit(rerun);
  const serverV8 = values['server-v8'] === undefined ? v8 : values['server-v8'].split(/\s+/).filter(Boolean);
  const child = spawn(
    process.execPath,
    [...serverV8, ...profile, fileURLToPath(import.meta.url), ...serverArgs],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const only = values.only === undefined ? undefined : new RegExp(values.only);
  const wanted = (name: string, clients: number | string) => !only || only.test(`${name}/${clients}`);
  const first = await new Promise<string>((resolve) =>
    createInterface({ input: child.stdout }).once('line', resolve),
  );
  const { port, ca } = JSON.parse(first) as { port: number; ca: string };
  const plaintext = rand(1024);
  const load = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  console.log(
    `node ${process.version}, ${os.cpus().length} cores, ${SECONDS}s per case; load average before: ${load()}`,
  );
  console.log(
    `server: a child process (V8 flags${values['server-v8'] === undefined ? ` of the chart's ${values.as === 'operator' ? "operator's replicas" : 'key-API replicas'}` : ''}: ${serverV8.join(' ') || 'none'}); clients: this process (V8 flags: ${process.execArgv.join(' ') || 'none'}), ${values['shared-channel'] ? 'all on one connection' : 'a connection each'}; TLS 1.3, token auth, ${values['no-audit'] ? 'audit DROPPED (attribution run)' : 'audit to a file'}`,
  );
  console.log(
    'case                         clients      ops/s    p50 ms    p99 ms  server µs/op  client µs/op  GC ms server / client (longest)  load',
  );
  const gcOf = (p: Pauses | undefined) =>
    p === undefined ? '-' : `${p.totalMs.toFixed(0)} (${p.longestMs.toFixed(1)})`;
  const row = (name: string, clients: number | string, r: Awaited<ReturnType<typeof measure>>) =>
    console.log(
      `${name.padEnd(28)} ${String(clients).padStart(7)} ${Math.round(r.opsPerSec).toLocaleString('en-US').padStart(10)} ` +
        `${r.p50.toFixed(2).padStart(9)} ${r.p99.toFixed(2).padStart(9)} ` +
        `${(r.serverUsPerOp === undefined ? '-' : r.serverUsPerOp.toFixed(0)).padStart(13)} ` +
        `${r.clientUsPerOp.toFixed(0).padStart(13)} ` +
        `${`${gcOf(r.gc.server)} / ${gcOf(r.gc.client)}`.padStart(32)} ${r.load.toFixed(2).padStart(5)}`,
    );
  const rows: Record<string, number> = {};
  const all = Array.from(
    { length: values['shared-channel'] ? 1 : 64 },
    () =>
      new KeyServiceClient({
        address: `127.0.0.1:${port}`,
        caPem: ca,
        serverName: 'localhost',
        token: () => TOKEN,
      }),
  );
  const coalescing = new KeyServiceClient({
    address: `127.0.0.1:${port}`,
    caPem: ca,
    serverName: 'localhost',
    token: () => TOKEN,
    coalesce: true,
  });
  const box = (await (all[0] as KeyServiceClient).encrypt(KEY, plaintext)).ciphertext;
  const c = (i: number) => all[i % all.length] as KeyServiceClient;
  const server: Server = {
    pid: child.pid,
    pauses: async () =>
      JSON.parse((await c(0).callOf<Buffer, Buffer>(ECHO, 'GcPauses', Buffer.alloc(0))).toString()) as Pauses,
  };
  // Warm-up: every connection up, both sides' code optimised.
  await Promise.all(
    Array.from({ length: 64 }, async (_, n) => {
      for (let i = 0; i < 50; i++) await c(n).decrypt(KEY, box);
      for (let i = 0; i < 50; i++) await coalescing.decrypt(KEY, box);
    }),
  );
  const cases: [string, number, (i: number) => Promise<unknown>, number][] = [];
  const echo = Buffer.from(plaintext);
  for (const n of [1, 8])
    cases.push(['floor: gRPC echo 1 KiB', n, (i) => c(i).callOf(ECHO, 'Echo', echo), 1]);
  for (const n of [1, 8, 64]) {
    cases.push([`encrypt 1 KiB`, n, (i) => c(i).encrypt(KEY, plaintext), 1]);
    cases.push([`decrypt 1 KiB`, n, (i) => c(i).decrypt(KEY, box), 1]);
  }
  for (const n of [8, 64]) {
    cases.push([`coalesced encrypt 1 KiB`, n, () => coalescing.encrypt(KEY, plaintext), 1]);
    cases.push([`coalesced decrypt 1 KiB`, n, () => coalescing.decrypt(KEY, box), 1]);
  }
  const batch = (k: number) => Array.from({ length: k }, () => ({ plaintext }));
  const boxes = Array.from({ length: 100 }, () => ({ ciphertext: box }));
  cases.push(['batch encrypt 100 × 1 KiB', 8, (i) => c(i).batchEncrypt(KEY, batch(100)), 100]);
  cases.push(['batch decrypt 100 × 1 KiB', 8, (i) => c(i).batchDecrypt(KEY, boxes), 100]);
  for (const [name, n, call, items] of cases) {
    if (!wanted(name, n)) continue;
    const r = await measure(n, call, items, server);
    rows[`${name}/${n}`] = r.opsPerSec;
    row(name, n, r);
  }
  const issue = (i: number) => c(i).issueToken({ tenant: 'bench', subject: 'user-1', audience: 'bench' });
  for (const n of [1, 8]) {
    if (!wanted('issue access token', n)) continue;
    row('issue access token', n, await measure(n, issue, 1, server));
  }
  if (wanted('verify access token (jose)', 'in-proc')) {
    const jwks = createLocalJWKSet(JSON.parse((await c(0).getJwks()).jwks) as JSONWebKeySet);
    const jwt = (await issue(0)).accessToken;
    const verify = () => jwtVerify(jwt, jwks, { audience: 'bench', typ: 'at+jwt', algorithms: ['EdDSA'] });
    row('verify access token (jose)', 'in-proc', await measure(1, verify));
  }
  for (const x of [...all, coalescing]) x.close();
  child.stdin.end();
  await exited;
  const enc = ceiling('encrypt', plaintext);
  const dec = ceiling('decrypt', plaintext);
  console.log(`\nin-process AEAD ceiling (PALD XChaCha20-Poly1305, 1 KiB, one thread, same machine):`);
  console.log(
    `  encrypt ${Math.round(enc).toLocaleString('en-US')} ops/s, decrypt ${Math.round(dec).toLocaleString('en-US')} ops/s`,
  );
  const best = (op: string) =>
    Math.max(
      0,
      ...Object.entries(rows)
        .filter(([k]) => k.startsWith(op))
        .map(([, v]) => v),
    );
  console.log(
    `  ratio service/ceiling: encrypt ${(best('encrypt') / enc).toFixed(3)} (best single calls), ` +
      `${(best('coalesced encrypt') / enc).toFixed(3)} (coalesced), ${(best('batch encrypt') / enc).toFixed(3)} (batches); ` +
      `decrypt ${(best('decrypt') / dec).toFixed(3)}, ${(best('coalesced decrypt') / dec).toFixed(3)}, ` +
      `${(best('batch decrypt') / dec).toFixed(3)}`,
  );
  console.log(`load average after: ${load()}`);
}

if (values.serve) await serve();
else await main();

/**
 * Helpers of the crash journey: operators started one after another with their modules loaded
 * beforehand (warm-operator.ts), a SIGKILL timed on the wall clock to the microsecond, and what kind of
 * write an audited request was, by the keystore's layout (controllers/keystore/entries.ts).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inFlight, type Write } from './audit.ts';
import { freePort, watchOperatorChild, type OperatorProcess } from './operator.ts';

const warmScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'warm-operator.ts');

export interface WarmOperator {
  readonly identity: string;
  /** Lets the operator run; the process started (and loaded its modules) before. */
  start(): OperatorProcess;
  /** Ends a process that was never started. */
  discard(): Promise<void>;
}

/** Spawns an operator process that loads its modules now and runs once started (see warm-operator.ts). */
export async function warmOperator(opts: {
  kubeconfig: string;
  namespace: string;
  identity: string;
  args?: string[];
  /** Node's on-disk compile cache: a third less CPU per start when operators start by the hundred. */
  compileCache?: string;
}): Promise<WarmOperator> {
  const probePort = await freePort();
  const child = spawn(
    process.execPath,
    [
      warmScript,
      `--kubeconfig=${opts.kubeconfig}`,
      `--namespace=${opts.namespace}`,
      `--identity=${opts.identity}`,
      '--leader-elect=false',
      `--probe-address=127.0.0.1:${probePort}`,
      ...(opts.args ?? []),
    ],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        KUBECONFIG: opts.kubeconfig,
        ...(opts.compileCache ? { NODE_COMPILE_CACHE: opts.compileCache } : {}),
      },
    },
  );
  child.stdin.on('error', () => undefined); // a process that died early: its output says why
  const watched = watchOperatorChild(child);
  return {
    identity: opts.identity,
    start: () => {
      child.stdin.end('go\n');
      return {
        identity: opts.identity,
        probePort,
        child,
        output: watched.output,
        stop: () => watched.end('SIGTERM'),
        kill: () => watched.end('SIGKILL'),
        exited: watched.exited,
      };
    },
    discard: () => watched.end('SIGKILL'),
  };
}

/** Resolves once the operator's controllers run (false after `timeoutMs`): as its log line arrives. */
export function controllersStarted(op: OperatorProcess, timeoutMs: number): Promise<boolean> {
  const started = () => op.output().includes('controllers started');
  if (started()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      op.child.stdout?.off('data', check);
      op.child.off('exit', exited);
      resolve(ok);
    };
    // NB: registered after the buffering listener, so output() already holds this chunk.
    const check = () => started() && done(true);
    const exited = () => done(false);
    const timer = setTimeout(() => done(false), timeoutMs);
    op.child.stdout?.on('data', check);
    op.child.on('exit', exited);
  });
}

/** When a kill happened, on the wall clock (µs since the epoch). */
export interface KillTime {
  /** Just before the signal was sent. */
  sentUs: number;
  /** Just after kill(2) returned: from then on the process runs none of its own code. */
  deliveredUs: number;
}

/**
 * SIGKILLs the operator and waits for its exit. Date.now() has whole milliseconds only, so the kill is
 * timed with the monotonic clock and placed on the wall clock at Date.now()'s next tick (a busy wait of
 * at most 1 ms, after the kill): the audit log's timestamps have microseconds.
 */
export async function killTimed(op: OperatorProcess): Promise<KillTime> {
  const before = process.hrtime.bigint();
  op.child.kill('SIGKILL');
  const after = process.hrtime.bigint();
  const start = Date.now();
  let tick = start;
  while (tick === start) tick = Date.now();
  const atTick = process.hrtime.bigint();
  const wall = (hr: bigint) => tick * 1000 - Number(atTick - hr) / 1000;
  await op.kill();
  return { sentUs: wall(before), deliveredUs: wall(after) };
}

/**
 * What a write was, for a person reading the crash table. Keystore Secrets by their name (entries.ts),
 * delivered agent credentials by theirs (`<agent>-nats-creds`), anything else by resource.
 */
export function writeKind(w: Write, operatorNs: string): string {
  if (w.resource === 'secrets' && w.namespace === operatorNs) {
    const n = w.name;
    if (!n) return 'Secret, name unknown';
    if (n.startsWith('palisade-root-key-')) return w.verb === 'delete' ? 'root retire' : 'root key';
    if (n.startsWith('palisade-tenant-')) return 'tenant record';
    if (n.startsWith('palisade-agent-')) return 'agent record';
    if (n.startsWith('palisade-revocations-')) return 'revocations';
    const wrap = /^palisade-(key|account)-.*?(?:-v(\d+))?(-r\d+)?$/.exec(n);
    if (wrap) {
      if (w.verb === 'delete') return 'wrap delete';
      if (wrap[3]) return 'rewrap';
      if (wrap[1] === 'account') return 'account seed';
      return wrap[2] === '1' ? 'key v1' : 'key v2+';
    }
    return 'installation Secret';
  }
  if (w.resource === 'secrets' && w.name.endsWith('-nats-creds')) return 'agent credentials';
  return [w.resource, w.subresource].filter(Boolean).join('/');
}

/** A kill of the crash journey: in which phase, of which operator (its API user), when and how timed. */
export interface CrashKill<P extends string, T extends string> extends KillTime {
  phase: P;
  user: string;
  timing: T;
  /** The controllers had not started yet. */
  startingUp: boolean;
}

/**
 * Per phase: kills, how many landed inside any write of the operator and inside one of the phase's own
 * writes, how their moments were chosen; then per phase the kinds of write in flight (once per kill and
 * kind). Returns the text and the count of kills inside each phase's own writes.
 */
export function crashTable<P extends string, T extends string>(o: {
  kills: CrashKill<P, T>[];
  writes: Map<string, Write[]>;
  phases: readonly P[];
  timings: readonly T[];
  ownWrites: Record<P, string[]>;
  operatorNs: string;
}): { text: string; own: Record<P, number> } {
  const own = Object.fromEntries(o.phases.map((p) => [p, 0])) as Record<P, number>;
  const summary = [
    `      SIGKILLed the operator ${o.kills.length} times; writes in flight at each kill, from the apiserver's audit log:`,
    `        ${'phase'.padEnd(18)} kills  in a write  in its own  moment: ${o.timings.join(' / ')} (before the controllers started)`,
  ];
  const detail = [
    '      kinds of write in flight (kills; a kill inside several writes counts once per kind):',
  ];
  for (const phase of o.phases) {
    const mine = o.kills.filter((k) => k.phase === phase);
    const byKind = new Map<string, number>();
    let inside = 0;
    for (const k of mine) {
      const kinds = new Set(inFlight(o.writes.get(k.user) ?? [], k).map((w) => writeKind(w, o.operatorNs)));
      if (kinds.size) inside++;
      if ([...kinds].some((kind) => o.ownWrites[phase].includes(kind))) own[phase]++;
      for (const kind of kinds) byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
    }
    const moments = o.timings.map((t) => mine.filter((k) => k.timing === t).length).join(' / ');
    const early = mine.filter((k) => k.startingUp).length;
    summary.push(
      `        ${phase.padEnd(18)} ${String(mine.length).padStart(5)} ${String(inside).padStart(11)} ${String(own[phase]).padStart(11)}  ${moments} (${early})`,
    );
    const kinds = [...byKind].sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${kind} ${n}`);
    detail.push(`        ${phase.padEnd(18)} ${kinds.join(', ') || 'none'}`);
  }
  return { text: [...summary, ...detail].join('\n'), own };
}

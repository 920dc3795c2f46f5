import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface OperatorProcess {
  readonly identity: string;
  readonly probePort: number;
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout and stderr (logs and audit) so far. */
  output(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit: a crash. */
  kill(): Promise<void>;
  exited(): boolean;
}

/** Ports {@link freePort} handed out in this process: each is handed out once. */
const handedOut = new Set<number>();

/**
 * A loopback port nothing listens on now, never one handed out before in this process. NB: the kernel
 * may return a port it just freed again, and two ports asked for before either is bound (a test's key
 * service port, then the operator's probe port) came out equal: the agent then met the probe's plain
 * HTTP where it expected TLS ("wrong version number").
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as net.AddressInfo;
        srv.close(() => resolve(port));
      });
      srv.on('error', reject);
    });
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/** Starts `controllers/main.ts` as a separate process, the way a Deployment would run it. */
/**
 * What every operator child process needs from its test: its output buffered, its exit tracked, and a
 * SIGKILL if the test process itself dies (a test that dies must not leave operators behind).
 */
export function watchOperatorChild(child: ChildProcess): {
  output(): string;
  exited(): boolean;
  end(signal: NodeJS.Signals): Promise<void>;
} {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString('utf8')));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.on('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const cleanup = () => child.kill('SIGKILL');
  process.once('exit', cleanup);
  return {
    output: () => out,
    exited: () => exited,
    end: async (signal) => {
      if (!exited) child.kill(signal);
      await exit;
      process.off('exit', cleanup);
    },
  };
}

/**
 * Names the operator's entry point relative to the checkout: the benches set `dist/controllers/main.js`
 * (hack/bench/support.ts buildOperator) to measure the compiled JavaScript the image runs, since Node's
 * TypeScript stripping alone adds about 28 MiB RSS.
 */
export const OPERATOR_ENTRY_ENV = 'PALISADE_OPERATOR_ENTRY';

/**
 * Node options the operator is started with before its script, space-separated: the benches set the
 * chart's `operator.nodeArgs` (hack/bench/support.ts installChartRbac), V8 flags NODE_OPTIONS refuses.
 */
export const OPERATOR_NODE_ARGS_ENV = 'PALISADE_OPERATOR_NODE_ARGS';

export async function startOperator(opts: {
  kubeconfig: string;
  namespace: string;
  identity: string;
  leaderElect?: boolean;
  args?: string[];
  /** Root of the checkout whose operator to run (default: this one; the upgrade test runs an older one). */
  checkout?: string;
  /** Environment beside this process's (the operator's test knobs, controllers/config.ts). */
  env?: Record<string, string>;
}): Promise<OperatorProcess> {
  const probePort = await freePort();
  const child = spawn(
    process.execPath,
    [
      ...(process.env[OPERATOR_NODE_ARGS_ENV] ?? '').split(/\s+/).filter(Boolean),
      path.join(opts.checkout ?? repo, process.env[OPERATOR_ENTRY_ENV] ?? 'controllers/main.ts'),
      `--kubeconfig=${opts.kubeconfig}`,
      `--namespace=${opts.namespace}`,
      `--identity=${opts.identity}`,
      `--leader-elect=${opts.leaderElect === false ? 'false' : 'true'}`,
      `--probe-address=127.0.0.1:${probePort}`,
      ...(opts.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env, KUBECONFIG: opts.kubeconfig } },
  );
  const watched = watchOperatorChild(child);
  return {
    identity: opts.identity,
    probePort,
    child,
    output: watched.output,
    stop: () => watched.end('SIGTERM'),
    kill: () => watched.end('SIGKILL'),
    exited: watched.exited,
  };
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes; the error names what was awaited. */
export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A series' value on an operator's /metrics (`name` or `name{labels}` as printed); NaN when absent. */
export async function metricValue(port: number, series: string): Promise<number> {
  const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : NaN;
}

export async function probe(port: number, path: string): Promise<number> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    await res.text();
    return res.status;
  } catch {
    return 0;
  }
}

/** Resolves once the operator leads and its controllers run (a standby is ready but not started). */
export async function waitForControllers(op: OperatorProcess, timeoutMs = 30_000): Promise<void> {
  try {
    await eventually(
      `operator ${op.identity}`,
      async () => op.output().includes('controllers started'),
      timeoutMs,
    );
  } catch (e) {
    const tail = op.output().split('\n').slice(-15).join('\n');
    throw new Error(
      `operator ${op.identity} did not start its controllers within ${timeoutMs} ms; its last output:\n${tail}`,
      { cause: e },
    );
  }
}

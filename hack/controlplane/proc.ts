// Child processes that cannot outlive the Node process that started them.
//
// Each child is started as `bash -c WATCHDOG`: bash forks a small background poller and then `exec`s the
// binary, so the pid Node sees *is* the binary (exit codes and signals are direct). The poller checks
// every half second whether the parent Node process is still alive; once it is gone (even after SIGKILL,
// when no handler of ours can run) it terminates the binary and removes its scratch directories.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const WATCHDOG = `
parent=$1 scratch=$2; shift 2
self=$$
(
  while kill -0 "$parent" 2>/dev/null && kill -0 "$self" 2>/dev/null; do sleep 0.5; done
  if kill -0 "$self" 2>/dev/null; then
    kill -TERM "$self" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$self" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$self" 2>/dev/null
    sleep 0.2
    printf '%s\n' "$scratch" | while IFS= read -r dir; do [ -n "$dir" ] && rm -rf "$dir"; done
  fi
) </dev/null &
exec "$@"
`;

export interface ChildSpec {
  name: string;
  bin: string;
  args: string[];
  logFile: string;
  // Removed by the watchdog if the parent dies (tmpfs data must not pile up in /dev/shm).
  scratchDirs?: string[];
  env?: NodeJS.ProcessEnv;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class Child {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly exited: Promise<Exit>;
  #proc: ChildProcess;
  #exit: Exit | undefined;

  constructor(spec: ChildSpec) {
    this.name = spec.name;
    this.logFile = spec.logFile;
    const fd = openSync(spec.logFile, 'a');
    try {
      const scratch = (spec.scratchDirs ?? []).join('\n');
      const watchdogArgs = [String(process.pid), scratch, spec.bin, ...spec.args];
      this.#proc = spawn('bash', ['-c', WATCHDOG, 'watchdog', ...watchdogArgs], {
        stdio: ['ignore', fd, fd],
        env: spec.env ?? process.env,
      });
    } finally {
      closeSync(fd);
    }
    if (this.#proc.pid === undefined) throw new Error(`cannot spawn ${spec.name} (${spec.bin})`);
    this.pid = this.#proc.pid;
    this.exited = new Promise((resolve) => {
      this.#proc.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        live.delete(this);
        resolve(this.#exit);
      });
    });
    live.add(this);
    installExitHandlers();
  }

  get exitStatus(): Exit | undefined {
    return this.#exit;
  }

  // SIGTERM, then SIGKILL after graceMs: every component here shuts down in well under a second.
  async stop(graceMs = 5000): Promise<void> {
    if (this.#exit) return;
    this.#proc.kill('SIGTERM');
    const timer = setTimeout(() => this.#proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  killNow(): void {
    if (!this.#exit) this.#proc.kill('SIGKILL');
  }

  async logTail(lines = 40): Promise<string> {
    return tail(this.logFile, lines);
  }

  // An error that carries the end of the child's log: the log usually names the real cause.
  async failure(what: string): Promise<Error> {
    const status = this.#exit
      ? ` (${this.name} exited: code ${this.#exit.code}, signal ${this.#exit.signal})`
      : '';
    const log = await this.logTail();
    return new Error(`${what}${status}\n--- last lines of ${this.logFile} ---\n${log}`);
  }
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

// A short-lived command (kubectl): output captured, no watchdog (it ends by itself).
export async function run(bin: string, args: string[], input?: string): Promise<RunResult> {
  const proc = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  proc.stdout.on('data', (c: Buffer) => out.push(c));
  proc.stderr.on('data', (c: Buffer) => err.push(c));
  proc.stdin.on('error', () => {}); // a command that ignores stdin may close it early
  proc.stdin.end(input ?? '');
  const code = await new Promise<number>((resolve, reject) => {
    proc.once('error', reject);
    proc.once('close', (c) => resolve(c ?? 1));
  });
  return { stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), code };
}

export async function tail(file: string, lines: number): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// Everything a crashing or interrupted Node process must clean up synchronously.
const live = new Set<Child>();
const scratchDirs = new Set<string>();

export function registerScratch(dir: string): void {
  scratchDirs.add(dir);
}

/**
 * A new directory under the system's temporary one, removed when this process exits: tests and benches
 * write credentials, backups and audit logs there, which must not pile up in /tmp run after run.
 */
export async function scratchDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  installExitHandlers();
  registerScratch(dir);
  return dir;
}

export function releaseScratch(dir: string): void {
  scratchDirs.delete(dir);
}

function cleanupNow(): void {
  for (const child of live) child.killNow();
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
  scratchDirs.clear();
}

let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', cleanupNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      // Someone else handles the signal (the supervisor, mocha): they own the shutdown, and the 'exit'
      // handler above still runs if they end the process.
      if (process.listenerCount(sig) > 1) return;
      cleanupNow();
      // Then die of the signal, as the process would have without our handler.
      process.removeListener(sig, handler);
      process.kill(process.pid, sig);
    };
    process.on(sig, handler);
  }
}

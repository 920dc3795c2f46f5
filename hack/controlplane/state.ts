// The files a detached control plane (`cli.ts up`) leaves in its state directory, and pid helpers.
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export const STATE_FILES = {
  env: 'env', // KUBECONFIG=..., NATS_URL=...: written last, once everything is ready
  pids: 'pids', // "<pid> <name>" lines, the supervisor first
  error: 'error', // why startup failed
  log: path.join('logs', 'supervisor.log'),
} as const;

export interface PidEntry {
  pid: number;
  name: string;
}

export async function readPids(state: string): Promise<PidEntry[]> {
  let text: string;
  try {
    text = await readFile(path.join(state, STATE_FILES.pids), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((parts) => parts.length === 2 && /^\d+$/.test(parts[0] ?? ''))
    .map(([pid, name]) => ({ pid: Number(pid), name: name ?? '' }));
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    // ESRCH, or EPERM: a pid we may not signal is not one of ours either.
    return false;
  }
}

// A pid file can outlive a reboot; before signalling, check the pid still runs what we started.
export function runs(pid: number, needle: string): boolean {
  if (!alive(pid)) return false;
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync('/proc/self/cmdline')) return true; // no procfs: trust the pid file
  try {
    return readFileSync(cmdline, 'utf8').replaceAll('\0', ' ').includes(needle);
  } catch {
    return false;
  }
}

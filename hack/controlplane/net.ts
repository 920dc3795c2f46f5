// Loopback networking helpers: free ports, polling, a minimal HTTPS client for the apiserver.
import https from 'node:https';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Child } from './proc.ts';

// Binding :0 lets the kernel pick; the port is released before the child binds it. The race with other
// processes picking the same port is tolerable for a dev/test control plane.
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('cannot allocate a port');
  return address.port;
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  // Stop waiting (and report its log) as soon as one of these exits.
  watch?: Child[];
}

// Thrown by a wait check when waiting longer cannot help.
export class StopWaiting extends Error {}

// Polls `check` until it returns a value other than undefined. Errors thrown by `check` count as "not yet",
// except StopWaiting.
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  opts: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError = '';
  for (;;) {
    const dead = opts.watch?.find((c) => c.exitStatus !== undefined);
    if (dead) throw await dead.failure(`${what}: ${dead.name} exited`);
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      if (err instanceof StopWaiting) throw err;
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      const suffix = lastError ? ` (last error: ${lastError})` : '';
      const child = opts.watch?.[opts.watch.length - 1];
      if (child)
        throw await child.failure(`timed out after ${opts.timeoutMs} ms waiting for ${what}${suffix}`);
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}${suffix}`);
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

export interface HttpResult {
  status: number;
  body: string;
}

export interface ApiTarget {
  url: string;
  token: string;
  // Undefined only while the apiserver's self-signed serving cert is not yet known.
  ca?: Buffer;
}

// One request with a fresh connection: the apiserver may be restarted between requests.
export function apiRequest(
  target: ApiTarget,
  method: string,
  path: string,
  body?: { contentType: string; data: string },
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${target.token}` };
    if (body) headers['content-type'] = body.contentType;
    const req = https.request(
      new URL(path, target.url),
      {
        method,
        headers,
        agent: false,
        timeout: 10_000,
        ...(target.ca ? { ca: target.ca } : { rejectUnauthorized: false }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
    req.on('error', reject);
    req.end(body?.data);
  });
}

// A NATS server greets every client with an INFO line; seeing it means the server accepts clients.
export function natsGreets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('data', (d: Buffer) => done(d.toString('utf8').startsWith('INFO ')));
    socket.once('error', () => done(false));
  });
}

export function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

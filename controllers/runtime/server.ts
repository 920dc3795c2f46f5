import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.ts';

export interface ProbeServer {
  port: number;
  close(): Promise<void>;
}

export interface ProbeHandlerOptions {
  metrics: Metrics;
  ready: () => { ok: boolean; detail: string };
}

/** `/healthz` (the process is alive), `/readyz` (it can do its job), `/metrics` (Prometheus text). */
export async function startProbeServer(
  opts: ProbeHandlerOptions & { address: string },
): Promise<ProbeServer> {
  const server = http.createServer(probeHandler(opts));
  const { host, port } = parseAddress(opts.address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The probe endpoints as a request listener, for any server (the HTTPS one serves the same). */
export function probeHandler(opts: ProbeHandlerOptions): http.RequestListener {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return reply(res, 200, 'ok\n');
    if (path === '/readyz') {
      const r = opts.ready();
      return reply(res, r.ok ? 200 : 503, `${r.detail}\n`);
    }
    if (path === '/metrics') {
      opts.metrics.registry.metrics().then(
        (text) => reply(res, 200, text, opts.metrics.registry.contentType),
        () => reply(res, 500, 'metrics unavailable\n'),
      );
      return;
    }
    reply(res, 404, 'not found\n');
  };
}

function reply(res: http.ServerResponse, code: number, body: string, type = 'text/plain; charset=utf-8') {
  res.writeHead(code, { 'Content-Type': type });
  res.end(body);
}

export function parseAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i) || '0.0.0.0';
  return { host, port: Number(address.slice(i + 1)) };
}

/**
 * The key service's metrics: calls by method and outcome, and their latency inside the server. Labels are
 * the method and a KeyServiceErrorCode (or OK): never a tenant, an identity, a key or any data.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

/** Registers the metrics in `registry`; returns what each call reports to (`observe` of the call chain). */
export function keyServiceMetrics(
  registry: Registry,
): (method: string, code: string, seconds: number) => void {
  const calls = new Counter({
    name: 'palisade_keyservice_requests_total',
    help: 'Key service calls by method and outcome (a KeyServiceErrorCode, or OK).',
    labelNames: ['method', 'code'] as const,
    registers: [registry],
  });
  const seconds = new Histogram({
    name: 'palisade_keyservice_request_duration_seconds',
    help: 'Key service call latency inside the server (authentication to response).',
    labelNames: ['method'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1],
    registers: [registry],
  });
  // NB: the label children are looked up once per method (and code), not hashed from labels every call.
  const counted = new Map<string, { inc(): void }>();
  const timed = new Map<string, { observe(v: number): void }>();
  return (method, code, s) => {
    const c = `${method} ${code}`;
    let counter = counted.get(c);
    if (!counter) counted.set(c, (counter = calls.labels({ method, code })));
    let timer = timed.get(method);
    if (!timer) timed.set(method, (timer = seconds.labels({ method })));
    counter.inc();
    timer.observe(s);
  };
}

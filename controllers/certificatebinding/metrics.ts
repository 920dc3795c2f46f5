import { Gauge, type Registry } from 'prom-client';
import type { CertificateFacts } from '../pki/index.ts';

/**
 * Certificate metrics, per binding. Labels are the binding's namespace and name and its source: never
 * anything from the certificate or key. Alert on `palisade_certificate_expiration_timestamp_seconds - time()`.
 */
export class CertificateMetrics {
  readonly expiration: Gauge<'namespace' | 'name' | 'source'>;
  readonly ready: Gauge<'namespace' | 'name' | 'source'>;
  readonly expiring: Gauge<'namespace' | 'name' | 'source'>;
  private readonly sources = new Map<string, string>();

  constructor(registry: Registry) {
    const labelNames = ['namespace', 'name', 'source'] as const;
    this.expiration = new Gauge({
      name: 'palisade_certificate_expiration_timestamp_seconds',
      help: 'notAfter of the certificate a CertificateBinding points at, in seconds since the epoch.',
      labelNames,
      registers: [registry],
    });
    this.ready = new Gauge({
      name: 'palisade_certificate_ready',
      help: '1 when the CertificateBinding is Ready, else 0.',
      labelNames,
      registers: [registry],
    });
    this.expiring = new Gauge({
      name: 'palisade_certificate_expiring',
      help: '1 when the certificate expires within the binding spec.expiryWarning, else 0.',
      labelNames,
      registers: [registry],
    });
  }

  observe(
    namespace: string,
    name: string,
    source: string,
    o: { ready: boolean; expiring: boolean; facts?: CertificateFacts },
  ): void {
    const key = `${namespace}/${name}`;
    const previous = this.sources.get(key);
    if (previous && previous !== source) this.forget(namespace, name);
    this.sources.set(key, source);
    const labels = { namespace, name, source };
    this.ready.set(labels, o.ready ? 1 : 0);
    this.expiring.set(labels, o.expiring ? 1 : 0);
    if (o.facts) this.expiration.set(labels, Math.floor(o.facts.notAfter.getTime() / 1000));
    else this.expiration.remove(labels);
  }

  /** Drops a deleted binding's series. */
  forget(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const source = this.sources.get(key);
    if (!source) return;
    this.sources.delete(key);
    const labels = { namespace, name, source };
    for (const g of [this.expiration, this.ready, this.expiring]) g.remove(labels);
  }
}

/**
 * cert-manager installed while the operator runs. At start the operator asks whether cert-manager.io/v1
 * Certificates are served; while they are not, every certManager binding that finds them missing asks
 * again through {@link CertManagerDetection.recheck}. The asks are folded into at most one API request
 * per `recheckMs`, whatever the number of waiting bindings, and stop once the API is found. Asking is a
 * list of Certificates, which the operator may do anyway: no permission on CustomResourceDefinitions.
 */
import type { Clock } from '../runtime/clock.ts';
import { isNotFound } from '../runtime/errors.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { KubeObject } from '../runtime/kube/types.ts';
import type { ICertificate } from '@kubernetes-models/cert-manager/cert-manager.io/v1';

/** A cert-manager Certificate as Palisade reads and writes it (metadata as the runtime knows it). */
export type CMCertificate = Omit<ICertificate, 'metadata'> & KubeObject;

/** How often a waiting certManager binding re-checks, and how often the API is asked at most. */
export const CERT_MANAGER_RECHECK_MS = 10_000;

export interface CertManagerDetectionOptions {
  clock: Clock;
  /** Whether the API is served now (a 404 on listing Certificates says no). */
  served(): Promise<boolean>;
  /** Called once the API is found: start the Certificate informer, re-queue the waiting bindings. */
  installed(): Promise<void>;
  /** A failed check or start (the next recheck tries again). */
  onError?(err: unknown): void;
  recheckMs?: number;
}

export class CertManagerDetection {
  private readonly o: CertManagerDetectionOptions;
  private found = false;
  private inFlight = false;
  private lastCheck = Number.NEGATIVE_INFINITY;

  constructor(opts: CertManagerDetectionOptions) {
    this.o = opts;
  }

  /** Asks again unless the API was found, a check runs, or the last one is younger than `recheckMs`. */
  recheck(): void {
    const now = this.o.clock.now();
    if (this.found || this.inFlight || now - this.lastCheck < (this.o.recheckMs ?? CERT_MANAGER_RECHECK_MS))
      return;
    this.lastCheck = now;
    this.inFlight = true;
    void this.check().finally(() => (this.inFlight = false));
  }

  private async check(): Promise<void> {
    try {
      if (!(await this.o.served())) return;
      await this.o.installed();
      this.found = true;
    } catch (e) {
      this.o.onError?.(e);
    }
  }
}

/** Whether Certificates are served: true once a list works, false on 404; any other failure throws. */
export async function certificatesServed(client: KubeClient): Promise<boolean> {
  try {
    await client.list('Certificate', { labelSelector: 'palisade.dev/probe=none' });
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

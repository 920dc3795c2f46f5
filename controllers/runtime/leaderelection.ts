import type { Clock, Timer } from './clock.ts';
import { isAlreadyExists, isConflict } from './errors.ts';
import type { KubeClient } from './kube/client.ts';
import type { KubeObject } from './kube/types.ts';
import type { Logger } from './log.ts';

interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaderElectionOptions {
  client: KubeClient;
  clock: Clock;
  log: Logger;
  namespace: string;
  name: string;
  identity: string;
  /** Written on the Lease with every acquire and renew, while this replica holds it (e.g. where to reach it). */
  annotations?: Record<string, string>;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

const microTime = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');

/**
 * Leader election on a `coordination.k8s.io/v1` Lease, with client-go's rules: a lease is free when its
 * holder has not renewed it for `leaseDuration` *as observed by this replica's own clock* (so clock skew
 * between nodes does not matter); every write carries the resourceVersion read, so two candidates can
 * never both win. A leader that cannot renew within `renewDeadline` reports the loss; the manager exits
 * rather than risk two active leaders.
 */
export class LeaderElector {
  private readonly o: Required<LeaderElectionOptions>;
  private observed: { holder: string; renewTime: string; at: number } | undefined;
  private leading = false;
  private lastRenew = 0;
  private timer: Timer | undefined;
  private stopped = false;

  constructor(opts: LeaderElectionOptions) {
    this.o = {
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      annotations: {},
      ...opts,
    };
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Campaigns until elected, then keeps renewing; calls `onLost` once if leadership is lost. */
  run(handlers: { onStartedLeading: () => void; onLost: () => void }): void {
    const tick = async () => {
      if (this.stopped) return;
      const ok = await this.tryAcquireOrRenew().catch((e: unknown) => {
        this.o.log.warn('leader election attempt failed', { lease: this.o.name, error: e });
        return false;
      });
      if (this.stopped) return;
      const now = this.o.clock.now();
      if (ok) {
        this.lastRenew = now;
        if (!this.leading) {
          this.leading = true;
          this.o.log.info('became leader', { lease: this.o.name, identity: this.o.identity });
          handlers.onStartedLeading();
        }
      } else if (this.leading && now - this.lastRenew > this.o.renewDeadlineMs) {
        this.leading = false;
        this.o.log.error('lost leadership', { lease: this.o.name });
        handlers.onLost();
        return;
      }
      this.timer = this.o.clock.setTimer(this.o.retryPeriodMs, () => void tick());
    };
    void tick();
  }

  /** Stops campaigning; a leader hands the lease back so a standby can take over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    if (!this.leading) return;
    this.leading = false;
    const lease = await this.o.client.get<Lease>({
      kind: 'Lease',
      name: this.o.name,
      namespace: this.o.namespace,
    });
    if (!lease || lease.spec?.holderIdentity !== this.o.identity) return;
    const now = this.o.clock.now();
    lease.spec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(now) };
    await this.o.client.update(lease).catch(() => undefined);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { client, clock, name, namespace, identity } = this.o;
    const now = clock.now();
    const durationSeconds = Math.ceil(this.o.leaseDurationMs / 1000);
    const lease = await client.get<Lease>({ kind: 'Lease', name, namespace });
    if (!lease) {
      const fresh: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          name,
          namespace,
          ...(Object.keys(this.o.annotations).length ? { annotations: this.o.annotations } : {}),
        },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      };
      return client.create(fresh).then(
        () => true,
        (e: unknown) => (isAlreadyExists(e) ? false : Promise.reject(e)),
      );
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const renewTime = spec.renewTime ?? '';
    if (!this.observed || this.observed.holder !== holder || this.observed.renewTime !== renewTime) {
      this.observed = { holder, renewTime, at: now };
    }
    const heldByOther = holder !== '' && holder !== identity;
    const leaseMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (heldByOther && now - this.observed.at < leaseMs) return false;
    if (Object.keys(this.o.annotations).length)
      lease.metadata.annotations = { ...lease.metadata.annotations, ...this.o.annotations };
    lease.spec = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds: durationSeconds,
      renewTime: microTime(now),
      ...(holder !== identity
        ? { acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }
        : {}),
    };
    return client.update(lease).then(
      () => true,
      (e: unknown) => (isConflict(e) ? false : Promise.reject(e)),
    );
  }
}

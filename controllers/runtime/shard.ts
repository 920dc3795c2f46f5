import type { ObjectCache } from './informer.ts';
import { splitKey, type KubeObject } from './kube/types.ts';

/** The Tenant label that assigns a tenant (and everything in its namespace) to a shard. */
export const SHARD_LABEL = 'palisade.dev/shard';

const LEASE = 'palisade-operator-leader';

/** Whether a controller's keys are Tenants (cluster-scoped) or objects in tenant namespaces. */
export type ShardScope = 'tenant' | 'namespace';

/** What a shard needs to know about tenants, all of it from state only Palisade and platform engineers write. */
export interface ShardSources {
  /** Every Tenant (cluster-scoped: their labels are written by platform engineers, not by tenants). */
  tenants: ObjectCache<KubeObject>;
  /** The Tenant owning a namespace, from Palisade's own record of it (never a namespace's labels). */
  tenantOfNamespace(namespace: string): string | undefined;
}

/**
 * One shard of the tenants, as Flux and Argo CD shard their controllers: a replica set started with
 * `--shard=<key>` reconciles the Tenants labelled `palisade.dev/shard=<key>` and everything in their
 * namespaces, under its own Lease; the default replica set (no `--shard`) reconciles the Tenants without
 * the label, objects in namespaces no Tenant owns, and the installation-wide work (root rotation, the
 * internal CA, policies), which must run exactly once.
 *
 * NB: a namespaced object's shard comes from its owning Tenant, found through Palisade's record of the
 * namespace: a tenant can write its namespace's labels and its objects' labels, but cannot move itself
 * to another shard (or into two at once).
 */
export class Shard {
  /** Undefined for the default shard. */
  readonly key: string | undefined;
  private sources: ShardSources | undefined;
  private readonly movedIn: ((tenant: KubeObject) => void)[] = [];

  constructor(key?: string) {
    this.key = key || undefined;
  }

  get isDefault(): boolean {
    return this.key === undefined;
  }

  /** Each shard elects its own leader: shards run side by side, each with one active replica. */
  get leaseName(): string {
    return this.key ? `${LEASE}-${this.key}` : LEASE;
  }

  /**
   * Reads ownership from `sources` from now on, and follows Tenants moving in (O(1) per event, from the
   * cache's previous object: no copy of which Tenants are this shard's).
   */
  bind(sources: ShardSources): void {
    this.sources = sources;
    const follow = (t: KubeObject, old: KubeObject | undefined) => {
      if (!this.ownsTenant(t) || (old && this.ownsTenant(old))) return;
      for (const fn of this.movedIn) fn(t);
    };
    sources.tenants.on('add', (t) => follow(t, undefined));
    sources.tenants.on('update', follow);
  }

  /** Calls `fn` with each Tenant that becomes this shard's (created, or relabelled into it). */
  onTenantMovedIn(fn: (tenant: KubeObject) => void): void {
    this.movedIn.push(fn);
  }

  /** Whether `tenant` is this shard's: its label names this shard (the default shard: no label). */
  ownsTenant(tenant: KubeObject): boolean {
    return (tenant.metadata.labels?.[SHARD_LABEL] || undefined) === this.key;
  }

  /**
   * Whether a controller of `scope` here reconciles `key`. A Tenant no longer cached is let through (its
   * reconcile only forgets it). A namespace no live Tenant owns belongs to the default shard, which
   * says so in the object's status.
   */
  owns(scope: ShardScope, key: string): boolean {
    const s = this.sources;
    if (!s) return true;
    if (scope === 'tenant') {
      const t = s.tenants.get(key);
      return !t || this.ownsTenant(t);
    }
    const tenant = s.tenantOfNamespace(splitKey(key).namespace ?? '');
    const t = tenant ? s.tenants.get(tenant) : undefined;
    return t ? this.ownsTenant(t) : this.isDefault;
  }
}

import { ENTRY_KIND_LABEL, EntryKind, entryKind, isKeystoreEntry } from '../keystore/entries.ts';
import { recordOf } from '../keystore/tenants.ts';
import { ApiError, describeError } from '../runtime/errors.ts';
import { labelledKeys, type ObjectCache } from '../runtime/informer.ts';
import type { KubeApi } from '../runtime/kube/api.ts';
import { splitKey, type KubeObject, type Secret } from '../runtime/kube/types.ts';
import type { Logger } from '../runtime/log.ts';
import type { ManagedNamespaces } from '../runtime/namespaced.ts';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../runtime/objects.ts';

/** How the operator's ServiceAccount is given Secrets in a tenant namespace (the chart's values). */
export interface AccessRole {
  /** The fixed ClusterRole (Secrets only) bound in each tenant namespace; the operator may `bind` only it. */
  clusterRole: string;
  serviceAccount: string;
  serviceAccountNamespace: string;
}

const READABLE_ATTEMPTS = 50;
const READABLE_RETRY_MS = 100;

/** The RoleBinding's name in every tenant namespace (the keystore guard allows this one name). */
export const ACCESS_ROLEBINDING = 'palisade-operator';

export function accessRoleBinding(namespace: string, role: AccessRole): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: ACCESS_ROLEBINDING, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.clusterRole },
    subjects: [
      { kind: 'ServiceAccount', name: role.serviceAccount, namespace: role.serviceAccountNamespace },
    ],
  } as KubeObject;
}

/**
 * Palisade's Secret rights in tenant namespaces, and nowhere else. Which namespaces: those of live tenant
 * records in the keystore (never a label or anything a tenant can write). The Tenant reconcile grants
 * (a RoleBinding to the fixed ClusterRole) when it makes the namespace; the finalizer revokes under
 * `Retain`; a namespace whose watch is refused (its RoleBinding deleted, or an upgrade from a release that
 * read Secrets cluster-wide) is granted again. Without `role` (a development run with a cluster-admin
 * kubeconfig) nothing is bound, and the watches still cover only these namespaces.
 */
export class TenantNamespaceAccess {
  private readonly o: {
    client: KubeApi;
    namespaces: ManagedNamespaces;
    keystoreNamespace: string;
    role?: AccessRole;
    log: Logger;
  };

  constructor(o: TenantNamespaceAccess['o']) {
    this.o = o;
    o.namespaces.onForbidden = (ns) => {
      this.grant(ns).catch((e: unknown) =>
        o.log.warn('could not restore Secret access in a tenant namespace', {
          namespace: ns,
          error: describeError(e),
        }),
      );
    };
  }

  /**
   * At start (a start-up task, caches whole): every live tenant record's namespace becomes managed. Later
   * additions come from {@link grant} only, after the RoleBinding exists — a record is made before its
   * namespace, and a watch started then would be refused.
   */
  resume(secrets: ObjectCache<Secret>): void {
    const ns = this.o.keystoreNamespace;
    // NB: the records alone, one at a time: a list of the keystore would decode every entry at once.
    for (const key of labelledKeys(secrets, ns, ENTRY_KIND_LABEL, EntryKind.Tenant)) {
      const r = this.tenantRecord(secrets.get(splitKey(key).name, ns));
      if (r && !r.retained) this.o.namespaces.add(r.namespace);
    }
  }

  /** A tenant record retained or deleted: its namespace is not managed any more. */
  track(secrets: ObjectCache<Secret>): void {
    const follow = (s: Secret, gone: boolean) => {
      const r = this.tenantRecord(s);
      if (r && (gone || r.retained)) this.o.namespaces.remove(r.namespace);
    };
    secrets.on('update', (s) => follow(s, false));
    secrets.on('delete', (s) => follow(s, true));
  }

  private tenantRecord(s: Secret | undefined) {
    if (!s || !isKeystoreEntry(s, this.o.keystoreNamespace) || entryKind(s) !== EntryKind.Tenant)
      return undefined;
    const r = recordOf(s);
    return r.namespace ? r : undefined;
  }

  /** Makes `namespace` managed now (before its record reaches the cache) and binds the Secret role there. */
  async grant(namespace: string): Promise<void> {
    if (this.o.role) {
      await this.o.client.apply(accessRoleBinding(namespace, this.o.role));
      await this.untilReadable(namespace);
    }
    this.o.namespaces.add(namespace);
  }

  /** The apiserver's RBAC cache learns a new binding a moment later: a watch started before would be refused. */
  private async untilReadable(namespace: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.o.client.list('Secret', { namespace, labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}` });
        return;
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 403) || attempt >= READABLE_ATTEMPTS) throw e;
        await new Promise((r) => setTimeout(r, READABLE_RETRY_MS));
      }
    }
  }

  /**
   * Drops the Secret rights in `namespace` (a retained tenant's: Palisade manages it no more). NB: not
   * managed first, then unbound: the other way round, a reconcile in between still took the namespace for
   * managed and met 403 Forbidden (a CertificateBinding there, enqueued by the Tenant's deletion).
   */
  async revoke(namespace: string): Promise<void> {
    this.o.namespaces.remove(namespace);
    if (this.o.role) {
      await this.o.client.delete({ kind: 'RoleBinding', name: ACCESS_ROLEBINDING, namespace });
    }
  }
}

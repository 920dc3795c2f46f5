import type { Tenant, TenantKey } from '../../crds/v1alpha1/index.ts';
import type { Env } from '../runtime/env.ts';
import type { Keystore } from '../keystore/store.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { KubeApi } from '../runtime/kube/api.ts';
import type { Namespace } from '../runtime/kube/types.ts';
import type { AuditLog } from '../runtime/log.ts';
import type { TenantNamespaceAccess } from './access.ts';
import type { TenantMessagingDeps } from './account.ts';

/** The Tenant kind's clock and randomness (runtime/env.ts). */
export type TenantEnv = Env;

/** Everything the Tenant kind reads and writes through, injected (controller.ts wires the real ones). */
export interface TenantDeps {
  client: KubeApi;
  events: EventRecorder;
  audit: AuditLog;
  env: TenantEnv;
  tenants: ObjectCache<Tenant>;
  namespaces: ObjectCache<Namespace>;
  keystore: Keystore;
  /** Palisade's Secret rights in the tenant's namespace (bound when the namespace is made). */
  access: TenantNamespaceAccess;
  /** The primary TenantKeys (optional: without it the key is applied on every reconcile). */
  tenantKeys?: ObjectCache<TenantKey>;
  /** NATS (account.ts); absent when messaging is not configured. */
  messaging?: TenantMessagingDeps;
}

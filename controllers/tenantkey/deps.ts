import type { TenantKey } from '../../crds/v1alpha1/index.ts';
import type { Env } from '../runtime/env.ts';
import type { Keystore } from '../keystore/store.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { KubeApi } from '../runtime/kube/api.ts';
import type { AuditLog } from '../runtime/log.ts';

/** The TenantKey kind's clock and randomness (runtime/env.ts). */
export type TenantKeyEnv = Env;

/** Everything the TenantKey kind reads and writes through, injected (controller.ts wires the real ones). */
export interface TenantKeyDeps {
  client: KubeApi;
  events: EventRecorder;
  audit: AuditLog;
  env: TenantKeyEnv;
  tenantKeys: ObjectCache<TenantKey>;
  keystore: Keystore;
}

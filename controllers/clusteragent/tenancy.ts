/**
 * Whether a ClusterAgent's namespace gives it a tenant whose NATS account can sign its credentials, and
 * if not, which of two very different things is the matter: the agent is in the wrong place
 * (TenantNotFound: it will not get credentials there, however long it waits) or its tenant is on its way
 * (TenantNotReady). Pure: the tenant comes from Palisade's own record of the namespace, never from labels.
 */
import type { Tenant } from '../../crds/v1alpha1/index.ts';
import type { TenantRecord } from '../keystore/tenants.ts';
import { MessagingCondition } from '../tenant/account.ts';
import { AgentReason } from './conditions.ts';

export interface TenancyProblem {
  reason: typeof AgentReason.TenantNotFound | typeof AgentReason.TenantNotReady;
  message: string;
}

export interface TenancyInput {
  namespace: string;
  /** Palisade's record of the tenant owning the namespace (keystore), if any. */
  record: TenantRecord | undefined;
  /** The Tenant the record names, from the cache. */
  tenant: Tenant | undefined;
  /** Whether the tenant's NATS account key is in the keystore. */
  accountStored: boolean;
  /** Whether messaging is on (default): only then must the account be ready. */
  messaging?: boolean;
}

/** Undefined when the agent's tenant can issue credentials; otherwise why not, for a person to act on. */
export function tenancyProblem(i: TenancyInput): TenancyProblem | undefined {
  const ns = i.namespace;
  if (!i.record) {
    return {
      reason: AgentReason.TenantNotFound,
      message: `namespace ${ns} is not a Tenant's namespace, so this ClusterAgent gets no credentials here: create it in the namespace of the Tenant it belongs to (a Tenant's spec.namespace; kubectl get tenants lists them)`,
    };
  }
  const name = i.record.tenant;
  if (i.record.retained) {
    return {
      reason: AgentReason.TenantNotFound,
      message: `Tenant ${name}, which owned namespace ${ns}, was deleted (deletionPolicy Retain kept the namespace and its keys): this ClusterAgent gets no credentials unless Tenant ${name} is created again`,
    };
  }
  if (!i.tenant) {
    return { reason: AgentReason.TenantNotReady, message: `Tenant ${name} is not known to the operator yet` };
  }
  if (i.tenant.metadata.deletionTimestamp) {
    return {
      reason: AgentReason.TenantNotReady,
      message: `Tenant ${name} is being deleted: no credentials are issued in its namespace`,
    };
  }
  if (i.messaging === false) return undefined;
  const messaging = i.tenant.status?.conditions?.find((c) => c.type === MessagingCondition);
  // NB: credentials are issued only once the account is on the resolver, so they work when they appear.
  if (messaging?.status !== 'True' || !i.accountStored) {
    const said = messaging ? `${messaging.reason}: ${messaging.message}` : 'no status yet';
    return {
      reason: AgentReason.TenantNotReady,
      message: `the NATS account of Tenant ${name} is not ready yet (${MessagingCondition} ${said})`,
    };
  }
  return undefined;
}

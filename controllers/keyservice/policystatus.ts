/**
 * The KeyAccessPolicy status (leader only, like every controller): `TenantsFound` says whether every Tenant
 * the policy names exists, and `Ready` summarizes it. A policy naming a missing Tenant still works for the
 * others; it grants nothing on the missing one until a Tenant of that name exists. Enforcement itself reads
 * only the spec, on every replica (handlers.ts).
 */
import type { KeyAccessPolicy, KeyAccessPolicyStatus, Tenant } from '../../crds/v1alpha1/index.ts';
import { readySummary, setConditions, type ConditionInput } from '../runtime/conditions.ts';
import { watchMapped } from '../runtime/controller.ts';
import type { Informer } from '../runtime/informer.ts';
import type { Manager } from '../runtime/manager.ts';
import { reconcilerFor } from '../runtime/reconciler.ts';

export const KeyAccessPolicyCondition = { TenantsFound: 'TenantsFound', Ready: 'Ready' } as const;
export const KeyAccessPolicyReason = {
  TenantsFound: 'TenantsFound',
  TenantNotFound: 'TenantNotFound',
  Accepted: 'Accepted',
} as const;

const TENANT_INDEX = 'keyservice-policy-tenant';

/** The conditions of a policy, given which Tenant names exist. Pure. */
export function policyConditions(p: KeyAccessPolicy, exists: (tenant: string) => boolean): ConditionInput[] {
  const missing = p.spec.tenants.filter((t) => !exists(t));
  const found: ConditionInput = missing.length
    ? {
        type: KeyAccessPolicyCondition.TenantsFound,
        status: 'False',
        reason: KeyAccessPolicyReason.TenantNotFound,
        message: `no Tenant named ${missing.join(', ')}: this policy grants nothing on ${missing.length > 1 ? 'them' : 'it'} until one exists`,
      }
    : {
        type: KeyAccessPolicyCondition.TenantsFound,
        status: 'True',
        reason: KeyAccessPolicyReason.TenantsFound,
        message: `every Tenant named exists (${p.spec.tenants.length})`,
      };
  return [found, readySummary([found], KeyAccessPolicyReason.Accepted)];
}

export function setupPolicyStatus(mgr: Manager, o: { policies: Informer<KeyAccessPolicy> }) {
  const tenants = mgr.informer<Tenant>('Tenant');
  o.policies.addIndex(TENANT_INDEX, (p) => p.spec?.tenants ?? []);
  const reconcile = reconcilerFor<KeyAccessPolicy, KeyAccessPolicyStatus>(
    { cache: o.policies, client: mgr.client },
    {
      reconcile: async (p) => ({
        status: {
          observedGeneration: p.metadata.generation ?? 0,
          conditions: setConditions(
            p.status?.conditions,
            policyConditions(p, (t) => !!tenants.get(t)),
            p.metadata.generation,
            new Date(mgr.clock.now()),
          ),
        },
      }),
    },
  );
  return mgr.addController({
    name: 'keyaccesspolicy',
    primary: o.policies,
    watches: [watchMapped(tenants, (t) => o.policies.byIndex(TENANT_INDEX, t.metadata.name))],
    reconcile,
  });
}

/** palisade.dev/v1alpha1: the object types of the kinds and their CustomResourceDefinitions. */
import { certificateBindingCRD } from './certificatebinding.ts';
import { clusterAgentCRD } from './clusteragent.ts';
import { keyAccessPolicyCRD } from './keyaccesspolicy.ts';
import type { CustomResourceDefinition } from './common.ts';
import { tenantCRD } from './tenant.ts';
import { tenantKeyCRD } from './tenantkey.ts';

export * from './common.ts';
export * from './tenant.ts';
export * from './tenantkey.ts';
export * from './clusteragent.ts';
export * from './certificatebinding.ts';
export * from './keyaccesspolicy.ts';
export * from './duration.ts';

/** Every CRD of the version, in the order they are generated and documented. */
export const ALL_CRDS: readonly CustomResourceDefinition[] = [
  tenantCRD,
  tenantKeyCRD,
  clusterAgentCRD,
  certificateBindingCRD,
  keyAccessPolicyCRD,
];

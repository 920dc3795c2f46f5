import { randomBytes } from 'node:crypto';
import { testEnv } from '../../hack/testenv/env.ts';
import { KubeClient, loadKubeConfig } from '../../controllers/runtime/kube/client.ts';
import type { KubeObject } from '../../controllers/runtime/kube/types.ts';
import { eventually } from './operator.ts';

let client: KubeClient | undefined;

/** An admin client for assertions (a different field manager from the operator's). */
export function kube(): KubeClient {
  client ??= new KubeClient(loadKubeConfig(testEnv().kubeconfig), 'palisade-e2e');
  return client;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

export async function kubectl(args: string[], input?: string): Promise<string> {
  const r = await testEnv().kubectl(args, input === undefined ? undefined : { input });
  return r.stdout;
}

export async function ensureNamespace(name: string): Promise<void> {
  await kube().apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

export function tenantManifest(
  name: string,
  spec: Record<string, unknown> = {},
): KubeObject & { spec: Record<string, unknown> } {
  return { apiVersion: 'palisade.dev/v1alpha1', kind: 'Tenant', metadata: { name }, spec };
}

export interface TenantView extends KubeObject {
  spec: { deletionPolicy?: string; namespace?: string };
  status?: {
    uid?: string;
    namespace?: string;
    conditions?: { type: string; status: string; reason: string }[];
  };
}

export function readyStatus(
  obj: { status?: { conditions?: { type: string; status: string; reason: string }[] } } | undefined,
) {
  return obj?.status?.conditions?.find((c) => c.type === 'Ready');
}

export async function getTenant(name: string): Promise<TenantView | undefined> {
  return kube().get<TenantView>({ kind: 'Tenant', name });
}

/**
 * Deletes every Tenant a suite made and waits until they are gone: their finalizers need the suite's
 * operator, so this runs before it stops. A Tenant left half-deleted would be finished by a later suite's
 * operator, in the middle of what that suite measures.
 */
export async function deleteTenants(names: string[], timeoutMs = 90_000): Promise<void> {
  for (const name of names) await kube().delete({ kind: 'Tenant', name });
  await eventually(
    `Tenants gone: ${names.join(', ')}`,
    async () => (await Promise.all(names.map(getTenant))).every((t) => !t),
    timeoutMs,
  );
}

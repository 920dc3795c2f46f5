/**
 * Which moves from the layout before the keystore this installation has completed: the ConfigMap
 * `palisade-layout` in the operator's namespace (no tenant can write there), one entry per move with
 * the time it completed (`keystore`: wrapped keys and account seeds, keystore/migrate.ts; `agents`: agent
 * records and revocation lists, clusteragent/migrate.ts).
 *
 * A move reads Secrets in tenant namespaces, which tenants write. Once it has completed nothing of the
 * earlier layout can appear again (no release writes it), so it does not run again: what a tenant plants
 * there later (an old copy of a since-destroyed key version, a forged record) is never read, and a start
 * does not have to open every tenant namespace's Secrets first. Absent after a restore into a fresh
 * cluster: the moves then run once more and find nothing.
 */
import type { KubeApi } from '../runtime/kube/api.ts';
import type { ConfigMap } from '../runtime/kube/types.ts';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../runtime/objects.ts';

export const LAYOUT_CONFIGMAP = 'palisade-layout';
export type LayoutMove = 'keystore' | 'agents';

const ref = (namespace: string) => ({ kind: 'ConfigMap', name: LAYOUT_CONFIGMAP, namespace });

/** Whether `move` has completed here (read live: a cache could still miss the entry). */
export async function moveCompleted(client: KubeApi, namespace: string, move: LayoutMove): Promise<boolean> {
  const cm = await client.get<ConfigMap>(ref(namespace));
  return cm?.data?.[move] !== undefined;
}

/**
 * Records that `move` completed. Create-only or resourceVersion-guarded: a concurrent writer makes this
 * throw, and the start-up task's retry finds the entry or adds it to the newer object.
 */
export async function recordMoveCompleted(
  client: KubeApi,
  namespace: string,
  move: LayoutMove,
  now: Date,
): Promise<void> {
  const cm = await client.get<ConfigMap>(ref(namespace));
  if (cm?.data?.[move] !== undefined) return;
  const at = now.toISOString();
  if (cm) {
    await client.update<ConfigMap>({ ...cm, data: { ...cm.data, [move]: at } });
    return;
  }
  await client.create<ConfigMap>({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: LAYOUT_CONFIGMAP,
      namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [COMPONENT_LABEL]: 'layout' },
    },
    data: { [move]: at },
  });
}

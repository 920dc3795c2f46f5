import { AGENT_LABEL, agentRecordName } from '../keystore/entries.ts';
import type { Keystore } from '../keystore/store.ts';
import { recordOf, tenantOfNamespace, type TenantRecord } from '../keystore/tenants.ts';
import { addRevocations, readRevocations } from '../nats/revocations.ts';
import { NATS_SECRETS, NatsComponent } from '../nats/secrets.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { Secret } from '../runtime/kube/types.ts';
import type { AuditLog } from '../runtime/log.ts';
import { COMPONENT_LABEL } from '../runtime/objects.ts';
import { Annotation } from './conditions.ts';
import { agentRecordSecret, type AgentRecord } from './record.ts';

/** Annotations of the delivered credentials Secret in the layout before the keystore. */
const Legacy = {
  Trigger: 'palisade.dev/rotation-trigger',
  PreviousUser: 'palisade.dev/previous-nats-user',
} as const;

interface Deps {
  keystore: Keystore;
  secrets: ObjectCache<Secret>;
  audit: AuditLog;
  now(): Date;
}

/**
 * Upgrade from the layout before the keystore, for messaging: each agent's credentials record is made from
 * its delivered Secret's annotations (the only place the earlier release kept them; trusted this once),
 * and each tenant's revocation list is merged into the keystore's (entries only added) and its old Secret
 * deleted. Runs at start after the keystore's own move (keystore/migrate.ts); a no-op afterwards.
 */
export async function migrateAgentRecords(d: Deps): Promise<number> {
  let moved = 0;
  const outside = d.secrets.list().filter((s) => s.metadata.namespace !== d.keystore.namespace);
  for (const s of outside.filter(
    (x) => x.metadata.labels?.[COMPONENT_LABEL] === NatsComponent.AgentCredentials,
  )) {
    const agent = s.metadata.labels?.[AGENT_LABEL];
    const tenant = await recordFor(d, s.metadata.namespace ?? '');
    const record = legacyRecord(s);
    if (!agent || !tenant || !record) continue;
    const name = agentRecordName(tenant.uid, agent);
    if (
      d.keystore.get(name) ||
      (await d.keystore.client.get<Secret>({ kind: 'Secret', name, namespace: d.keystore.namespace }))
    )
      continue;
    const made = await d.keystore.createOnce(
      agentRecordSecret({
        keystoreNamespace: d.keystore.namespace,
        uid: tenant.uid,
        agent,
        tenantNamespace: tenant.namespace,
        record,
      }),
    );
    if (made.created) moved++;
  }
  for (const s of outside.filter((x) => x.metadata.labels?.[COMPONENT_LABEL] === NatsComponent.Revocations)) {
    const tenant = await recordFor(d, s.metadata.namespace ?? '');
    if (!tenant || s.metadata.name !== NATS_SECRETS.revocations) continue;
    const entries = readRevocations(s);
    if (Object.keys(entries).length > 0)
      await addRevocations(
        { client: d.keystore.client, now: d.now, keystore: d.keystore },
        tenant.uid,
        tenant.namespace,
        entries,
      );
    await d.keystore.client.delete(
      { kind: 'Secret', name: s.metadata.name, namespace: s.metadata.namespace ?? '' },
      s.metadata.uid ? { uid: s.metadata.uid } : {},
    );
    moved++;
  }
  if (moved)
    d.audit.record({
      action: 'keystore.migrate',
      outcome: 'Success',
      resource: { kind: 'Namespace', name: d.keystore.namespace },
      reason: `moved ${moved} agent credential record(s) and revocation list(s) into the keystore`,
    });
  return moved;
}

function legacyRecord(s: Secret): AgentRecord | undefined {
  const a = s.metadata.annotations ?? {};
  const user = a[Annotation.User];
  const version = Number(a[Annotation.Version]);
  const issuedAt = a[Annotation.IssuedAt];
  if (!user || !Number.isInteger(version) || !issuedAt) return undefined;
  const previous = a[Legacy.PreviousUser];
  return {
    user,
    version,
    issuedAt,
    ...(a[Annotation.ExpiresAt] ? { expiresAt: a[Annotation.ExpiresAt] } : {}),
    trigger: a[Legacy.Trigger] ?? '',
    retired: previous ? [{ user: previous }] : [],
  };
}

async function recordFor(d: Deps, namespace: string): Promise<TenantRecord | undefined> {
  const cached = tenantOfNamespace(d.keystore, namespace);
  if (cached) return cached;
  const live = await d.keystore.liveTenantRecord(namespace);
  return live ? recordOf(live) : undefined;
}

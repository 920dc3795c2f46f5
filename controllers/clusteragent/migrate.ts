import { DNS_LABEL_PATTERN } from '../../crds/v1alpha1/index.ts';
import { AGENT_LABEL, agentRecordName } from '../keystore/entries.ts';
import type { Keystore } from '../keystore/store.ts';
import { recordOf, tenantOfNamespace, type TenantRecord } from '../keystore/tenants.ts';
import { addRevocations, readRevocations } from '../nats/revocations.ts';
import { NATS_SECRETS, NatsComponent } from '../nats/secrets.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { describeError, isInvalid } from '../runtime/errors.ts';
import type { AuditLog, Logger } from '../runtime/log.ts';
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
  log: Logger;
  now(): Date;
}

const DNS_LABEL = new RegExp(DNS_LABEL_PATTERN);
/** A NATS user's public key (nkeys: role U, base32 of 35 bytes), or the account-wide `*`. */
const NATS_USER = /^(U[A-Z2-7]{55}|\*)$/;

/**
 * Upgrade from the layout before the keystore, for messaging: each agent's credentials record is made from
 * its delivered Secret's annotations (the only place the earlier release kept them; trusted this once),
 * and each tenant's revocation list is merged into the keystore's (entries only added) and its old Secret
 * deleted. Runs at start after the keystore's own move (keystore/migrate.ts); a no-op afterwards.
 */
export async function migrateAgentRecords(d: Deps): Promise<number> {
  let moved = 0;
  const outside = d.secrets.list().filter((s) => s.metadata.namespace !== d.keystore.namespace);
  // NB: what follows reads Secrets a tenant can write. Anything malformed is skipped with a warning, and a
  // write the API server refuses as invalid skips its entry, so that no tenant's Secret can hold every
  // controller back at every start.
  const skip = (s: Secret, why: string) =>
    d.log.warn('not moving a Secret of the earlier layout into the keystore', {
      secret: `${s.metadata.namespace}/${s.metadata.name}`,
      error: why,
    });
  for (const s of outside.filter(
    (x) => x.metadata.labels?.[COMPONENT_LABEL] === NatsComponent.AgentCredentials,
  )) {
    const agent = s.metadata.labels?.[AGENT_LABEL];
    const tenant = await recordFor(d, s.metadata.namespace ?? '');
    if (!tenant) continue;
    const record = legacyRecord(s);
    if (!agent || !DNS_LABEL.test(agent) || !record) {
      skip(s, 'not an agent credentials Secret (agent name or credential annotations malformed)');
      continue;
    }
    const name = agentRecordName(tenant.uid, agent);
    if (
      d.keystore.get(name) ||
      (await d.keystore.client.get<Secret>({ kind: 'Secret', name, namespace: d.keystore.namespace }))
    )
      continue;
    try {
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
    } catch (e) {
      if (!isInvalid(e)) throw e;
      skip(s, describeError(e));
    }
  }
  for (const s of outside.filter((x) => x.metadata.labels?.[COMPONENT_LABEL] === NatsComponent.Revocations)) {
    const tenant = await recordFor(d, s.metadata.namespace ?? '');
    if (!tenant || s.metadata.name !== NATS_SECRETS.revocations) continue;
    const entries = Object.fromEntries(
      Object.entries(readRevocations(s)).filter(([user]) => NATS_USER.test(user)),
    );
    try {
      if (Object.keys(entries).length > 0)
        await addRevocations(
          { client: d.keystore.client, now: d.now, keystore: d.keystore },
          tenant.uid,
          tenant.namespace,
          entries,
        );
    } catch (e) {
      if (!isInvalid(e)) throw e;
      skip(s, describeError(e));
      continue;
    }
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
  const user = a[Annotation.User] ?? '';
  const version = Number(a[Annotation.Version]);
  const issuedAt = a[Annotation.IssuedAt] ?? '';
  const expiresAt = a[Annotation.ExpiresAt];
  const previous = a[Legacy.PreviousUser];
  if (
    !NATS_USER.test(user) ||
    user === '*' ||
    !Number.isSafeInteger(version) ||
    version < 1 ||
    Number.isNaN(Date.parse(issuedAt)) ||
    (expiresAt && Number.isNaN(Date.parse(expiresAt))) ||
    (previous && (!NATS_USER.test(previous) || previous === '*'))
  )
    return undefined;
  return {
    user,
    version,
    issuedAt,
    ...(expiresAt ? { expiresAt } : {}),
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

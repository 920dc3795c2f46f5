import { DNS_LABEL_PATTERN, type Tenant } from '../../crds/v1alpha1/index.ts';
import { tenantKeyBinding } from '../crypto/index.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { Secret } from '../runtime/kube/types.ts';
import type { AuditLog, Logger } from '../runtime/log.ts';
import { COMPONENT_LABEL, TENANT_UID_LABEL } from '../runtime/objects.ts';
import {
  accountSeedSlot,
  CREATED_ANNOTATION,
  EntryKind,
  FINGERPRINT_ANNOTATION,
  KEY_ID_ANNOTATION,
  KEY_UID_LABEL,
  keystoreLabels,
  keystoreSecret,
  keyVersionSlot,
  ROOT_KEY_VERSION_LABEL,
  secretBytes,
  SLOT_LABEL,
  TENANT_NAMESPACE_LABEL,
  TENANTKEY_LABEL,
  TRIGGER_ANNOTATION,
  VERSION_LABEL,
  rewrapName,
} from './entries.ts';
import { accountSeedBinding, WRAPPED_DATA_KEY, type Keystore } from './store.ts';
import { recordOf, tenantOfNamespace, tenantRecordSecret, type TenantRecord } from './tenants.ts';
import { parseEnvelope, unwrap, type Binding } from '../crypto/index.ts';
import { describeError, isInvalid } from '../runtime/errors.ts';

const DNS_LABEL = new RegExp(DNS_LABEL_PATTERN);

/** Component labels of the layout before the keystore, when wrapped material lived in tenant namespaces. */
export const LegacyComponent = {
  TenantKey: 'tenant-key',
  NatsAccount: 'nats-account',
} as const;

interface MigrateDeps {
  keystore: Keystore;
  secrets: ObjectCache<Secret>;
  tenants: ObjectCache<Tenant>;
  log: Logger;
  audit: AuditLog;
  now(): Date;
  /** Makes these tenant namespaces' Secrets readable and waits for their caches (step 2 reads them). */
  watchNamespaces(namespaces: string[]): Promise<void>;
  /** Step 1 only: the move of Secrets completed before (keystore/layout.ts). */
  recordsOnly?: boolean;
}

/**
 * Upgrade from the layout before the keystore: runs at every start, before any controller, and does
 * nothing once there is nothing left to move. Nothing is regenerated and no key changes:
 * 1. each Tenant whose status holds a UID gets Palisade's record of its identity (create-only; a Tenant is
 *    cluster-scoped, written by platform engineers, not tenants);
 * 2. each wrapped key version or account seed found in a tenant namespace is copied, bytes unchanged,
 *    into the keystore — only if it unwraps for the tenant the record names (a forged or copied Secret
 *    does not, and is left alone and logged) — and then deleted from the tenant namespace. Once this step
 *    has completed (keystore/layout.ts) it does not run again.
 * Returns how many objects were moved.
 */
export async function migrateToKeystore(d: MigrateDeps): Promise<number> {
  let moved = 0;
  const recorded: string[] = [];
  for (const t of d.tenants.list()) {
    const uid = t.status?.uid;
    const namespace = t.status?.namespace ?? t.spec.namespace ?? `tenant-${t.metadata.name}`;
    if (!uid || tenantOfNamespace(d.keystore, namespace)) continue;
    const made = await d.keystore.createOnce(
      tenantRecordSecret({
        namespace,
        keystoreNamespace: d.keystore.namespace,
        uid,
        tenant: t.metadata.name,
        created: d.now().toISOString(),
      }),
    );
    if (made.created) {
      moved++;
      recorded.push(namespace);
      d.audit.record({
        action: 'tenant.record.migrate',
        outcome: 'Success',
        resource: { kind: 'Tenant', name: t.metadata.name },
        tenantUID: uid,
      });
    }
  }
  if (d.recordsOnly) return moved;
  await d.watchNamespaces(recorded);
  const legacy = d.secrets
    .list()
    .filter((s) => s.metadata.namespace !== d.keystore.namespace)
    .filter((s) => Object.values(LegacyComponent).includes(s.metadata.labels?.[COMPONENT_LABEL] as never));
  for (const s of legacy) {
    const record = await recordFor(d, s.metadata.namespace ?? '');
    if (!record) continue;
    const where = `${s.metadata.namespace}/${s.metadata.name}`;
    const entry =
      s.metadata.labels?.[COMPONENT_LABEL] === LegacyComponent.TenantKey
        ? keyEntry(d, s, record)
        : accountEntry(d, s, record);
    if (typeof entry === 'string') {
      d.log.warn('not moving a Secret of the earlier layout into the keystore', {
        secret: where,
        error: entry,
      });
      continue;
    }
    try {
      unwrap(secretBytes(entry.secret, WRAPPED_DATA_KEY), d.keystore.rootKeys.lookup, entry.binding);
    } catch (e) {
      d.log.warn('not moving a Secret that does not unwrap for its tenant into the keystore', {
        secret: where,
        error: e instanceof Error ? e.message : String(e),
      });
      continue;
    }
    let made: { secret: Secret; created: boolean };
    try {
      made = await d.keystore.createOnce(entry.secret);
    } catch (e) {
      // NB: a name or label the API server refuses is this entry's problem: skipped (and kept where it
      // is), so that one tenant's Secret cannot hold every controller back at every start.
      if (!isInvalid(e)) throw e;
      d.log.warn('not moving a Secret of the earlier layout: the keystore entry it makes is invalid', {
        secret: where,
        error: describeError(e),
      });
      continue;
    }
    if (!made.created && made.secret.data?.[WRAPPED_DATA_KEY] !== entry.secret.data?.[WRAPPED_DATA_KEY]) {
      d.log.warn('not moving a Secret of the earlier layout: the keystore holds other bytes under its name', {
        secret: where,
        entry: made.secret.metadata.name,
      });
      continue;
    }
    await d.keystore.client.delete(
      { kind: 'Secret', name: s.metadata.name, namespace: s.metadata.namespace ?? '' },
      s.metadata.uid ? { uid: s.metadata.uid } : {},
    );
    moved++;
    d.audit.record({
      action: 'keystore.migrate',
      outcome: 'Success',
      resource: { kind: 'Secret', name: entry.secret.metadata.name, namespace: d.keystore.namespace },
      tenantUID: record.uid,
      reason: `moved from ${where}`,
    });
  }
  if (moved) d.log.info('moved key material into the keystore', { moved });
  return moved;
}

async function recordFor(d: MigrateDeps, namespace: string): Promise<TenantRecord | undefined> {
  const cached = tenantOfNamespace(d.keystore, namespace);
  if (cached) return cached;
  const live = await d.keystore.liveTenantRecord(namespace);
  return live ? recordOf(live) : undefined;
}

/**
 * What a legacy Secret becomes in the keystore, or why it cannot move. Everything but the wrapped bytes
 * is tenant-writable, so the root version comes from the envelope's header (which unwrap then checks),
 * never from the Secret's label: a label naming another root would let the rewrap loop and root
 * retirement take the one real wrap for stale.
 */
type LegacyEntry = { secret: Secret; binding: Binding };

function rootVersionOf(wrapped: string): number | string {
  try {
    return parseEnvelope(new Uint8Array(Buffer.from(wrapped, 'base64'))).wrappingKey.version;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

function keyEntry(d: MigrateDeps, s: Secret, record: TenantRecord): LegacyEntry | string {
  const l = s.metadata.labels ?? {};
  const a = s.metadata.annotations ?? {};
  const keyName = l[TENANTKEY_LABEL] ?? '';
  const version = Number(l[VERSION_LABEL]);
  const wrapped = s.data?.wrapped;
  if (!DNS_LABEL.test(keyName) || !Number.isSafeInteger(version) || version < 1 || !wrapped)
    return 'not a wrapped TenantKey version (key name, version or wrapped bytes missing or malformed)';
  const root = rootVersionOf(wrapped);
  if (typeof root === 'string') return root;
  const slot = keyVersionSlot(record.uid, keyName, version);
  // NB: a legacy `<key>-v<N>-r<R>` keeps a root suffix, so two wraps of one version never collide.
  const name = s.metadata.name === `${keyName}-v${version}` ? slot : rewrapName(slot, root);
  const secret = keystoreSecret({
    name,
    namespace: d.keystore.namespace,
    labels: keystoreLabels(EntryKind.TenantKey, record.uid, {
      [TENANT_NAMESPACE_LABEL]: record.namespace,
      [TENANTKEY_LABEL]: keyName,
      [VERSION_LABEL]: String(version),
      [ROOT_KEY_VERSION_LABEL]: String(root),
      [KEY_UID_LABEL]: l[KEY_UID_LABEL] ?? '',
      [SLOT_LABEL]: slot,
    }),
    annotations: {
      [KEY_ID_ANNOTATION]: a[KEY_ID_ANNOTATION] ?? '',
      [FINGERPRINT_ANNOTATION]: a[FINGERPRINT_ANNOTATION] ?? '',
      [CREATED_ANNOTATION]: a[CREATED_ANNOTATION] ?? s.metadata.creationTimestamp ?? '',
      [TRIGGER_ANNOTATION]: a[TRIGGER_ANNOTATION] ?? '',
    },
    data: {},
    immutable: true,
  });
  secret.data = { [WRAPPED_DATA_KEY]: wrapped };
  const binding = tenantKeyBinding({
    tenantUID: record.uid,
    keyName,
    keyUID: l[KEY_UID_LABEL] ?? '',
    version,
  });
  return { secret, binding };
}

function accountEntry(d: MigrateDeps, s: Secret, record: TenantRecord): LegacyEntry | string {
  const wrapped = s.data?.['seed.wrapped'];
  if (!wrapped || s.metadata.labels?.[TENANT_UID_LABEL] !== record.uid)
    return "not this tenant's wrapped NATS account seed";
  const root = rootVersionOf(wrapped);
  if (typeof root === 'string') return root;
  const slot = accountSeedSlot(record.uid);
  const secret = keystoreSecret({
    name: slot,
    namespace: d.keystore.namespace,
    labels: keystoreLabels(EntryKind.NatsAccount, record.uid, {
      [TENANT_NAMESPACE_LABEL]: record.namespace,
      [ROOT_KEY_VERSION_LABEL]: String(root),
      [SLOT_LABEL]: slot,
    }),
    data: {},
    immutable: true,
  });
  secret.data = { [WRAPPED_DATA_KEY]: wrapped };
  // NB: without the legacy Secret's public key annotation, which could name another tenant's account:
  // the Tenant controller reads the key from the seed when the annotation is absent (tenant/account.ts).
  return { secret, binding: accountSeedBinding(record.uid) };
}

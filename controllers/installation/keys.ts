import { generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { fingerprint, generateDataKey, keyId, type RandomSource } from '../crypto/index.ts';
import { createOrAdopt } from '../runtime/reconciler.ts';
import type { KubeApi } from '../runtime/kube/api.ts';
import type { ConfigMap, Secret } from '../runtime/kube/types.ts';
import type { AuditLog, Logger } from '../runtime/log.ts';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../runtime/objects.ts';
import { jwkThumbprint, publicJwk } from './jwk.ts';
import { jwksOf, scheduleOf } from './jwks.ts';
import { observeInstallation, saveRecord, type Observation } from './observe.ts';
import {
  Component,
  FINGERPRINT_ANNOTATION,
  installationSecret,
  JWKS_CONFIGMAP,
  KEY_ID_ANNOTATION,
  secretBytes,
  versionOf,
} from './secrets.ts';
import { assessInstallation, recoveryStep, type Problem } from './verdict.ts';

export { jwkThumbprint } from './jwk.ts';

export interface RootKey {
  version: number;
  keyId: string;
  key: Uint8Array;
}

export interface InstallationKeys {
  /** Every root key version present, highest (active) last. */
  rootKeys: RootKey[];
  hashSalt: Uint8Array;
  jwks: { keys: JsonWebKey[] };
}

interface Deps {
  client: KubeApi;
  namespace: string;
  rand: RandomSource;
  log: Logger;
  audit: AuditLog;
  now?: () => Date;
}

/**
 * An installation key the record lists (or that wrapped material needs) is missing or is not the
 * recorded key. Nothing was made in its place; `problems` say what and the message says how to recover.
 */
export class InstallationKeysMissing extends Error {
  override name = 'InstallationKeysMissing';
  readonly problems: Problem[];
  /** The record ConfigMap, when there is one (Events are about it). */
  readonly record: ConfigMap | undefined;

  constructor(namespace: string, problems: Problem[], record?: ConfigMap) {
    super(`${problems.map((p) => p.message).join('; ')}. To recover, ${recoveryStep(problems, namespace)}`);
    this.problems = problems;
    this.record = record;
  }
}

/**
 * Makes sure the installation's root key, JWT signing key and hash salt exist and are recorded, and
 * publishes the JWT public keys as a JWKS ConfigMap. Keys are made only where the decision
 * (controllers/installation/verdict.ts) allows it: on a fresh install, or for a key never recorded.
 * A recorded key that is missing (or replaced) is never made again: this throws
 * {@link InstallationKeysMissing} instead, and the caller reports it and checks again later.
 *
 * Idempotent and safe to run from two replicas at once: creation is create-only (a loser adopts the
 * winner's Secret), and so is the record (a loser re-reads it). Existing Secrets are never modified.
 */
export async function ensureInstallationKeys(d: Deps): Promise<InstallationKeys> {
  const now = d.now ?? (() => new Date());
  for (let attempt = 0; attempt < 8; attempt++) {
    const o = await observeInstallation(d);
    const verdict = assessInstallation(o.observed);
    if (verdict.kind === 'lost')
      throw new InstallationKeysMissing(d.namespace, verdict.problems, o.recordObject);
    if (verdict.kind === 'fresh') {
      await createOnce(d, rootKeySecret(d, 1), Component.RootKey);
      continue;
    }
    if (verdict.mint.length) {
      for (const c of verdict.mint) await createOnce(d, mintSecret(d, c), c);
      continue;
    }
    if (await saveRecord({ ...d, now }, o)) return publish(d, o);
  }
  throw new Error('the installation keys or their record kept changing under this replica; retrying');
}

function rootKeySecret(d: Deps, version: number): Secret {
  const key = generateDataKey(d.rand);
  return installationSecret({
    namespace: d.namespace,
    component: Component.RootKey,
    version,
    data: { key },
    annotations: { [KEY_ID_ANNOTATION]: keyId(key), [FINGERPRINT_ANNOTATION]: fingerprint(key) },
  });
}

function mintSecret(d: Deps, component: Component): Secret {
  if (component === Component.HashSalt)
    return installationSecret({ namespace: d.namespace, component, data: { salt: d.rand(32) } });
  if (component === Component.JwtSigningKey) {
    const { privateKey } = generateKeyPairSync('ed25519');
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    return installationSecret({
      namespace: d.namespace,
      component,
      version: 1,
      data: { 'private.der': der },
      annotations: { [KEY_ID_ANNOTATION]: jwkThumbprint(publicJwk(der)) },
    });
  }
  throw new Error(`${component} is never made here`);
}

async function publish(d: Deps, o: Observation): Promise<InstallationKeys> {
  const jwks = jwksOf(scheduleOf(o.jwtSecrets, (d.now ?? (() => new Date()))().getTime()));
  await publishJwks(d, jwks);
  if (!o.saltSecret) throw new Error('the hash salt vanished while it was being recorded');
  return {
    rootKeys: o.rootSecrets.map((s) => ({
      version: versionOf(s),
      keyId: keyId(secretBytes(s, 'key')),
      key: secretBytes(s, 'key'),
    })),
    hashSalt: secretBytes(o.saltSecret, 'salt'),
    jwks,
  };
}

async function createOnce(d: Deps, secret: Secret, component: Component): Promise<void> {
  const resource = { kind: 'Secret', name: secret.metadata.name, namespace: d.namespace };
  let created: boolean;
  try {
    created = (await createOrAdopt(d.client, secret)).created;
  } catch (e) {
    d.audit.record({
      action: `${component}.generate`,
      outcome: 'Failure',
      resource,
      reason: e instanceof Error ? e.message : String(e),
    });
    throw e;
  }
  if (!created) {
    d.log.info('installation key created by another replica; adopting it', {
      component,
      secret: secret.metadata.name,
    });
    return;
  }
  d.log.info('generated installation key', { component, secret: secret.metadata.name });
  d.audit.record({
    action: `${component}.generate`,
    outcome: 'Success',
    resource,
    version: versionOf(secret) || undefined,
    keyId: secret.metadata.annotations?.[KEY_ID_ANNOTATION],
  });
}

/** The JWKS ConfigMap's component label and the key of its document. */
export const JWKS_COMPONENT = 'jwks';
export const JWKS_DATA_KEY = 'jwks.json';

/** Server-side applies the JWKS ConfigMap (a no-op for the API server when nothing changed). */
export async function publishJwks(
  d: { client: KubeApi; namespace: string },
  jwks: { keys: JsonWebKey[] },
): Promise<void> {
  const cm: ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: JWKS_CONFIGMAP,
      namespace: d.namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [COMPONENT_LABEL]: JWKS_COMPONENT },
    },
    data: { [JWKS_DATA_KEY]: JSON.stringify(jwks) },
  };
  await d.client.apply(cm);
}

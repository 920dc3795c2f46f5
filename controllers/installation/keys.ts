import {
  createHash,
  generateKeyPairSync,
  createPrivateKey,
  createPublicKey,
  type JsonWebKey,
} from 'node:crypto';
import { fingerprint, generateDataKey, keyId, type RandomSource } from '../crypto/index.ts';
import { isAlreadyExists } from '../runtime/errors.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { ConfigMap, Secret } from '../runtime/kube/types.ts';
import type { AuditLog, Logger } from '../runtime/log.ts';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../runtime/objects.ts';
import {
  Component,
  FINGERPRINT_ANNOTATION,
  installationSecret,
  JWKS_CONFIGMAP,
  KEY_ID_ANNOTATION,
  secretBytes,
  secretName,
  versionOf,
} from './secrets.ts';

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
  client: KubeClient;
  namespace: string;
  rand: RandomSource;
  log: Logger;
  audit: AuditLog;
}

/**
 * Makes sure the installation's root key, JWT signing key and hash salt exist — generating each only if
 * no version of it exists yet — and publishes the JWT public keys as a JWKS ConfigMap. Idempotent and
 * safe to run from two replicas at once: creation is create-only and a loser adopts the winner's Secret.
 * Existing Secrets are never modified.
 */
export async function ensureInstallationKeys(d: Deps): Promise<InstallationKeys> {
  const root = await ensureFirstVersion(d, Component.RootKey, () => {
    const key = generateDataKey(d.rand);
    return {
      data: { key },
      annotations: { [KEY_ID_ANNOTATION]: keyId(key), [FINGERPRINT_ANNOTATION]: fingerprint(key) },
    };
  });
  const jwt = await ensureFirstVersion(d, Component.JwtSigningKey, () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    return {
      data: { 'private.der': der },
      annotations: { [KEY_ID_ANNOTATION]: jwkThumbprint(publicJwk(der)) },
    };
  });
  const salt = await ensureSingle(d, Component.HashSalt, () => ({ data: { salt: d.rand(32) } }));
  const jwks = {
    keys: jwt.map((s) => ({
      ...publicJwk(secretBytes(s, 'private.der')),
      use: 'sig',
      alg: 'EdDSA',
      kid: s.metadata.annotations?.[KEY_ID_ANNOTATION] ?? '',
    })),
  };
  await publishJwks(d, jwks);
  return {
    rootKeys: root.map((s) => ({
      version: versionOf(s),
      keyId: s.metadata.annotations?.[KEY_ID_ANNOTATION] ?? '',
      key: secretBytes(s, 'key'),
    })),
    hashSalt: secretBytes(salt, 'salt'),
    jwks,
  };
}

type Generated = { data: Record<string, Uint8Array>; annotations?: Record<string, string> };

async function listVersions(d: Deps, component: Component): Promise<Secret[]> {
  const list = await d.client.list<Secret>('Secret', {
    namespace: d.namespace,
    labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY},palisade.dev/component=${component}`,
  });
  return list.items.filter((s) => versionOf(s) > 0).sort((a, b) => versionOf(a) - versionOf(b));
}

async function ensureFirstVersion(
  d: Deps,
  component: Component,
  generate: () => Generated,
): Promise<Secret[]> {
  const existing = await listVersions(d, component);
  if (existing.length > 0) return existing;
  const secret = installationSecret({ namespace: d.namespace, component, version: 1, ...generate() });
  await createOnce(d, secret, component);
  return listVersions(d, component);
}

async function ensureSingle(d: Deps, component: Component, generate: () => Generated): Promise<Secret> {
  const name = secretName(component);
  const existing = await d.client.get<Secret>({ kind: 'Secret', name, namespace: d.namespace });
  if (existing) return existing;
  await createOnce(d, installationSecret({ namespace: d.namespace, component, ...generate() }), component);
  const created = await d.client.get<Secret>({ kind: 'Secret', name, namespace: d.namespace });
  if (!created) throw new Error(`Secret ${name} vanished right after creation`);
  return created;
}

async function createOnce(d: Deps, secret: Secret, component: Component): Promise<void> {
  const resource = { kind: 'Secret', name: secret.metadata.name, namespace: d.namespace };
  try {
    await d.client.create(secret);
    d.log.info('generated installation key', { component, secret: secret.metadata.name });
    d.audit.record({
      action: `${component}.generate`,
      outcome: 'Success',
      resource,
      version: versionOf(secret) || undefined,
      keyId: secret.metadata.annotations?.[KEY_ID_ANNOTATION],
    });
  } catch (e) {
    if (!isAlreadyExists(e)) {
      d.audit.record({
        action: `${component}.generate`,
        outcome: 'Failure',
        resource,
        reason: e instanceof Error ? e.message : String(e),
      });
      throw e;
    }
    d.log.info('installation key created by another replica; adopting it', {
      component,
      secret: secret.metadata.name,
    });
  }
}

async function publishJwks(d: Deps, jwks: { keys: JsonWebKey[] }): Promise<void> {
  const cm: ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: JWKS_CONFIGMAP,
      namespace: d.namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY, 'palisade.dev/component': 'jwks' },
    },
    data: { 'jwks.json': JSON.stringify(jwks) },
  };
  await d.client.apply(cm);
}

function publicJwk(pkcs8Der: Uint8Array): JsonWebKey {
  const pub = createPublicKey(createPrivateKey({ key: Buffer.from(pkcs8Der), format: 'der', type: 'pkcs8' }));
  const jwk = pub.export({ format: 'jwk' });
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
}

/** RFC 7638 JWK thumbprint (base64url SHA-256 of the canonical members), used as the `kid`. */
export function jwkThumbprint(jwk: JsonWebKey): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  return createHash('sha256').update(canonical).digest('base64url');
}

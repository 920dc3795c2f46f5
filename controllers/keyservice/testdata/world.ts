/**
 * An in-memory key service for unit tests and the benchmark: the real server, handlers, authenticator,
 * policies and key cache over a keystore held in an array (the real index functions), a throwaway CA and
 * a token reviewer that knows a fixed set of tokens. No API server.
 */
import assert from 'node:assert/strict';
import { identifiersService, tenantDataService, tokensService } from '../proto.ts';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { PasswordParams } from '../../crypto/index.ts';
import { jwkThumbprint, publicJwk } from '../../installation/jwk.ts';
import { Component, installationSecret, KEY_ID_ANNOTATION } from '../../installation/secrets.ts';
import type { SaltVersion } from '../../installation/saltring.ts';
import { FakeApiServer } from '../../runtime/testing/fakeapi.ts';
import { serviceHandlers } from '../calls.ts';
import { identifierOperations } from '../hashing.ts';
import { RefreshFamilies } from '../refreshstore.ts';
import { tokenOperations } from '../tokens.ts';
import type {
  KeyAccessPolicy,
  KeyOperation,
  TenantKey,
  TenantKeySpec,
} from '../../../crds/v1alpha1/index.ts';
import {
  fingerprint,
  generateDataKey,
  keyId,
  keyringOf,
  tenantKeyBinding,
  wrap,
  wrappingKeyRef,
} from '../../crypto/index.ts';
import { keystoreIndex } from '../../keystore/entries.ts';
import { tenantRecordSecret } from '../../keystore/tenants.ts';
import { createCA, issueLeaf, type IssuedPair } from '../../pki/index.ts';
import type { AuditLog, AuditRecord } from '../../runtime/log.ts';
import type { Secret } from '../../runtime/kube/types.ts';
import { versionSecret } from '../../tenantkey/secrets.ts';
import { Authenticator, type TokenReviewer } from '../auth.ts';
import { KeyServiceCallError, KeyServiceClient } from '../client.ts';
import { tenantDataHandlers } from '../handlers.ts';
import { TenantKeyCache } from '../keycache.ts';
import { policySubjects, subjectKeys, type Identity } from '../policy.ts';
import { startKeyServer, type GrpcService, type KeyServer } from '../server.ts';

export const NS = 'palisade-system';
export const rand = (n: number) => new Uint8Array(randomBytes(n));

/** A ServiceAccount identity, as a KeyAccessPolicy subject names it. */
export const sa = (namespace: string, name: string) => ({ kind: 'ServiceAccount' as const, namespace, name });

/** The key service's refusal of `p`; fails the test when the call succeeds or fails otherwise. */
export async function refusal(p: Promise<unknown>): Promise<KeyServiceCallError> {
  const e = await p.then(
    () => assert.fail('the call succeeded'),
    (err: unknown) => err,
  );
  assert.ok(e instanceof KeyServiceCallError, String(e));
  return e;
}

export interface World {
  server: KeyServer;
  ca: IssuedPair;
  audit: AuditRecord[];
  policies: KeyAccessPolicy[];
  tenantKeys: Map<string, TenantKey>;
  entries: Secret[];
  keys: TenantKeyCache;
  /** The hash salt versions the Identifiers service uses (push to rotate). */
  salts: SaltVersion[];
  /** The JWT signing key Secrets the Tokens service uses (push to rotate). */
  signingKeys: Secret[];
  /** The in-memory API server holding refresh token families. */
  api: FakeApiServer;
  /** Adds version `version` of a tenant's key (as a rotation would); returns the key bytes. */
  addVersion(tenant: string, key: string, version: number): Uint8Array;
  /** Changes a TenantKey's spec (its version policy), as an edit would. */
  setSpec(tenant: string, key: string, spec: Partial<TenantKeySpec>): void;
  /** A client with a token (`sa:<ns>:<name>` tokens are known) or a client certificate of the CA. */
  client(auth: { token?: string; cert?: IssuedPair; coalesce?: boolean }): KeyServiceClient;
  leaf(dnsNames: string[]): Promise<IssuedPair>;
  grant(
    name: string,
    subject: Identity,
    tenants: string[],
    operations: KeyOperation[],
    keys?: string[],
  ): void;
  close(): Promise<void>;
}

const uidOf = (tenant: string) => createUid(tenant);
function createUid(tenant: string): string {
  return Buffer.from(tenant.padEnd(6, '0').slice(0, 6)).toString('hex');
}

/** Tokens `sa:<namespace>:<name>` are ServiceAccounts; anything else is refused. */
export const fakeReviewer: TokenReviewer = {
  review: async (token) => {
    const m = /^sa:([^:]+):([^:]+)$/.exec(token);
    return m
      ? { authenticated: true, username: `system:serviceaccount:${m[1]}:${m[2]}` }
      : { authenticated: false, reason: 'invalid bearer token' };
  },
};

/** A JWT signing key Secret as the installation makes it (version `version`, active from `activateAt`). */
export function signingKeySecret(version: number, activateAt?: string): Secret {
  const der = generateKeyPairSync('ed25519').privateKey.export({ format: 'der', type: 'pkcs8' });
  const s = installationSecret({
    namespace: NS,
    component: Component.JwtSigningKey,
    version,
    data: { 'private.der': der },
    annotations: {
      [KEY_ID_ANNOTATION]: jwkThumbprint(publicJwk(der)),
      ...(activateAt ? { 'palisade.dev/activate-at': activateAt } : {}),
    },
  });
  return { ...s, metadata: { ...s.metadata, resourceVersion: `${version}` } };
}

export const TOKEN_ISSUER = 'https://palisade-keyservice.test';

export async function startWorld(o: {
  tenants: string[];
  audit?: AuditLog;
  /** Called after every call, as the operator's metrics are (setup.ts). */
  observe?: (method: string, code: string, seconds: number) => void;
  /** More services on the same server (the benchmark's transport floor). */
  services?: readonly GrpcService[];
  maxKeys?: number;
  passwordParams?: PasswordParams;
}): Promise<World> {
  const now = Date.now();
  const ca = await createCA({
    subject: 'CN=test internal CA',
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(now + 86_400_000),
    rand,
  });
  const leaf = (dnsNames: string[]) =>
    issueLeaf({
      ca,
      dnsNames,
      ipAddresses: ['127.0.0.1'],
      notBefore: new Date(now - 3_600_000),
      notAfter: new Date(now + 86_400_000),
      rand,
    });
  const serverPair = await leaf(['localhost']);
  const rootKey = generateDataKey(rand);
  const root = wrappingKeyRef(1, rootKey);
  const entries: Secret[] = [];
  const tenantKeys = new Map<string, TenantKey>();
  const policies: KeyAccessPolicy[] = [];
  const audit: AuditRecord[] = [];
  const index = keystoreIndex(NS);

  const nsOf = (tenant: string) => `tenant-${tenant}`;
  for (const t of o.tenants) {
    entries.push(
      tenantRecordSecret({
        namespace: nsOf(t),
        keystoreNamespace: NS,
        uid: uidOf(t),
        tenant: t,
        created: '',
      }),
    );
  }
  const keys = new TenantKeyCache(
    {
      keystore: { namespace: NS, find: (k: string) => entries.filter((s) => index(s).includes(k)) },
      rootKeys: { lookup: keyringOf(new Map([[1, rootKey]])), versions: () => [{ version: 1 }] },
      tenantKeys: { get: (name: string, namespace?: string) => tenantKeys.get(`${namespace}/${name}`) },
      rand,
    },
    { maxKeys: o.maxKeys },
  );
  const addVersion = (tenant: string, key: string, version: number) => {
    const id = `${nsOf(tenant)}/${key}`;
    let tk = tenantKeys.get(id);
    if (!tk) {
      tk = {
        apiVersion: 'palisade.dev/v1alpha1',
        kind: 'TenantKey',
        metadata: { name: key, namespace: nsOf(tenant), uid: `uid-${tenant}-${key}`, generation: 1 },
        spec: { algorithm: 'XChaCha20-Poly1305', retainedVersions: 10 },
      } as TenantKey;
      tenantKeys.set(id, tk);
    }
    const bytes = generateDataKey(rand);
    const f = {
      tenantUID: uidOf(tenant),
      tenantNamespace: nsOf(tenant),
      keyName: key,
      keyUID: tk.metadata.uid ?? '',
      version,
      rootVersion: 1,
      keyId: keyId(bytes),
      fingerprint: fingerprint(bytes),
      created: new Date(now).toISOString(),
      trigger: '',
    };
    const b = tenantKeyBinding({ tenantUID: f.tenantUID, keyName: key, keyUID: f.keyUID, version });
    const s = versionSecret(f, wrap(bytes, rootKey, root, b, rand), false, NS);
    entries.push(s);
    keys.onSecret(s);
    return bytes;
  };
  const setSpec = (tenant: string, key: string, spec: Partial<TenantKeySpec>) => {
    const id = `${nsOf(tenant)}/${key}`;
    const tk = tenantKeys.get(id) as TenantKey;
    const next = {
      ...tk,
      metadata: { ...tk.metadata, generation: (tk.metadata.generation ?? 1) + 1 },
      spec: { ...tk.spec, ...spec },
    };
    tenantKeys.set(id, next);
    keys.onTenantKey(next, false);
  };
  const common = {
    authenticator: new Authenticator({ reviewer: fakeReviewer }),
    policiesOf: (id: Identity) => {
      const wanted = new Set(subjectKeys(id));
      return policies.filter((p) => policySubjects(p).some((k) => wanted.has(k)));
    },
    audit: o.audit ?? { record: (r: AuditRecord) => audit.push(r) },
    notReady: () => undefined,
    ...(o.observe ? { observe: o.observe } : {}),
  };
  const handlers = tenantDataHandlers({ ...common, keys, rand });
  const callDeps = { ...common, tenant: (name: string) => keys.tenant(name) };
  const salts: SaltVersion[] = [{ version: 1, salt: rand(32), previousUntil: 0 }];
  const signingKeys: Secret[] = [signingKeySecret(1)];
  const api = new FakeApiServer({ namespaces: [NS] });
  const identifiers = identifierOperations({
    salts: { versions: () => salts, get: (v) => salts.find((s) => s.version === v) },
    rand,
    now: Date.now,
    ...(o.passwordParams ? { passwordParams: o.passwordParams } : {}),
  });
  const tokens = tokenOperations({
    signingKeys: () => signingKeys,
    families: new RefreshFamilies({ client: api.client(), namespace: NS, rand, now: Date.now }),
    issuer: TOKEN_ISSUER,
    rand,
    now: Date.now,
  });
  const server = await startKeyServer({
    address: '127.0.0.1:0',
    tls: { cert: serverPair.certPem, key: serverPair.keyPem, ca: ca.certPem },
    services: [
      { definition: tenantDataService(), handlers },
      {
        definition: identifiersService(),
        handlers: serviceHandlers(callDeps, identifiers),
      },
      {
        definition: tokensService(),
        handlers: serviceHandlers(callDeps, tokens),
      },
      ...(o.services ?? []),
    ],
  });
  const clients: KeyServiceClient[] = [];
  return {
    server,
    ca,
    audit,
    policies,
    tenantKeys,
    entries,
    keys,
    salts,
    signingKeys,
    api,
    addVersion,
    setSpec,
    leaf,
    client: (auth) => {
      const c = new KeyServiceClient({
        address: `127.0.0.1:${server.port}`,
        caPem: ca.certPem,
        serverName: 'localhost',
        ...(auth.token ? { token: () => auth.token as string } : {}),
        ...(auth.cert ? { clientCert: auth.cert } : {}),
        ...(auth.coalesce ? { coalesce: true } : {}),
      });
      clients.push(c);
      return c;
    },
    grant: (name, subject, tenants, operations, keyNames) => {
      policies.push({
        apiVersion: 'palisade.dev/v1alpha1',
        kind: 'KeyAccessPolicy',
        metadata: { name },
        spec: {
          subjects: [
            subject.kind === 'ServiceAccount'
              ? { serviceAccount: { namespace: subject.namespace, name: subject.name } }
              : { certificate: { dnsName: subject.dnsNames[0] ?? '' } },
          ],
          tenants,
          operations,
          ...(keyNames ? { keys: keyNames } : {}),
        },
      });
    },
    close: async () => {
      for (const c of clients) c.close();
      await server.close(1000);
    },
  };
}

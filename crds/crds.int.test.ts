// The CRDs against a real kube-apiserver (installed from crds/*.yaml by hack/testenv/hooks.ts): the
// OpenAPI and CEL validation rejects what it should with a message naming the problem, the examples
// are accepted, defaults are filled in, immutable fields stay put, and a re-apply changes nothing.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../hack/gen-crds.ts';
import { testEnv } from '../hack/testenv/env.ts';
import { API_VERSION } from './v1alpha1/index.ts';

const NS = 'palisade-crd-test';
const MANAGER = '--field-manager=palisade-crd-test';

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } } & Record<
  string,
  unknown
>;

const tenant = (spec?: unknown, name = 'crdtest-invalid'): Obj => ({
  apiVersion: API_VERSION,
  kind: 'Tenant',
  metadata: { name },
  ...(spec === undefined ? {} : { spec }),
});
const namespaced = (kind: string, spec?: unknown, name = 'invalid'): Obj => ({
  apiVersion: API_VERSION,
  kind,
  metadata: { name, namespace: NS },
  ...(spec === undefined ? {} : { spec }),
});
const tenantKey = (spec: unknown) => namespaced('TenantKey', spec);
const agent = (spec?: unknown, name?: string) => namespaced('ClusterAgent', spec, name);
const binding = (spec: unknown) => namespaced('CertificateBinding', spec);
const internal = (extra: Record<string, unknown> = {}) => ({ dnsNames: ['api.example.com'], ...extra });
const certManager = (extra: Record<string, unknown> = {}) => ({
  issuerRef: { name: 'letsencrypt', kind: 'ClusterIssuer' },
  dnsNames: ['api.example.com'],
  ...extra,
});

/** [what is wrong, the object, what stderr must say]. */
const INVALID: [string, Obj, RegExp][] = [
  // Tenant
  [
    'a Tenant name longer than 56 characters',
    tenant({}, 't'.repeat(57)),
    /Tenant name must be at most 56 characters/,
  ],
  ['a Tenant name with a dot', tenant({}, 'acme.corp'), /Tenant name must be a DNS label/],
  [
    'an unknown deletionPolicy',
    tenant({ deletionPolicy: 'Destroy' }),
    /spec\.deletionPolicy: Unsupported value: "Destroy"/,
  ],
  [
    'a namespace that is not a DNS label',
    tenant({ namespace: 'Tenant_NS' }),
    /spec\.namespace: Invalid value: "Tenant_NS".*should match/,
  ],
  [
    'kube-system as namespace',
    tenant({ namespace: 'kube-system' }),
    /spec\.namespace: .*namespace kube-system is reserved for the system/,
  ],
  [
    'default as namespace',
    tenant({ namespace: 'default' }),
    /spec\.namespace: .*namespace default is reserved for the system/,
  ],
  [
    'a displayName over 128 characters',
    tenant({ displayName: 'x'.repeat(129) }),
    /spec\.displayName: Too long/,
  ],
  [
    'no retained key versions',
    tenant({ keyPolicy: { retainedVersions: 0 } }),
    /spec\.keyPolicy\.retainedVersions: Invalid value: 0: .*greater than or equal to 1/,
  ],
  [
    'a key rotation period under an hour',
    tenant({ keyPolicy: { rotationPeriod: '30m' } }),
    /spec\.keyPolicy\.rotationPeriod: .*must be at least 1h, got 30m/,
  ],
  [
    'an unsupported key algorithm',
    tenant({ keyPolicy: { algorithm: 'AES-256-GCM' } }),
    /spec\.keyPolicy\.algorithm: Unsupported value: "AES-256-GCM"/,
  ],
  [
    'a connection limit below -1',
    tenant({ messaging: { maxConnections: -2 } }),
    /spec\.messaging\.maxConnections: Invalid value: -2: .*greater than or equal to -1/,
  ],
  [
    'a payload limit above 64 MiB',
    tenant({ messaging: { maxPayloadBytes: 134217728 } }),
    /spec\.messaging\.maxPayloadBytes: .*less than or equal to 67108864/,
  ],
  [
    'a negative agent limit',
    tenant({ messaging: { maxAgents: -1 } }),
    /spec\.messaging\.maxAgents: Invalid value: -1/,
  ],
  ['an unknown spec field', tenant({ owner: 'me' }), /\.spec\.owner: field not declared in schema/],
  // TenantKey
  [
    'a rotation period in days',
    tenantKey({ rotationPeriod: '1d' }),
    /spec\.rotationPeriod: Invalid value: "1d".*should match/,
  ],
  [
    'a rotation period of ten minutes',
    tenantKey({ rotationPeriod: '10m' }),
    /spec\.rotationPeriod: .*must be at least 1h, got 10m/,
  ],
  [
    'more than 100 retained versions',
    tenantKey({ retainedVersions: 101 }),
    /spec\.retainedVersions: Invalid value: 101: .*less than or equal to 100/,
  ],
  [
    'a minDecryptionVersion of 0',
    tenantKey({ minDecryptionVersion: 0 }),
    /spec\.minDecryptionVersion: Invalid value: 0/,
  ],
  [
    'destroyBelowVersion without minDecryptionVersion',
    tenantKey({ destroyBelowVersion: 2 }),
    /spec\.destroyBelowVersion: Required value: destroyBelowVersion requires minDecryptionVersion/,
  ],
  [
    'destroyBelowVersion above minDecryptionVersion',
    tenantKey({ destroyBelowVersion: 5, minDecryptionVersion: 3 }),
    /spec\.destroyBelowVersion: .*destroyBelowVersion must not exceed minDecryptionVersion/,
  ],
  [
    'a rotation period that overflows a duration',
    tenantKey({ rotationPeriod: '9999999999h' }),
    /spec\.rotationPeriod: .*must be at most 87600h \(10 years\), got 9999999999h/,
  ],
  [
    'a rotation trigger over 253 characters',
    tenantKey({ rotationTrigger: 'r'.repeat(254) }),
    /spec\.rotationTrigger: Too long/,
  ],
  [
    "a TenantKey name too long for its keystore entries' label",
    namespaced('TenantKey', {}, 'k'.repeat(31)),
    /TenantKey name must be at most 30 characters/,
  ],
  // ClusterAgent
  ['a ClusterAgent without spec', agent(), /spec: Required value/],
  ['a ClusterAgent without clusterName', agent({ suspended: true }), /spec\.clusterName: Required value/],
  [
    'an empty clusterName',
    agent({ clusterName: '' }),
    /spec\.clusterName: Invalid value: "": .*at least 1 chars/,
  ],
  [
    'a heartbeat deadline of five seconds',
    agent({ clusterName: 'c', heartbeatDeadline: '5s' }),
    /spec\.heartbeatDeadline: .*must be at least 10s, got 5s/,
  ],
  [
    'a credential rotation period under an hour',
    agent({ clusterName: 'c', credentialRotationPeriod: '15m' }),
    /spec\.credentialRotationPeriod: .*must be at least 1h, got 15m/,
  ],
  [
    'suspended as a string',
    agent({ clusterName: 'c', suspended: 'yes' }),
    /\.spec\.suspended: expected boolean/,
  ],
  [
    'a ClusterAgent name with a dot',
    agent({ clusterName: 'c' }, 'eu.west'),
    /ClusterAgent name must be a DNS label/,
  ],
  // CertificateBinding
  [
    'no certificate source',
    binding({ secretName: 'tls' }),
    /spec: .*exactly one of certManager, imported or internal must be set/,
  ],
  [
    'two certificate sources',
    binding({ secretName: 'tls', internal: internal(), certManager: certManager() }),
    /spec: .*exactly one of certManager, imported or internal must be set/,
  ],
  [
    'an internal source without secretName',
    binding({ internal: internal() }),
    /spec\.secretName: Required value: secretName is required for the certManager and internal sources/,
  ],
  [
    'an imported source with secretName',
    binding({ secretName: 'tls', imported: { secretRef: { name: 'mine' }, dnsNames: ['a.example.com'] } }),
    /spec\.secretName: Forbidden: secretName must not be set for an imported certificate/,
  ],
  [
    'an imported source without secretRef',
    binding({ imported: { dnsNames: ['a.example.com'] } }),
    /spec\.imported\.secretRef: Required value/,
  ],
  [
    'an issuer kind that is not Issuer or ClusterIssuer',
    binding({
      secretName: 'tls',
      certManager: certManager({ issuerRef: { name: 'i', kind: 'ExternalIssuer' } }),
    }),
    /spec\.certManager\.issuerRef\.kind: Unsupported value: "ExternalIssuer"/,
  ],
  [
    'an issuerRef without name',
    binding({ secretName: 'tls', certManager: certManager({ issuerRef: { kind: 'Issuer' } }) }),
    /spec\.certManager\.issuerRef\.name: Required value/,
  ],
  [
    'no DNS names',
    binding({ secretName: 'tls', certManager: certManager({ dnsNames: [] }) }),
    /spec\.certManager\.dnsNames: .*should have at least 1 items/,
  ],
  [
    'a DNS name with an underscore',
    binding({ secretName: 'tls', internal: internal({ dnsNames: ['my_api.example.com'] }) }),
    /spec\.internal\.dnsNames\[0\]: Invalid value: "my_api\.example\.com".*should match/,
  ],
  [
    'a wildcard in the middle of a DNS name',
    binding({ secretName: 'tls', internal: internal({ dnsNames: ['api.*.example.com'] }) }),
    /spec\.internal\.dnsNames\[0\]: Invalid value: "api\.\*\.example\.com"/,
  ],
  [
    'a DNS name listed twice',
    binding({ secretName: 'tls', internal: internal({ dnsNames: ['a.example.com', 'a.example.com'] }) }),
    /\.spec\.internal\.dnsNames: duplicate entries/,
  ],
  [
    'renewBefore longer than duration',
    binding({ secretName: 'tls', certManager: certManager({ duration: '24h', renewBefore: '48h' }) }),
    /spec\.certManager\.renewBefore: .*renewBefore \(48h\) must be shorter than duration \(24h\)/,
  ],
  [
    'an internal renewBefore beyond the default duration',
    binding({ secretName: 'tls', internal: internal({ renewBefore: '3000h' }) }),
    /spec\.internal\.renewBefore: .*renewBefore \(3000h\) must be shorter than duration \(2160h\)/,
  ],
  [
    'a cert-manager duration under an hour',
    binding({ secretName: 'tls', certManager: certManager({ duration: '30m' }) }),
    /spec\.certManager\.duration: .*must be at least 1h, got 30m/,
  ],
  [
    'a 1024-bit RSA key',
    binding({
      secretName: 'tls',
      certManager: certManager({ privateKey: { algorithm: 'RSA', size: 1024 } }),
    }),
    /spec\.certManager\.privateKey\.size: .*RSA key size must be one of 2048, 3072, 4096/,
  ],
  [
    'an ECDSA key of 2048 bits',
    binding({
      secretName: 'tls',
      certManager: certManager({ privateKey: { algorithm: 'ECDSA', size: 2048 } }),
    }),
    /spec\.certManager\.privateKey\.size: .*ECDSA key size must be one of 256, 384, 521/,
  ],
  [
    'an Ed25519 key with a size',
    binding({
      secretName: 'tls',
      certManager: certManager({ privateKey: { algorithm: 'Ed25519', size: 256 } }),
    }),
    /spec\.certManager\.privateKey\.size: .*Ed25519 keys have a fixed size/,
  ],
  [
    'an internal duration that overflows a duration (with a renewBefore compared to it)',
    binding({ secretName: 'tls', internal: internal({ duration: '99999999999999999999h' }) }),
    /^The CertificateBinding "invalid" is invalid: spec\.internal\.duration: .*must be at most 87600h \(10 years\), got 99999999999999999999h$/m,
  ],
  [
    'a cert-manager duration over ten years',
    binding({ secretName: 'tls', certManager: certManager({ duration: '87601h' }) }),
    /spec\.certManager\.duration: .*must be at most 87600h \(10 years\), got 87601h/,
  ],
  [
    'an IP address among cert-manager dnsNames',
    binding({ secretName: 'tls', certManager: certManager({ dnsNames: ['api.example.com', '10.0.0.1'] }) }),
    /spec\.certManager\.dnsNames\[1\]: .*10\.0\.0\.1 is not a DNS name: its last label is numeric, so clients read it as an IP address/,
  ],
  [
    'an IP address among imported dnsNames',
    binding({ imported: { secretRef: { name: 'mine' }, dnsNames: ['192.168.1.20'] } }),
    /spec\.imported\.dnsNames\[0\]: .*192\.168\.1\.20 is not a DNS name/,
  ],
  [
    'a DNS label of 64 characters',
    binding({ secretName: 'tls', internal: internal({ dnsNames: [`${'a'.repeat(64)}.example.com`] }) }),
    /spec\.internal\.dnsNames\[0\]: .*a{64}\.example\.com has a label \(a part between dots\) longer than 63 characters/,
  ],
  [
    'an expiry warning in words',
    binding({ secretName: 'tls', internal: internal(), expiryWarning: 'two weeks' }),
    /spec\.expiryWarning: Invalid value: "two weeks".*should match/,
  ],
];

async function kubectl(args: string[], input?: string) {
  return testEnv().kubectl(args, { allowFail: true, ...(input === undefined ? {} : { input }) });
}

/**
 * Server-side applies `objects` as a stream of JSON documents. (Not a v1 List: kubectl would validate
 * that on the client side, and the test would not see what the API server says. Not YAML either: to
 * kubectl's YAML 1.1 parser an unquoted `yes` is a boolean.)
 */
async function apply(objects: Obj[], ...args: string[]) {
  const input = objects.map((o) => JSON.stringify(o)).join('\n---\n');
  return kubectl(['apply', '--server-side', MANAGER, '-o', 'json', ...args, '-f', '-'], input);
}

async function exampleObjects(): Promise<Obj[]> {
  const out: Obj[] = [];
  for (const file of ['tenants.yaml', 'acme.yaml', 'globex.yaml']) {
    const text = await readFile(join(REPO_ROOT, 'examples', file), 'utf8');
    out.push(...parseAllDocuments(text).map((d) => d.toJS() as Obj));
  }
  return out;
}

/** The objects `apply ... -o json` printed (a List when given a List). */
function printed(stdout: string): (Obj & { spec: Record<string, unknown> })[] {
  const parsed = JSON.parse(stdout) as { kind: string; items?: unknown[] };
  return (parsed.kind === 'List' ? (parsed.items ?? []) : [parsed]) as (Obj & {
    spec: Record<string, unknown>;
  })[];
}

describe('palisade.dev CRDs on a real API server', () => {
  before(async () => {
    await apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }]);
  });

  after(async () => {
    const tenants = [
      'crdtest-immutable',
      ...['acme', 'globex', 'initech'].map((t) => `crdtest-reapply-${t}`),
    ];
    await kubectl(['delete', 'tenants', ...tenants, '--ignore-not-found', '--wait=false']);
    // NB: the namespaced objects first, each for sure: left to the namespace's deletion, some outlived it
    // (deleted namespace, objects still served) and every later suite's operator took them up.
    const deleted = await kubectl([
      'delete',
      'tenantkeys,clusteragents,certificatebindings',
      '--all',
      '-n',
      NS,
      '--ignore-not-found',
      '--timeout=60s',
    ]);
    assert.equal(deleted.code, 0, deleted.stderr);
    await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=false']);
  });

  describe('rejects', () => {
    for (const [what, obj, message] of INVALID) {
      it(`${what} (${obj.kind}), saying ${message.source}`, async () => {
        const result = await apply([obj]);
        assert.notEqual(result.code, 0, `applied: ${result.stdout}`);
        assert.match(result.stderr, message);
        assert.doesNotMatch(result.stderr, /type conversion error|evaluating rule/, 'no CEL internals');
      });
    }

    it('at least 25 invalid objects across all four kinds', () => {
      assert.ok(INVALID.length >= 25);
      assert.deepEqual(new Set(INVALID.map(([, o]) => o.kind)).size, 4);
    });
  });

  it('accepts every example (server-side dry run) once the tenant namespaces exist', async () => {
    const examples = await exampleObjects();
    const namespaces = [
      ...new Set(examples.flatMap((o) => (o.metadata.namespace ? [o.metadata.namespace] : []))),
    ];
    const nsObjects = namespaces.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }));
    await apply(nsObjects);

    const result = await apply(examples, '--dry-run=server');

    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(
      printed(result.stdout).map((o) => `${o.kind}/${o.metadata.name}`),
      examples.map((o) => `${o.kind}/${o.metadata.name}`),
    );
  });

  it('fills in the defaults of every kind', async () => {
    const result = await apply(
      [
        tenant(undefined, 'crdtest-defaults'),
        tenantKey(undefined),
        agent({ clusterName: 'c' }),
        binding({ secretName: 'tls', internal: internal() }),
        namespaced(
          'CertificateBinding',
          { secretName: 'tls', certManager: certManager({ issuerRef: { name: 'i' } }) },
          'cm',
        ),
      ],
      '--dry-run=server',
    );
    assert.equal(result.code, 0, result.stderr);
    const [t, k, a, b, c] = printed(result.stdout).map((o) => o.spec);
    assert.deepEqual(t, {
      deletionPolicy: 'Retain',
      keyPolicy: { algorithm: 'XChaCha20-Poly1305', retainedVersions: 3 },
      messaging: {
        maxConnections: -1,
        maxSubscriptions: -1,
        maxPayloadBytes: 1048576,
        maxDataBytes: -1,
        maxAgents: 100,
      },
    });
    assert.deepEqual(k, { algorithm: 'XChaCha20-Poly1305', retainedVersions: 3 });
    assert.deepEqual(a, { clusterName: 'c', heartbeatDeadline: '90s', suspended: false });
    assert.deepEqual(b, {
      secretName: 'tls',
      expiryWarning: '336h',
      internal: { dnsNames: ['api.example.com'], duration: '2160h', renewBefore: '720h' },
    });
    assert.deepEqual((c?.certManager as { issuerRef: unknown }).issuerRef, {
      name: 'i',
      kind: 'Issuer',
      group: 'cert-manager.io',
    });
  });

  describe('keeps immutable fields', () => {
    const withNamespace = (namespace?: string) =>
      tenant(namespace === undefined ? {} : { namespace }, 'crdtest-immutable');

    before(async () => {
      const created = await apply([withNamespace('crdtest-immutable-ns')]);
      assert.equal(created.code, 0, created.stderr);
    });

    for (const [what, obj, message] of [
      [
        'changing a Tenant namespace',
        withNamespace('elsewhere'),
        /spec\.namespace: Forbidden: namespace is immutable/,
      ],
      [
        'removing a Tenant namespace',
        withNamespace(),
        /spec\.namespace: Forbidden: namespace cannot be added or removed after creation/,
      ],
    ] as const) {
      it(`rejects ${what} and leaves the object as it was`, async () => {
        const result = await apply([obj]);
        assert.notEqual(result.code, 0);
        assert.match(result.stderr, message);
        const now = await kubectl(['get', 'tenant', 'crdtest-immutable', '-o', 'jsonpath={.spec.namespace}']);
        assert.equal(now.stdout, 'crdtest-immutable-ns');
      });
    }

    it('rejects changing a CertificateBinding secretName', async () => {
      const b = (secretName: string) =>
        namespaced('CertificateBinding', { secretName, internal: internal() }, 'crdtest-immutable');
      assert.equal((await apply([b('first-tls')])).code, 0);
      const result = await apply([b('second-tls')]);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /spec\.secretName: Forbidden: secretName is immutable/);
    });

    it('rejects lowering a TenantKey destroyBelowVersion', async () => {
      const k = (destroyBelowVersion: number) =>
        namespaced('TenantKey', { minDecryptionVersion: 4, destroyBelowVersion }, 'crdtest-immutable');
      assert.equal((await apply([k(3)])).code, 0);
      const result = await apply([k(2)]);
      assert.notEqual(result.code, 0);
      assert.match(
        result.stderr,
        /spec\.destroyBelowVersion: Forbidden: destroyBelowVersion cannot be lowered/,
      );
    });

    it('rejects changing a Tenant status.uid once assigned', async () => {
      const status = (uid: string) => ({ ...withNamespace('crdtest-immutable-ns'), status: { uid } });
      const first = await apply([status('0123456789ab')], '--subresource=status');
      assert.equal(first.code, 0, first.stderr);
      const result = await apply([status('ba9876543210')], '--subresource=status');
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /status\.uid: Forbidden: uid is immutable once assigned/);
    });
  });

  it('changes nothing when the same manifest is server-side applied again', async () => {
    const examples = await exampleObjects();
    const objects = examples.map((o) =>
      o.kind === 'Tenant'
        ? { ...o, metadata: { name: `crdtest-reapply-${o.metadata.name}` } }
        : { ...o, metadata: { ...o.metadata, name: `reapply-${o.metadata.name}`, namespace: NS } },
    );
    const versions = async (r: { code: number; stdout: string; stderr: string }) => {
      assert.equal(r.code, 0, r.stderr);
      return printed(r.stdout).map(
        (o) => `${o.kind}/${o.metadata.name}@${(o.metadata as { resourceVersion?: string }).resourceVersion}`,
      );
    };

    const first = await versions(await apply(objects));
    const second = await versions(await apply(objects));

    assert.equal(first.length, objects.length);
    assert.deepEqual(second, first);
  });
});

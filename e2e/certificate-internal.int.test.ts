/**
 * CertificateBinding with the internal source: RSA-2048 leaves from Palisade's internal CA that
 * `openssl verify` accepts against the published bundle, renewal, CA rotation that keeps the old CA
 * trusted until every leaf (an installation certificate like nats-server's included) moved, the name
 * policy (a tenant gets its own service names and what its Tenant allows, never Palisade's, the API
 * server's or another tenant's), and Palisade's own HTTPS endpoint (TLS 1.2+ only).
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import type { ConfigMap, Secret } from '../controllers/runtime/kube/types.ts';
import { operatorTlsBinding } from '../controllers/serving/https.ts';
import { testEnv } from '../hack/testenv/env.ts';
import { ensureNamespace, kube, kubectl, tenantManifest, uniqueName } from './support/cluster.ts';
import {
  bindingManifest,
  dumpOnFailure,
  eventsAbout,
  getBinding,
  installationCertSecret,
  secretString,
  tlsSecret,
  waitForReady,
} from './support/certificates.ts';
import {
  eventually,
  freePort,
  startOperator,
  waitForControllers,
  type OperatorProcess,
} from './support/operator.ts';

const run = promisify(execFile);

/** Runs openssl with stdin closed (s_client then ends after the handshake); exit code and all output. */
function openssl(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

describe('CertificateBinding from the internal CA', function () {
  const operatorNs = uniqueName('palisade-int');
  const ns = uniqueName('certs-int');
  let op: OperatorProcess;
  let securePort: number;
  let dir: string;

  before(async function () {
    await ensureNamespace(operatorNs);
    await ensureNamespace(ns);
    dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-certs-'));
    securePort = await freePort();
    op = await startOperator({
      kubeconfig: testEnv().kubeconfig,
      namespace: operatorNs,
      identity: 'cert-int',
      // NB: `ns` is not a tenant's namespace: Palisade serves bindings there as the chart's certificateNamespaces.
      args: [`--secure-address=127.0.0.1:${securePort}`, `--certificate-namespaces=${ns}`],
      // A CA rotation overlaps twice the agent certificate lifetime: 10 s here, two days by default.
      env: { PALISADE_AGENT_CERT_LIFETIME_MS: '5000' },
    });
    await waitForControllers(op);
  });

  afterEach(function () {
    dumpOnFailure(this, () => op?.output());
  });

  after(async function () {
    await op?.stop();
    await kube().delete({ kind: 'Namespace', name: ns });
    await rm(dir, { recursive: true, force: true });
  });

  const bundle = async () =>
    (await kube().get<ConfigMap>({ kind: 'ConfigMap', name: 'palisade-ca-bundle', namespace: operatorNs }))
      ?.data?.['ca.crt'] ?? '';
  const leafSecret = (name: string) => kube().get<Secret>({ kind: 'Secret', name, namespace: ns });
  const internal = (name: string, dnsNames: string[], o: { duration?: string; renewBefore?: string } = {}) =>
    bindingManifest(name, ns, { secretName: `${name}-tls`, internal: { dnsNames, ...o } as never });

  /** `openssl verify` of a leaf against a CA bundle; returns openssl's output. */
  async function opensslVerify(leafPem: string, bundlePem: string): Promise<string> {
    const leafFile = path.join(dir, `leaf-${Math.random()}.pem`);
    const caFile = path.join(dir, `ca-${Math.random()}.pem`);
    await writeFile(leafFile, leafPem);
    await writeFile(caFile, bundlePem);
    const { stdout } = await run('openssl', ['verify', '-purpose', 'sslserver', '-CAfile', caFile, leafFile]);
    return stdout;
  }

  it('issues an RSA-2048 leaf that openssl verifies against the published CA bundle', async function () {
    await kube().apply(internal('events', [`events.${ns}.svc`, `events.${ns}.svc.cluster.local`]));
    const b = await waitForReady('events', ns);
    const s = await leafSecret('events-tls');
    assert.equal(s?.type, 'kubernetes.io/tls');
    assert.equal(s?.metadata.labels?.['app.kubernetes.io/managed-by'], 'palisade');
    assert.equal(s?.metadata.ownerReferences?.[0]?.uid, b.metadata.uid, 'owned by the binding');
    const leafPem = secretString(s, 'tls.crt');
    const leaf = new X509Certificate(leafPem);
    assert.equal(leaf.publicKey.asymmetricKeyType, 'rsa');
    assert.equal(leaf.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    const published = await bundle();
    assert.equal(secretString(s, 'ca.crt'), published, 'ca.crt is the published bundle');
    assert.match(await opensslVerify(leafPem, published), /: OK/);
    const leafFile = path.join(dir, 'events.pem');
    await writeFile(leafFile, leafPem);
    const { stdout: text } = await run('openssl', ['x509', '-noout', '-text', '-in', leafFile]);
    assert.match(text, /Public-Key: \(2048 bit\)/);
    const ca = new X509Certificate(published);
    assert.equal(ca.publicKey.asymmetricKeyDetails?.modulusLength, 2048, 'the CA is RSA-2048 too');
    assert.equal(b.status?.source, 'Internal');
    assert.equal(b.status?.serialNumber, leaf.serialNumber.toUpperCase());
    assert.deepEqual(b.status?.dnsNames, [`events.${ns}.svc`, `events.${ns}.svc.cluster.local`]);
    assert.equal(
      Date.parse(b.status?.renewalTime ?? ''),
      Date.parse(b.status?.notAfter ?? '') - 720 * 3_600_000,
    );
  });

  it('reissues when the names change', async function () {
    const before = await waitForReady('events', ns);
    await kube().apply(internal('events', [`events.${ns}.svc`]));
    const after = await eventually('the new names in status', async () => {
      const b = await getBinding('events', ns);
      return b?.status?.dnsNames?.length === 1 && b.status.observedGeneration === b.metadata.generation
        ? b
        : undefined;
    });
    assert.notEqual(after.status?.serialNumber, before.status?.serialNumber);
  });

  it('renews a leaf before it expires', async function () {
    // Renewal 10 s after issuance: duration 1h, renewBefore 59m50s.
    await kube().apply(internal('short', [`short.${ns}.svc`], { duration: '1h', renewBefore: '59m50s' }));
    const first = await waitForReady('short', ns);
    const renewed = await eventually(
      'a renewed leaf',
      async () => {
        const b = await getBinding('short', ns);
        return b?.status?.serialNumber && b.status.serialNumber !== first.status?.serialNumber
          ? b
          : undefined;
      },
      60_000,
    );
    assert.ok(Date.parse(renewed.status?.notAfter ?? '') > Date.parse(first.status?.notAfter ?? ''));
    const s = await leafSecret('short-tls');
    assert.equal(
      new X509Certificate(secretString(s, 'tls.crt')).serialNumber.toUpperCase(),
      renewed.status?.serialNumber,
    );
    await kube().delete({ kind: 'CertificateBinding', name: 'short', namespace: ns });
    // Garbage collection would remove it too, but only once it has discovered the CRD (up to 30 s).
    await kube().delete({ kind: 'Secret', name: 'short-tls', namespace: ns });
  });

  it('refuses to overwrite a Secret it does not own', async function () {
    await kube().apply(tlsSecret('taken-tls', ns, { 'tls.crt': 'someone else’s' }));
    await kube().apply(internal('taken', [`taken.${ns}.svc`]));
    await waitForReady('taken', ns, { status: 'False', reason: 'SecretConflict' });
    assert.equal(secretString(await leafSecret('taken-tls'), 'tls.crt'), 'someone else’s');
  });

  it('rotates the CA, keeping the old one in the bundle until every leaf was reissued', async function () {
    this.timeout(180_000);
    for (const n of ['rot-a', 'rot-b']) await kube().apply(internal(n, [`${n}.${ns}.svc`]));
    const [a] = await Promise.all(['rot-a', 'rot-b'].map((n) => waitForReady(n, ns)));
    const v1 = (await leafSecret('rot-a-tls'))?.metadata.labels?.['palisade.dev/ca-id'];
    assert.ok(v1 && a);
    // An installation certificate, as the NATS bootstrap declares palisade-nats-tls: the keeper issues it.
    await kube().create(
      installationCertSecret('palisade-test-server-tls', operatorNs, ['test-server.example']),
    );
    const serverTls = () =>
      kube().get<Secret>({ kind: 'Secret', name: 'palisade-test-server-tls', namespace: operatorNs });
    const issued = await eventually('the installation certificate issued by CA v1', async () => {
      const s = await serverTls();
      return s?.metadata.labels?.['palisade.dev/ca-id'] === v1 && secretString(s, 'tls.crt') ? s : undefined;
    });
    assert.match(await opensslVerify(secretString(issued, 'tls.crt'), await bundle()), /: OK/);
    // A leaf of v1 that cannot be reissued yet (as if its binding's writes were failing): v1 must stay.
    // A copy of a real one: the label alone (tenant-writable) keeps no CA.
    const labels = { 'app.kubernetes.io/managed-by': 'palisade', 'palisade.dev/ca-id': v1 };
    const leafOfV1 = secretString(await leafSecret('rot-a-tls'), 'tls.crt');
    await kube().apply(tlsSecret('straggler', ns, { 'tls.crt': leafOfV1 }, labels));
    await kube().apply(tlsSecret('label-only', ns, { 'tls.crt': 'x' }, labels));
    await kubectl([
      'annotate',
      'secret',
      '-n',
      operatorNs,
      'palisade-internal-ca-v1',
      'palisade.dev/rotate=true',
    ]);
    const moved = await eventually(
      'every leaf reissued by CA v2',
      async () => {
        const leaves = await Promise.all(['events', 'rot-a', 'rot-b'].map((n) => leafSecret(`${n}-tls`)));
        const ids = leaves.map((s) => s?.metadata.labels?.['palisade.dev/ca-id']);
        return ids.every((id) => id && id !== v1) ? leaves : undefined;
      },
      60_000,
    );
    const both = await bundle();
    assert.equal((both.match(/BEGIN CERTIFICATE/g) ?? []).length, 2, 'old and new CA in the bundle');
    for (const s of moved) assert.match(await opensslVerify(secretString(s, 'tls.crt'), both), /: OK/);
    const reissued = await eventually('the installation certificate reissued by CA v2', async () => {
      const s = await serverTls();
      const id = s?.metadata.labels?.['palisade.dev/ca-id'];
      return id && id !== v1 ? s : undefined;
    });
    assert.notEqual(secretString(reissued, 'tls.crt'), secretString(issued, 'tls.crt'));
    const v2Only = both.slice(0, both.indexOf('-----END CERTIFICATE-----') + 26);
    assert.match(await opensslVerify(secretString(reissued, 'tls.crt'), v2Only), /: OK/, 'issued by v2');
    const oldCA = await kube().get<Secret>({
      kind: 'Secret',
      name: 'palisade-internal-ca-v1',
      namespace: operatorNs,
    });
    assert.equal(
      oldCA?.metadata.annotations?.['palisade.dev/retired'],
      undefined,
      'v1 not retired while a leaf uses it',
    );

    await kube().delete({ kind: 'Secret', name: 'straggler', namespace: ns });
    const only = await eventually('CA v1 retired and dropped from the bundle', async () => {
      const b = await bundle();
      return (b.match(/BEGIN CERTIFICATE/g) ?? []).length === 1 ? b : undefined;
    });
    const retired = await kube().get<Secret>({
      kind: 'Secret',
      name: 'palisade-internal-ca-v1',
      namespace: operatorNs,
    });
    assert.equal(retired?.metadata.annotations?.['palisade.dev/retired'], 'true');
    for (const n of ['events', 'rot-a', 'rot-b']) {
      const s = await eventually(`${n}-tls carries the new bundle`, async () => {
        const x = await leafSecret(`${n}-tls`);
        return secretString(x, 'ca.crt') === only ? x : undefined;
      });
      assert.match(await opensslVerify(secretString(s, 'tls.crt'), only), /: OK/);
    }
    const current = await eventually('the installation certificate carries the new bundle', async () => {
      const x = await serverTls();
      return secretString(x, 'ca.crt') === only ? x : undefined;
    });
    assert.match(await opensslVerify(secretString(current, 'tls.crt'), only), /: OK/);
  });

  describe('which names a binding may carry', function () {
    const tenantA = uniqueName('cb-a');
    const tenantB = uniqueName('cb-b');
    const nsA = `tenant-${tenantA}`;
    const nsB = `tenant-${tenantB}`;
    const bindingIn = (name: string, dnsNames: string[]) =>
      bindingManifest(name, nsA, { secretName: `${name}-tls`, internal: { dnsNames } as never });
    const secretIn = (name: string) => kube().get<Secret>({ kind: 'Secret', name, namespace: nsA });
    const allow = (allowedDNSNames: string[]) =>
      kube().apply(tenantManifest(tenantA, { deletionPolicy: 'Delete', certificates: { allowedDNSNames } }));

    before(async function () {
      await kube().apply(tenantManifest(tenantA, { deletionPolicy: 'Delete' }));
      await kube().apply(tenantManifest(tenantB, { deletionPolicy: 'Delete' }));
      await eventually(
        `namespace ${nsA}`,
        async () => !!(await kube().get({ kind: 'Namespace', name: nsA })),
        60_000,
      );
    });

    after(async function () {
      this.timeout(90_000);
      for (const t of [tenantA, tenantB]) await kube().delete({ kind: 'Tenant', name: t });
      // NB: while the operator still runs, so the Tenants' finalizers complete.
      await eventually(
        'the test Tenants gone',
        async () =>
          !(await kube().get({ kind: 'Tenant', name: tenantA })) &&
          !(await kube().get({ kind: 'Tenant', name: tenantB })),
        60_000,
      ).catch(() => undefined);
    });

    it("issues a tenant binding for its own namespace's service names", async function () {
      await kube().apply(bindingIn('own', [`own.${nsA}`, `own.${nsA}.svc`, `own.${nsA}.svc.cluster.local`]));
      const b = await waitForReady('own', nsA);
      assert.deepEqual(b.status?.dnsNames, [`own.${nsA}`, `own.${nsA}.svc`, `own.${nsA}.svc.cluster.local`]);
      assert.ok(secretString(await secretIn('own-tls'), 'tls.crt'));
    });

    const refusals: [string, () => string, RegExp][] = [
      ['kubernetes.default.svc', () => 'kubernetes.default.svc', /Kubernetes API server/],
      ["Palisade's NATS service name", () => `palisade-nats.${operatorNs}.svc`, /Palisade's namespace/],
      [
        "another tenant's service name",
        () => `events.${nsB}.svc`,
        new RegExp(`belongs to Tenant ${tenantB}`),
      ],
    ];
    for (const [what, name, why] of refusals) {
      it(`refuses ${what} to a tenant: Ready=False/NameNotAllowed, an Event, and no certificate written`, async function () {
        const binding = `refused-${refusals.findIndex((r) => r[0] === what)}`;
        await kube().apply(bindingIn(binding, [`ok.${nsA}.svc`, name()]));
        await waitForReady(binding, nsA, { status: 'False', reason: 'NameNotAllowed' });
        // NB: the reason holds from the first reconcile; the message may still name a Tenant the cache
        // has not seen yet, so wait for the final wording.
        const b = await eventually(`a message naming ${name()} and why`, async () => {
          const x = await getBinding(binding, nsA);
          const m = x?.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '';
          return m.includes(`"${name()}"`) && why.test(m) ? x : undefined;
        });
        const ready = b.status?.conditions?.find((c) => c.type === 'Ready');
        assert.equal(ready?.reason, 'NameNotAllowed');
        assert.match(ready?.message ?? '', /Nothing was issued/);
        assert.equal(b.status?.serialNumber, undefined);
        assert.equal(await secretIn(`${binding}-tls`), undefined, 'no Secret written');
        const events = await eventually('a NameNotAllowed Event', async () => {
          const e = await eventsAbout(nsA, binding);
          return e.some((x) => x.reason === 'NameNotAllowed' && x.type === 'Warning') ? e : undefined;
        });
        assert.ok(events.length);
      });
    }

    it("issues a name once the Tenant's allowedDNSNames allows it, and stops renewing it once it does not", async function () {
      const name = `api.${tenantA}.example.com`;
      await kube().apply(bindingIn('allowed', [name]));
      const refused = await waitForReady('allowed', nsA, { status: 'False', reason: 'NameNotAllowed' });
      assert.match(
        refused.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '',
        /allowedDNSNames/,
      );
      assert.equal(await secretIn('allowed-tls'), undefined);

      await allow([`*.${tenantA}.example.com`]);
      const b = await waitForReady('allowed', nsA);
      const pem = secretString(await secretIn('allowed-tls'), 'tls.crt');
      assert.ok(new X509Certificate(pem).checkHost(name), `the certificate covers ${name}`);

      await allow([]);
      const kept = await waitForReady('allowed', nsA, { status: 'False', reason: 'NameNotAllowed' });
      assert.match(kept.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '', /is not renewed/);
      assert.equal(kept.status?.serialNumber, b.status?.serialNumber, 'status still shows the certificate');
      assert.equal(
        secretString(await secretIn('allowed-tls'), 'tls.crt'),
        pem,
        'the Secret is left as it was',
      );
      await kube().delete({ kind: 'CertificateBinding', name: 'allowed', namespace: nsA });
    });

    it('refuses an in-cluster name in allowedDNSNames at admission, naming the field', async function () {
      const r = await testEnv().kubectl(['apply', '-f', '-'], {
        input: JSON.stringify(
          tenantManifest(tenantA, {
            deletionPolicy: 'Delete',
            certificates: { allowedDNSNames: [`x.${nsB}.svc`] },
          }),
        ),
        allowFail: true,
      });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /spec\.certificates\.allowedDNSNames: x\.tenant-.*\.svc is an in-cluster name/);
    });
  });

  describe("Palisade's own HTTPS endpoint", function () {
    let ca: string;

    before(async function () {
      await kube().apply(operatorTlsBinding(operatorNs) as never);
      await waitForReady('palisade-operator-tls', operatorNs);
      ca = await bundle();
      await eventually('the HTTPS endpoint to listen', async () => (await handshake({ max: 'TLSv1.3' })).ok);
    });

    function handshake(o: { min?: tls.SecureVersion; max: tls.SecureVersion }) {
      return new Promise<{ ok: boolean; protocol?: string | null; code?: string }>((resolve) => {
        const socket = tls.connect({
          host: '127.0.0.1',
          port: securePort,
          servername: 'localhost',
          ca,
          minVersion: o.min ?? o.max,
          maxVersion: o.max,
          // Let the client offer old protocols at all, so a refusal is the server's.
          ciphers: 'DEFAULT:@SECLEVEL=0',
        });
        socket.once('secureConnect', () => {
          const protocol = socket.getProtocol();
          socket.end();
          resolve({ ok: true, protocol });
        });
        socket.once('error', (e: NodeJS.ErrnoException) => resolve({ ok: false, code: e.code ?? e.message }));
      });
    }

    it('serves /healthz over HTTPS with a certificate that verifies against the bundle', async function () {
      const status = await new Promise<number>((resolve, reject) => {
        https
          .get(
            { host: '127.0.0.1', port: securePort, path: '/healthz', servername: 'localhost', ca },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          )
          .on('error', reject);
      });
      assert.equal(status, 200);
    });

    it('accepts TLS 1.2 and TLS 1.3 handshakes', async function () {
      assert.deepEqual(await handshake({ max: 'TLSv1.2' }), { ok: true, protocol: 'TLSv1.2' });
      assert.deepEqual(await handshake({ max: 'TLSv1.3' }), { ok: true, protocol: 'TLSv1.3' });
    });

    it('refuses a TLS 1.1 handshake with a protocol_version alert', async function () {
      const r = await handshake({ min: 'TLSv1.1', max: 'TLSv1.1' });
      assert.equal(r.ok, false);
      assert.equal(r.code, 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', 'the server refused, not the client');
    });

    it('refuses TLS 1.1 and accepts TLS 1.2 with openssl s_client too', async function () {
      const caFile = path.join(dir, 'endpoint-ca.pem');
      await writeFile(caFile, ca);
      const sClient = (flag: string) =>
        openssl([
          's_client',
          flag,
          '-cipher',
          'DEFAULT@SECLEVEL=0',
          '-connect',
          `127.0.0.1:${securePort}`,
          '-servername',
          'localhost',
          '-verify_hostname',
          'localhost',
          '-CAfile',
          caFile,
        ]);
      const old = await sClient('-tls1_1');
      assert.notEqual(old.code, 0);
      assert.match(old.out, /alert protocol version/);
      const ok = await sClient('-tls1_2');
      assert.match(ok.out, /Protocol\s*: TLSv1\.2/);
      assert.match(ok.out, /Verify return code: 0 \(ok\)/);
    });
  });
});

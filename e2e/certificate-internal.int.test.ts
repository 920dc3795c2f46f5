/**
 * CertificateBinding with the internal source: RSA-2048 leaves from Palisade's internal CA that
 * `openssl verify` accepts against the published bundle, renewal, CA rotation that keeps the old CA
 * trusted until every leaf moved, and Palisade's own HTTPS endpoint (TLS 1.2+ only).
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
import { operatorTlsBinding } from '../controllers/certificatebinding/serving.ts';
import { testEnv } from '../hack/testenv/env.ts';
import { ensureNamespace, kube, kubectl, uniqueName } from './support/cluster.ts';
import {
  bindingManifest,
  dumpOnFailure,
  getBinding,
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
      args: [`--secure-address=127.0.0.1:${securePort}`],
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
    // A leaf of v1 that cannot be reissued yet (as if its binding's writes were failing): v1 must stay.
    const straggler = tlsSecret(
      'straggler',
      ns,
      { 'tls.crt': 'x' },
      {
        'app.kubernetes.io/managed-by': 'palisade',
        'palisade.dev/ca-id': v1,
      },
    );
    await kube().apply(straggler);
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

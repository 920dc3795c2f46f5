// The CertificateBinding kind through the reconcile driver, on the in-memory API server: where a binding
// may act, how an imported certificate is judged, and what the internal source writes (and refuses to).
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { Registry } from 'prom-client';
import type { CertificateBinding, Tenant } from '../../crds/v1alpha1/index.ts';
import { bundleConfigMap, bundleOf, CA_BUNDLE_COMPONENT, caSecret, caVersions } from '../internalca/ca.ts';
import { fakeInstallation, OPERATOR_NAMESPACE } from '../keystore/testing/installation.ts';
import { createCA, type IssuedPair } from '../pki/index.ts';
import { fakeCertificate } from '../pki/testdata/fixtures.ts';
import type { KubeApi, ObjectRef } from '../runtime/kube/api.ts';
import { ApiError } from '../runtime/kube/errors.ts';
import type { ConfigMap, KubeObject, Secret } from '../runtime/kube/types.ts';
import { COMPONENT_LABEL, isControlledBy, secretString } from '../runtime/objects.ts';
import { reconcilerFor } from '../runtime/reconciler.ts';
import { FakeCache } from '../runtime/testing/cache.ts';
import type { CMCertificate } from './certmanager.ts';
import { CERT_MANAGER_RECHECK_MS } from './certmanagerapi.ts';
import { BINDING_LABEL, BindingCondition, BindingReason, WATCH_LABEL } from './conditions.ts';
import { TENANT_NAMESPACE_INDEX } from './internal.ts';
import { CertificateMetrics } from './metrics.ts';
import { tenantNamespaceOf } from './namepolicy.ts';
import { certificateBindingKind } from './reconcile.ts';

/** A namespace Palisade manages (as the chart's certificateNamespaces, or a tenant's). */
const APPS = 'apps';
const NAMES = ['app.example.test'];
const DAY = 24 * 3_600_000;

/**
 * `releaseOnSecretGet`: a live Secret read finds the namespace released meanwhile, as when its Tenant is
 * deleted with deletionPolicy Retain during a reconcile: no longer managed, its RoleBinding gone (403).
 */
async function bindingWorld(o: { certManager?: boolean; releaseOnSecretGet?: boolean } = {}) {
  const w = await fakeInstallation();
  for (const name of [APPS, 'elsewhere'])
    await w.client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  w.namespaces.add(APPS);
  await w.tick();
  const bindings = await w.cache<CertificateBinding>('CertificateBinding');
  const tenants = new FakeCache<Tenant>(w.server, { kind: 'Tenant' });
  tenants.addIndex(TENANT_NAMESPACE_INDEX, (t) => [tenantNamespaceOf(t)]);
  await tenants.start();
  const client: KubeApi = o.releaseOnSecretGet
    ? Object.assign(Object.create(w.client) as KubeApi, {
        get: async <T extends KubeObject>(ref: ObjectRef): Promise<T | undefined> => {
          if (ref.kind !== 'Secret') return w.client.get<T>(ref);
          w.namespaces.remove(ref.namespace ?? '');
          throw new ApiError(403, 'Forbidden', `secrets "${ref.name}" is forbidden`);
        },
      })
    : w.client;
  const reconcile = reconcilerFor(
    { cache: bindings, client: w.client },
    certificateBindingKind({
      client,
      events: w.events,
      audit: w.audit,
      env: w.env,
      metrics: new CertificateMetrics(new Registry()),
      bindings,
      tenants,
      secrets: w.secrets,
      watched: await w.cache<Secret>('Secret', { labelSelector: `${WATCH_LABEL}=true` }),
      bundles: await w.cache<ConfigMap>('ConfigMap', {
        namespace: OPERATOR_NAMESPACE,
        labelSelector: `${COMPONENT_LABEL}=${CA_BUNDLE_COMPONENT}`,
      }),
      certificates: o.certManager ? await w.cache<CMCertificate>('Certificate') : undefined,
      recheckCertManager: () => undefined,
      operatorNamespace: OPERATOR_NAMESPACE,
      managedNamespace: (ns) => w.namespaces.has(ns),
    }),
  );
  const user = w.server.client('kubectl');
  const get = (name: string, namespace = APPS) =>
    w.client.get<CertificateBinding>({ kind: 'CertificateBinding', name, namespace });
  return {
    ...w,
    user,
    get,
    reconcile: (name: string, namespace = APPS) => reconcile(`${namespace}/${name}`),
    /** Spec fields the server defaults (durations, expiryWarning) may be left out, as with kubectl. */
    create: (name: string, spec: Record<string, unknown>, namespace = APPS) =>
      user.create({
        apiVersion: 'palisade.dev/v1alpha1',
        kind: 'CertificateBinding',
        metadata: { name, namespace },
        spec,
      }),
    /** A user's TLS Secret (kubectl create secret tls). */
    userSecret: (name: string, data: Record<string, string>) =>
      user.create<Secret>({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace: APPS },
        type: 'kubernetes.io/tls',
        stringData: data,
      } as Secret),
    secret: (name: string) => w.client.get<Secret>({ kind: 'Secret', name, namespace: APPS }),
  };
}

function condition(b: CertificateBinding | undefined, type: string): string {
  const c = b?.status?.conditions?.find((x) => x.type === type);
  return c ? `${c.status}/${c.reason}` : 'absent';
}

describe('CertificateBinding (reconcile driver, in-memory API server)', () => {
  let ca: IssuedPair;
  before(async () => {
    ca = await createCA({
      subject: 'CN=FAKE test internal CA',
      notBefore: new Date('2029-12-31T00:00:00Z'),
      notAfter: new Date('2040-01-01T00:00:00Z'),
      rand: (n) => new Uint8Array(randomBytes(n)),
    });
  });

  it('sets Ready=False/NamespaceNotManaged in a namespace Palisade holds no Secret rights in, and writes nothing there', async () => {
    const w = await bindingWorld();
    await w.create(
      'web',
      { internal: { dnsNames: ['web.elsewhere.svc'] }, secretName: 'web-tls' },
      'elsewhere',
    );
    await w.reconcile('web', 'elsewhere');

    const b = await w.get('web', 'elsewhere');
    assert.equal(condition(b, BindingCondition.Ready), `False/${BindingReason.NamespaceNotManaged}`);
    assert.equal(
      condition(b, BindingCondition.CertificateReady),
      `False/${BindingReason.NamespaceNotManaged}`,
    );
    assert.deepEqual((await w.client.list('Secret', { namespace: 'elsewhere' })).items, []);
    assert.deepEqual(w.events.reasons, [`Warning/${BindingReason.NamespaceNotManaged}`]);
    assert.deepEqual(w.audit.actions, []);
  });

  it('takes a refusal in a namespace released during the reconcile for NamespaceNotManaged, not a failure', async () => {
    const w = await bindingWorld({ releaseOnSecretGet: true });
    await w.create('web', { imported: { secretRef: { name: 'not-cached' }, dnsNames: NAMES } });
    await w.reconcile('web');

    const b = await w.get('web');
    assert.equal(condition(b, BindingCondition.Ready), `False/${BindingReason.NamespaceNotManaged}`);
    assert.equal(w.namespaces.has(APPS), false, 'the Secret read released the namespace');
  });

  it('accepts an imported certificate that matches its key and covers its names, and reports its facts', async () => {
    const w = await bindingWorld();
    const now = w.env.now().getTime();
    const good = await fakeCertificate({
      dnsNames: NAMES,
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + 90 * DAY),
    });
    await w.userSecret('imported', { 'tls.crt': good.certPem, 'tls.key': good.keyPem });
    await w.create('web', { imported: { secretRef: { name: 'imported' }, dnsNames: NAMES } });
    assert.deepEqual(await w.reconcile('web'), { requeueAfterMs: 5 * 60_000 });

    const b = await w.get('web');
    const cert = new X509Certificate(good.certPem);
    assert.equal(condition(b, BindingCondition.Ready), 'True/CertificateBound');
    assert.equal(condition(b, BindingCondition.CertificateReady), `True/${BindingReason.Valid}`);
    assert.equal(b?.status?.source, 'Imported');
    assert.equal(b?.status?.serialNumber?.toLowerCase(), cert.serialNumber.toLowerCase());
    assert.equal(b?.status?.notAfter, new Date(cert.validTo).toISOString().replace(/\.\d+Z$/, 'Z'));
    assert.deepEqual(b?.status?.dnsNames, NAMES);
    assert.deepEqual(w.events.reasons, ['Normal/CertificateUpdated']);
    assert.deepEqual(w.audit.actions, ['certificate.bind']);
  });

  it('sets Ready=False/KeyMismatch for an imported certificate whose key is another, and binds nothing', async () => {
    const w = await bindingWorld();
    const now = w.env.now().getTime();
    const validity = { notBefore: new Date(now - DAY), notAfter: new Date(now + 90 * DAY) };
    const cert = await fakeCertificate({ dnsNames: NAMES, ...validity });
    const other = await fakeCertificate({ dnsNames: NAMES, ...validity });
    await w.userSecret('imported', { 'tls.crt': cert.certPem, 'tls.key': other.keyPem });
    await w.create('web', { imported: { secretRef: { name: 'imported' }, dnsNames: NAMES } });
    assert.deepEqual(await w.reconcile('web'), { requeueAfterMs: 60_000 });

    const b = await w.get('web');
    assert.equal(condition(b, BindingCondition.Ready), `False/${BindingReason.KeyMismatch}`);
    assert.equal(condition(b, BindingCondition.CertificateReady), `False/${BindingReason.KeyMismatch}`);
    assert.ok(!JSON.stringify(b?.status).includes('PRIVATE KEY'), 'no key material in status');
    assert.deepEqual(w.events.reasons, [`Warning/${BindingReason.KeyMismatch}`]);
    assert.deepEqual(w.audit.actions, [], 'nothing bound');
  });

  it("issues an internal RSA-2048 leaf signed by Palisade's CA into a Secret the binding owns", async () => {
    const w = await bindingWorld();
    const stored = await w.client.create(caSecret(OPERATOR_NAMESPACE, 1, ca));
    const bundle = bundleOf(caVersions([stored], OPERATOR_NAMESPACE));
    await w.client.apply(bundleConfigMap(OPERATOR_NAMESPACE, bundle));
    await w.create('web', { internal: { dnsNames: ['web.apps.svc'] }, secretName: 'web-tls' });
    await w.reconcile('web');

    const b = await w.get('web');
    const secret = await w.secret('web-tls');
    assert.ok(b && secret);
    assert.ok(isControlledBy(secret, b), 'owned by the binding: garbage collection removes it with it');
    assert.equal(secret.type, 'kubernetes.io/tls');
    assert.equal(secretString(secret, 'ca.crt'), bundle);
    const leaf = new X509Certificate(secretString(secret, 'tls.crt') ?? '');
    assert.ok(leaf.verify(new X509Certificate(ca.certPem).publicKey), "signed by Palisade's CA");
    assert.equal(leaf.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(leaf.subjectAltName, 'DNS:web.apps.svc');
    assert.equal(condition(b, BindingCondition.Ready), 'True/CertificateBound');
    assert.equal(condition(b, BindingCondition.CertificateReady), `True/${BindingReason.Issued}`);
    assert.equal(b.status?.serialNumber?.toLowerCase(), leaf.serialNumber.toLowerCase());
    assert.deepEqual(w.events.reasons, [`Normal/${BindingReason.Issued}`, 'Normal/CertificateUpdated']);
    assert.deepEqual(
      w.audit.records.map((r) => [r.action, r.outcome]),
      [
        ['certificate.issue', 'Success'],
        ['certificate.bind', 'Success'],
      ],
    );

    const written = w.server.resourceVersion;
    await w.reconcile('web');
    assert.equal(w.server.resourceVersion, written, 'a current leaf is kept, and nothing is written');
  });

  it('sets Ready=False/SecretConflict when secretName is a Secret the binding does not own, and leaves that Secret alone', async () => {
    const w = await bindingWorld();
    const stored = await w.client.create(caSecret(OPERATOR_NAMESPACE, 1, ca));
    await w.client.apply(
      bundleConfigMap(OPERATOR_NAMESPACE, bundleOf(caVersions([stored], OPERATOR_NAMESPACE))),
    );
    const foreign = await w.userSecret('web-tls', { 'tls.crt': 'theirs', 'tls.key': 'theirs' });
    await w.create('web', { internal: { dnsNames: ['web.apps.svc'] }, secretName: 'web-tls' });
    assert.deepEqual(await w.reconcile('web'), { requeueAfterMs: 60_000 });

    const b = await w.get('web');
    assert.equal(condition(b, BindingCondition.Ready), `False/${BindingReason.SecretConflict}`);
    const after = await w.secret('web-tls');
    assert.equal(
      after?.metadata.resourceVersion,
      foreign.metadata.resourceVersion,
      'the foreign Secret is untouched',
    );
    assert.deepEqual(w.events.reasons, [`Warning/${BindingReason.SecretConflict}`]);
    assert.deepEqual(w.audit.actions, []);
  });

  describe('the certManager source', () => {
    const spec = {
      certManager: { issuerRef: { name: 'letsencrypt', kind: 'ClusterIssuer' }, dnsNames: NAMES },
      secretName: 'web-tls',
    };
    const certificate = (w: Awaited<ReturnType<typeof bindingWorld>>) =>
      w.client.get<CMCertificate>({ kind: 'Certificate', name: 'web', namespace: APPS });

    it('waits with CertManagerNotInstalled while the Certificate API is not served, and applies nothing', async () => {
      const w = await bindingWorld();
      await w.create('web', spec);
      assert.deepEqual(await w.reconcile('web'), { requeueAfterMs: CERT_MANAGER_RECHECK_MS });

      const b = await w.get('web');
      assert.equal(condition(b, BindingCondition.Ready), `False/${BindingReason.CertManagerNotInstalled}`);
      assert.match(b?.status?.conditions?.[0]?.message ?? '', /install cert-manager/);
      assert.equal(await certificate(w), undefined);
      assert.deepEqual(w.audit.actions, []);
    });

    it('applies a Certificate the binding controls, asks cert-manager to label its Secret, and reports Issued once that Secret holds the certificate', async () => {
      const w = await bindingWorld({ certManager: true });
      await w.create('web', spec);
      await w.reconcile('web');

      const b = await w.get('web');
      const cert = await certificate(w);
      const cs = cert?.spec;
      assert.ok(b && cert && cs, 'the Certificate is applied');
      assert.ok(isControlledBy(cert, b), 'controlled by the binding: deleted with it');
      assert.equal(cs.secretName, 'web-tls');
      assert.deepEqual(cs.dnsNames, NAMES);
      assert.equal(cs.privateKey?.rotationPolicy, 'Always', 'a fresh key at every renewal');
      assert.equal(cs.secretTemplate?.labels?.[BINDING_LABEL], 'web');
      assert.equal(condition(b, BindingCondition.Ready), `False/${BindingReason.Pending}`);
      assert.deepEqual(w.events.reasons, ['Normal/CertificateCreated']);
      assert.deepEqual(w.audit.actions, ['certificate.certmanager.apply']);

      // cert-manager's part: the Secret with the template's labels, then Ready on the Certificate.
      const now = w.env.now().getTime();
      const issued = await fakeCertificate({
        dnsNames: NAMES,
        notBefore: new Date(now - DAY),
        notAfter: new Date(now + 90 * DAY),
      });
      await w.user.create<Secret>({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'web-tls', namespace: APPS, labels: cs.secretTemplate?.labels },
        type: 'kubernetes.io/tls',
        stringData: { 'tls.crt': issued.certPem, 'tls.key': issued.keyPem },
      } as Secret);
      await w.user.apply(
        {
          apiVersion: 'cert-manager.io/v1',
          kind: 'Certificate',
          metadata: { name: 'web', namespace: APPS },
          status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'issued' }] },
        } as CMCertificate,
        { subresource: 'status' },
      );
      await w.tick();
      const written = w.server.resourceVersion;
      await w.reconcile('web');

      const after = await w.get('web');
      assert.equal(condition(after, BindingCondition.CertificateReady), `True/${BindingReason.Issued}`);
      assert.equal(condition(after, BindingCondition.Ready), 'True/CertificateBound');
      assert.equal(
        after?.status?.serialNumber?.toLowerCase(),
        new X509Certificate(issued.certPem).serialNumber.toLowerCase(),
      );
      assert.ok(!JSON.stringify(after?.status).includes('PRIVATE KEY'), 'no key material in status');
      assert.ok(Number(w.server.resourceVersion) > Number(written), 'the binding status is written');
      const settled = w.server.resourceVersion;
      await w.reconcile('web');
      assert.equal(w.server.resourceVersion, settled, 'an up-to-date Certificate is not applied again');
    });

    it('sets Ready=False/CertificateConflict for a Certificate of that name it does not control, and leaves it alone', async () => {
      const w = await bindingWorld({ certManager: true });
      const theirs = await w.user.create<CMCertificate>({
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: { name: 'web', namespace: APPS },
        spec: { secretName: 'other-tls', dnsNames: ['other.test'], issuerRef: { name: 'x' } },
      } as CMCertificate);
      await w.tick();
      await w.create('web', spec);
      await w.reconcile('web');

      assert.equal(
        condition(await w.get('web'), BindingCondition.Ready),
        `False/${BindingReason.CertificateConflict}`,
      );
      assert.equal((await certificate(w))?.metadata.resourceVersion, theirs.metadata.resourceVersion);
      assert.deepEqual(w.audit.actions, []);
    });

    it('sets Ready=False/SecretConflict for an unlabelled Secret of that name (cert-manager would overwrite it), and applies no Certificate', async () => {
      const w = await bindingWorld({ certManager: true });
      const foreign = await w.userSecret('web-tls', { 'tls.crt': 'theirs', 'tls.key': 'theirs' });
      await w.create('web', spec);
      await w.reconcile('web');

      assert.equal(
        condition(await w.get('web'), BindingCondition.Ready),
        `False/${BindingReason.SecretConflict}`,
      );
      assert.equal(await certificate(w), undefined);
      assert.equal((await w.secret('web-tls'))?.metadata.resourceVersion, foreign.metadata.resourceVersion);
    });
  });
});

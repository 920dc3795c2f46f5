import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { CertificateBinding } from '../../crds/v1alpha1/index.ts';
import { createCA, issueLeaf, type IssuedPair } from '../pki/index.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { leafPlan, leafSecret, lifetimeCut, readLeaf, renewalTimeOf } from './internal.ts';
import {
  bundleOf,
  caPlan,
  caSecret,
  caVersions,
  holdsLeafOf,
  issuingCA,
  RETIRED_ANNOTATION,
  ROTATE_ANNOTATION,
  servingCA,
  type CAVersion,
} from '../internalca/ca.ts';

const rand = (n: number) => new Uint8Array(randomBytes(n));
const T0 = new Date('2030-01-01T00:00:00Z');
const H = 3_600_000;
const NS = 'palisade-system';

function binding(dnsNames = ['svc.ns.svc'], duration = '2160h', renewBefore = '720h'): CertificateBinding {
  return {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'CertificateBinding',
    metadata: { name: 'svc', namespace: 'ns', uid: 'uid-1', generation: 1 },
    spec: { secretName: 'svc-tls', expiryWarning: '336h', internal: { dnsNames, duration, renewBefore } },
  };
}

function withAnnotations(s: Secret, annotations: Record<string, string>): Secret {
  return { ...s, metadata: { ...s.metadata, annotations } };
}

describe('the internal CA keeper (pure plan)', () => {
  let v1: Secret;
  let v2: Secret;

  before(async function () {
    this.timeout(30_000);
    const mk = async (version: number) =>
      caSecret(
        NS,
        version,
        await createCA({
          subject: `CN=FAKE test v${version}`,
          notBefore: T0,
          notAfter: new Date(T0.getTime() + 10_000 * H),
          rand,
        }),
      );
    [v1, v2] = [await mk(1), await mk(2)];
  });

  const versions = (...secrets: Secret[]) => caVersions(secrets, NS);

  it('creates version 1 when there is no CA', () => {
    assert.deepEqual(caPlan([], () => false, T0, 0).create, { version: 1, why: 'no internal CA yet' });
  });

  it('creates the next version when the active CA carries the rotate annotation', () => {
    const plan = caPlan(versions(withAnnotations(v1, { [ROTATE_ANNOTATION]: 'true' })), () => false, T0, 0);
    assert.equal(plan.create?.version, 2);
  });

  it('rotates automatically once 80% of the CA lifetime has passed, and waits until then', () => {
    const vs = versions(v1);
    assert.equal(caPlan(vs, () => false, new Date(T0.getTime() + 7_999 * H), 0).create, undefined);
    assert.equal(caPlan(vs, () => false, new Date(T0.getTime() + 7_999 * H), 0).recheckAfterMs, H);
    assert.equal(caPlan(vs, () => false, new Date(T0.getTime() + 8_000 * H), 0).create?.version, 2);
  });

  it('keeps an older CA while a leaf still names it, and retires it once none does', () => {
    const vs = versions(v1, v2);
    const [old] = vs as [CAVersion];
    assert.deepEqual(caPlan(vs, (v) => v.keyId === old.keyId, T0, 0).retire, []);
    assert.deepEqual(
      caPlan(vs, () => false, T0, 0).retire.map((v) => v.version),
      [1],
    );
  });

  it('keeps an older CA until its successor is the overlap old, and serves it to servers until then', () => {
    const created = (s: Secret, at: Date): Secret => ({
      ...s,
      metadata: { ...s.metadata, creationTimestamp: at.toISOString() },
    });
    const vs = versions(created(v1, T0), created(v2, new Date(T0.getTime() + 100 * H)));
    const [ca1, ca2] = vs as [CAVersion, CAVersion];
    const overlap = 48 * H;
    const at = (h: number) => new Date(T0.getTime() + h * H);
    const published = bundleOf(vs);
    // Agent client certificates (no leaf Secret) from v1 live up to half the overlap after v2 came.
    assert.deepEqual(caPlan(vs, () => false, at(147), overlap).retire, [], 'not within the overlap');
    assert.equal(caPlan(vs, () => false, at(147), overlap).recheckAfterMs, H, 'woken when it ends');
    assert.deepEqual(
      caPlan(vs, () => false, at(148), overlap).retire.map((v) => v.version),
      [1],
    );
    assert.deepEqual(caPlan(vs, (v) => v === ca1, at(148), overlap).retire, [], 'a leaf still holds it');
    // The servers agents reach keep the CA agents were given until they have renewed (and learnt v2).
    assert.equal(servingCA(vs, published, at(147), overlap), ca1);
    assert.equal(servingCA(vs, published, at(148), overlap), ca2);
    assert.equal(servingCA(vs, bundleOf(versions(v1)), at(148), overlap)?.version, 1, 'v2 not published');
    assert.equal(issuingCA(vs, published), ca2, 'leaves come from v2 at once');
  });

  it('counts as a leaf of a CA only a Secret holding an unexpired certificate that CA signed', async () => {
    const [ca1, ca2] = versions(v1, v2) as [CAVersion, CAVersion];
    const leaf = (ca: CAVersion, notAfter: Date) =>
      issueLeaf({ ca: ca.pair, dnsNames: ['svc.ns.svc'], notBefore: T0, notAfter, rand });
    const holding = (pem: string): Secret => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'leaf', namespace: 'ns', labels: { 'palisade.dev/ca-id': ca1.keyId } },
      data: { 'tls.crt': Buffer.from(pem).toString('base64') },
    });
    const current = await leaf(ca1, new Date(T0.getTime() + 100 * H));
    assert.equal(holdsLeafOf(holding(current.certPem), ca1, T0), true);
    assert.equal(holdsLeafOf(holding(current.certPem), ca2, T0), false, 'another CA signed it');
    assert.equal(
      holdsLeafOf(holding(current.certPem), ca1, new Date(T0.getTime() + 101 * H)),
      false,
      'expired',
    );
    // The label alone, as a tenant can write it in its own namespace: no certificate, or not a certificate.
    assert.equal(holdsLeafOf(holding('x'), ca1, T0), false);
    assert.equal(holdsLeafOf({ ...holding(''), data: {} }, ca1, T0), false);
    // A look-alike CA: the same subject as version 1, another key.
    const lookalike = await createCA({
      subject: 'CN=FAKE test v1',
      notBefore: T0,
      notAfter: new Date(T0.getTime() + 10_000 * H),
      rand,
    });
    const forged = await issueLeaf({
      ca: lookalike,
      dnsNames: ['svc.ns.svc'],
      notBefore: T0,
      notAfter: new Date(T0.getTime() + 100 * H),
      rand,
    });
    assert.equal(holdsLeafOf(holding(forged.certPem), ca1, T0), false, 'same issuer name, another key');
  });

  it('bundles the active CA first and every older CA not retired', () => {
    const [a, b] = versions(v1, v2) as [CAVersion, CAVersion];
    assert.equal(bundleOf([a, b]), b.pair.certPem.trim() + '\n' + a.pair.certPem.trim() + '\n');
    const retired = versions(withAnnotations(v1, { [RETIRED_ANNOTATION]: 'true' }), v2);
    assert.equal(bundleOf(retired), b.pair.certPem.trim() + '\n');
  });

  it('issues only from a CA that is already in the published bundle', () => {
    const vs = versions(v1, v2);
    assert.equal(issuingCA(vs, bundleOf(vs.slice(0, 1)))?.version, 1);
    assert.equal(issuingCA(vs, bundleOf(vs))?.version, 2);
    assert.equal(issuingCA(vs, undefined), undefined);
  });
});

describe('leafPlan', () => {
  let ca: IssuedPair;
  let caInfo: CAVersion;
  let stored: Secret;
  const bundle = () => bundleOf([caInfo]);

  before(async function () {
    this.timeout(30_000);
    ca = await createCA({
      subject: 'CN=FAKE test CA',
      notBefore: T0,
      notAfter: new Date(T0.getTime() + 10_000 * H),
      rand,
    });
    [caInfo] = caVersions([caSecret(NS, 1, ca)], NS) as [CAVersion];
    const pem = await issueLeaf({
      ca,
      dnsNames: ['svc.ns.svc'],
      notBefore: new Date(T0.getTime() - 60_000),
      notAfter: new Date(T0.getTime() + 2160 * H),
      rand,
    });
    stored = leafSecret(binding(), caInfo, bundle(), pem);
  });

  const plan = (
    b: CertificateBinding,
    s: Secret | undefined,
    now = T0,
    keyId = caInfo.keyId,
    caBundle = bundle(),
  ) => leafPlan(b, s ? readLeaf(s) : undefined, { keyId, bundle: caBundle }, now);

  it('issues when there is no leaf yet', () => {
    assert.deepEqual(plan(binding(), undefined), { action: 'issue', why: 'no certificate yet' });
  });

  it('keeps a current leaf', () => {
    assert.deepEqual(plan(binding(), stored), { action: 'keep' });
  });

  it('renews at notAfter − renewBefore, not before', () => {
    const renewal = renewalTimeOf(
      binding(),
      readLeaf(stored).facts as NonNullable<ReturnType<typeof readLeaf>['facts']>,
    );
    assert.equal(renewal.toISOString(), new Date(T0.getTime() + 1440 * H).toISOString());
    assert.deepEqual(plan(binding(), stored, new Date(renewal.getTime() - 1)), { action: 'keep' });
    assert.deepEqual(plan(binding(), stored, renewal), { action: 'issue', why: 'renewal is due' });
  });

  it('reissues when the names change, the CA rotated, or the duration was shortened', () => {
    assert.equal(plan(binding(['other.ns.svc']), stored).action, 'issue');
    assert.deepEqual(plan(binding(), stored, T0, 'another-ca'), {
      action: 'issue',
      why: 'the internal CA was rotated',
    });
    assert.deepEqual(plan(binding(['svc.ns.svc'], '24h', '1h'), stored), {
      action: 'issue',
      why: 'spec.internal.duration was shortened',
    });
  });

  it('only refreshes ca.crt when the bundle changed', () => {
    assert.deepEqual(plan(binding(), stored, T0, caInfo.keyId, 'new bundle'), { action: 'bundle' });
  });

  it('reissues a leaf whose key does not match its certificate', () => {
    const broken = { ...stored, data: { ...stored.data, 'tls.key': Buffer.from('junk').toString('base64') } };
    assert.equal(plan(binding(), broken).action, 'issue');
  });

  it('says when the CA cut the lifetime short, and only then', async () => {
    const caEnd = caInfo.cert.validToDate;
    const factsOf = (s: Secret) => readLeaf(s).facts as NonNullable<ReturnType<typeof readLeaf>['facts']>;
    assert.equal(lifetimeCut(binding(), factsOf(stored), caEnd), undefined, 'a full 2160h leaf');
    // 20000h asked, 10000h of CA left: the leaf ends with the CA (internal.ts `issue` takes the earlier).
    const cut = await issueLeaf({
      ca,
      dnsNames: ['svc.ns.svc'],
      notBefore: new Date(T0.getTime() - 60_000),
      notAfter: caEnd,
      rand,
    });
    const long = binding(['svc.ns.svc'], '20000h');
    const note = lifetimeCut(long, factsOf(leafSecret(long, caInfo, bundle(), cut)), caEnd);
    assert.equal(
      note,
      `it ends with the internal CA at ${caEnd.toISOString().replace('.000Z', 'Z')}, 416 days short of spec.internal.duration (20000h): a CA cannot sign past its own validity; the CA's successor (rotation at 80% of its life, or on request) reissues it`,
    );
    // A leaf shorter than asked for another reason (duration lengthened since) ends before the CA: no note.
    assert.equal(lifetimeCut(binding(['svc.ns.svc'], '4000h'), factsOf(stored), caEnd), undefined);
  });
});

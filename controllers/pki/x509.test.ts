import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import {
  covers,
  factsOf,
  keyStrength,
  mergeBundles,
  parseCertificates,
  parsePrivateKey,
  sameCertificates,
  uncoveredNames,
  verifyChain,
} from './x509.ts';
import { createCA, issueLeaf, serialFrom } from './issue.ts';
import { PkiError } from './errors.ts';
import { FAKE_PEM, fakeCertificate } from './testdata/fixtures.ts';

const rand = (n: number) => new Uint8Array(randomBytes(n));

describe('name coverage (RFC 6125)', () => {
  const table: [string, string, boolean][] = [
    ['a.example.com', 'a.example.com', true],
    ['A.Example.com', 'a.example.COM', true],
    ['*.example.com', 'a.example.com', true],
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'a.b.example.com', false],
    ['*.example.com', '*.example.com', true],
    ['a.example.com', '*.example.com', false],
    ['*.a.example.com', '*.example.com', false],
  ];
  for (const [san, name, want] of table) {
    it(`${want ? 'covers' : 'does not cover'} ${name} with SAN ${san}`, () =>
      assert.equal(covers(san, name), want));
  }

  it('lists the names no SAN covers', () => {
    assert.deepEqual(uncoveredNames(['*.x.test', 'y.test'], ['a.x.test', 'y.test', 'z.test']), ['z.test']);
  });
});

describe('the internal CA and its leaves', () => {
  let ca: Awaited<ReturnType<typeof createCA>>;
  const now = new Date('2030-01-01T00:00:00Z');

  before(async function () {
    this.timeout(30_000);
    ca = await createCA({
      subject: 'CN=FAKE test Palisade CA',
      notBefore: now,
      notAfter: new Date('2040-01-01T00:00:00Z'),
      rand,
    });
  });

  it('makes an RSA-2048 CA certificate that is a CA and signs itself', () => {
    const cert = new X509Certificate(ca.certPem);
    assert.equal(cert.ca, true);
    assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.ok(cert.verify(cert.publicKey));
    assert.ok(cert.checkPrivateKey(createPrivateKey(ca.keyPem)));
  });

  it('issues RSA-2048 leaves for the given names that verify against the CA', async () => {
    const leaf = await issueLeaf({
      ca,
      dnsNames: ['svc.ns.svc', '*.svc.ns.svc'],
      notBefore: now,
      notAfter: new Date('2030-04-01T00:00:00Z'),
      rand,
    });
    const [cert] = parseCertificates(leaf.certPem);
    assert.ok(cert);
    const facts = factsOf(cert);
    assert.deepEqual(facts.dnsNames, ['svc.ns.svc', '*.svc.ns.svc']);
    assert.equal(facts.issuer, 'CN=FAKE test Palisade CA');
    assert.equal(facts.notAfter.toISOString(), '2030-04-01T00:00:00.000Z');
    assert.match(facts.fingerprintSHA256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.equal(cert.ca, false);
    assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.ok(cert.checkPrivateKey(parsePrivateKey(leaf.keyPem)));
    const anchor = new X509Certificate(ca.certPem);
    assert.deepEqual(verifyChain(cert, [], [anchor], new Date('2030-02-01T00:00:00Z')), { ok: true });
  });

  it('adds IP address SANs when asked (for servers dialled by IP, like nats-server)', async () => {
    const leaf = await issueLeaf({
      ca,
      dnsNames: ['nats.ns.svc'],
      ipAddresses: ['127.0.0.1'],
      notBefore: now,
      notAfter: new Date('2030-02-01T00:00:00Z'),
      rand,
    });
    const cert = new X509Certificate(leaf.certPem);
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.checkHost('nats.ns.svc'), 'nats.ns.svc');
  });

  it('draws serial numbers from the injected random source, positive and non-zero', () => {
    assert.equal(
      serialFrom(() => new Uint8Array(16)),
      '01000000000000000000000000000000',
    );
    assert.match(
      serialFrom(() => new Uint8Array(16).fill(0xff)),
      /^7f/,
    );
  });
});

describe('reading keys and certificates', () => {
  it('refuses text without a certificate, with a PkiError that does not quote the input', () => {
    assert.throws(
      () => parseCertificates('secret stuff'),
      (e: unknown) => e instanceof PkiError && e.code === 'InvalidPEM' && !e.message.includes('secret stuff'),
    );
  });

  it('judges key strength: RSA-1024 weak, P-256 and RSA-2048 fine', async function () {
    this.timeout(20_000);
    const weak = await fakeCertificate({ key: 'rsa1024' });
    const ec = await fakeCertificate({ key: 'p256' });
    assert.deepEqual(keyStrength(new X509Certificate(weak.certPem).publicKey), {
      ok: false,
      description: 'RSA 1024-bit',
    });
    assert.deepEqual(keyStrength(new X509Certificate(ec.certPem).publicKey), {
      ok: true,
      description: 'ECDSA prime256v1',
    });
  });

  it('verifies a chain through an intermediate and refuses one from another root', async function () {
    this.timeout(20_000);
    const root = await fakeCertificate({ isCA: true, name: 'root' });
    const other = await fakeCertificate({ isCA: true, name: 'other' });
    const mid = await fakeCertificate({ isCA: true, name: 'intermediate', issuer: root });
    const leaf = await fakeCertificate({ issuer: mid, dnsNames: ['a.test'] });
    const [l, m, r, o] = [leaf, mid, root, other].map(
      (p) => new X509Certificate(p.certPem),
    ) as X509Certificate[];
    assert.ok(l && m && r && o);
    assert.deepEqual(verifyChain(l, [m], [r], new Date()), { ok: true });
    assert.equal(verifyChain(l, [], [r], new Date()).ok, false);
    assert.equal(verifyChain(l, [m], [o], new Date()).ok, false);
  });
});

describe('CA bundles', () => {
  const pem = FAKE_PEM.certificate;
  const [a, b, c] = [pem('QUFB'), pem('QkJC'), pem('Q0ND')];

  it('merges bundles into one, each certificate once whatever its line breaks, first seen first', () => {
    const rewrapped = a.replace('QUFB', 'QU\nFB');
    assert.equal(mergeBundles(`${b}\n${a}\n`, undefined, `${rewrapped}\r\n${c}`, ''), `${b}\n${a}\n${c}\n`);
    assert.equal(mergeBundles(undefined, ''), '');
    assert.equal(mergeBundles(`${a}\n${FAKE_PEM.privateKey}`), `${a}\n`);
  });

  it('tells whether two bundles hold the same certificates, whatever their order and line breaks', () => {
    assert.equal(sameCertificates(`${a}\n${b}\n`, `${b}\r\n\r\n${a}`), true);
    assert.equal(sameCertificates(`${a}\n`, `${a}\n${b}\n`), false);
    assert.equal(sameCertificates(`${a}\n`, `${c}\n`), false);
  });
});

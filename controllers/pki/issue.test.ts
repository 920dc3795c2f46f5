import assert from 'node:assert/strict';
import { X509Certificate, type webcrypto as wc } from 'node:crypto';
import { webcrypto, x509 } from './peculiar.ts';
import { PkiError } from './errors.ts';
import { createCA, issueClientCertificate, verifyCertificateRequest } from './issue.ts';

const rand = (n: number) => new Uint8Array(n).fill(9);
const T0 = new Date('2026-06-01T00:00:00Z');
const DAY = 86_400_000;
const URI = 'spiffe://palisade-0123456789abcdef0123456789abcdef/tenants/a1b2c3d4e5f6/clusteragents/x';

async function csrFor(
  alg: wc.EcKeyGenParams | wc.RsaHashedKeyGenParams,
  name = 'CN=ignored',
): Promise<Uint8Array> {
  const signing = alg.name === 'ECDSA' ? { ...alg, hash: 'SHA-256' } : alg;
  const keys = (await webcrypto.subtle.generateKey(signing, true, ['sign', 'verify'])) as wc.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name,
    keys,
    signingAlgorithm: signing,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'evil.example' }])],
  });
  return new Uint8Array(csr.rawData);
}

describe('pki: client certificates from certificate requests', () => {
  it('signs the requested key with only the identity the caller sets (the request asks in vain)', async () => {
    const ca = await createCA({
      subject: 'CN=FAKE test CA',
      notBefore: T0,
      notAfter: new Date(+T0 + 365 * DAY),
      rand,
    });
    const req = await verifyCertificateRequest(await csrFor({ name: 'ECDSA', namedCurve: 'P-256' }));
    const { certPem, serial } = await issueClientCertificate({
      ca,
      publicKey: req.publicKey,
      uris: [URI],
      notBefore: T0,
      notAfter: new Date(+T0 + DAY),
      rand,
    });
    const cert = new X509Certificate(certPem);
    assert.equal(cert.subjectAltName, `URI:${URI}`);
    assert.ok(!cert.subject);
    assert.ok(cert.verify(new X509Certificate(ca.certPem).publicKey));
    assert.equal(cert.serialNumber.toLowerCase(), serial);
    assert.equal(cert.ca, false);
    assert.equal(Date.parse(cert.validTo), +T0 + DAY);
    assert.equal(
      Buffer.from(cert.publicKey.export({ type: 'spki', format: 'der' })).toString('hex'),
      Buffer.from(req.publicKey.rawData).toString('hex'),
    );
  });

  it('refuses a request whose signature does not verify (a tampered public key)', async () => {
    const der = await csrFor({ name: 'ECDSA', namedCurve: 'P-256' });
    const tampered = new Uint8Array(der);
    // The last byte of the public key's BIT STRING sits before the signature algorithm; flip one near the middle.
    const i = Math.floor(der.length / 2);
    tampered[i] = (tampered[i] ?? 0) ^ 0x01;
    await assert.rejects(verifyCertificateRequest(tampered), PkiError);
  });

  it('refuses bytes that are no request, and an RSA key under 2048 bits', async () => {
    await assert.rejects(verifyCertificateRequest(new Uint8Array([1, 2, 3])), { code: 'InvalidCSR' });
    const weak = await csrFor({
      name: 'RSASSA-PKCS1-v1_5',
      hash: 'SHA-256',
      modulusLength: 1024,
      publicExponent: new Uint8Array([1, 0, 1]),
    });
    await assert.rejects(verifyCertificateRequest(weak), { code: 'WeakKey' });
  });
});

/**
 * The broken-import table shared by the unit tests (validate.test.ts) and the e2e journey
 * (e2e/certificate-imported.int.test.ts). Every certificate and key is FAKE, generated on the fly.
 */
import { encryptedKeyPem, fakeCertificate, HOURS } from '../../pki/testdata/fixtures.ts';
import type { IssuedPair } from '../../pki/index.ts';

export const NAMES = ['app.example.test', 'api.example.test'];

export interface ImportCase {
  name: string;
  /** Data of the imported Secret; undefined: the Secret does not exist. */
  secret: Record<string, string> | undefined;
  /** The CA Secret (key `ca.crt` unless `caKey` says otherwise); undefined with `caRef`: it does not exist. */
  ca?: { data: Record<string, string> | undefined; key?: string };
  dnsNames?: string[];
  reason: string;
}

export interface ImportFixtures {
  ca: IssuedPair;
  good: IssuedPair;
  cases: ImportCase[];
}

const pair = (p: IssuedPair) => ({ 'tls.crt': p.certPem, 'tls.key': p.keyPem });

/** A good CA-signed leaf for NAMES, and at least 15 ways to get an import wrong. */
export async function importFixtures(): Promise<ImportFixtures> {
  const ca = await fakeCertificate({ isCA: true, name: 'root' });
  const otherCa = await fakeCertificate({ isCA: true, name: 'other root' });
  const leaf = (o: Parameters<typeof fakeCertificate>[0] = {}) =>
    fakeCertificate({ issuer: ca, dnsNames: NAMES, ...o });
  const good = await leaf();
  const other = await leaf();
  const now = Date.now();
  const corrupt = good.certPem.replace(/[A-Za-z]{20}/, 'AAAAAAAAAAAAAAAAAAAA');
  const badKey = '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n';
  const cases: ImportCase[] = [
    { name: 'the Secret does not exist', secret: undefined, reason: 'SecretNotFound' },
    { name: 'tls.crt is missing', secret: { 'tls.key': good.keyPem }, reason: 'MissingCertificate' },
    { name: 'tls.key is missing', secret: { 'tls.crt': good.certPem }, reason: 'MissingPrivateKey' },
    {
      name: 'tls.crt is garbage',
      secret: { 'tls.crt': 'hello', 'tls.key': good.keyPem },
      reason: 'InvalidPEM',
    },
    {
      name: 'tls.crt is a corrupt PEM block',
      secret: { 'tls.crt': corrupt, 'tls.key': good.keyPem },
      reason: 'InvalidPEM',
    },
    {
      name: 'tls.key is garbage',
      secret: { 'tls.crt': good.certPem, 'tls.key': badKey },
      reason: 'InvalidPrivateKey',
    },
    {
      name: 'tls.key is encrypted with a passphrase',
      secret: { 'tls.crt': good.certPem, 'tls.key': encryptedKeyPem(good.keyPem) },
      reason: 'EncryptedPrivateKey',
    },
    {
      name: 'the key belongs to another certificate',
      secret: { 'tls.crt': good.certPem, 'tls.key': other.keyPem },
      reason: 'KeyMismatch',
    },
    {
      name: 'tls.crt lists the chain leaf last',
      secret: { 'tls.crt': ca.certPem + good.certPem, 'tls.key': good.keyPem },
      reason: 'ChainOutOfOrder',
    },
    { name: 'the key is RSA-1024', secret: pair(await leaf({ key: 'rsa1024' })), reason: 'WeakKey' },
    {
      name: 'the signature is SHA-1',
      secret: pair(await leaf({ key: 'rsa2048', hash: 'SHA-1' })),
      reason: 'WeakSignature',
    },
    {
      name: 'it is a CA certificate',
      secret: pair(await leaf({ isCA: true })),
      reason: 'NotServerCertificate',
    },
    {
      name: 'it is a client-only certificate',
      secret: pair(await leaf({ eku: 'clientAuth' })),
      reason: 'NotServerCertificate',
    },
    {
      name: 'it is not yet valid',
      secret: pair(
        await leaf({ notBefore: new Date(now + 24 * HOURS), notAfter: new Date(now + 48 * HOURS) }),
      ),
      reason: 'NotYetValid',
    },
    {
      name: 'it has expired',
      secret: pair(
        await leaf({ notBefore: new Date(now - 48 * HOURS), notAfter: new Date(now - 24 * HOURS) }),
      ),
      reason: 'Expired',
    },
    {
      name: 'a name is not covered',
      secret: pair(await leaf({ dnsNames: ['app.example.test'] })),
      reason: 'NameMismatch',
    },
    {
      name: 'a wildcard covers one label only',
      secret: pair(await leaf({ dnsNames: ['*.example.test'] })),
      dnsNames: ['a.b.example.test'],
      reason: 'NameMismatch',
    },
    {
      name: 'the CA Secret does not exist',
      secret: pair(good),
      ca: { data: undefined },
      reason: 'CASecretNotFound',
    },
    {
      name: 'the CA Secret lacks the named key',
      secret: pair(good),
      ca: { data: { 'ca.crt': ca.certPem }, key: 'root.pem' },
      reason: 'MissingCA',
    },
    {
      name: 'the CA is garbage',
      secret: pair(good),
      ca: { data: { 'ca.crt': 'nope' } },
      reason: 'InvalidCA',
    },
    {
      name: 'the chain does not verify against the CA',
      secret: pair(good),
      ca: { data: { 'ca.crt': otherCa.certPem } },
      reason: 'ChainInvalid',
    },
  ];
  return { ca, good, cases };
}

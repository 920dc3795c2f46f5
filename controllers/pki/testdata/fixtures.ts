/**
 * FAKE test certificates and keys, generated on the fly (nothing secret is checked in). Every subject
 * says "FAKE test": none of these is trusted anywhere. Used by the unit tests and the e2e journeys to
 * build good and deliberately broken imports.
 */
import { createPrivateKey, KeyObject, type webcrypto as wc } from 'node:crypto';
import { webcrypto, x509 } from '../peculiar.ts';
import type { IssuedPair } from '../issue.ts';

export type FixtureKey = 'rsa1024' | 'rsa2048' | 'p256' | 'p384' | 'ed25519';

export interface FixtureOptions {
  /** Certificate subject CN; "FAKE test" is prepended. */
  name?: string;
  key?: FixtureKey;
  dnsNames?: string[];
  notBefore?: Date;
  notAfter?: Date;
  isCA?: boolean;
  /** Restrict extended key usage (default: serverAuth). */
  eku?: 'serverAuth' | 'clientAuth';
  /** Signature hash (default SHA-256); SHA-1 for the weak-signature case. */
  hash?: 'SHA-256' | 'SHA-1';
  /** The CA that signs it; self-signed when absent. */
  issuer?: IssuedPair;
}

const HOUR = 3_600_000;
let serial = 1;

function keyAlgorithm(key: FixtureKey) {
  switch (key) {
    case 'rsa1024':
    case 'rsa2048':
      return {
        name: 'RSASSA-PKCS1-v1_5',
        hash: 'SHA-256',
        publicExponent: new Uint8Array([1, 0, 1]),
        modulusLength: key === 'rsa1024' ? 1024 : 2048,
      };
    case 'p256':
      return { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    case 'p384':
      return { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' };
    case 'ed25519':
      return { name: 'Ed25519' };
  }
}

/** The WebCrypto signing algorithm for a signer's private key. */
function signingAlgorithm(key: wc.CryptoKey, hash: string) {
  const name = key.algorithm.name;
  if (name === 'ECDSA') return { name, hash };
  if (name === 'Ed25519') return { name };
  return { name: 'RSASSA-PKCS1-v1_5', hash };
}

async function importSigner(keyPem: string, hash: string): Promise<wc.CryptoKey> {
  const k = createPrivateKey(keyPem);
  const type = k.asymmetricKeyType;
  if (type === 'ec') {
    const curve = k.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'P-384' : 'P-256';
    return k.toCryptoKey({ name: 'ECDSA', namedCurve: curve }, false, ['sign']);
  }
  if (type === 'ed25519') return k.toCryptoKey({ name: 'Ed25519' }, false, ['sign']);
  return k.toCryptoKey({ name: 'RSASSA-PKCS1-v1_5', hash }, false, ['sign']);
}

export async function generateKeys(key: FixtureKey): Promise<wc.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(keyAlgorithm(key), true, [
    'sign',
    'verify',
  ])) as wc.CryptoKeyPair;
}

/** A FAKE certificate and key for tests. */
export async function fakeCertificate(o: FixtureOptions = {}): Promise<IssuedPair> {
  const keys = await generateKeys(o.key ?? (o.isCA ? 'rsa2048' : 'p256'));
  const now = Date.now();
  const subject = `CN=FAKE test ${o.name ?? (o.isCA ? 'CA' : 'leaf')}`;
  const issuerCert = o.issuer ? new x509.X509Certificate(o.issuer.certPem) : undefined;
  const signingKey = o.issuer ? await importSigner(o.issuer.keyPem, o.hash ?? 'SHA-256') : keys.privateKey;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(!!o.isCA, o.isCA ? 1 : undefined, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (issuerCert) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuerCert));
  if (o.isCA) {
    extensions.push(
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    );
  } else {
    extensions.push(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage[o.eku ?? 'serverAuth']]));
  }
  if (o.dnsNames?.length) {
    extensions.push(
      new x509.SubjectAlternativeNameExtension(o.dnsNames.map((value) => ({ type: 'dns' as const, value }))),
    );
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: (serial++).toString(16).padStart(4, '0'),
    subject,
    issuer: issuerCert?.subject ?? subject,
    notBefore: o.notBefore ?? new Date(now - HOUR),
    notAfter: o.notAfter ?? new Date(now + 90 * 24 * HOUR),
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: signingAlgorithm(signingKey, o.hash ?? 'SHA-256'),
    extensions,
  });
  const keyPem = KeyObject.from(keys.privateKey).export({ format: 'pem', type: 'pkcs8' }).toString();
  return { certPem: cert.toString('pem'), keyPem };
}

/** The same key, encrypted with a passphrase (PKCS#8 EncryptedPrivateKeyInfo). */
export function encryptedKeyPem(keyPem: string): string {
  return createPrivateKey(keyPem)
    .export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'FAKE test passphrase' })
    .toString();
}

export const HOURS = HOUR;

/** FAKE PEM blocks whose bodies are a few letters, not DER: for code that only splits and compares bundles. */
export const FAKE_PEM = {
  certificate: (body: string): string => `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----`,
  privateKey: '-----BEGIN PRIVATE KEY-----\nRkFLRQ==\n-----END PRIVATE KEY-----',
};

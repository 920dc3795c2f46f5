/**
 * Making certificates: Palisade's internal CA and the leaf certificates it issues, RSA-2048 with
 * SHA-256 signatures (the reference architecture's inter-service HTTPS). Built with @peculiar/x509 on
 * Node's WebCrypto; serial numbers come from the injected random source, times from the caller.
 */
import { createPrivateKey, KeyObject, type webcrypto as wc } from 'node:crypto';
import { webcrypto, x509 } from './peculiar.ts';

export type RandomSource = (n: number) => Uint8Array;

/** A certificate and its private key, both PEM (the key PKCS#8). */
export interface IssuedPair {
  certPem: string;
  keyPem: string;
}

export const RSA_SHA256 = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
} as const;

/**
 * A positive, non-zero 128-bit serial (RFC 5280 §4.1.2.2 allows up to 20 octets; CA/B Forum asks for
 * at least 64 random bits). Hex, as @peculiar/x509 takes it.
 */
export function serialFrom(rand: RandomSource): string {
  const b = rand(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x01;
  return Buffer.from(b).toString('hex');
}

export async function generateRsaKeyPair(modulusLength = 2048): Promise<wc.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey({ ...RSA_SHA256, modulusLength }, true, [
    'sign',
    'verify',
  ])) as wc.CryptoKeyPair;
}

export function pkcs8Pem(key: wc.CryptoKey): string {
  return KeyObject.from(key).export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** A self-signed CA certificate (basicConstraints CA, pathLen 0: it signs leaves only). */
export async function createCA(o: {
  subject: string;
  notBefore: Date;
  notAfter: Date;
  rand: RandomSource;
}): Promise<IssuedPair> {
  const keys = await generateRsaKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialFrom(o.rand),
    name: o.subject,
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    keys,
    signingAlgorithm: RSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: pkcs8Pem(keys.privateKey) };
}

/**
 * A TLS leaf for `dnsNames` signed by `ca`, on a fresh RSA-2048 key. The first name becomes the CN when
 * it fits (64 characters); clients match on the SANs.
 */
export async function issueLeaf(o: {
  ca: IssuedPair;
  dnsNames: readonly string[];
  /** IP address SANs (nats-server is often dialled by IP). */
  ipAddresses?: readonly string[];
  notBefore: Date;
  notAfter: Date;
  rand: RandomSource;
}): Promise<IssuedPair> {
  const caCert = new x509.X509Certificate(o.ca.certPem);
  const signingKey = await createPrivateKey(o.ca.keyPem).toCryptoKey(RSA_SHA256, false, ['sign']);
  const keys = await generateRsaKeyPair();
  const first = o.dnsNames[0] ?? '';
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialFrom(o.rand),
    subject: first && first.length <= 64 ? `CN=${first}` : '',
    issuer: caCert.subject,
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: RSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      new x509.SubjectAlternativeNameExtension([
        ...o.dnsNames.map((value) => ({ type: 'dns' as const, value })),
        ...(o.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: pkcs8Pem(keys.privateKey) };
}

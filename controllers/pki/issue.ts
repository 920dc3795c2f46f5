/**
 * Making certificates: Palisade's internal CA and the leaf certificates it issues, RSA-2048 with
 * SHA-256 signatures (the reference architecture's inter-service HTTPS). Built with @peculiar/x509 on
 * Node's WebCrypto; serial numbers come from the injected random source, times from the caller.
 */
import { createPrivateKey, createPublicKey, KeyObject, type webcrypto as wc } from 'node:crypto';
import { PkiError, PkiErrorCode } from './errors.ts';
import { MIN_RSA_BITS } from './x509.ts';
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

/** What a certificate request (PKCS#10) proves: its key is the requester's, and which key that is. */
export interface VerifiedRequest {
  /** The request's public key, as @peculiar/x509 takes it for signing. */
  publicKey: x509.PublicKey;
  /** The key's type (`rsa`, `ec`, `ed25519`). */
  keyType: string;
}

/**
 * Parses a PKCS#10 request (DER) and checks its self-signature (proof that the requester holds the
 * private key) and its key: RSA of at least {@link MIN_RSA_BITS} bits, ECDSA P-256/P-384, or Ed25519.
 * Throws a PkiError (InvalidCSR, WeakKey) naming the problem, never echoing the request.
 */
export async function verifyCertificateRequest(der: Uint8Array): Promise<VerifiedRequest> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(new Uint8Array(der));
  } catch (e) {
    throw new PkiError(PkiErrorCode.InvalidCSR, 'the certificate request is not a DER PKCS#10 request', {
      cause: e,
    });
  }
  let valid = false;
  try {
    valid = await csr.verify();
  } catch {
    valid = false;
  }
  if (!valid)
    throw new PkiError(PkiErrorCode.InvalidCSR, 'the certificate request signature does not verify');
  const key = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' });
  const type = key.asymmetricKeyType ?? '';
  const details = key.asymmetricKeyDetails ?? {};
  const ok =
    (type === 'rsa' && (details.modulusLength ?? 0) >= MIN_RSA_BITS) ||
    (type === 'ec' && ['prime256v1', 'secp384r1'].includes(details.namedCurve ?? '')) ||
    type === 'ed25519';
  if (!ok)
    throw new PkiError(
      PkiErrorCode.WeakKey,
      `the certificate request's key is not accepted (RSA ≥ ${MIN_RSA_BITS} bits, ECDSA P-256/P-384 or Ed25519)`,
    );
  return { publicKey: csr.publicKey, keyType: type };
}

/**
 * A client certificate signed by `ca` for a key someone else holds (its public key from a verified
 * request): the identity is only what the caller passes (URI SANs), never what the request asked for.
 * Not a CA, digitalSignature, clientAuth only. Returns the PEM and the serial (hex) for revocation records.
 */
export async function issueClientCertificate(o: {
  ca: IssuedPair;
  publicKey: x509.PublicKey;
  uris: readonly string[];
  notBefore: Date;
  notAfter: Date;
  rand: RandomSource;
}): Promise<{ certPem: string; serial: string }> {
  const caCert = new x509.X509Certificate(o.ca.certPem);
  const signingKey = await createPrivateKey(o.ca.keyPem).toCryptoKey(RSA_SHA256, false, ['sign']);
  const serialNumber = serialFrom(o.rand);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber,
    subject: '',
    issuer: caCert.subject,
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    publicKey: o.publicKey,
    signingKey,
    signingAlgorithm: RSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      // NB: critical: the subject is empty, so the SAN is the whole identity (RFC 5280 §4.2.1.6).
      new x509.SubjectAlternativeNameExtension(
        o.uris.map((value) => ({ type: 'url' as const, value })),
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(o.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { certPem: cert.toString('pem'), serial: cert.serialNumber.toLowerCase() };
}

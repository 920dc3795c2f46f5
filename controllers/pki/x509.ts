/**
 * Reading X.509 certificates and keys: PEM splitting, the facts a CertificateBinding shows in status,
 * name coverage, key strength and chain verification. Parsing and verification are node:crypto's
 * (OpenSSL); @peculiar/x509 only decodes what node:crypto does not expose structurally (SANs, DNs,
 * the signature algorithm). Pure: no Kubernetes, no I/O, no logging; every function takes `now`.
 */
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { x509 } from './peculiar.ts';
import { PkiError, PkiErrorCode } from './errors.ts';

/** What status shows about a certificate. Nothing secret: all of it is in the public certificate. */
export interface CertificateFacts {
  notBefore: Date;
  notAfter: Date;
  /** Upper-case hex, as `openssl x509 -serial` prints it. */
  serialNumber: string;
  /** SHA-256 of the DER certificate, colon-separated upper-case hex (`openssl x509 -fingerprint -sha256`). */
  fingerprintSHA256: string;
  dnsNames: string[];
  issuer: string;
  subject: string;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** The PEM blocks in `text`, in order; text between blocks is ignored, as OpenSSL does. */
export function pemBlocks(text: string): { label: string; pem: string }[] {
  return [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1] ?? '', pem: m[0] }));
}

const blockKey = (pem: string) => pem.replace(/\s+/g, '');

/** One bundle of the certificates of `bundles`, each once (whatever its line breaks), first seen first. */
export function mergeBundles(...bundles: (string | undefined)[]): string {
  const seen = new Map<string, string>();
  for (const b of bundles)
    for (const { label, pem } of pemBlocks(b ?? ''))
      if (label === 'CERTIFICATE' && !seen.has(blockKey(pem))) seen.set(blockKey(pem), pem.trim());
  return [...seen.values()].map((pem) => `${pem}\n`).join('');
}

/** Whether two bundles hold the same certificates, whatever their order and line breaks. */
export function sameCertificates(a: string, b: string): boolean {
  const set = (text: string) => {
    const keys = pemBlocks(text).map((x) => blockKey(x.pem));
    return keys.length ? keys.sort().join('\n') : text.trim();
  };
  return set(a) === set(b);
}

/** Every CERTIFICATE block of `text`; throws {@link PkiError} InvalidPEM when there is none or one is corrupt. */
export function parseCertificates(text: string, what = 'certificate'): X509Certificate[] {
  const blocks = pemBlocks(text).filter((b) => b.label === 'CERTIFICATE');
  if (blocks.length === 0) {
    throw new PkiError(PkiErrorCode.InvalidPEM, `${what} holds no PEM "CERTIFICATE" block`);
  }
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b.pem);
    } catch (e) {
      throw new PkiError(PkiErrorCode.InvalidPEM, `${what}: PEM block ${i + 1} is not a valid certificate`, {
        cause: e,
      });
    }
  });
}

/**
 * The private key in `text` (PKCS#8, PKCS#1 or SEC1 PEM). Errors never quote the input: it is a key.
 */
export function parsePrivateKey(text: string, what = 'private key'): KeyObject {
  const block = pemBlocks(text).find((b) => b.label.endsWith('PRIVATE KEY'));
  if (!block) throw new PkiError(PkiErrorCode.InvalidPrivateKey, `${what} holds no PEM private key block`);
  if (block.label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type:\s*4,ENCRYPTED/.test(block.pem)) {
    throw new PkiError(PkiErrorCode.EncryptedPrivateKey, `${what} is encrypted with a passphrase`);
  }
  try {
    return createPrivateKey({ key: block.pem, format: 'pem' });
  } catch (e) {
    throw new PkiError(PkiErrorCode.InvalidPrivateKey, `${what} is not a readable private key`, { cause: e });
  }
}

export function factsOf(cert: X509Certificate): CertificateFacts {
  const parsed = new x509.X509Certificate(cert.raw);
  return {
    notBefore: cert.validFromDate,
    notAfter: cert.validToDate,
    serialNumber: cert.serialNumber.toUpperCase(),
    fingerprintSHA256: cert.fingerprint256,
    dnsNames: dnsNamesOf(cert),
    issuer: parsed.issuer,
    subject: parsed.subject,
  };
}

/** The DNS names among the certificate's subjectAltNames, lower-cased (CN is ignored, as by browsers). */
export function dnsNamesOf(cert: X509Certificate): string[] {
  const parsed = new x509.X509Certificate(cert.raw);
  const san = parsed.getExtension(x509.SubjectAlternativeNameExtension);
  if (!san) return [];
  return san.names.items.filter((n) => n.type === 'dns').map((n) => n.value.toLowerCase());
}

/** The hash of the certificate's signature ("SHA-256"), or the algorithm's name when it has none. */
export function signatureHashOf(cert: X509Certificate): string {
  const alg = new x509.X509Certificate(cert.raw).signatureAlgorithm as {
    name: string;
    hash?: { name: string };
  };
  return alg.hash?.name ?? alg.name;
}

/**
 * Whether SAN `san` covers `name` (RFC 6125 §6.4.3): equal ignoring case, or a wildcard `*.` SAN that
 * stands for exactly one leftmost label. A wildcard name is covered only by the same wildcard.
 */
export function covers(san: string, name: string): boolean {
  const s = san.toLowerCase();
  const n = name.toLowerCase();
  if (s === n) return true;
  if (!s.startsWith('*.') || n.startsWith('*.')) return false;
  const dot = n.indexOf('.');
  return dot > 0 && n.slice(dot + 1) === s.slice(2);
}

/** The names no SAN covers. */
export function uncoveredNames(sans: readonly string[], names: readonly string[]): string[] {
  return names.filter((n) => !sans.some((s) => covers(s, n)));
}

const STRONG_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);
export const MIN_RSA_BITS = 2048;

/**
 * Whether a key is strong enough for TLS today: RSA ≥ 2048 bits (NIST SP 800-57: 112-bit security),
 * ECDSA on P-256/P-384/P-521, Ed25519 or Ed448. Returns a description and, when too weak, why.
 */
export function keyStrength(key: KeyObject): { ok: boolean; description: string } {
  const type = key.asymmetricKeyType ?? 'unknown';
  const d = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa' || type === 'rsa-pss') {
    const bits = d.modulusLength ?? 0;
    return { ok: bits >= MIN_RSA_BITS, description: `RSA ${bits}-bit` };
  }
  if (type === 'ec') {
    const curve = d.namedCurve ?? 'unknown curve';
    return { ok: STRONG_CURVES.has(curve), description: `ECDSA ${curve}` };
  }
  if (type === 'ed25519' || type === 'ed448')
    return { ok: true, description: type === 'ed25519' ? 'Ed25519' : 'Ed448' };
  return { ok: false, description: `${type} key` };
}

/** Whether `cert` can serve TLS: not a CA, and if it restricts extended key usage, serverAuth is in it. */
export function isServerCertificate(cert: X509Certificate): { ok: boolean; why?: string } {
  if (cert.ca) return { ok: false, why: 'it is a CA certificate (basicConstraints CA:TRUE)' };
  const eku = new x509.X509Certificate(cert.raw).getExtension(x509.ExtendedKeyUsageExtension);
  if (eku && !eku.usages.includes(x509.ExtendedKeyUsage.serverAuth)) {
    return { ok: false, why: 'its extended key usage does not include serverAuth' };
  }
  return { ok: true };
}

export function fingerprintOf(cert: X509Certificate): string {
  return cert.fingerprint256;
}

/** A short ID for a CA: the first 12 hex characters of the SHA-256 of its public key (label-safe). */
export function keyIdOf(cert: X509Certificate): string {
  const spki = cert.publicKey.export({ format: 'der', type: 'spki' });
  return createHash('sha256').update(spki).digest('hex').slice(0, 12);
}

const MAX_CHAIN = 10;

/**
 * Verifies that `leaf` chains to one of `anchors` through `intermediates` (RFC 5280 path building,
 * simplified: issuer name and signature, CA flag, validity at `now`). Returns a reason when it does not.
 */
export function verifyChain(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  now: Date,
): { ok: true } | { ok: false; why: string } {
  const isAnchor = (c: X509Certificate) => anchors.some((a) => a.fingerprint256 === c.fingerprint256);
  let current = leaf;
  for (let depth = 0; depth < MAX_CHAIN; depth++) {
    if (depth > 0 && isAnchor(current)) return { ok: true };
    const anchor = anchors.find((a) => signedBy(current, a));
    if (anchor)
      return withinValidity(anchor, now)
        ? { ok: true }
        : { ok: false, why: 'the CA certificate has expired or is not yet valid' };
    const next = intermediates.find((c) => c !== current && c.ca && signedBy(current, c));
    if (!next) {
      return {
        ok: false,
        why: `no certificate in the CA bundle issued "${current.subject.replace(/\n/g, ', ')}" (issuer "${current.issuer.replace(/\n/g, ', ')}")`,
      };
    }
    if (!withinValidity(next, now))
      return { ok: false, why: 'an intermediate certificate has expired or is not yet valid' };
    current = next;
  }
  return { ok: false, why: `the chain is longer than ${MAX_CHAIN} certificates` };
}

function signedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  return issuer.ca && child.checkIssued(issuer) && child.verify(issuer.publicKey);
}

function withinValidity(cert: X509Certificate, now: Date): boolean {
  return cert.validFromDate <= now && now <= cert.validToDate;
}

/**
 * Validation of an imported certificate: a chain of small pure checks, run in order; the first failure
 * names the reason. Messages tell a person what to fix and never quote key material.
 */
import type { X509Certificate } from 'node:crypto';
import type { SecretKeySelector } from '../../crds/v1alpha1/index.ts';
import {
  factsOf,
  isServerCertificate,
  keyStrength,
  parseCertificates,
  parsePrivateKey,
  PkiError,
  signatureHashOf,
  uncoveredNames,
  verifyChain,
  type CertificateFacts,
} from '../pki/index.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { BindingReason } from './conditions.ts';
import { isoSeconds as iso, secretString as secretText } from '../runtime/objects.ts';

/** Shared with the other sources of this folder (defined once, in runtime/objects.ts). */
export { iso, secretText };

export interface ImportInput {
  namespace: string;
  secretName: string;
  /** Absent: not found. */
  secret: Secret | undefined;
  ca?: { ref: SecretKeySelector; secret: Secret | undefined };
  dnsNames: readonly string[];
  now: Date;
}

export type ImportVerdict =
  | { ok: true; facts: CertificateFacts }
  | { ok: false; reason: BindingReason; message: string; facts?: CertificateFacts };

const WEAK_HASHES = new Set(['SHA-1', 'MD5', 'MD2']);

function fail(reason: BindingReason, message: string, facts?: CertificateFacts): ImportVerdict {
  return { ok: false, reason, message, ...(facts ? { facts } : {}) };
}

/** Checks an imported certificate Secret (and its CA, when given) for use by `dnsNames` at `now`. */
export function checkImport(i: ImportInput): ImportVerdict {
  const where = `Secret ${i.namespace}/${i.secretName}`;
  if (!i.secret) {
    return fail(
      BindingReason.SecretNotFound,
      `${where} not found: create it with tls.crt and tls.key (kubectl create secret tls ${i.secretName} --cert=... --key=...)`,
    );
  }
  const crt = secretText(i.secret, 'tls.crt');
  if (!crt)
    return fail(
      BindingReason.MissingCertificate,
      `${where} has no tls.crt entry: add the PEM certificate (chain) there`,
    );
  const keyText = secretText(i.secret, 'tls.key');
  if (!keyText)
    return fail(
      BindingReason.MissingPrivateKey,
      `${where} has no tls.key entry: add the PEM private key there`,
    );
  let chain: X509Certificate[];
  try {
    chain = parseCertificates(crt, `tls.crt of ${where}`);
  } catch (e) {
    return fail(
      BindingReason.InvalidPEM,
      `${pkiMessage(e)}: put the PEM certificate, leaf first, in tls.crt`,
    );
  }
  const [leaf, ...intermediates] = chain as [X509Certificate, ...X509Certificate[]];
  const facts = factsOf(leaf);
  const keyVerdict = checkKey(where, leaf, keyText, facts);
  if (keyVerdict && !keyVerdict.ok && keyVerdict.reason === BindingReason.KeyMismatch)
    return chainOrderVerdict(where, chain, keyText) ?? keyVerdict;
  if (keyVerdict) return keyVerdict;
  const certVerdict = checkCertificate(leaf, facts, i);
  if (certVerdict) return certVerdict;
  return i.ca ? checkChain(i, leaf, intermediates, facts) : { ok: true, facts };
}

/**
 * tls.crt must list the leaf first (RFC 8446 §4.4.2; what nginx, Ingress controllers and Go's
 * tls.X509KeyPair expect). When the key is not the first certificate's but a later one's, the chain is out
 * of order — commonly leaf-last, as some CAs ship "fullchain" bundles — not a wrong key.
 */
function chainOrderVerdict(
  where: string,
  chain: readonly X509Certificate[],
  keyText: string,
): ImportVerdict | undefined {
  let key: ReturnType<typeof parsePrivateKey>;
  try {
    key = parsePrivateKey(keyText);
  } catch {
    return undefined;
  }
  const at = chain.findIndex((c, i) => i > 0 && c.checkPrivateKey(key));
  const leaf = chain[at];
  if (!leaf) return undefined;
  const position = at === chain.length - 1 ? 'last' : `at position ${at + 1}`;
  const facts = factsOf(leaf);
  return fail(
    BindingReason.ChainOutOfOrder,
    `tls.crt of ${where} lists the leaf certificate (serial ${facts.serialNumber}, the one tls.key belongs to) ${position} of ${chain.length}: put the leaf first, then its intermediates in order (the CA's "fullchain" order, not the reverse)`,
    facts,
  );
}

/**
 * What is wrong with the DNS names of a binding, one message per bad name (empty when all are fine): a
 * label over 63 characters, or a name that is an IP address (its last label numeric). The CRD refuses both
 * at admission (crds/v1alpha1/certificatebinding.ts `DNS_NAME_RULES`); this catches objects admitted by an
 * older CRD (Helm does not upgrade CRDs) before a certificate is requested or issued for them.
 */
export function dnsNameProblems(names: readonly string[]): string[] {
  const problems: string[] = [];
  for (const name of names) {
    if (/(^|\.)[0-9]+$/.test(name))
      problems.push(`${name} is an IP address (its last label is numeric), not a DNS name`);
    else if (name.split('.').some((label) => label.length > 63))
      problems.push(`${name} has a label longer than 63 characters, the most a DNS label may have`);
  }
  return problems;
}

function checkKey(where: string, leaf: X509Certificate, keyText: string, facts: CertificateFacts) {
  let matches: boolean;
  try {
    matches = leaf.checkPrivateKey(parsePrivateKey(keyText, `tls.key of ${where}`));
  } catch (e) {
    if (e instanceof PkiError && e.code === 'EncryptedPrivateKey') {
      return fail(
        BindingReason.EncryptedPrivateKey,
        `${e.message}: store it unencrypted (openssl pkey -in key.pem -out plain.pem)`,
        facts,
      );
    }
    if (e instanceof PkiError)
      return fail(
        BindingReason.InvalidPrivateKey,
        `${e.message}: put a PEM (PKCS#8, PKCS#1 or SEC1) private key in tls.key`,
        facts,
      );
    matches = false;
  }
  if (!matches) {
    return fail(
      BindingReason.KeyMismatch,
      `tls.key of ${where} is not the private key of the certificate in tls.crt (serial ${facts.serialNumber}): store the matching pair`,
      facts,
    );
  }
  const strength = keyStrength(leaf.publicKey);
  if (!strength.ok) {
    return fail(
      BindingReason.WeakKey,
      `the certificate's key is ${strength.description}, too weak: reissue it with RSA 2048 bits or more, ECDSA P-256 or better, or Ed25519`,
      facts,
    );
  }
  const hash = signatureHashOf(leaf);
  if (WEAK_HASHES.has(hash)) {
    return fail(
      BindingReason.WeakSignature,
      `the certificate is signed with ${hash}, which is broken: reissue it with a SHA-256 (or stronger) signature`,
      facts,
    );
  }
  return undefined;
}

function checkCertificate(leaf: X509Certificate, facts: CertificateFacts, i: ImportInput) {
  const server = isServerCertificate(leaf);
  if (!server.ok)
    return fail(
      BindingReason.NotServerCertificate,
      `the certificate cannot serve TLS: ${server.why}; import a server (leaf) certificate`,
      facts,
    );
  if (i.now < facts.notBefore) {
    return fail(
      BindingReason.NotYetValid,
      `the certificate is not valid before ${iso(facts.notBefore)}: check the issuer's clock or wait`,
      facts,
    );
  }
  if (i.now > facts.notAfter) {
    return fail(
      BindingReason.Expired,
      `the certificate expired at ${iso(facts.notAfter)}: renew it and update the Secret`,
      facts,
    );
  }
  const missing = uncoveredNames(facts.dnsNames, i.dnsNames);
  if (missing.length) {
    const has = facts.dnsNames.length ? facts.dnsNames.join(', ') : 'no DNS names';
    return fail(
      BindingReason.NameMismatch,
      `the certificate does not cover ${missing.join(', ')} (its subjectAltNames: ${has}): reissue it with those names, or change spec.imported.dnsNames`,
      facts,
    );
  }
  return undefined;
}

function checkChain(
  i: ImportInput,
  leaf: X509Certificate,
  intermediates: X509Certificate[],
  facts: CertificateFacts,
): ImportVerdict {
  const ca = i.ca as NonNullable<ImportInput['ca']>;
  const where = `Secret ${i.namespace}/${ca.ref.name}`;
  if (!ca.secret)
    return fail(
      BindingReason.CASecretNotFound,
      `CA ${where} not found: create it, or remove spec.imported.caSecretRef`,
      facts,
    );
  const text = secretText(ca.secret, ca.ref.key);
  if (!text)
    return fail(
      BindingReason.MissingCA,
      `CA ${where} has no "${ca.ref.key}" entry: put the PEM CA certificate there, or fix caSecretRef.key`,
      facts,
    );
  let anchors: X509Certificate[];
  try {
    anchors = parseCertificates(text, `"${ca.ref.key}" of CA ${where}`);
  } catch (e) {
    return fail(BindingReason.InvalidCA, `${pkiMessage(e)}: put the PEM CA certificate(s) there`, facts);
  }
  const chain = verifyChain(leaf, intermediates, anchors, i.now);
  if (!chain.ok) {
    return fail(
      BindingReason.ChainInvalid,
      `the certificate does not verify against CA ${where}: ${chain.why}; add the missing intermediates to tls.crt or fix the CA`,
      facts,
    );
  }
  return { ok: true, facts };
}

function pkiMessage(e: unknown): string {
  return e instanceof PkiError ? e.message : 'unreadable';
}

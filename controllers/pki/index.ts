/**
 * Palisade's PKI package: reading and checking X.509 certificates and keys (x509.ts) and issuing the
 * internal CA's certificates (issue.ts). No Kubernetes, no I/O, no logging; time and randomness are
 * passed in. The only importer of @peculiar/x509 (through peculiar.ts).
 */
export { PkiError, PkiErrorCode } from './errors.ts';
export {
  MIN_RSA_BITS,
  covers,
  dnsNamesOf,
  factsOf,
  fingerprintOf,
  isServerCertificate,
  keyIdOf,
  keyStrength,
  mergeBundles,
  parseCertificates,
  parsePrivateKey,
  pemBlocks,
  sameCertificates,
  signatureHashOf,
  uncoveredNames,
  verifyChain,
} from './x509.ts';
export type { CertificateFacts } from './x509.ts';
export {
  RSA_SHA256,
  createCA,
  generateRsaKeyPair,
  issueClientCertificate,
  issueLeaf,
  pkcs8Pem,
  serialFrom,
  verifyCertificateRequest,
} from './issue.ts';
export type { IssuedPair, RandomSource, VerifiedRequest } from './issue.ts';

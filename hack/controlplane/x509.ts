// Client certificates for the local control plane's extra identities (ECDSA P-256, SHA-256).
//
// Why: kubeconfigFor(user, groups) must create arbitrary identities without restarting the apiserver.
// The static token file cannot be reloaded, and impersonation would borrow the admin's rights, but the apiserver
// trusts any client certificate signed by --client-ca-file (CN = user, O = groups). Built with
// @peculiar/x509 on Node's WebCrypto: no openssl needed.
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs it loaded first
import { KeyObject, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface Subject {
  cn: string;
  o?: string[];
}

export interface KeyPair {
  certPem: string;
  keyPem: string;
  key: KeyObject;
  subject: Subject;
}

// One RDN per attribute, organizations first (Kubernetes reads CN as the user and every O as a group).
// A JSON name needs no RFC 4514 escaping, so group names may hold any character.
function distinguishedName(s: Subject): x509.JsonName {
  return [...(s.o ?? []).map((o) => ({ O: [o] })), { CN: [s.cn] }];
}

// A positive 128-bit serial whose top bits are 01: minimal and positive as DER, as Go's parser demands.
function serialNumber(): string {
  const b = randomBytes(16);
  b[0] = 0x40 | ((b[0] ?? 0) & 0x3f);
  return b.toString('hex');
}

function extensions(ca: boolean): x509.Extension[] {
  const { digitalSignature, keyCertSign, cRLSign } = x509.KeyUsageFlags;
  return ca
    ? [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(digitalSignature | keyCertSign | cRLSign, true),
      ]
    : [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
      ];
}

async function issue(
  subject: Subject,
  issuer: { subject: Subject; key: KeyObject } | undefined,
  ca: boolean,
): Promise<KeyPair> {
  const keys = (await webcrypto.subtle.generateKey(ECDSA_P256, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: distinguishedName(subject),
    issuer: distinguishedName(issuer?.subject ?? subject),
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(now + 365 * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: issuer ? await issuer.key.toCryptoKey(ECDSA_P256, false, ['sign']) : keys.privateKey,
    signingAlgorithm: ECDSA_P256,
    extensions: extensions(ca),
  });
  const key = KeyObject.from(keys.privateKey);
  const keyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { certPem: cert.toString('pem'), keyPem, key, subject };
}

export function createCa(cn: string): Promise<KeyPair> {
  return issue({ cn }, undefined, true);
}

export function issueClientCert(ca: KeyPair, subject: Subject): Promise<KeyPair> {
  return issue(subject, ca, false);
}

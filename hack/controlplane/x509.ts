// A minimal X.509 issuer (DER by hand, ECDSA P-256) for client certificates.
//
// Why: kubeconfigFor(user, groups) must create arbitrary identities without restarting the apiserver.
// The static token file cannot be reloaded and client-node cannot impersonate groups, but the apiserver
// trusts any client certificate signed by --client-ca-file (CN = user, O = groups). node:crypto signs but
// cannot build certificates, so this file encodes the few ASN.1 structures a certificate needs.
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let x = n; x > 0; x >>>= 8) bytes.unshift(x & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

const seq = (...parts: Buffer[]): Buffer => tlv(0x30, ...parts);
const set = (...parts: Buffer[]): Buffer => tlv(0x31, ...parts);
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const bits = (b: Buffer, unused: number): Buffer => tlv(0x03, Buffer.from([unused]), b);

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const out = [a * 40 + b];
  for (const v of rest) {
    const enc = [v & 0x7f];
    for (let x = v >>> 7; x > 0; x >>>= 7) enc.unshift((x & 0x7f) | 0x80);
    out.push(...enc);
  }
  return tlv(0x06, Buffer.from(out));
}

function utcTime(d: Date): Buffer {
  const s = d.toISOString(); // 2026-01-02T03:04:05.000Z -> 260102030405Z
  const t =
    s.slice(2, 4) + s.slice(5, 7) + s.slice(8, 10) + s.slice(11, 13) + s.slice(14, 16) + s.slice(17, 19);
  return tlv(0x17, Buffer.from(`${t}Z`));
}

// DER integers must be minimal and positive (Go's parser checks both): force the top bits to 01.
function serial(): Buffer {
  const b = randomBytes(16);
  b[0] = 0x40 | ((b[0] ?? 0) & 0x3f);
  return tlv(0x02, b);
}

const OID = {
  ecdsaSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

export interface Subject {
  cn: string;
  o?: string[];
}

function name(s: Subject): Buffer {
  const rdns = (s.o ?? []).map((o) => set(seq(oid(OID.organization), utf8(o))));
  return seq(...rdns, set(seq(oid(OID.commonName), utf8(s.cn))));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

export interface KeyPair {
  certPem: string;
  keyPem: string;
  key: KeyObject;
  subject: Subject;
}

function toPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64.trimEnd()}\n-----END CERTIFICATE-----\n`;
}

function issue(
  subject: Subject,
  issuer: { subject: Subject; key: KeyObject } | undefined,
  ca: boolean,
): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const now = Date.now();
  const extensions = ca
    ? [
        extension(OID.basicConstraints, true, seq(bool(true))),
        extension(OID.keyUsage, true, bits(Buffer.from([0x86]), 1)), // digitalSignature, keyCertSign, cRLSign
      ]
    : [
        extension(OID.basicConstraints, true, seq()),
        extension(OID.keyUsage, true, bits(Buffer.from([0x80]), 7)), // digitalSignature
        extension(OID.extKeyUsage, false, seq(oid(OID.clientAuth))),
      ];
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))), // version v3
    serial(),
    seq(oid(OID.ecdsaSha256)),
    name(issuer?.subject ?? subject),
    seq(utcTime(new Date(now - 3600_000)), utcTime(new Date(now + 365 * 86400_000))),
    name(subject),
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, issuer?.key ?? privateKey);
  const der = seq(tbs, seq(oid(OID.ecdsaSha256)), bits(signature, 0));
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { certPem: toPem(der), keyPem, key: privateKey, subject };
}

export function createCa(cn: string): KeyPair {
  return issue({ cn }, undefined, true);
}

export function issueClientCert(ca: KeyPair, subject: Subject): KeyPair {
  return issue(subject, ca, false);
}

/**
 * TLS material for nats-server behind a small interface ({@link TlsIssuer}), so the self-signed CA used
 * now can be swapped for Palisade's internal CA (controllers/certificatebinding) without touching callers.
 *
 * The self-signed issuer builds X.509 v3 DER by hand (node:crypto signs but cannot build certificates):
 * an ECDSA P-256 CA (basicConstraints CA, keyCertSign) and a server leaf (serverAuth, subjectAltName
 * with the DNS names and IP addresses clients dial).
 */
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

export interface TlsMaterial {
  /** PEM of the CA clients must trust. */
  caPem: string;
  certPem: string;
  /** PKCS#8 PEM of the server key: secret. */
  keyPem: string;
}

export interface ServerNames {
  dnsNames: string[];
  ipAddresses: string[];
}

export interface TlsIssuer {
  issueServer(names: ServerNames, now: Date): TlsMaterial;
}

const DAY_MS = 86_400_000;
const VALID_DAYS = 5 * 365;

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let x = n; x > 0; x >>>= 8) bytes.unshift(x & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
}
const seq = (...p: Buffer[]) => tlv(0x30, ...p);
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const bits = (b: Buffer, unused = 0) => tlv(0x03, Buffer.from([unused]), b);
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
function time(d: Date): Buffer {
  const s = d.toISOString();
  const t =
    s.slice(0, 4) + s.slice(5, 7) + s.slice(8, 10) + s.slice(11, 13) + s.slice(14, 16) + s.slice(17, 19);
  return tlv(0x18, Buffer.from(`${t}Z`)); // GeneralizedTime: valid for every year
}
const name = (cn: string) => seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn)))));
const ext = (id: string, critical: boolean, v: Buffer) =>
  seq(oid(id), ...(critical ? [bool(true)] : []), tlv(0x04, v));

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return Buffer.concat(groups.map((g) => Buffer.from(g.padStart(4, '0'), 'hex')));
}

function pem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').trimEnd()}\n-----END CERTIFICATE-----\n`;
}

interface Issued {
  der: Buffer;
  key: KeyObject;
}

function certificate(
  subjectCN: string,
  issuer: { cn: string; key?: KeyObject },
  exts: Buffer[],
  now: Date,
): Issued {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const serial = randomBytes(16);
  serial[0] = 0x40 | ((serial[0] ?? 0) & 0x3f); // positive and minimal, as Go's parser requires
  const alg = seq(oid('1.2.840.10045.4.3.2')); // ecdsa-with-SHA256
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, serial),
    alg,
    name(issuer.cn),
    seq(time(new Date(now.getTime() - 3_600_000)), time(new Date(now.getTime() + VALID_DAYS * DAY_MS))),
    name(subjectCN),
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(...exts)),
  );
  const sig = sign('sha256', tbs, issuer.key ?? privateKey);
  return { der: seq(tbs, alg, bits(sig)), key: privateKey };
}

/** A fresh self-signed CA and a server certificate it signs; the CA key is discarded. */
export const selfSignedIssuer: TlsIssuer = {
  issueServer(names, now) {
    const caName = 'Palisade NATS CA';
    const ca = certificate(
      caName,
      { cn: caName },
      [
        ext('2.5.29.19', true, seq(bool(true))),
        ext('2.5.29.15', true, bits(Buffer.from([0x06]), 1)), // keyCertSign, cRLSign
      ],
      now,
    );
    const san = seq(
      ...names.dnsNames.map((d) => tlv(0x82, Buffer.from(d))),
      ...names.ipAddresses.map((ip) => tlv(0x87, ipBytes(ip))),
    );
    const leaf = certificate(
      names.dnsNames[0] ?? 'nats',
      { cn: caName, key: ca.key },
      [
        ext('2.5.29.19', true, seq()),
        ext('2.5.29.15', true, bits(Buffer.from([0x80]), 7)), // digitalSignature
        ext('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))), // serverAuth
        ext('2.5.29.17', false, san),
      ],
      now,
    );
    return {
      caPem: pem(ca.der),
      certPem: pem(leaf.der),
      keyPem: leaf.key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
  },
};

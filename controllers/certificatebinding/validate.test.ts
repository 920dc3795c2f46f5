import assert from 'node:assert/strict';
import type { Secret } from '../runtime/kube/types.ts';
import { fakeCertificate } from '../pki/testdata/fixtures.ts';
import type { IssuedPair } from '../pki/index.ts';
import { checkImport, dnsNameProblems, type ImportInput } from './validate.ts';
import { importFixtures, NAMES, type ImportFixtures } from './testdata/imports.ts';

function secret(data: Record<string, string> | undefined): Secret | undefined {
  if (!data) return undefined;
  const enc: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) enc[k] = Buffer.from(v).toString('base64');
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'imp', namespace: 'ns' }, data: enc };
}

const tls = (p: IssuedPair) => secret({ 'tls.crt': p.certPem, 'tls.key': p.keyPem });

describe('checkImport', () => {
  let f: ImportFixtures;

  before(async function () {
    this.timeout(60_000);
    f = await importFixtures();
  });

  const base = (): ImportInput => ({
    namespace: 'ns',
    secretName: 'imp',
    secret: tls(f.good),
    dnsNames: NAMES,
    now: new Date(),
  });

  it('accepts a matching, valid, strong certificate that chains to the given CA', () => {
    const v = checkImport({
      ...base(),
      ca: { ref: { name: 'ca', key: 'ca.crt' }, secret: secret({ 'ca.crt': f.ca.certPem }) },
    });
    assert.equal(v.ok, true, v.ok ? '' : v.message);
    assert.deepEqual(v.ok && v.facts.dnsNames, NAMES);
  });

  it('accepts a wildcard certificate for names one label below it', async () => {
    const wild = await fakeCertificate({ issuer: f.ca, dnsNames: ['*.example.test'] });
    const v = checkImport({ ...base(), secret: tls(wild), dnsNames: ['x.example.test', '*.example.test'] });
    assert.equal(v.ok, true);
  });

  it('accepts Ed25519 and RSA-2048 keys', async () => {
    for (const key of ['ed25519', 'rsa2048'] as const) {
      const v = checkImport({ ...base(), secret: tls(await fakeCertificate({ key, dnsNames: NAMES })) });
      assert.equal(v.ok, true, `${key}: ${v.ok ? '' : v.message}`);
    }
  });

  it('rejects each of at least 15 broken imports with its own reason, and never quotes the key', () => {
    assert.ok(f.cases.length >= 15);
    const keyBody = f.good.keyPem.split('\n')[1] ?? '';
    for (const c of f.cases) {
      const v = checkImport({
        ...base(),
        secret: secret(c.secret),
        ...(c.ca
          ? { ca: { ref: { name: 'ca', key: c.ca.key ?? 'ca.crt' }, secret: secret(c.ca.data) } }
          : {}),
        ...(c.dnsNames ? { dnsNames: c.dnsNames } : {}),
      });
      assert.equal(v.ok, false, `${c.name}: accepted`);
      if (v.ok) continue;
      assert.equal(v.reason, c.reason, `${c.name}: ${v.message}`);
      assert.ok(!v.message.includes(keyBody.slice(0, 16)), `${c.name}: message quotes the key`);
      assert.ok(!v.message.includes('PRIVATE KEY-----'), `${c.name}: message quotes PEM`);
    }
  });

  it('shows the facts of a certificate it rejects once it could read it', () => {
    const expired = f.cases.find((c) => c.reason === 'Expired');
    const v = checkImport({ ...base(), secret: secret(expired?.secret) });
    assert.equal(v.ok, false);
    assert.ok(!v.ok && v.facts && v.facts.notAfter < new Date());
  });

  it('sets ChainOutOfOrder, not KeyMismatch, when tls.crt lists the leaf after its CA, naming the leaf and the fix', () => {
    const v = checkImport({
      ...base(),
      secret: secret({ 'tls.crt': f.ca.certPem + f.good.certPem, 'tls.key': f.good.keyPem }),
    });
    assert.equal(v.ok, false);
    if (v.ok) return;
    assert.equal(v.reason, 'ChainOutOfOrder');
    assert.match(
      v.message,
      /lists the leaf certificate \(serial [0-9A-F]+, the one tls\.key belongs to\) last of 2/,
    );
    assert.match(v.message, /put the leaf first/);
    assert.deepEqual(v.facts?.dnsNames, NAMES, "the leaf's facts, not the CA's");
  });

  it('keeps KeyMismatch when no certificate of the chain belongs to the key', () => {
    const other = f.cases.find((c) => c.reason === 'KeyMismatch')?.secret?.['tls.key'] ?? '';
    const v = checkImport({
      ...base(),
      secret: secret({ 'tls.crt': f.ca.certPem + f.good.certPem, 'tls.key': other }),
    });
    assert.equal(!v.ok && v.reason, 'KeyMismatch');
  });
});

describe('dnsNameProblems', () => {
  it('accepts DNS names and wildcards with labels of up to 63 characters', () => {
    const label = 'a'.repeat(63);
    assert.deepEqual(
      dnsNameProblems(['api.example.com', '*.example.com', `${label}.example.com`, 'x1.example.c0m']),
      [],
    );
  });

  it('names an IP address (a numeric last label) and a label over 63 characters', () => {
    const long = `${'a'.repeat(64)}.example.com`;
    assert.deepEqual(dnsNameProblems(['10.0.0.1', 'a.b.1', long, 'ok.example.com']), [
      '10.0.0.1 is an IP address (its last label is numeric), not a DNS name',
      'a.b.1 is an IP address (its last label is numeric), not a DNS name',
      `${long} has a label longer than 63 characters, the most a DNS label may have`,
    ]);
  });
});

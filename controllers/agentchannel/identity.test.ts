import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createCA } from '../pki/index.ts';
import {
  bundleMatchesPin,
  identityFromSubjectAltName,
  identityURI,
  isSpkiPin,
  parseIdentityURI,
  spkiFingerprint,
  InvalidIdentityError,
} from './identity.ts';

const ID = {
  installationID: '0123456789abcdef0123456789abcdef',
  tenantUID: 'a1b2c3d4e5f6',
  clusterAgentUID: '6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b',
};
const URI = `spiffe://palisade-${ID.installationID}/tenants/${ID.tenantUID}/clusteragents/${ID.clusterAgentUID}`;

describe('agent identity (URI SAN)', () => {
  it('formats the SPIFFE ID and parses it back', () => {
    assert.equal(identityURI(ID), URI);
    assert.deepEqual(parseIdentityURI(URI), ID);
  });

  it('refuses to format a malformed part', () => {
    assert.throws(() => identityURI({ ...ID, tenantUID: 'acme' }), InvalidIdentityError);
    assert.throws(() => identityURI({ ...ID, installationID: 'x' }), InvalidIdentityError);
    assert.throws(() => identityURI({ ...ID, clusterAgentUID: '../../tenants/b' }), InvalidIdentityError);
  });

  const bad: Record<string, string> = {
    'another scheme': URI.replace('spiffe:', 'https:'),
    'upper case': URI.toUpperCase(),
    'an extra segment': `${URI}/x`,
    'a trailing slash': `${URI}/`,
    'a query': `${URI}?tenant=b`,
    'another trust domain shape': URI.replace('palisade-', 'palisadex-'),
    'a path traversal': URI.replace(`tenants/${ID.tenantUID}`, `tenants/${ID.tenantUID}/../b`),
    'no ClusterAgent': URI.replace(/\/clusteragents\/.*$/, ''),
  };
  for (const [what, uri] of Object.entries(bad)) {
    it(`parses ${what} as no identity`, () => assert.equal(parseIdentityURI(uri), undefined));
  }

  it('takes the identity from a subjectaltname string only when exactly one URI SAN names it', () => {
    assert.deepEqual(identityFromSubjectAltName(`DNS:agent.example, URI:${URI}`), ID);
    const other = URI.replace(ID.tenantUID, 'ffffffffffff');
    assert.equal(identityFromSubjectAltName(`URI:${URI}, URI:${other}`), undefined);
    assert.equal(identityFromSubjectAltName('DNS:agent.example'), undefined);
    assert.equal(identityFromSubjectAltName(undefined), undefined);
  });
});

describe('CA pin (sha256 of the SPKI)', () => {
  it('is sha256:<64 hex> of the public key, the same for a re-issued CA on the same key', async () => {
    const ca = await createCA({
      subject: 'CN=FAKE test CA',
      notBefore: new Date('2026-01-01T00:00:00Z'),
      notAfter: new Date('2027-01-01T00:00:00Z'),
      rand: (n) => new Uint8Array(n).fill(7),
    });
    const pin = spkiFingerprint(ca.certPem);
    assert.match(pin, /^sha256:[0-9a-f]{64}$/);
    assert.ok(isSpkiPin(pin));
    assert.ok(isSpkiPin(pin.toUpperCase().replace('SHA256', 'sha256')));
    assert.equal(spkiFingerprint(new X509Certificate(ca.certPem)), pin);
    assert.ok(bundleMatchesPin(`${ca.certPem}\n`, pin));
    assert.ok(!bundleMatchesPin(ca.certPem, `sha256:${'0'.repeat(64)}`));
    assert.ok(!isSpkiPin('sha1:abcd'));
  });
});

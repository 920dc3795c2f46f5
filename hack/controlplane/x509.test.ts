import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createCa, issueClientCert, type KeyPair } from './x509.ts';

describe('the client certificate issuer', () => {
  let ca: KeyPair;
  let leaf: KeyPair;
  let caCert: X509Certificate;
  let leafCert: X509Certificate;

  before(async () => {
    ca = await createCa('test-ca');
    leaf = await issueClientCert(ca, { cn: 'alice', o: ['team-a', 'team-b'] });
    caCert = new X509Certificate(ca.certPem);
    leafCert = new X509Certificate(leaf.certPem);
  });

  it('makes a self-signed CA certificate', () => {
    assert.equal(caCert.ca, true);
    assert.ok(caCert.verify(caCert.publicKey));
    assert.ok(caCert.checkIssued(caCert));
  });

  it('signs client certificates whose subject carries the user and groups', () => {
    assert.equal(leafCert.ca, false);
    assert.ok(leafCert.verify(caCert.publicKey));
    assert.ok(leafCert.checkIssued(caCert));
    assert.deepEqual(leafCert.subject.split('\n'), ['O=team-a', 'O=team-b', 'CN=alice']);
    assert.deepEqual(leafCert.keyUsage, ['1.3.6.1.5.5.7.3.2']);
  });

  it('keeps group names with DN special characters as one organization each', async () => {
    const odd = await issueClientCert(ca, { cn: 'bob', o: ['a,b', 'system:masters'] });
    const cert = new X509Certificate(odd.certPem);
    assert.ok(cert.verify(caCert.publicKey));
    assert.deepEqual(cert.subject.split('\n'), ['O=a\\,b', 'O=system:masters', 'CN=bob']);
  });

  it('gives each certificate a key that matches it', () => {
    assert.ok(leafCert.checkPrivateKey(leaf.key));
  });
});

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createCa, issueClientCert } from './x509.ts';

describe('the client certificate issuer', () => {
  const ca = createCa('test-ca');
  const leaf = issueClientCert(ca, { cn: 'alice', o: ['team-a', 'team-b'] });
  const caCert = new X509Certificate(ca.certPem);
  const leafCert = new X509Certificate(leaf.certPem);

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

  it('gives each certificate a key that matches it', () => {
    assert.ok(leafCert.checkPrivateKey(leaf.key));
  });
});

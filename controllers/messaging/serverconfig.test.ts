import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { renderServerConfig } from './serverconfig.ts';
import { selfSignedIssuer } from './tls.ts';

describe('messaging/serverconfig and tls', () => {
  it('renders an operator-mode config: full resolver with delete, preloads, TLS ≥ 1.2 with AEAD ciphers', () => {
    const conf = renderServerConfig(
      {
        operatorJwt: 'OPJWT',
        systemAccount: 'ASYS',
        systemAccountJwt: 'SYSJWT',
        palisadeAccount: 'APAL',
        palisadeAccountJwt: 'PALJWT',
      },
      { resolverDir: '/data/jwt', tlsCertFile: '/t/tls.crt', tlsKeyFile: '/t/tls.key' },
    );
    assert.match(conf, /operator: "OPJWT"/);
    assert.match(conf, /system_account: "ASYS"/);
    assert.match(conf, /type: full\n\s+dir: "\/data\/jwt"\n\s+allow_delete: true/);
    assert.match(conf, /ASYS: "SYSJWT"\n\s+APAL: "PALJWT"/);
    assert.match(conf, /min_version: "1.2"/);
    assert.doesNotMatch(conf, /CBC|RC4|3DES|TLS_RSA_WITH/);
  });

  it('issues a server certificate for the given names, signed by the CA it returns', () => {
    const m = selfSignedIssuer.issueServer(
      { dnsNames: ['palisade-nats', 'localhost'], ipAddresses: ['127.0.0.1', '::1'] },
      new Date(),
    );
    const ca = new X509Certificate(m.caPem);
    const leaf = new X509Certificate(m.certPem);
    assert.ok(ca.ca);
    assert.ok(!leaf.ca);
    assert.ok(leaf.verify(ca.publicKey));
    assert.ok(leaf.checkHost('localhost'));
    assert.ok(leaf.checkIP('127.0.0.1'));
    assert.ok(leaf.checkIP('::1'));
    assert.match(m.keyPem, /BEGIN PRIVATE KEY/);
  });
});

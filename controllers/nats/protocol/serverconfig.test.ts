import assert from 'node:assert/strict';
import { renderServerConfig } from './serverconfig.ts';

describe('nats/protocol/serverconfig and tls', () => {
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
});

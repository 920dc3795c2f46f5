import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  IDENTIFIERS_PROTO_FILE,
  identifiersService,
  PROTO_FILE,
  tenantDataService,
  TOKENS_PROTO_FILE,
  tokensService,
  type IdentifierMethods,
  type Methods,
  type TokenMethods,
} from './proto.ts';

/** The fields of every message, as the .proto declares them (camelCased, as proto-loader delivers them). */
function protoFields(file = PROTO_FILE): Map<string, string[]> {
  const text = readFileSync(file, 'utf8');
  const out = new Map<string, string[]>();
  for (const m of text.matchAll(/^message (\w+) \{(?:\}$|([\s\S]*?)^\})/gm)) {
    const fields = [...(m[2] ?? '').matchAll(/^\s+(?:repeated )?\w+ (\w+) = \d+;/gm)].map((f) =>
      (f[1] as string).replace(/_(\w)/g, (_, c: string) => c.toUpperCase()),
    );
    out.set(m[1] as string, fields);
  }
  return out;
}

describe('proto/palisade/keys/v1/keys.proto', () => {
  it('declares exactly the RPCs the TypeScript Methods type lists', () => {
    const methods: Record<keyof Methods, true> = {
      Encrypt: true,
      Decrypt: true,
      GenerateDataKey: true,
      Rewrap: true,
      BatchEncrypt: true,
      BatchDecrypt: true,
      BatchGenerateDataKey: true,
      BatchRewrap: true,
    };
    assert.deepEqual(Object.keys(tenantDataService()).sort(), Object.keys(methods).sort());
  });

  it('has the fields the TypeScript types use (a renamed or dropped field fails here)', () => {
    const fields = protoFields();
    const want: Record<string, string[]> = {
      KeyRef: ['tenant', 'key'],
      EncryptRequest: ['key', 'plaintext', 'context'],
      EncryptResponse: ['ciphertext', 'keyVersion'],
      DecryptRequest: ['key', 'ciphertext', 'context'],
      DecryptResponse: ['plaintext', 'keyVersion'],
      GenerateDataKeyRequest: ['key', 'context'],
      GenerateDataKeyResponse: ['plaintextKey', 'encryptedKey', 'keyVersion'],
      RewrapRequest: ['key', 'ciphertext', 'context'],
      RewrapResponse: ['ciphertext', 'fromVersion', 'keyVersion'],
      ItemError: ['code', 'message'],
      EncryptItem: ['plaintext', 'context'],
      CiphertextItem: ['ciphertext', 'context'],
      BatchEncryptRequest: ['key', 'items'],
      BatchDecryptRequest: ['key', 'items'],
      BatchGenerateDataKeyRequest: ['key', 'contexts'],
      BatchRewrapRequest: ['key', 'items'],
      EncryptResult: ['ok', 'error'],
      BatchEncryptResponse: ['results'],
    };
    for (const [message, f] of Object.entries(want)) assert.deepEqual(fields.get(message), f, message);
  });

  it('round-trips a request through the service definition with bytes and defaults', () => {
    const def = tenantDataService().Encrypt;
    assert.ok(def);
    const wire = def.requestSerialize({
      key: { tenant: 'acme', key: '' },
      plaintext: Buffer.from('hi'),
      context: Buffer.alloc(0),
    });
    const back = def.requestDeserialize(wire) as Methods['Encrypt'][0];
    assert.equal(back.key.tenant, 'acme');
    assert.equal(back.key.key, '');
    assert.equal(Buffer.from(back.plaintext).toString(), 'hi');
    assert.equal(back.context.length, 0);
  });
});

describe('proto/palisade/keys/v1/identifiers.proto and tokens.proto', () => {
  it('declare exactly the RPCs the TypeScript types list', () => {
    const identifiers: Record<keyof IdentifierMethods, true> = {
      BlindIndex: true,
      BatchBlindIndex: true,
      HashPassword: true,
      VerifyPassword: true,
    };
    const tokens: Record<keyof TokenMethods, true> = {
      IssueToken: true,
      RefreshToken: true,
      RevokeRefreshToken: true,
      GetJwks: true,
    };
    assert.deepEqual(Object.keys(identifiersService()).sort(), Object.keys(identifiers).sort());
    assert.deepEqual(Object.keys(tokensService()).sort(), Object.keys(tokens).sort());
  });

  it('have the fields the TypeScript types use', () => {
    const want: [string, Record<string, string[]>][] = [
      [
        IDENTIFIERS_PROTO_FILE,
        {
          BlindIndexRequest: ['tenant', 'kind', 'value'],
          BlindIndexValue: ['saltVersion', 'index'],
          BlindIndexResponse: ['indexes'],
          BatchBlindIndexRequest: ['tenant', 'kind', 'values'],
          HashPasswordRequest: ['tenant', 'password'],
          HashPasswordResponse: ['hash', 'pepperVersion'],
          VerifyPasswordRequest: ['tenant', 'password', 'hash'],
          VerifyPasswordResponse: ['valid', 'needsRehash', 'pepperVersion'],
        },
      ],
      [
        TOKENS_PROTO_FILE,
        {
          IssueTokenRequest: ['tenant', 'subject', 'audience', 'ttlSeconds', 'scopes', 'refreshable'],
          TokenResponse: ['accessToken', 'expiresIn', 'refreshToken', 'refreshExpiresIn', 'kid'],
          RefreshTokenRequest: ['refreshToken', 'ttlSeconds'],
          RevokeRefreshTokenRequest: ['refreshToken'],
          GetJwksResponse: ['jwks', 'currentKid', 'nextKids', 'previousKids'],
        },
      ],
    ];
    for (const [file, messages] of want) {
      const fields = protoFields(file);
      for (const [message, f] of Object.entries(messages)) assert.deepEqual(fields.get(message), f, message);
    }
  });
});

import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { ApiError, TerminalError } from './errors.ts';
import { createAuditLog, createLogger, redact, MAX_DEPTH } from './log.ts';
import {
  ACCOUNT_PUBLIC_KEY,
  ACCOUNT_SEED,
  CREDS,
  JWT,
  KEY_BASE64,
  OPERATOR_SEED,
  PEM,
  PEM_FRAGMENT,
  USER_SEED,
} from './testdata/material.ts';

/** Every line a logger writes to `stream`, parsed, once the writes have landed. */
async function linesOf(stream: PassThrough): Promise<Record<string, unknown>[]> {
  await new Promise((resolve) => setImmediate(resolve));
  const text = (stream.read() as Buffer | null)?.toString() ?? '';
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('log redaction', () => {
  describe('keeps what an on-call engineer needs', () => {
    const cases: [string, Record<string, unknown>][] = [
      ['keeps the namespace/name of the object a reconcile failed for', { object: 'tenant-a/primary' }],
      ['keeps a field named key when it holds an object reference', { key: 'tenant-a/primary' }],
      ['keeps a cluster-scoped object name', { object: 'acme' }],
      [
        'keeps UIDs, key IDs and fingerprints',
        {
          uid: '00000000-0000-4000-8000-000000000001',
          tenantUID: '0123456789ab',
          keyId: 'fbf1fa50e8605ca1',
          fingerprint: `sha256:${'0123456789abcdef'.repeat(4)}`,
        },
      ],
      ['keeps a NATS account public key', { account: ACCOUNT_PUBLIC_KEY }],
      [
        'keeps API paths and long lower-case names',
        {
          path: '/apis/palisade.dev/v1alpha1/namespaces/tenant-a/tenantkeys/primary',
          secret: 'palisade-tenantkey-a-very-long-but-perfectly-ordinary-name-v12',
        },
      ],
      ['keeps numbers, booleans and nulls', { retryInMs: 1600, leader: true, reason: null }],
    ];
    for (const [name, fields] of cases) {
      it(name, () => assert.deepEqual(redact(fields), fields));
    }
  });

  describe('redacts material', () => {
    const cases: [string, Record<string, unknown>, Record<string, unknown>][] = [
      [
        'redacts bytes whatever the field is called',
        { key: new Uint8Array(32) },
        { key: '[32 bytes redacted]' },
      ],
      ['redacts a Buffer', { salt: Buffer.alloc(16) }, { salt: '[16 bytes redacted]' }],
      ['redacts an ArrayBuffer', { raw: new ArrayBuffer(8) }, { raw: '[8 bytes redacted]' }],
      ...[
        'data',
        'stringData',
        'seed',
        'seeds',
        'privateKey',
        'plaintext',
        'token',
        'password',
        'passphrase',
        'jwt',
        'creds',
        'PASSWORD',
      ].map((field): [string, Record<string, unknown>, Record<string, unknown>] => [
        `redacts a field named ${field} whatever it holds`,
        { [field]: { anything: 'harmless' } },
        { [field]: '[redacted]' },
      ]),
      ['redacts a NATS user seed in any field', { value: USER_SEED }, { value: '[redacted]' }],
      ['redacts a NATS account seed in any field', { value: ACCOUNT_SEED }, { value: '[redacted]' }],
      ['redacts a NATS operator seed in any field', { value: OPERATOR_SEED }, { value: '[redacted]' }],
      ['redacts a PEM private key', { value: PEM }, { value: '[redacted]\n' }],
      [
        'redacts an encrypted PEM private key cut short',
        { value: `got ${PEM_FRAGMENT}` },
        { value: 'got [redacted]' },
      ],
      ['redacts a 32-byte key in base64', { value: KEY_BASE64 }, { value: '[redacted]' }],
      ['redacts a JWT', { value: JWT }, { value: '[redacted]' }],
      [
        'redacts both halves of a NATS .creds file',
        { value: CREDS },
        {
          value: '-----BEGIN NATS USER JWT-----\n[redacted]\n------END NATS USER JWT------\n\n[redacted]\n',
        },
      ],
      [
        'redacts material inside a message and keeps the words around it',
        { error: `cannot parse seed ${USER_SEED}: bad checksum` },
        { error: 'cannot parse seed [redacted]: bad checksum' },
      ],
    ];
    for (const [name, fields, expected] of cases) {
      it(name, () => assert.deepEqual(redact(fields), expected));
    }
  });

  describe('nested values and errors', () => {
    it('redacts inside nested objects and arrays', () => {
      const value = { a: { b: [{ seed: 'x', name: 'keep' }, USER_SEED, new Uint8Array(2)] } };
      assert.deepEqual(redact(value), {
        a: { b: [{ seed: '[redacted]', name: 'keep' }, '[redacted]', '[2 bytes redacted]'] },
      });
    });

    it('drops objects nested deeper than the limit instead of writing them unchecked', () => {
      let value: Record<string, unknown> = { seed: USER_SEED };
      for (let i = 0; i < MAX_DEPTH + 2; i++) value = { inner: value };
      assert.doesNotMatch(JSON.stringify(redact(value)), /SU|AAAA/);
      assert.match(JSON.stringify(redact(value)), /\[nested too deep\]/);
    });

    it('keeps an error’s name, message and reason, and redacts material in its message', () => {
      const e = new TerminalError('BadSeed', `seed ${ACCOUNT_SEED} does not decode`);
      assert.deepEqual(redact({ error: e }), {
        error: { name: 'TerminalError', reason: 'BadSeed', message: 'seed [redacted] does not decode' },
      });
    });

    it('keeps an API error’s code and redacts its cause', () => {
      const cause = Object.assign(new Error(`body had ${KEY_BASE64}`), { data: { key: KEY_BASE64 } });
      const e = new ApiError(409, 'AlreadyExists', 'secrets "palisade-root-key-v1" already exists', {
        cause,
      });
      assert.deepEqual(redact(e), {
        name: 'ApiError',
        code: 409,
        reason: 'AlreadyExists',
        message: 'secrets "palisade-root-key-v1" already exists',
        cause: { name: 'Error', message: 'body had [redacted]', data: '[redacted]' },
      });
    });

    it('keeps dates as dates', () => {
      const at = new Date(0);
      assert.deepEqual(redact({ at }), { at });
    });
  });

  describe('the log streams', () => {
    it('writes the object a reconcile failed for, and redacts material, in operational logs', async () => {
      const stream = new PassThrough();
      const log = createLogger({ stream });
      log.warn('reconcile failed; will retry', {
        controller: 'tenantkey',
        object: 'tenant-a/primary',
        error: `unwrap failed for ${USER_SEED}`,
        seed: USER_SEED,
        plaintext: new Uint8Array(32),
      });
      const [line] = await linesOf(stream);
      assert.equal(line?.message, 'reconcile failed; will retry');
      assert.equal(line?.object, 'tenant-a/primary');
      assert.equal(line?.error, 'unwrap failed for [redacted]');
      assert.equal(line?.seed, '[redacted]');
      assert.equal(line?.plaintext, '[redacted]');
    });

    it('redacts material in the log message itself', async () => {
      const stream = new PassThrough();
      createLogger({ stream }).info(`loaded ${KEY_BASE64}`);
      const [line] = await linesOf(stream);
      assert.equal(line?.message, 'loaded [redacted]');
    });

    it('redacts the audit stream too, keeping resource, tenant and key ID', async () => {
      const stream = new PassThrough();
      const audit = createAuditLog({ stream, actor: 'palisade-operator' });
      audit.record({
        action: 'tenantkey.wrap',
        outcome: 'Failure',
        resource: { kind: 'TenantKey', namespace: 'tenant-a', name: 'primary' },
        tenantUID: '0123456789ab',
        keyId: 'fbf1fa50e8605ca1',
        version: 2,
        reason: `refused ${PEM.trim()} and ${ACCOUNT_SEED}`,
      });
      const [line] = await linesOf(stream);
      assert.equal(line?.audit, true);
      assert.equal(line?.actor, 'palisade-operator');
      assert.deepEqual(line?.resource, { kind: 'TenantKey', namespace: 'tenant-a', name: 'primary' });
      assert.equal(line?.tenantUID, '0123456789ab');
      assert.equal(line?.keyId, 'fbf1fa50e8605ca1');
      assert.equal(line?.version, 2);
      assert.equal(line?.reason, 'refused [redacted] and [redacted]');
    });
  });
});

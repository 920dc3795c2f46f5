import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { ApiError, TerminalError } from './errors.ts';
import { type AuditRecord, auditLine, createAuditLog, createLogger, redact, MAX_DEPTH } from './log.ts';
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
        'redacts a run of exactly 40 mixed-case base64 characters inside a sentence',
        { value: `wrapped ${'Ab'.repeat(20)} ok` },
        { value: 'wrapped [redacted] ok' },
      ],
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

  describe('the audit line', () => {
    const at = '2026-12-02T08:00:00.000Z';

    it('writes the fields winston wrote, keys sorted at every depth, as one JSON line', () => {
      const line = auditLine(
        'system:palisade:a',
        {
          action: 'keyservice.Encrypt',
          outcome: 'Success',
          actor: 'system:serviceaccount:tenant-a:app',
          resource: { namespace: 'tenant-a', name: 'primary', kind: 'TenantKey' },
          tenantUID: '0123456789ab',
          version: 2,
        },
        at,
      );
      assert.equal(
        line,
        '{"action":"keyservice.Encrypt","actor":"system:serviceaccount:tenant-a:app","audit":true,' +
          '"level":"info","message":"audit","outcome":"Success",' +
          '"resource":{"kind":"TenantKey","name":"primary","namespace":"tenant-a"},' +
          '"tenantUID":"0123456789ab","timestamp":"2026-12-02T08:00:00.000Z","version":2}\n',
      );
    });

    it('keeps the log’s actor when the record names none, and leaves out undefined fields', () => {
      const line = auditLine(
        'system:palisade:a',
        {
          action: 'tenant.destroy',
          outcome: 'Failure',
          resource: { kind: 'Tenant', name: 'acme' },
          reason: 'x\n"y"',
        },
        at,
      );
      assert.equal(
        line,
        '{"action":"tenant.destroy","actor":"system:palisade:a","audit":true,"level":"info","message":"audit",' +
          '"outcome":"Failure","reason":"x\\n\\"y\\"","resource":{"kind":"Tenant","name":"acme"},' +
          '"timestamp":"2026-12-02T08:00:00.000Z"}\n',
      );
    });

    it('sorts integer-like keys as text, as winston did', () => {
      const resource = { kind: 'T', name: 'n', 10: 'ten', 9: 'nine' } as unknown as AuditRecord['resource'];
      const line = auditLine('a', { action: 'x', outcome: 'Success', resource }, at);
      assert.match(line, /"resource":\{"10":"ten","9":"nine","kind":"T","name":"n"\}/);
    });

    it('never writes key material: bytes, secret-named fields and material in the reason', () => {
      const entry = {
        action: 'keyservice.Decrypt',
        outcome: 'Failure',
        resource: { kind: 'TenantKey', name: 'primary', key: new Uint8Array(32), seed: USER_SEED },
        reason: `bad key ${KEY_BASE64} from ${ACCOUNT_SEED}`,
        plaintext: Buffer.from('secret'),
      } as unknown as AuditRecord;
      const line = auditLine('a', entry, at);
      assert.doesNotMatch(line, new RegExp(`${KEY_BASE64.slice(0, 20)}|${USER_SEED}|${ACCOUNT_SEED}|secret`));
      const parsed = JSON.parse(line) as Record<string, unknown>;
      assert.deepEqual(parsed.resource, {
        kind: 'TenantKey',
        name: 'primary',
        key: '[32 bytes redacted]',
        seed: '[redacted]',
      });
      assert.equal(parsed.reason, 'bad key [redacted] from [redacted]');
      assert.equal(parsed.plaintext, '[redacted]');
    });
  });

  describe('the audit file', () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'palisade-audit-'))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    const record = { action: 'x', outcome: 'Success', resource: { kind: 'Tenant', name: 'acme' } } as const;

    it('appends to an existing file, and has every line written once close resolves', async () => {
      const file = path.join(dir, 'sub', 'audit.log');
      fs.mkdirSync(path.dirname(file));
      fs.writeFileSync(file, 'earlier\n');
      const audit = createAuditLog({ file, actor: 'a' });
      for (let i = 0; i < 3; i++) audit.record(record);
      await audit.close();
      const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
      assert.equal(lines.length, 4);
      assert.equal(lines[0], 'earlier');
      assert.equal((JSON.parse(lines[3] ?? '') as { action: string }).action, 'x');
    });

    it('creates the file’s folder, and writes a large burst in order', async () => {
      const file = path.join(dir, 'new', 'audit.log');
      const audit = createAuditLog({ file, actor: 'a' });
      for (let i = 0; i < 5000; i++) audit.record({ ...record, version: i });
      await audit.close();
      const versions = fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { version: number }).version);
      assert.deepEqual(versions, [...Array(5000).keys()]);
    });

    it('throws at once when the file cannot be opened', () => {
      assert.throws(() => createAuditLog({ file: dir, actor: 'a' }), /EISDIR/);
    });

    /** Runs `code` in a child node process with `createAuditLog` imported; its exit status and stderr. */
    function child(code: string): { status: number | null; stderr: string } {
      const log = new URL('./log.ts', import.meta.url).href;
      const r = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const { createAuditLog } = await import(${JSON.stringify(log)});\n${code}`,
        ],
        { encoding: 'utf8' },
      );
      return { status: r.status, stderr: r.stderr };
    }

    it('writes the pending lines when the process exits right after recording them', () => {
      const file = path.join(dir, 'audit.log');
      const r = child(
        `const a = createAuditLog({ file: ${JSON.stringify(file)}, actor: 'a' });\n` +
          `for (let i = 0; i < 10; i++) a.record(${JSON.stringify(record)});\nprocess.exit(0);`,
      );
      assert.equal(r.status, 0, r.stderr);
      assert.equal(fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length, 10);
    });

    it('drops the lines of a failed write, says so on stderr once, and keeps the process running', () => {
      const r = child(
        `const a = createAuditLog({ file: '/dev/full', actor: 'a' });\n` +
          `for (let i = 0; i < 3; i++) { a.record(${JSON.stringify(record)}); a.flush(); }\n` +
          `await a.close(); process.stdout.write('alive');`,
      );
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr.match(/audit log \/dev\/full: write failed, lines dropped/g)?.length, 1);
    });
  });
});

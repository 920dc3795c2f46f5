import assert from 'node:assert/strict';
import tls from 'node:tls';
import { status } from '@grpc/grpc-js';
import { createCA, issueLeaf } from '../pki/index.ts';
import type { KeyServiceClient } from './client.ts';
import { rand, refusal, sa, startWorld, type World } from './testdata/world.ts';

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('key service (in-process server, fake keystore)', function () {
  this.timeout(30_000);
  let w: World;
  let writer: KeyServiceClient;
  let reader: KeyServiceClient;
  let outsider: KeyServiceClient;

  before(async () => {
    w = await startWorld({ tenants: ['acme', 'globex'] });
    w.addVersion('acme', 'primary', 1);
    w.addVersion('globex', 'primary', 1);
    w.grant('writer', sa('billing', 'api'), ['acme'], ['Encrypt', 'GenerateDataKey']);
    w.grant('reader', sa('billing', 'reports'), ['acme'], ['Decrypt', 'Rewrap']);
    w.grant('globex-only', sa('globex', 'app'), ['globex'], ['Encrypt', 'Decrypt']);
    writer = w.client({ token: 'sa:billing:api' });
    reader = w.client({ token: 'sa:billing:reports' });
    outsider = w.client({ token: 'sa:globex:app' });
  });
  after(() => w.close());

  it('lets an identity allowed to encrypt for a tenant encrypt, and one allowed to decrypt decrypt', async () => {
    const box = await writer.encrypt({ tenant: 'acme' }, utf8('alice@example.com'), utf8('user/42/email'));
    assert.equal(box.keyVersion, 1);
    const open = await reader.decrypt({ tenant: 'acme' }, box.ciphertext, utf8('user/42/email'));
    assert.equal(text(open.plaintext), 'alice@example.com');
    assert.equal(open.keyVersion, 1);
  });

  it('refuses an operation no policy allows (PERMISSION_DENIED), naming who, what and which key', async () => {
    const box = await writer.encrypt({ tenant: 'acme' }, utf8('x'));
    const e = await refusal(writer.decrypt({ tenant: 'acme' }, box.ciphertext));
    assert.equal(e.code, status.PERMISSION_DENIED);
    assert.match(
      e.message,
      /system:serviceaccount:billing:api may not Decrypt with key primary of Tenant acme/,
    );
  });

  it("keeps an identity scoped to one tenant away from another tenant's data, even with its ciphertext", async () => {
    const box = await writer.encrypt({ tenant: 'acme' }, utf8('secret of acme'));
    assert.equal(
      (await refusal(outsider.decrypt({ tenant: 'acme' }, box.ciphertext))).code,
      status.PERMISSION_DENIED,
    );
    // Presented under its own tenant, acme's ciphertext does not open with globex's key.
    const e = await refusal(outsider.decrypt({ tenant: 'globex' }, box.ciphertext));
    assert.equal(e.code, status.INVALID_ARGUMENT);
    assert.match(e.message, /another key/);
  });

  it('refuses an unknown token, a missing credential and a revoked policy (UNAUTHENTICATED / PERMISSION_DENIED)', async () => {
    const unknown = w.client({ token: 'not-a-token' });
    assert.equal(
      (await refusal(unknown.encrypt({ tenant: 'acme' }, utf8('x')))).code,
      status.UNAUTHENTICATED,
    );
    const anonymous = w.client({});
    const e = await refusal(anonymous.encrypt({ tenant: 'acme' }, utf8('x')));
    assert.equal(e.code, status.UNAUTHENTICATED);
    assert.match(e.message, /no credentials/);
    w.grant('temporary', sa('ops', 'job'), ['acme'], ['Encrypt']);
    const job = w.client({ token: 'sa:ops:job' });
    await job.encrypt({ tenant: 'acme' }, utf8('x'));
    w.policies.splice(
      w.policies.findIndex((p) => p.metadata.name === 'temporary'),
      1,
    );
    assert.equal((await refusal(job.encrypt({ tenant: 'acme' }, utf8('x')))).code, status.PERMISSION_DENIED);
  });

  it('authenticates an internal-CA client certificate by its DNS name, and not one of another CA', async () => {
    const pair = await w.leaf(['rewrap.tenant-acme.svc']);
    w.grant(
      'by-cert',
      { kind: 'Certificate', dnsNames: ['rewrap.tenant-acme.svc'], fingerprint: '' },
      ['acme'],
      ['Encrypt'],
    );
    assert.equal((await w.client({ cert: pair }).encrypt({ tenant: 'acme' }, utf8('x'))).keyVersion, 1);
    const now = Date.now();
    const other = await createCA({
      subject: 'CN=other',
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3_600_000),
      rand,
    });
    const foreign = await issueLeaf({
      ca: other,
      dnsNames: ['rewrap.tenant-acme.svc'],
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3_600_000),
      rand,
    });
    const e = await refusal(w.client({ cert: foreign }).encrypt({ tenant: 'acme' }, utf8('x')));
    assert.equal(e.code, status.UNAUTHENTICATED);
  });

  it('decrypts data encrypted before a rotation, encrypts with the new version, and rewraps without plaintext', async () => {
    w.addVersion('globex', 'orders', 1);
    w.grant('orders', sa('globex', 'orders'), ['globex'], ['Encrypt', 'Decrypt', 'Rewrap'], ['orders']);
    const c = w.client({ token: 'sa:globex:orders' });
    const k = { tenant: 'globex', key: 'orders' };
    const old = await c.encrypt(k, utf8('before'), utf8('ctx'));
    w.addVersion('globex', 'orders', 2);
    assert.equal(text((await c.decrypt(k, old.ciphertext, utf8('ctx'))).plaintext), 'before');
    assert.equal((await c.encrypt(k, utf8('after'))).keyVersion, 2);
    const moved = await c.rewrap(k, old.ciphertext, utf8('ctx'));
    assert.deepEqual([moved.fromVersion, moved.keyVersion], [1, 2]);
    assert.ok(!('plaintext' in moved));
    assert.equal(text((await c.decrypt(k, moved.ciphertext, utf8('ctx'))).plaintext), 'before');
    // Another key's policy does not reach it: `orders` only.
    assert.equal((await refusal(c.encrypt({ tenant: 'globex' }, utf8('x')))).code, status.PERMISSION_DENIED);
  });

  it('refuses a ciphertext whose version is Disabled or destroyed, saying which and why (FAILED_PRECONDITION)', async () => {
    w.addVersion('acme', 'archive', 1);
    w.grant('archive', sa('acme', 'archive'), ['acme'], ['Encrypt', 'Decrypt'], ['archive']);
    const c = w.client({ token: 'sa:acme:archive' });
    const k = { tenant: 'acme', key: 'archive' };
    const old = await c.encrypt(k, utf8('old'));
    w.addVersion('acme', 'archive', 2);
    w.setSpec('acme', 'archive', { minDecryptionVersion: 2 });
    const disabled = await refusal(c.decrypt(k, old.ciphertext));
    assert.equal(disabled.code, status.FAILED_PRECONDITION);
    assert.match(
      disabled.message,
      /version 1 of TenantKey archive of Tenant acme, which is Disabled.*minDecryptionVersion/,
    );
    w.setSpec('acme', 'archive', { minDecryptionVersion: 1, destroyBelowVersion: 2 });
    // The controller deletes the destroyed version's Secret; the cache drops the key on that event.
    const gone = w.entries.findIndex((s) => s.metadata.name.endsWith('-archive-v1'));
    const [removed] = w.entries.splice(gone, 1);
    if (removed) w.keys.onSecret(removed);
    const destroyed = await refusal(c.decrypt(k, old.ciphertext));
    assert.equal(destroyed.code, status.FAILED_PRECONDITION);
    assert.match(
      destroyed.message,
      /which was destroyed \(spec.destroyBelowVersion is 2\): data encrypted under it can never be decrypted again/,
    );
  });

  it('refuses a ciphertext under another context (INVALID_ARGUMENT) and names no data', async () => {
    const box = await writer.encrypt({ tenant: 'acme' }, utf8('card 4111'), utf8('user/1/card'));
    const e = await refusal(reader.decrypt({ tenant: 'acme' }, box.ciphertext, utf8('user/2/card')));
    assert.equal(e.code, status.INVALID_ARGUMENT);
    assert.doesNotMatch(e.message, /4111/);
  });

  it('generates a data key whose encrypted copy decrypts to the same bytes', async () => {
    const dk = await writer.generateDataKey({ tenant: 'acme' }, utf8('bulk/1'));
    assert.equal(dk.plaintextKey.length, 32);
    const back = await reader.decrypt({ tenant: 'acme' }, dk.encryptedKey, utf8('bulk/1'));
    assert.deepEqual(Buffer.from(back.plaintext), Buffer.from(dk.plaintextKey));
  });

  it('runs batches item by item: a bad item fails alone', async () => {
    const enc = await writer.batchEncrypt({ tenant: 'acme' }, [
      { plaintext: utf8('a') },
      { plaintext: utf8('b'), context: utf8('c') },
    ]);
    const boxes = enc.results.map((r) =>
      r.result === 'ok' ? r.ok.ciphertext : assert.fail(r.error.message),
    );
    const dec = await reader.batchDecrypt({ tenant: 'acme' }, [
      { ciphertext: boxes[0] as Uint8Array },
      { ciphertext: boxes[1] as Uint8Array },
      { ciphertext: utf8('not a ciphertext') },
    ]);
    assert.deepEqual(
      dec.results.map((r) => (r.result === 'ok' ? text(r.ok.plaintext) : r.error.code)),
      ['a', status.INVALID_ARGUMENT, status.INVALID_ARGUMENT],
    );
    const keys = await writer.batchGenerateDataKey({ tenant: 'acme' }, [utf8('1'), utf8('2')]);
    assert.equal(keys.results.filter((r) => r.result === 'ok').length, 2);
  });

  it('coalesces concurrent single calls of a shared client into batch calls, each caller with its own outcome', async () => {
    const coalescingWriter = w.client({ token: 'sa:billing:api', coalesce: true });
    const coalescingReader = w.client({ token: 'sa:billing:reports', coalesce: true });
    w.audit.length = 0;
    const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
    const boxes = await Promise.all(
      words.map((word) => coalescingWriter.encrypt({ tenant: 'acme' }, utf8(word), utf8(`ctx/${word}`))),
    );
    assert.deepEqual(
      w.audit.map((r) => [r.action, r.reason]),
      [['keyservice.BatchEncrypt', '5 items, 0 failed']],
    );
    // Each caller got its own ciphertext: it opens, with its own context, through an ordinary client.
    for (const [i, word] of words.entries()) {
      const open = await reader.decrypt(
        { tenant: 'acme' },
        (boxes[i] as { ciphertext: Uint8Array }).ciphertext,
        utf8(`ctx/${word}`),
      );
      assert.equal(text(open.plaintext), word);
    }
    // A bad item fails its own caller only, with the code the single call would give.
    const outcomes = await Promise.allSettled([
      coalescingReader.decrypt(
        { tenant: 'acme' },
        (boxes[0] as { ciphertext: Uint8Array }).ciphertext,
        utf8('ctx/alpha'),
      ),
      coalescingReader.decrypt(
        { tenant: 'acme' },
        (boxes[1] as { ciphertext: Uint8Array }).ciphertext,
        utf8('wrong'),
      ),
      coalescingReader.decrypt({ tenant: 'acme' }, utf8('not a ciphertext')),
    ]);
    assert.deepEqual(
      outcomes.map((o) =>
        o.status === 'fulfilled' ? text(o.value.plaintext) : (o.reason as { code: number }).code,
      ),
      ['alpha', status.INVALID_ARGUMENT, status.INVALID_ARGUMENT],
    );
    // A refusal of the whole call reaches every caller; a lone call goes as a single call.
    const refused = await Promise.allSettled([
      coalescingWriter.decrypt({ tenant: 'acme' }, (boxes[0] as { ciphertext: Uint8Array }).ciphertext),
      coalescingWriter.decrypt({ tenant: 'acme' }, (boxes[1] as { ciphertext: Uint8Array }).ciphertext),
    ]);
    assert.deepEqual(
      refused.map((o) => (o.status === 'rejected' ? (o.reason as { code: number }).code : 'ok')),
      [status.PERMISSION_DENIED, status.PERMISSION_DENIED],
    );
    w.audit.length = 0;
    const dk = await coalescingWriter.generateDataKey({ tenant: 'acme' }, utf8('bulk/2'));
    assert.equal(dk.plaintextKey.length, 32);
    assert.deepEqual(
      w.audit.map((r) => r.action),
      ['keyservice.GenerateDataKey'],
    );
  });

  it('audits every call with identity, tenant, operation, version and outcome, and never data', async () => {
    w.audit.length = 0;
    const box = await writer.encrypt({ tenant: 'acme' }, utf8('alice@example.com'));
    await refusal(outsider.decrypt({ tenant: 'acme' }, box.ciphertext));
    const [ok, denied] = w.audit;
    assert.deepEqual(
      {
        action: ok?.action,
        outcome: ok?.outcome,
        actor: ok?.actor,
        version: ok?.version,
        ns: ok?.resource.namespace,
      },
      {
        action: 'keyservice.Encrypt',
        outcome: 'Success',
        actor: 'system:serviceaccount:billing:api',
        version: 1,
        ns: 'tenant-acme',
      },
    );
    assert.ok(ok?.tenantUID);
    assert.equal(denied?.outcome, 'Failure');
    assert.match(denied?.reason ?? '', /^PermissionDenied: /);
    assert.doesNotMatch(JSON.stringify(w.audit), /alice|sa:billing/);
  });

  it('refuses TLS below 1.2 and TLS 1.2 suites without forward secrecy', async () => {
    const attempt = (o: tls.ConnectionOptions) =>
      new Promise<string>((resolve) => {
        const s = tls.connect({
          host: '127.0.0.1',
          port: w.server.port,
          ca: w.ca.certPem,
          servername: 'localhost',
          ...o,
        });
        s.once('secureConnect', () => {
          resolve(`connected ${s.getProtocol()}`);
          s.destroy();
        });
        s.once('error', (e) => resolve(e.message));
      });
    assert.doesNotMatch(await attempt({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1' }), /^connected/);
    assert.doesNotMatch(await attempt({ maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256' }), /^connected/);
    assert.equal(await attempt({ maxVersion: 'TLSv1.2' }), 'connected TLSv1.2');
  });
});

describe('tenant key cache', () => {
  it('holds at most maxKeys unwrapped keys and overwrites the bytes of those it drops', async () => {
    const w = await startWorld({ tenants: ['a', 'b'], maxKeys: 1 });
    try {
      w.addVersion('a', 'primary', 1);
      w.addVersion('b', 'primary', 1);
      const first = w.keys.get('a', 'primary');
      const box = first.keys.encrypt(utf8('x'));
      w.keys.get('b', 'primary');
      assert.equal(w.keys.size, 1);
      assert.throws(() => first.keys.decrypt(box), /needs key version 1/);
      assert.equal(w.keys.get('a', 'primary').keys.decrypt(box).length, 1);
    } finally {
      await w.close();
    }
  });
});

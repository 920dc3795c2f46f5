import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { caSecret, caVersions } from '../internalca/ca.ts';
import { createCA } from '../pki/index.ts';
import { serverNames } from './bootstrap.ts';
import { serverTls } from './tls.ts';

const rand = (n: number) => new Uint8Array(randomBytes(n));

describe('the NATS server certificate', function () {
  this.timeout(20_000);

  it('is an RSA-2048 leaf of the internal CA for the names clients dial, with the bundle to trust', async () => {
    const now = new Date();
    const pair = await createCA({
      subject: 'CN=Palisade internal CA (FAKE test)',
      notBefore: now,
      notAfter: new Date(now.getTime() + 86_400_000 * 30),
      rand,
    });
    const versions = caVersions([caSecret('ops', 1, pair)], 'ops');
    const m = await serverTls(versions, serverNames('ops'), now, rand);
    const ca = new X509Certificate(m.caPem);
    const leaf = new X509Certificate(m.certPem);
    assert.ok(leaf.verify(ca.publicKey), 'signed by the internal CA');
    assert.ok(!leaf.ca);
    assert.equal(leaf.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.ok(leaf.checkHost('palisade-nats.ops.svc'));
    assert.ok(leaf.checkHost('localhost'));
    assert.ok(leaf.checkIP('127.0.0.1'));
    assert.ok(new Date(leaf.validTo) <= new Date(ca.validTo), 'never outlives its CA');
    assert.match(m.keyPem, /BEGIN PRIVATE KEY/);
  });

  it('waits for the internal CA rather than inventing one', async () => {
    await assert.rejects(
      serverTls([], serverNames('ops'), new Date(), rand),
      /internal CA does not exist yet/,
    );
  });
});

import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  createCA,
  issueClientCertificate,
  issueLeaf,
  verifyCertificateRequest,
} from '../controllers/pki/index.ts';
import { generateAgentKeys } from './keys.ts';
import { spkiFingerprint } from '../controllers/agentchannel/identity.ts';
import { adoptCredentials, PairingRefusedError, pairAgent, unissued } from './pair.ts';
import { PinError, pinnedCa } from './pin.ts';
import { DirectoryStore } from './store.ts';
import { startFakePalisade, TENANT_UID, type FakePalisade } from './testdata/server.ts';

const CODE = 'K7QP-4MZX';
const rand = (n: number) => new Uint8Array(randomBytes(n));
const day = 86_400_000;

describe('palisade-agent pair', function () {
  this.timeout(30_000);
  let palisade: FakePalisade;
  let dir: string;

  beforeEach(async () => {
    palisade = await startFakePalisade({ code: CODE });
    dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-pair-'));
  });
  afterEach(async () => {
    await palisade.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('pins the CA, sends only public keys and stores the credentials with its private keys in 0600 files', async () => {
    const store = new DirectoryStore(path.join(dir, 'creds'));
    const lines: string[] = [];
    const stored = await pairAgent({
      code: CODE,
      server: palisade.address,
      caFingerprint: palisade.pin,
      store,
      log: (l) => lines.push(l),
    });
    const [sent] = palisade.seen.pairs;
    assert.ok(sent);
    assert.match(sent.natsUserPublicKey, /^U[A-Z2-7]{55}$/);
    // What went over the wire holds neither private key.
    const wire = JSON.stringify(sent) + Buffer.from(sent.certificateRequest).toString('latin1');
    assert.ok(!wire.includes(stored.natsSeed) && !wire.includes(stored.keyPem.split('\n')[1] as string));
    assert.ok(!wire.includes('PRIVATE KEY'));
    // The stored certificate is for the stored key, and the stored CA is exactly the pinned one.
    const cert = new X509Certificate(stored.certPem);
    assert.ok(cert.publicKey.equals(createPublicKey(createPrivateKey(stored.keyPem))));
    assert.equal(spkiFingerprint(stored.caPem), palisade.pin);
    assert.equal(stored.tenantUID, TENANT_UID);
    assert.equal(stored.clusterAgent, 'edge');
    assert.deepEqual(await store.load(), stored);
    assert.equal((await stat(path.join(dir, 'creds'))).mode & 0o777, 0o700);
    for (const f of ['tls.key', 'agent.creds', 'tls.crt', 'ca.crt']) {
      assert.equal((await stat(path.join(dir, 'creds', f))).mode & 0o777, 0o600, f);
    }
    // Readable as the NATS-only mode reads a mounted Secret.
    assert.equal((await readFile(path.join(dir, 'creds', 'tenant-uid'), 'utf8')).trim(), TENANT_UID);
    // The log names the code's ID, never the code.
    assert.ok(lines.some((l) => l.includes('C0DE1D') && l.includes('tenant-acme/edge')));
    assert.ok(!lines.join('\n').includes(CODE));
  });

  it('trusts the bundle Palisade returns from then on: a certificate of a new CA in it is adopted, one outside refused', async () => {
    const now = Date.now();
    const ca = (n: number) =>
      createCA({
        subject: `CN=FAKE test CA v${n}`,
        notBefore: new Date(now - day),
        notAfter: new Date(now + day),
        rand,
      });
    const [v1, v2, other] = await Promise.all([ca(1), ca(2), ca(3)]);
    const keys = await generateAgentKeys();
    const { publicKey } = await verifyCertificateRequest(keys.certificateRequest);
    const uri = `spiffe://palisade-${'ab'.repeat(16)}/tenants/0123456789ab/clusteragents/11111111-2222-4333-8444-555555555555`;
    const certOf = async (by: typeof v1) =>
      (
        await issueClientCertificate({
          ca: by,
          publicKey,
          uris: [uri],
          notBefore: new Date(now - 60_000),
          notAfter: new Date(now + day),
          rand,
        })
      ).certPem;
    const base = {
      server: '127.0.0.1:1',
      caPem: v1.certPem,
      tenant: 'acme',
      namespace: 'tenant-acme',
      clusterAgent: 'edge',
      clusterName: 'edge-cluster',
    };
    const got = (clientCertificate: string, caBundle: string) => ({
      clientCertificate,
      caBundle,
      natsUserJwt: '',
      natsUrl: '',
      notAfter: 0,
      renewAfter: 0,
    });
    // After a CA rotation: the certificate comes from v2, the bundle holds v2 then v1.
    const renewed = adoptCredentials(got(await certOf(v2), v2.certPem + v1.certPem), keys, base);
    assert.equal(renewed.caPem, v2.certPem + v1.certPem, 'the bundle is what it trusts now');
    assert.deepEqual(unissued(renewed).caPem, renewed.caPem, 'and keeps across the next renewal');
    const [fromOther, fromV2, fromV1] = await Promise.all([certOf(other), certOf(v2), certOf(v1)]);
    assert.throws(
      () => adoptCredentials(got(fromOther, v2.certPem + v1.certPem), keys, base),
      /not signed by a CA of the returned bundle/,
    );
    assert.throws(
      () => adoptCredentials(got(fromV2, ''), keys, base),
      /not signed by a CA of the returned bundle/,
      'no bundle: only what it trusted before counts',
    );
    assert.equal(adoptCredentials(got(fromV1, ''), keys, base).caPem, v1.certPem);
  });

  it('replaces the whole stored set on a second save and leaves no old version behind', async () => {
    const store = new DirectoryStore(dir);
    const first = await pairAgent({
      code: CODE,
      server: palisade.address,
      caFingerprint: palisade.pin,
      store,
    });
    await store.save({ ...first, renewAfter: first.renewAfter + 1 });
    assert.equal((await store.load())?.renewAfter, first.renewAfter + 1);
    const versions = (await readdir(dir)).filter((n) => n.startsWith('..') && n !== '..data');
    assert.equal(versions.length, 1, versions.join(', '));
  });

  it('refuses a server whose chain holds no certificate with the pinned key, before sending anything', async () => {
    const other = await createCA({
      subject: 'CN=Other',
      notBefore: new Date(Date.now() - day),
      notAfter: new Date(Date.now() + day),
      rand,
    });
    await assert.rejects(
      pairAgent({
        code: CODE,
        server: palisade.address,
        caFingerprint: spkiFingerprint(other.certPem),
        store: new DirectoryStore(dir),
      }),
      (e: unknown) =>
        e instanceof PinError && /no certificate the server sent has the pinned public key/.test(e.message),
    );
    assert.equal(palisade.seen.pairs.length, 0, 'nothing was sent');
    assert.deepEqual(await readdir(dir), [], 'nothing was stored');
  });

  it('refuses a pinned CA certificate that did not sign the server certificate (forwarded by an impostor)', async () => {
    const impostorCa = await createCA({
      subject: 'CN=Impostor',
      notBefore: new Date(Date.now() - day),
      notAfter: new Date(Date.now() + day),
      rand,
    });
    const leaf = await issueLeaf({
      ca: impostorCa,
      dnsNames: ['localhost'],
      notBefore: new Date(Date.now() - day),
      notAfter: new Date(Date.now() + day),
      rand,
    });
    const chain = [new X509Certificate(leaf.certPem), new X509Certificate(palisade.ca.certPem)];
    assert.throws(() => pinnedCa(chain, palisade.pin, new Date()), /not a CA that signed the server's/);
  });

  it('refuses a malformed fingerprint with the expected format', async () => {
    await assert.rejects(
      pairAgent({
        code: CODE,
        server: palisade.address,
        caFingerprint: 'abc',
        store: new DirectoryStore(dir),
      }),
      /sha256:<64 hex digits>/,
    );
  });

  it('names the tenant it means to join, and a code of another tenant pairs nothing', async () => {
    const store = new DirectoryStore(dir);
    const pair = (tenant: string) =>
      pairAgent({ code: CODE, server: palisade.address, caFingerprint: palisade.pin, tenant, store });
    await assert.rejects(pair('globex'), PairingRefusedError);
    assert.equal(palisade.seen.pairs[0]?.tenant, 'globex');
    assert.deepEqual(await readdir(dir), []);
    assert.equal((await pair('acme')).tenant, 'acme');
  });

  it('ends with PairingRefusedError when Palisade refuses the code, and stores nothing', async () => {
    await assert.rejects(
      pairAgent({
        code: 'WRONG-CODE',
        server: palisade.address,
        caFingerprint: palisade.pin,
        store: new DirectoryStore(dir),
      }),
      (e: unknown) => e instanceof PairingRefusedError && e.message === 'pairing refused: code refused',
    );
    assert.deepEqual(await readdir(dir), []);
  });
});

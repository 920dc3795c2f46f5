import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { createCA, issueLeaf } from '../pki/index.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { KubeObject, Secret } from '../runtime/kube/types.ts';
import type { AuditLog, Logger } from '../runtime/log.ts';
import { CA_ID_LABEL } from './leaf.ts';
import {
  ensureInstallationCert,
  INSTALLATION_CERT_LABEL,
  installationCertPlan,
  installationCertSecret,
  renewalAt,
  specOf,
  type InstallationCertSpec,
} from './installationcerts.ts';
import { bundleOf, caSecret, caVersions, type CAVersion } from './ca.ts';

const rand = (n: number) => new Uint8Array(randomBytes(n));
const NS = 'palisade-system';
const T0 = new Date('2030-01-01T00:00:00Z');
const DAY = 86_400_000;
const SPEC: InstallationCertSpec = {
  name: 'palisade-nats-tls',
  component: 'nats-tls',
  dnsNames: ['palisade-nats.palisade-system.svc', 'localhost'],
  ipAddresses: ['127.0.0.1', '::1'],
};

/** A Secret holding a leaf of `ca` for `names`, issued at `at` for a year, as the keeper writes it. */
async function stored(ca: CAVersion, bundle: string, o: { names?: InstallationCertSpec; at?: Date } = {}) {
  const names = o.names ?? SPEC;
  const at = o.at ?? T0;
  const pem = await issueLeaf({
    ca: ca.pair,
    dnsNames: names.dnsNames,
    ipAddresses: names.ipAddresses,
    notBefore: at,
    notAfter: new Date(at.getTime() + 365 * DAY),
    rand,
  });
  return installationCertSecret(NS, SPEC, ca, bundle, pem);
}

/** An in-memory API server for Secrets: create-only, conditional updates, immutable data. */
function fakeClient(initial: Secret[] = []) {
  const objects = new Map(
    initial.map((s) => [
      s.metadata.name,
      { ...s, metadata: { ...s.metadata, uid: 'u0', resourceVersion: '1' } },
    ]),
  );
  let rv = 1;
  const client = {
    get: async (ref: { name: string }) => objects.get(ref.name),
    create: async (o: Secret) => {
      if (objects.has(o.metadata.name)) throw new Error('AlreadyExists');
      const s = { ...o, metadata: { ...o.metadata, uid: `u${++rv}`, resourceVersion: String(rv) } };
      objects.set(o.metadata.name, s);
      return s;
    },
    update: async (o: Secret) => {
      const cur = objects.get(o.metadata.name);
      if (!cur || cur.metadata.resourceVersion !== o.metadata.resourceVersion) throw new Error('Conflict');
      if (cur.immutable && JSON.stringify(cur.data) !== JSON.stringify(o.data))
        throw new Error('field is immutable');
      const s = { ...o, metadata: { ...o.metadata, uid: cur.metadata.uid, resourceVersion: String(++rv) } };
      objects.set(o.metadata.name, s);
      return s;
    },
    delete: async (ref: { name: string }, opts: { uid?: string } = {}) => {
      if (opts.uid && objects.get(ref.name)?.metadata.uid !== opts.uid) throw new Error('Conflict');
      objects.delete(ref.name);
    },
  };
  return { client: client as unknown as KubeClient, objects };
}

const quiet = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Logger;
const audit = { record() {} } as unknown as AuditLog;

describe('installation certificates (nats-server’s)', function () {
  this.timeout(60_000);
  let v1: CAVersion;
  let v2: CAVersion;
  let bundle1: string;
  let bundle2: string;

  before(async () => {
    const mk = async (version: number) =>
      caSecret(
        NS,
        version,
        await createCA({
          subject: `CN=FAKE test installation CA v${version}`,
          notBefore: new Date(T0.getTime() - DAY),
          notAfter: new Date(T0.getTime() + 3650 * DAY),
          rand,
        }),
      );
    const versions = caVersions([await mk(1), await mk(2)], NS);
    [v1, v2] = versions as [CAVersion, CAVersion];
    bundle1 = bundleOf([v1]);
    bundle2 = bundleOf(versions);
  });

  const plan = (s: Secret | undefined, ca: CAVersion, bundle: string, now = T0, spec = SPEC) =>
    installationCertPlan(spec, s, ca, bundle, now);

  it('issues when there is no Secret yet', () => {
    assert.deepEqual(plan(undefined, v1, bundle1), { action: 'issue', why: 'no certificate yet' });
  });

  it('keeps a current certificate of the issuing CA', async () => {
    assert.deepEqual(plan(await stored(v1, bundle1), v1, bundle1), { action: 'keep' });
  });

  it('renews once two thirds of its life have passed, not before', async () => {
    const s = await stored(v1, bundle1);
    const due = renewalAt(new X509Certificate(Buffer.from(s.data?.['tls.crt'] ?? '', 'base64')));
    assert.equal(Math.round((due.getTime() - T0.getTime()) / DAY), 243);
    assert.deepEqual(plan(s, v1, bundle1, new Date(due.getTime() - 1000)), { action: 'keep' });
    assert.deepEqual(plan(s, v1, bundle1, due), { action: 'issue', why: 'renewal is due' });
  });

  it('reissues after a CA rotation, once the new CA issues', async () => {
    const p = plan(await stored(v1, bundle2), v2, bundle2);
    assert.equal(p.action, 'issue');
    assert.match((p as { why: string }).why, /rotated/);
  });

  it('reissues when its DNS names or IP addresses change', async () => {
    const s = await stored(v1, bundle1);
    assert.deepEqual(
      plan(s, v1, bundle1, T0, { ...SPEC, dnsNames: [...SPEC.dnsNames, 'nats.example.com'] }),
      {
        action: 'issue',
        why: 'its names changed',
      },
    );
    assert.deepEqual(plan(s, v1, bundle1, T0, { ...SPEC, ipAddresses: ['127.0.0.1'] }), {
      action: 'issue',
      why: 'its names changed',
    });
  });

  it('reissues when the stored key is not the certificate’s', async () => {
    const a = await stored(v1, bundle1);
    const b = await stored(v1, bundle1);
    const mixed = { ...a, data: { ...a.data, 'tls.key': b.data?.['tls.key'] ?? '' } };
    assert.equal(plan(mixed, v1, bundle1).action, 'issue');
  });

  it('rewrites only ca.crt when just the bundle changed', async () => {
    assert.deepEqual(plan(await stored(v1, bundle1), v1, bundle2), { action: 'bundle' });
  });

  it('adopts a Secret an earlier release created: labels and annotations only', async () => {
    const s = await stored(v1, bundle1);
    const legacy: Secret = { ...s, immutable: true, metadata: { name: s.metadata.name, namespace: NS } };
    assert.deepEqual(plan(legacy, v1, bundle1), { action: 'metadata' });
  });

  it('records its spec on the Secret, so the keeper can renew it without knowing who asked', async () => {
    assert.deepEqual(specOf(await stored(v1, bundle1)), SPEC);
  });

  it('adopts an immutable Secret of an earlier release without touching its data', async () => {
    const s = await stored(v1, bundle1);
    const legacy: Secret = { ...s, immutable: true, metadata: { name: s.metadata.name, namespace: NS } };
    const { client, objects } = fakeClient([legacy]);
    const d = { client, namespace: NS, rand, now: () => T0, log: quiet, audit };
    const after = await ensureInstallationCert(d, SPEC, objects.get(SPEC.name), v1, bundle1);
    assert.deepEqual(after.data, legacy.data);
    assert.equal(after.metadata.uid, 'u0');
    assert.equal(after.metadata.labels?.[INSTALLATION_CERT_LABEL], 'true');
    assert.equal(after.metadata.labels?.[CA_ID_LABEL], v1.keyId);
  });

  it('replaces an immutable Secret of an earlier release once a new CA must issue it', async () => {
    const s = await stored(v1, bundle1);
    const legacy: Secret = { ...s, immutable: true, metadata: { name: s.metadata.name, namespace: NS } };
    const { client, objects } = fakeClient([legacy]);
    const d = { client, namespace: NS, rand, now: () => T0, log: quiet, audit };
    await ensureInstallationCert(d, SPEC, objects.get(SPEC.name), v2, bundle2);
    const now = objects.get(SPEC.name) as Secret;
    assert.notEqual(now.metadata.uid, 'u0');
    assert.equal(now.immutable, undefined, 'mutable from now on');
    const leaf = new X509Certificate(Buffer.from(now.data?.['tls.crt'] ?? '', 'base64'));
    assert.ok(leaf.verify(v2.cert.publicKey), 'issued by the new CA');
    assert.ok(leaf.checkHost('palisade-nats.palisade-system.svc') && leaf.checkIP('::1'));
    assert.equal(Buffer.from(now.data?.['ca.crt'] ?? '', 'base64').toString(), bundle2);
    assert.equal(now.metadata.labels?.[CA_ID_LABEL], v2.keyId);
    assert.deepEqual(plan(now as KubeObject as Secret, v2, bundle2), { action: 'keep' });
  });

  it('renews a mutable Secret in place, conditional on what it read', async () => {
    const { client, objects } = fakeClient([await stored(v1, bundle1)]);
    const d = {
      client,
      namespace: NS,
      rand,
      now: () => new Date(T0.getTime() + 300 * DAY),
      log: quiet,
      audit,
    };
    const read = objects.get(SPEC.name) as Secret;
    await ensureInstallationCert(d, SPEC, read, v1, bundle1);
    const now = objects.get(SPEC.name) as Secret;
    assert.equal(now.metadata.uid, 'u0', 'the same Secret');
    assert.notEqual(now.data?.['tls.crt'], read.data?.['tls.crt']);
    await assert.rejects(ensureInstallationCert(d, SPEC, { ...read, data: {} }, v1, bundle1), /Conflict/);
  });
});

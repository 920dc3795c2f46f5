/**
 * The key service, the operator as a process with messaging on: ServiceAccounts of another namespace
 * encrypt and decrypt tenant data through it (and the admin CLI does, with a token), only as far as
 * KeyAccessPolicies allow; a standby replica serves too, and so does a key-API replica, which never leads; data survives a tenant-key rotation and a root
 * rotation; destroyBelowVersion ends it with a clear error.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { status } from '@grpc/grpc-js';
import type { KeyAccessPolicy, TenantKey } from '../crds/v1alpha1/index.ts';
import { runCli } from '../controllers/cli.ts';
import { rotateRootKey } from '../controllers/installation/rotation.ts';
import { KeyServiceCallError, KeyServiceClient } from '../controllers/keyservice/client.ts';
import type { ConfigMap, KubeObject } from '../controllers/runtime/kube/types.ts';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../controllers/runtime/objects.ts';
import { testEnv } from '../hack/testenv/env.ts';
import {
  ensureNamespace,
  getTenant,
  kube,
  readyStatus,
  tenantManifest,
  uniqueName,
} from './support/cluster.ts';
import {
  eventually,
  freePort,
  metricValue,
  probe,
  startOperator,
  type OperatorProcess,
} from './support/operator.ts';
import { eventuallyKey, rand, ready, tenantKey } from './support/tenantkeys.ts';
import { startMessaging, stopMessaging, type MessagingEnv } from './messaging.support.ts';
import { scratchDir } from '../hack/controlplane/proc.ts';

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function refused(p: Promise<unknown>): Promise<KeyServiceCallError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof KeyServiceCallError)) throw new Error(`expected a refusal, got ${String(e)}`);
  return e;
}

function policy(
  name: string,
  sa: { namespace: string; name: string },
  tenants: string[],
  operations: string[],
) {
  return {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'KeyAccessPolicy',
    metadata: { name },
    spec: { subjects: [{ serviceAccount: sa }], tenants, operations, keys: ['data'] },
  } as KubeObject;
}

describe('Key service: tenant data through Palisade, allowed by KeyAccessPolicies', function () {
  this.timeout(4 * 60_000);
  const ns = uniqueName('palisade-keys');
  const callers = uniqueName('callers');
  const [x, y] = [uniqueName('ks-x'), uniqueName('ks-y')];
  const [xns, yns] = [`tenant-${x}`, `tenant-${y}`];
  const policies = [`${x}-writer`, `${x}-reader`, `${y}-app`];
  let env: MessagingEnv | undefined;
  let standby: OperatorProcess | undefined;
  let port = 0;
  let caPem = '';
  let dir = '';
  const clients: KeyServiceClient[] = [];

  const token = async (sa: string) =>
    (
      await testEnv().kubectl(['create', 'token', sa, '-n', callers, '--audience', 'palisade-keyservice'])
    ).stdout.trim();
  const client = (t: string, at = port) => {
    const c = new KeyServiceClient({ address: `127.0.0.1:${at}`, caPem, token: () => t });
    clients.push(c);
    return c;
  };
  const dataKey = { tenant: x, key: 'data' };

  before(async function () {
    this.timeout(3 * 60_000);
    dir = await scratchDir('palisade-keys-');
    port = await freePort();
    env = await startMessaging(ns, 'keys', { PALISADE_ROOT_RETIRE_GRACE_MS: '1000' }, undefined, undefined, [
      `--keyservice-address=127.0.0.1:${port}`,
    ]);
    await ensureNamespace(callers);
    for (const sa of ['writer', 'reader', 'yapp', 'stranger'])
      await testEnv().kubectl(['create', 'serviceaccount', sa, '-n', callers]);
    for (const t of [x, y]) await kube().apply(tenantManifest(t));
    for (const t of [x, y])
      await eventually(
        `Tenant ${t} Ready`,
        async () => readyStatus(await getTenant(t))?.status === 'True',
        90_000,
      );
    for (const n of [xns, yns]) {
      await kube().apply(tenantKey(n, 'data', { rotationTrigger: 'r1' }));
      await eventuallyKey(kube(), n, 'data', ready, 'data v1', 60_000);
    }
    await kube().apply(
      policy(policies[0] as string, { namespace: callers, name: 'writer' }, [x], ['Encrypt']),
    );
    await kube().apply(
      policy(policies[1] as string, { namespace: callers, name: 'reader' }, [x], ['Decrypt']),
    );
    await kube().apply(
      policy(policies[2] as string, { namespace: callers, name: 'yapp' }, [y], ['Encrypt', 'Decrypt']),
    );
    const cm = await kube().get<ConfigMap>({ kind: 'ConfigMap', name: 'palisade-ca-bundle', namespace: ns });
    caPem = cm?.data?.['ca.crt'] ?? '';
    assert.ok(caPem, 'the internal CA bundle is published');
  });

  after(async function () {
    this.timeout(2 * 60_000);
    for (const c of clients) c.close();
    await standby?.stop();
    for (const p of policies) await kube().delete({ kind: 'KeyAccessPolicy', name: p });
    for (const t of [x, y]) await kube().delete({ kind: 'Tenant', name: t });
    await eventually(
      'Tenants gone',
      async () => !(await getTenant(x)) && !(await getTenant(y)),
      90_000,
    ).catch(() => undefined);
    await stopMessaging(env);
  });

  let box: Uint8Array = new Uint8Array();
  const context = utf8('customer/7/card');

  it('lets A (allowed to encrypt for X) encrypt — the admin CLI too, with a token — and B (allowed to decrypt) decrypt', async () => {
    const writer = client(await token('writer'));
    box = (
      await eventually(
        'the key service serving A',
        async () =>
          writer.encrypt(dataKey, utf8('4111 1111 1111 1111'), context).catch((e: unknown) => {
            if (e instanceof KeyServiceCallError && e.code === status.PERMISSION_DENIED) throw e;
            return undefined;
          }),
        60_000,
      )
    ).ciphertext;
    const reader = client(await token('reader'));
    assert.equal(text((await reader.decrypt(dataKey, box, context)).plaintext), '4111 1111 1111 1111');

    await writeFile(path.join(dir, 'writer.token'), await token('writer'), { mode: 0o600 });
    let out: Uint8Array | string = '';
    const code = await runCli(
      [
        'data',
        'encrypt',
        `--kubeconfig=${testEnv().kubeconfig}`,
        `--operator-namespace=${ns}`,
        `--server=127.0.0.1:${port}`,
        `--token-file=${path.join(dir, 'writer.token')}`,
        `--tenant=${x}`,
        '--key=data',
        '--context=cli',
        '--base64',
      ],
      {
        stdin: async () => utf8('from the CLI'),
        stdout: (b) => (out = b),
        stderr: () => undefined,
        audit: { record: () => undefined },
      },
    );
    assert.equal(code, 0);
    const sealed = new Uint8Array(Buffer.from(String(out).trim(), 'base64'));
    assert.equal(text((await reader.decrypt(dataKey, sealed, utf8('cli'))).plaintext), 'from the CLI');

    // As an admin runs it: its own process, an IP address (a port-forward), and nothing on stderr but
    // what it has to say (grpc-js names the IP as the TLS server name, which Node warns about).
    await writeFile(path.join(dir, 'reader.token'), await token('reader'), { mode: 0o600 });
    const run = promisify(execFile)(process.execPath, [
      fileURLToPath(new URL('../controllers/cli.ts', import.meta.url)),
      'data',
      'decrypt',
      `--kubeconfig=${testEnv().kubeconfig}`,
      `--operator-namespace=${ns}`,
      `--server=127.0.0.1:${port}`,
      `--token-file=${path.join(dir, 'reader.token')}`,
      `--tenant=${x}`,
      '--key=data',
      '--context=cli',
      '--base64',
    ]);
    run.child.stdin?.end(String(out));
    const decrypted = await run;
    assert.equal(decrypted.stdout, 'from the CLI');
    assert.equal(decrypted.stderr, '');
    const audit = env?.op.output() ?? '';
    assert.match(audit, /"action":"keyservice.Encrypt".*"actor":"system:serviceaccount:[^"]+:writer"/);
    assert.doesNotMatch(audit, /4111 1111|from the CLI/);
  });

  it('refuses what no policy allows: A decrypting, and an identity scoped to Y touching X', async () => {
    const writer = client(await token('writer'));
    assert.equal((await refused(writer.decrypt(dataKey, box, context))).code, status.PERMISSION_DENIED);
    const yapp = client(await token('yapp'));
    const e = await refused(yapp.decrypt(dataKey, box, context));
    assert.equal(e.code, status.PERMISSION_DENIED);
    assert.match(e.message, new RegExp(`may not Decrypt with key data of Tenant ${x}`));
    // X's ciphertext presented as Y's data does not open with Y's key either.
    const own = await yapp.encrypt({ tenant: y, key: 'data' }, utf8('y data'));
    assert.equal(own.keyVersion, 1);
    assert.equal(
      (await refused(yapp.decrypt({ tenant: y, key: 'data' }, box, context))).code,
      status.INVALID_ARGUMENT,
    );
  });

  it('refuses an unknown identity, a token of another audience, and a revoked one', async () => {
    const stranger = client(await token('stranger'));
    assert.equal((await refused(stranger.decrypt(dataKey, box, context))).code, status.PERMISSION_DENIED);
    assert.equal(
      (await refused(client('not-a-token').decrypt(dataKey, box, context))).code,
      status.UNAUTHENTICATED,
    );
    const apiAudience = (await testEnv().kubectl(['create', 'token', 'reader', '-n', callers])).stdout.trim();
    assert.equal(
      (await refused(client(apiAudience).decrypt(dataKey, box, context))).code,
      status.UNAUTHENTICATED,
    );
    // Revoked: the reader's ServiceAccount deleted; its token stops working within the verdict cache's 10 s.
    const reader = client(await token('reader'));
    await reader.decrypt(dataKey, box, context);
    await testEnv().kubectl(['delete', 'serviceaccount', 'reader', '-n', callers]);
    await eventually(
      'the deleted ServiceAccount refused',
      async () => (await refused(reader.decrypt(dataKey, box, context))).code === status.UNAUTHENTICATED,
      30_000,
      1000,
    );
    await testEnv().kubectl(['create', 'serviceaccount', 'reader', '-n', callers]);
  });

  it('is served by a standby replica too, from its own caches', async () => {
    const standbyPort = await freePort();
    standby = await startOperator({
      kubeconfig: testEnv().kubeconfig,
      namespace: ns,
      identity: 'keys-standby',
      args: [`--keyservice-address=127.0.0.1:${standbyPort}`],
    });
    const reader = client(await token('reader'), standbyPort);
    const open = await eventually(
      'the standby serving',
      async () => reader.decrypt(dataKey, box, context).catch(() => undefined),
      60_000,
      500,
    );
    assert.equal(text(open.plaintext), '4111 1111 1111 1111');
    assert.ok(!standby.output().includes('controllers started'), 'the standby leads nothing');
    await standby.stop();
    standby = undefined;
  });

  it('is served by a key-API replica (--role=keyservice), which never campaigns for the Lease', async () => {
    const apiPort = await freePort();
    const args = [`--keyservice-address=127.0.0.1:${apiPort}`, '--role=keyservice'];
    const keyApi = await startOperator({
      kubeconfig: testEnv().kubeconfig,
      namespace: ns,
      identity: 'keys-api',
      args,
    });
    // NB: a namespace with no operator in it: the Lease is free, so a replica that campaigned would take it.
    const empty = uniqueName('palisade-keys-alone');
    await ensureNamespace(empty);
    const alone = await startOperator({
      kubeconfig: testEnv().kubeconfig,
      namespace: empty,
      identity: 'keys-api-alone',
      args: [`--keyservice-address=127.0.0.1:${await freePort()}`, '--role=keyservice'],
    });
    try {
      const reader = client(await token('reader'), apiPort);
      const open = await eventually(
        'the key-API replica serving',
        async () => reader.decrypt(dataKey, box, context).catch(() => undefined),
        60_000,
        500,
      );
      assert.equal(text(open.plaintext), '4111 1111 1111 1111');
      assert.equal(await probe(keyApi.probePort, '/readyz'), 200);
      assert.equal(await metricValue(keyApi.probePort, 'palisade_leader'), 0);
      await eventually(
        'the lone replica up',
        async () => (await probe(alone.probePort, '/healthz')) === 200,
        30_000,
      );
      // NB: a replica that campaigns tries for the Lease as soon as its probes listen.
      await new Promise((r) => setTimeout(r, 3_000));
      const leases = await testEnv().kubectl(['get', 'leases', '-n', empty, '-o', 'name']);
      assert.equal(leases.stdout.trim(), '', 'no Lease taken where nobody else campaigns');
      for (const op of [keyApi, alone]) {
        assert.ok(!op.output().includes('controllers started'), `${op.identity} reconciles nothing`);
        assert.ok(op.output().includes('serving only'), `${op.identity} says it only serves`);
      }
      const made = await testEnv().kubectl([
        'get',
        'secrets',
        '-n',
        empty,
        '-l',
        `${MANAGED_BY_LABEL}=${MANAGED_BY}`,
        '-o',
        'name',
      ]);
      assert.equal(made.stdout.trim(), '', 'no installation key made where it only serves');
    } finally {
      await Promise.all([keyApi.stop(), alone.stop()]);
      await testEnv().kubectl(['delete', 'namespace', empty, '--wait=false']);
    }
  });

  it('decrypts data from before a tenant-key rotation and a root rotation; destroyBelowVersion ends it clearly', async () => {
    const reader = client(await token('reader'));
    const writer = client(await token('writer'));
    await kube().apply(tenantKey(xns, 'data', { rotationTrigger: 'r2' }));
    await eventuallyKey(
      kube(),
      xns,
      'data',
      (k) => ready(k) && k.status?.currentVersion === 2,
      'data v2',
      60_000,
    );
    await eventually(
      'encrypting with v2',
      async () => (await writer.encrypt(dataKey, utf8('new'))).keyVersion === 2,
    );
    assert.equal(text((await reader.decrypt(dataKey, box, context)).plaintext), '4111 1111 1111 1111');

    await rotateRootKey({ client: kube(), namespace: ns, rand, audit: { record: () => undefined } });
    await eventually(
      'root key v1 retired',
      async () => !(await kube().get({ kind: 'Secret', name: 'palisade-root-key-v1', namespace: ns })),
      90_000,
    );
    assert.equal(text((await reader.decrypt(dataKey, box, context)).plaintext), '4111 1111 1111 1111');

    await kube().apply(
      tenantKey(xns, 'data', { rotationTrigger: 'r2', minDecryptionVersion: 2, destroyBelowVersion: 2 }),
    );
    await eventuallyKey(
      kube(),
      xns,
      'data',
      (k: TenantKey) => k.status?.versions?.find((v) => v.version === 1)?.state === 'Destroyed',
      'v1 destroyed',
      60_000,
    );
    const e = await eventually('the destroyed version refused', async () =>
      refused(reader.decrypt(dataKey, box, context)).catch(() => undefined),
    );
    assert.equal(e.code, status.FAILED_PRECONDITION);
    assert.match(e.message, /needs version 1 of TenantKey data of Tenant .*, which was destroyed/);
    const policyStatus = await kube().get<KeyAccessPolicy>({
      kind: 'KeyAccessPolicy',
      name: policies[1] as string,
    });
    assert.equal(readyStatus(policyStatus)?.status, 'True', 'the policy is Ready');
  });
});

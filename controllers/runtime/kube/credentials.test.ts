import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { CredentialSource, loadKubeConfig, TOKEN_FILE_PROVIDER, withTokenFiles } from './credentials.ts';

const SERVER = 'https://127.0.0.1:6443';

function kubeconfig(user: Record<string, unknown>): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: SERVER, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'ctx',
  });
}

describe('credentials that change while the process runs', () => {
  let dir: string;
  const file = (name: string, content: string) => {
    const p = path.join(dir, name);
    writeFileSync(p, content);
    return p;
  };

  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'palisade-creds-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("reads a kubeconfig user's tokenFile (relative to the kubeconfig) on each refresh, not once at load", async () => {
    file('token', 'first\n');
    const kc = loadKubeConfig(file('config', kubeconfig({ 'token-file': 'token' })));
    assert.deepEqual(kc.getCurrentUser()?.authProvider, {
      name: TOKEN_FILE_PROVIDER,
      config: { path: path.join(dir, 'token') },
    });
    let now = 0;
    const source = new CredentialSource(kc, { refreshMs: 60_000, now: () => now });
    const first = await source.connection();
    assert.equal(first.headers.Authorization, 'Bearer first');
    file('token', 'second');
    assert.equal((await source.connection()).headers.Authorization, 'Bearer first', 'cached within a minute');
    now = 60_000;
    const second = await source.connection();
    assert.equal(second.headers.Authorization, 'Bearer second');
    assert.equal(second.agent, first.agent, 'the keep-alive agent stays while the TLS material does');
  });

  it('re-reads at once when the server rejected the current credentials, once for concurrent rejections', async () => {
    file('token', 'old');
    const source = new CredentialSource(
      loadKubeConfig(file('config', kubeconfig({ 'token-file': 'token' }))),
    );
    const rejected = await source.connection();
    file('token', 'new');
    const [a, b] = await Promise.all([source.renew(rejected), source.renew(rejected)]);
    assert.equal(a.headers.Authorization, 'Bearer new');
    assert.equal(a, b);
    file('token', 'newer');
    assert.equal(await source.renew(rejected), a, 'a rejection of superseded credentials reloads nothing');
  });

  it('lets tokenFile win over a token beside it, as client-go does', async () => {
    file('token', 'from-file');
    const kc = loadKubeConfig(file('config', kubeconfig({ token: 'inline', 'token-file': 'token' })));
    const c = await new CredentialSource(kc).connection();
    assert.equal(c.headers.Authorization, 'Bearer from-file');
  });

  it('keeps an inline token as it is', async () => {
    const kc = loadKubeConfig(file('config', kubeconfig({ token: 'inline' })));
    assert.equal((await new CredentialSource(kc).connection()).headers.Authorization, 'Bearer inline');
  });

  it('re-reads the in-cluster ServiceAccount token (the projected token the kubelet rotates)', async () => {
    const sa = path.join(dir, 'var/run/secrets/kubernetes.io/serviceaccount');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(sa, { recursive: true });
    writeFileSync(path.join(sa, 'ca.crt'), '');
    writeFileSync(path.join(sa, 'token'), 'projected-1');
    const env = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    process.env.KUBERNETES_SERVICE_HOST = '10.0.0.1';
    process.env.KUBERNETES_SERVICE_PORT = '443';
    const kc = new KubeConfig();
    try {
      kc.loadFromCluster(dir);
    } finally {
      for (const [k, v] of [
        ['KUBERNETES_SERVICE_HOST', env.host],
        ['KUBERNETES_SERVICE_PORT', env.port],
      ] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
    const source = new CredentialSource(withTokenFiles(kc), { refreshMs: 0 });
    assert.equal((await source.connection()).headers.Authorization, 'Bearer projected-1');
    writeFileSync(path.join(sa, 'token'), 'projected-2');
    assert.equal((await source.connection()).headers.Authorization, 'Bearer projected-2');
  });

  it('keeps the last credentials when a periodic re-read fails, and fails a forced one', async () => {
    const token = file('token', 'kept');
    let now = 0;
    const kc = loadKubeConfig(file('config', kubeconfig({ 'token-file': token })));
    const source = new CredentialSource(kc, { refreshMs: 1_000, now: () => now });
    const c = await source.connection();
    rmSync(token);
    now = 5_000;
    assert.equal((await source.connection()).headers.Authorization, 'Bearer kept');
    await assert.rejects(source.renew(c), /ENOENT/);
  });
});

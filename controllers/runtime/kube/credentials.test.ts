import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { CredentialSource } from './credentials.ts';
import { loadKubeConfig } from './kubeconfig.ts';

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
    assert.equal(kc.getCurrentUser()?.tokenFile, path.join(dir, 'token'));
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
    const sa = path.join(dir, 'serviceaccount');
    mkdirSync(sa);
    writeFileSync(path.join(sa, 'ca.crt'), 'CA');
    writeFileSync(path.join(sa, 'token'), 'projected-1');
    const env = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
    const kc = loadKubeConfig(undefined, { env, home: dir, serviceAccountDir: sa });
    const source = new CredentialSource(kc, { refreshMs: 0 });
    assert.equal((await source.connection()).headers.Authorization, 'Bearer projected-1');
    writeFileSync(path.join(sa, 'token'), 'projected-2');
    assert.equal((await source.connection()).headers.Authorization, 'Bearer projected-2');
  });

  it('replaces the keep-alive agent when the client certificate file is rewritten, and only then', async () => {
    file('crt', 'CERT-1');
    file('key', 'KEY');
    let now = 0;
    const kc = loadKubeConfig(
      file('config', kubeconfig({ 'client-certificate': 'crt', 'client-key': 'key' })),
    );
    const source = new CredentialSource(kc, { refreshMs: 1_000, now: () => now });
    const first = await source.connection();
    assert.deepEqual([first.tls.cert, first.tls.key], ['CERT-1', 'KEY']);
    now = 1_000;
    assert.equal((await source.connection()).agent, first.agent);
    file('crt', 'CERT-2');
    now = 2_000;
    const second = await source.connection();
    assert.equal(second.tls.cert, 'CERT-2');
    assert.notEqual(second.agent, first.agent);
  });

  it("runs an exec plugin again when the server rejected its token, and keeps it no longer than it's valid", async () => {
    const plugin = file(
      'plugin.sh',
      `#!/bin/sh
n=$(($(cat "${dir}/runs" 2>/dev/null || echo 0) + 1)); echo $n > "${dir}/runs"
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-%s","expirationTimestamp":"%s"}}' $n "$EXPIRES"
`,
    );
    chmodSync(plugin, 0o755);
    const expires = new Date(Date.now() + 30_000).toISOString();
    const exec = {
      apiVersion: 'client.authentication.k8s.io/v1',
      command: './plugin.sh',
      env: [{ name: 'EXPIRES', value: expires }],
      interactiveMode: 'Never',
    };
    let now = 0;
    const source = new CredentialSource(loadKubeConfig(file('config', kubeconfig({ exec }))), {
      now: () => now,
    });
    const first = await source.connection();
    assert.equal(first.headers.Authorization, 'Bearer exec-1');
    now = 29_000;
    assert.equal(await source.connection(), first, 'reused while the credential is valid');
    now = 31_000;
    const reread = await source.connection();
    assert.notEqual(reread, first, 're-read when the credential expires, before the minute is up');
    const renewed = await source.renew(reread);
    assert.equal(renewed.headers.Authorization, 'Bearer exec-2');
    assert.equal(readFileSync(path.join(dir, 'runs'), 'utf8').trim(), '2');
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

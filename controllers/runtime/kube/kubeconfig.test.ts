import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { loadKubeConfig, type Environment } from './kubeconfig.ts';

interface Doc {
  clusters?: { name: string; cluster: Record<string, unknown> }[];
  users?: { name: string; user: Record<string, unknown> }[];
  contexts?: { name: string; context: Record<string, unknown> }[];
  'current-context'?: string;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('runtime/kube/kubeconfig: kubeconfig files as kubectl reads them', () => {
  let dir: string;
  const write = (rel: string, content: string | Doc) => {
    const p = path.join(dir, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(
      p,
      typeof content === 'string' ? content : stringify({ apiVersion: 'v1', kind: 'Config', ...content }),
    );
    return p;
  };
  const env = (vars: Record<string, string> = {}): Environment => ({
    env: vars,
    home: path.join(dir, 'home'),
    serviceAccountDir: path.join(dir, 'sa'),
  });
  const single = (user: Record<string, unknown>, cluster: Record<string, unknown> = {}): Doc => ({
    clusters: [{ name: 'c', cluster: { server: 'https://api.example:6443/', ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u', namespace: 'team' } }],
    'current-context': 'ctx',
  });

  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'palisade-kubeconfig-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('merges the files in KUBECONFIG: the first to name an entry or set current-context wins, missing files are skipped', async () => {
    const a = write('a/config', {
      clusters: [{ name: 'shared', cluster: { server: 'https://from-a' } }],
      users: [{ name: 'shared', user: { token: 'from-a' } }],
      contexts: [{ name: 'ctx-b', context: { cluster: 'only-b', user: 'shared' } }],
    });
    const b = write('b/config', {
      clusters: [
        { name: 'shared', cluster: { server: 'https://from-b' } },
        { name: 'only-b', cluster: { server: 'https://only-b' } },
      ],
      users: [{ name: 'shared', user: { token: 'from-b' } }],
      contexts: [{ name: 'ctx-b', context: { cluster: 'shared', user: 'shared' } }],
      'current-context': 'ctx-b',
    });
    const c = write('c/config', { 'current-context': 'ignored' });
    const missing = path.join(dir, 'nowhere', 'config');
    const kc = loadKubeConfig(undefined, env({ KUBECONFIG: [missing, a, b, c, a].join(path.delimiter) }));
    assert.equal(kc.getCurrentContext(), 'ctx-b');
    assert.equal(kc.getCurrentCluster()?.server, 'https://only-b', "a's ctx-b, pointing at b's only-b");
    assert.equal((await kc.credentials()).headers.Authorization, 'Bearer from-a');
  });

  it("resolves the files a kubeconfig names against that kubeconfig's directory", async () => {
    write('certs/ca.crt', 'CA');
    write('certs/client.crt', 'CERT');
    write('certs/client.key', 'KEY');
    write('certs/token', 'TOKEN\n');
    const file = write(
      'kube/config',
      single(
        {
          'client-certificate': '../certs/client.crt',
          'client-key': '../certs/client.key',
          'token-file': '../certs/token',
          exec: { command: './bin/plugin', apiVersion: 'client.authentication.k8s.io/v1' },
        },
        { 'certificate-authority': '../certs/ca.crt' },
      ),
    );
    const kc = loadKubeConfig(file);
    const user = kc.getCurrentUser();
    assert.equal(kc.getCurrentCluster()?.caFile, path.join(dir, 'certs/ca.crt'));
    assert.deepEqual(
      [user?.certFile, user?.keyFile, user?.tokenFile, user?.exec?.command],
      [
        path.join(dir, 'certs/client.crt'),
        path.join(dir, 'certs/client.key'),
        path.join(dir, 'certs/token'),
        path.join(dir, 'kube/bin/plugin'),
      ],
    );
    const onPath = loadKubeConfig(write('other', single({ exec: { command: 'kubelogin' } })));
    assert.equal(onPath.getCurrentUser()?.exec?.command, 'kubelogin', 'a bare command is looked up on PATH');
  });

  it("gives the current cluster's CA, TLS checks and the user's certificate as TLS material", async () => {
    const kc = loadKubeConfig(
      write(
        'config',
        single(
          { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY'), token: 't' },
          {
            'certificate-authority-data': b64('CA'),
            'insecure-skip-tls-verify': true,
            'tls-server-name': 'kubernetes.default',
          },
        ),
      ),
    );
    assert.equal(kc.getCurrentCluster()?.server, 'https://api.example:6443');
    assert.deepEqual((await kc.credentials()).tls, {
      ca: 'CA',
      cert: 'CERT',
      key: 'KEY',
      rejectUnauthorized: false,
      servername: 'kubernetes.default',
    });
    assert.equal(kc.getContextObject(kc.getCurrentContext())?.namespace, 'team');
  });

  it('sends basic auth for a username and password, and impersonation headers for as, as-uid and as-groups', async () => {
    const kc = loadKubeConfig(
      write(
        'config',
        single({
          username: 'admin',
          password: 's3cret',
          as: 'alice',
          'as-uid': '42',
          'as-groups': ['a', 'b'],
        }),
      ),
    );
    assert.deepEqual((await kc.credentials()).headers, {
      Authorization: `Basic ${b64('admin:s3cret')}`,
      'Impersonate-User': 'alice',
      'Impersonate-Uid': '42',
      'Impersonate-Group': ['a', 'b'],
    });
  });

  it('refuses an auth-provider user by name when the current context uses it, and only then', () => {
    const doc = single({ 'auth-provider': { name: 'gcp', config: {} } });
    assert.throws(
      () => loadKubeConfig(write('config', doc)),
      /user "u" uses auth-provider "gcp".*exec credential plugin/,
    );
    doc.users?.push({ name: 'fine', user: { token: 't' } });
    doc.contexts?.push({ name: 'other', context: { cluster: 'c', user: 'fine' } });
    doc['current-context'] = 'other';
    assert.equal(loadKubeConfig(write('config', doc)).getCurrentUser()?.name, 'fine');
  });

  it('names what is missing when the current context cannot be used', () => {
    const doc = single({ token: 't' });
    doc['current-context'] = 'gone';
    assert.throws(() => loadKubeConfig(write('config', doc)), /has no context "gone"/);
    const noCluster = single({ token: 't' });
    noCluster.clusters = [];
    assert.throws(() => loadKubeConfig(write('config', noCluster)), /has no cluster "c"/);
    assert.throws(
      () => loadKubeConfig(write('config', { ...single({}), 'current-context': '' })),
      /no current-context/,
    );
  });

  it('reads ~/.kube/config when KUBECONFIG is unset', () => {
    write('home/.kube/config', single({ token: 't' }));
    assert.equal(loadKubeConfig(undefined, env()).getCurrentCluster()?.server, 'https://api.example:6443');
  });

  it("falls back to the pod's ServiceAccount when no kubeconfig holds anything, as client-go does", async () => {
    write('sa/token', 'sa-token\n');
    write('sa/ca.crt', 'CLUSTER-CA');
    write('sa/namespace', 'palisade-system');
    write('empty', '');
    const vars = { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' };
    const kc = loadKubeConfig(undefined, env({ ...vars, KUBECONFIG: path.join(dir, 'empty') }));
    assert.equal(kc.getCurrentCluster()?.server, 'https://[fd00::1]:443');
    assert.equal(kc.getContextObject(kc.getCurrentContext())?.namespace, 'palisade-system');
    const c = await kc.credentials();
    assert.deepEqual([c.headers.Authorization, c.tls.ca], ['Bearer sa-token', 'CLUSTER-CA']);
  });

  it('says where it looked when there is no kubeconfig and no ServiceAccount', () => {
    assert.throws(
      () => loadKubeConfig(undefined, env()),
      /no kubeconfig: .*KUBECONFIG.*~\/\.kube\/config.*KUBERNETES_SERVICE_HOST/,
    );
    write('sa/token', 'sa-token');
    assert.throws(
      () => loadKubeConfig(undefined, env()),
      /no kubeconfig/,
      'the token without the env is no pod',
    );
  });
});

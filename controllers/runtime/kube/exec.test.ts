import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { ExecPlugin, type ExecConfig, type Runner } from './exec.ts';
import { loadKubeConfig } from './kubeconfig.ts';

const V1 = 'client.authentication.k8s.io/v1';
const credential = (status: Record<string, unknown>, apiVersion = V1) =>
  JSON.stringify({ apiVersion, kind: 'ExecCredential', status });
const config = (extra: Partial<ExecConfig> = {}): ExecConfig => ({
  command: 'plugin',
  args: [],
  env: [],
  apiVersion: V1,
  provideClusterInfo: false,
  ...extra,
});

describe('runtime/kube/exec: exec credential plugins', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'palisade-exec-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A kubeconfig whose user runs `script` (a shell script next to it) with the given exec settings. */
  function kubeconfigWith(script: string, exec: Record<string, unknown>): string {
    writeFileSync(path.join(dir, 'plugin.sh'), `#!/bin/sh\n${script}\n`);
    chmodSync(path.join(dir, 'plugin.sh'), 0o755);
    const file = path.join(dir, 'config');
    writeFileSync(
      file,
      stringify({
        clusters: [
          {
            name: 'c',
            cluster: {
              server: 'https://api.example:6443',
              'certificate-authority-data': Buffer.from('CA').toString('base64'),
            },
          },
        ],
        users: [{ name: 'robot', user: { exec: { command: './plugin.sh', apiVersion: V1, ...exec } } }],
        contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'robot' } }],
        'current-context': 'ctx',
      }),
    );
    return file;
  }

  it('runs the command with its args and env and KUBERNETES_EXEC_INFO, and sends the token it prints', async () => {
    const file = kubeconfigWith(
      `printf '%s' "$KUBERNETES_EXEC_INFO" > "${dir}/info.json"
printf '{"apiVersion":"${V1}","kind":"ExecCredential","status":{"token":"%s-%s"}}' "$1" "$GREETING"`,
      { args: ['hello'], env: [{ name: 'GREETING', value: 'world' }], provideClusterInfo: true },
    );
    const c = await loadKubeConfig(file).credentials();
    assert.equal(c.headers.Authorization, 'Bearer hello-world');
    assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'info.json'), 'utf8')), {
      apiVersion: V1,
      kind: 'ExecCredential',
      spec: {
        interactive: false,
        cluster: {
          server: 'https://api.example:6443',
          'certificate-authority-data': Buffer.from('CA').toString('base64'),
        },
      },
    });
  });

  it('uses a client certificate and key the plugin prints as the TLS material', async () => {
    const file = kubeconfigWith(
      `printf '%s' '${credential({ clientCertificateData: 'CERT', clientKeyData: 'KEY' })}'`,
      {},
    );
    const c = await loadKubeConfig(file).credentials();
    assert.deepEqual(
      [c.tls.cert, c.tls.key, c.tls.ca, c.headers.Authorization],
      ['CERT', 'KEY', 'CA', undefined],
    );
  });

  it('keeps a credential until it expires or is rejected, and runs once for concurrent callers', async () => {
    let runs = 0;
    let now = Date.parse('2026-01-01T00:00:00Z');
    const run: Runner = async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 5));
      return credential({ token: `t${runs}`, expirationTimestamp: new Date(now + 3_600_000).toISOString() });
    };
    const plugin = new ExecPlugin('robot', config(), async () => undefined, { run, now: () => now });
    const [a, b] = await Promise.all([plugin.credential(), plugin.credential()]);
    assert.equal(a, b);
    assert.deepEqual([a.token, runs], ['t1', 1]);
    now += 59 * 60_000;
    assert.equal(await plugin.credential(), a);
    assert.equal((await plugin.credential(a)).token, 't2', 'rejected: run again');
    now += 3_600_000;
    assert.equal((await plugin.credential()).token, 't3', 'expired: run again');
    assert.equal((await plugin.credential(a)).token, 't3', 'a rejection of an older credential runs nothing');
  });

  const refusals: [string, string, RegExp][] = [
    ['not JSON', 'token: secret-token', /printed something that is not JSON/],
    [
      'another apiVersion',
      credential({ token: 'secret-token' }, 'client.authentication.k8s.io/v1beta1'),
      /not ExecCredential client.authentication.k8s.io\/v1/,
    ],
    ['no status', JSON.stringify({ apiVersion: V1, kind: 'ExecCredential' }), /without status/],
    ['neither token nor certificate', credential({}), /neither a token nor a client certificate/],
    [
      'a certificate without its key',
      credential({ clientCertificateData: 'secret-token' }),
      /certificate without its key/,
    ],
    ['a bad expiry', credential({ token: 'secret-token', expirationTimestamp: 'soon' }), /not RFC 3339/],
  ];
  for (const [what, stdout, message] of refusals)
    it(`refuses output with ${what}, naming the user and never quoting the output`, async () => {
      const plugin = new ExecPlugin('robot', config(), async () => undefined, { run: async () => stdout });
      const err = await plugin.credential().then(
        () => assert.fail('accepted'),
        (e: Error) => e,
      );
      assert.match(err.message, message);
      assert.match(err.message, /kubeconfig user "robot"/);
      assert.doesNotMatch(err.message, /secret-token/);
    });

  it("reports a failing plugin's exit code and stderr, and a missing one with its install hint", async () => {
    const failing = kubeconfigWith('echo "token expired, run login" >&2; exit 3', {});
    await assert.rejects(
      loadKubeConfig(failing).credentials(),
      /user "robot" .*plugin.sh\) exited with code 3: token expired, run login/,
    );
    const missing = kubeconfigWith('', {
      command: 'palisade-no-such-plugin',
      installHint: 'Install it with brew.',
    });
    await assert.rejects(loadKubeConfig(missing).credentials(), /was not found\nInstall it with brew\./);
  });

  it('refuses what it cannot serve: a terminal (interactiveMode Always), ExecCredential v1alpha1', async () => {
    const run: Runner = async () => assert.fail('must not run');
    const always = new ExecPlugin('robot', config({ interactiveMode: 'Always' }), async () => undefined, {
      run,
    });
    await assert.rejects(always.credential(), /needs a terminal/);
    const alpha = config({ apiVersion: 'client.authentication.k8s.io/v1alpha1' });
    await assert.rejects(
      new ExecPlugin('robot', alpha, async () => undefined, { run }).credential(),
      /v1alpha1; supported/,
    );
  });
});

/**
 * The chart's nats-server reloader, as the chart runs it: the real nats-server-config-reloader (built by
 * hack/build-tools.sh at the image's version) beside a real nats-server running the configuration
 * Palisade renders for the cluster, its files mounted the way the kubelet mounts Secrets (a `..data`
 * symlink swapped in one rename). A new certificate, from another CA as after an internal CA rotation,
 * must be presented without a restart, and a client trusting both CAs (as Palisade's do through a CA
 * rotation's overlap) must stay connected.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { connect, jwtAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { parseAllDocuments } from 'yaml';
import { createCA, issueLeaf, type IssuedPair } from '../controllers/pki/index.ts';
import {
  CLIENT_TLS,
  CLUSTER_LAYOUT,
  createKeyPair,
  operatorJwt,
  palisadeAccountJwt,
  renderServerConfig,
  serviceUserJwt,
  systemAccountJwt,
} from '../controllers/nats/protocol/index.ts';
import { eventually } from '../e2e/support/operator.ts';
import { freePort } from './controlplane/net.ts';
import { scratchDir } from './controlplane/proc.ts';
import { binaries, REPO_ROOT } from './controlplane/binaries.ts';
import { helm } from './helm.ts';

interface Container {
  name: string;
  args?: string[];
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  shareProcessNamespace?: boolean;
  containers: Container[];
}

const rand = (n: number) => new Uint8Array(randomBytes(n));

/**
 * Writes `files` as the kubelet's atomic writer updates a Secret volume: the new version in a timestamped
 * directory, `..data` swapped to it by one rename, the file names linked through `..data`, and the
 * previous version's directory removed.
 */
async function mountVersion(dir: string, version: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  const previous = await readlink(path.join(dir, '..data')).catch(() => undefined);
  const versionDir = `..${version}`;
  await mkdir(path.join(dir, versionDir));
  for (const [name, content] of Object.entries(files))
    await writeFile(path.join(dir, versionDir, name), content, { mode: 0o600 });
  await symlink(versionDir, path.join(dir, '..data_tmp'));
  await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  for (const name of Object.keys(files))
    await symlink(path.join('..data', name), path.join(dir, name)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  if (previous) await rm(path.join(dir, previous), { recursive: true });
}

describe("The chart's nats-server reloader (real nats-server and reloader, kubelet-style mounts)", function () {
  this.timeout(120_000);
  const children: ChildProcess[] = [];
  let root = '';

  after(async function () {
    for (const c of children) c.kill('SIGKILL');
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('presents a certificate of a new CA after the kubelet swaps the mount, without a restart', async function () {
    // What the chart runs: the reloader's args, the pid file and mounts shared with nats-server.
    const docs = parseAllDocuments(
      await helm(['template', 'palisade', path.join(REPO_ROOT, 'charts/palisade')]),
    ).map((d) => d.toJSON() as Record<string, unknown>);
    const sts = docs.find(
      (d) => d?.kind === 'StatefulSet' && (d.metadata as { name: string }).name === 'palisade-nats',
    );
    assert.ok(sts, 'the chart renders the nats StatefulSet');
    const pod = (sts.spec as { template: { spec: PodSpec } }).template.spec;
    assert.equal(pod.shareProcessNamespace, true, 'the reloader can signal nats-server');
    const nats = pod.containers.find((c) => c.name === 'nats');
    const reloader = pod.containers.find((c) => c.name === 'reloader');
    assert.ok(nats && reloader, 'nats-server and its reloader in one pod');
    const args = reloader.args ?? [];
    const pidFile = args[args.indexOf('-pid') + 1] ?? '';
    const configFile = args[args.indexOf('-config') + 1] ?? '';
    assert.equal(pidFile, CLUSTER_LAYOUT.pidFile, 'the reloader reads the pid file nats.conf names');
    assert.equal(configFile, nats.args?.[nats.args.indexOf('-c') + 1], 'and the config nats-server runs');
    const mountsOf = (c: Container) => new Set((c.volumeMounts ?? []).map((m) => `${m.name}:${m.mountPath}`));
    for (const m of mountsOf(nats))
      if (!m.startsWith('data:')) assert.ok(mountsOf(reloader).has(m), `the reloader mounts ${m} too`);

    // The same layout on this machine: each absolute path of the pod under `root`.
    root = await scratchDir('palisade-reloader-');
    const local = (p: string) => path.join(root, p);
    const operator = createKeyPair('O');
    const system = createKeyPair('A');
    const palisade = createKeyPair('A');
    const iat = Math.floor(Date.now() / 1000);
    const config = renderServerConfig(
      {
        operatorJwt: operatorJwt(operator, system.publicKey, iat),
        systemAccount: system.publicKey,
        systemAccountJwt: systemAccountJwt(operator, system.publicKey, iat),
        palisadeAccount: palisade.publicKey,
        palisadeAccountJwt: palisadeAccountJwt(operator, palisade.publicKey, iat),
      },
      {
        resolverDir: local('/data/jwt'),
        tlsCertFile: local(CLUSTER_LAYOUT.tlsCertFile),
        tlsKeyFile: local(CLUSTER_LAYOUT.tlsKeyFile),
        pidFile: local(pidFile),
      },
    );
    const notBefore = new Date(Date.now() - 60_000);
    const notAfter = new Date(Date.now() + 3_600_000);
    const ca = (n: number) => createCA({ subject: `CN=Palisade test CA v${n}`, notBefore, notAfter, rand });
    const leaf = (of: IssuedPair) =>
      issueLeaf({ ca: of, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], notBefore, notAfter, rand });
    const [ca1, ca2] = await Promise.all([ca(1), ca(2)]);
    const [leaf1, leaf2] = await Promise.all([leaf(ca1), leaf(ca2)]);
    const tlsDir = local(path.dirname(CLUSTER_LAYOUT.tlsCertFile));
    const tlsFiles = (l: IssuedPair, c: IssuedPair) => ({
      'tls.crt': l.certPem,
      'tls.key': l.keyPem,
      'ca.crt': c.certPem,
    });
    await mountVersion(local(path.dirname(configFile)), '2026_12_01_v1', {
      [path.basename(configFile)]: config,
    });
    await mountVersion(tlsDir, '2026_12_01_v1', tlsFiles(leaf1, ca1));
    await mkdir(local(path.dirname(pidFile)), { recursive: true });
    await mkdir(local('/data/jwt'), { recursive: true });

    const bin = await binaries();
    const port = await freePort();
    const start = (file: string, argv: string[]) => {
      const c = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr?.on('data', (d: Buffer) => (out += d.toString()));
      children.push(c);
      return () => out;
    };
    const serverLog = start(bin.natsServer, ['-c', local(configFile), '-a', '127.0.0.1', '-p', String(port)]);
    const reloaderLog = start(
      bin.natsReloader,
      args.map((a) => (a.startsWith('/') ? local(a) : a)),
    );
    const logs = () => `nats-server:\n${serverLog()}\nreloader:\n${reloaderLog()}`;

    const user = createKeyPair('U');
    const userJwt = serviceUserJwt(palisade, user.publicKey, 'reloader-test', iat, {
      pub: ['>'],
      sub: ['>'],
    });
    const dial = (caPem: string, reconnect = false): Promise<NatsConnection> =>
      connect({
        servers: `127.0.0.1:${port}`,
        tls: { ca: caPem, ...CLIENT_TLS },
        authenticator: jwtAuthenticator(userJwt, new TextEncoder().encode(user.seed)),
        reconnect,
        timeout: 3_000,
      });
    const v1Only = await eventually(
      'nats-server up, presenting the CA v1 certificate',
      () => dial(ca1.certPem).catch(() => undefined),
      30_000,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${logs()}`);
    });
    await v1Only.close();
    const first = await dial(`${ca1.certPem}\n${ca2.certPem}`, true);
    await assert.rejects(dial(ca2.certPem), 'a client trusting CA v2 alone is refused before the swap');

    // NB: the reloader takes the files it finds when it starts watching as what nats-server runs.
    await eventually(
      'the reloader watching',
      async () => /ready to kick pid \d+/.test(reloaderLog()),
      30_000,
    );
    await mountVersion(tlsDir, '2026_12_01_v2', tlsFiles(leaf2, ca2));
    const second = await eventually(
      'a new connection trusting CA v2 alone',
      () => dial(ca2.certPem).catch(() => undefined),
      60_000,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${logs()}`);
    });
    await assert.rejects(dial(ca1.certPem), 'the CA v1 certificate is no longer presented');
    // NB: nats-server drops the connections of its preloaded accounts on a reload (it makes those
    // accounts anew); a client that trusts the new CA, as Palisade's do from the overlap on, is back at once.
    assert.equal(first.isClosed(), false, `the connection made before the reload is open\n${logs()}`);
    await eventually(
      'the client trusting both CAs connected again',
      () =>
        first.flush().then(
          () => true,
          () => undefined,
        ),
      30_000,
    );
    assert.match(serverLog(), /Reloaded/i, 'nats-server reloaded, not restarted');
    await Promise.all([first.close(), second.close()]);
  });
});

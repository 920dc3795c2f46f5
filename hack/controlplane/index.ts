// A real local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager) plus NATS and
// optionally cert-manager, all on 127.0.0.1, for integration tests and the demo. See
// hack/controlplane/README.md for what runs, with which flags, and why.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { binaries, requireFiles, type Binaries } from './binaries.ts';
import {
  startApiserver,
  startCertManager,
  startControllerManager,
  startEtcd,
  startNats,
  type ApiserverConfig,
  type Layout,
} from './components.ts';
import { installCrds, loadCrds } from './crds.ts';
import { apiRequest, freePort, waitUntil, type ApiTarget } from './net.ts';
import { clientCredentials, createPki, readServingCa, writeKubeconfig, type Pki } from './pki.ts';
import { registerScratch, releaseScratch, run, type Child, type RunResult } from './proc.ts';

export interface ControlPlaneOptions {
  dir?: string;
  controllerManager?: boolean;
  nats?: boolean | { configFile: string };
  // true: cert-manager's CRDs and controller; 'later': neither until installCertManager() (a cluster
  // where cert-manager gets installed while its clients run); false: its CRDs only.
  certManager?: boolean | 'later';
  crdDirs?: string[];
  /** An audit policy (YAML): the apiserver then writes its audit log to `ControlPlane.auditLog`. */
  auditPolicy?: string;
  log?: (line: string) => void;
}

export interface KubectlOptions {
  input?: string;
  allowFail?: boolean;
  kubeconfig?: string;
}

export type KubectlResult = RunResult;

export interface ControlPlane {
  dir: string;
  kubeconfig: string;
  apiserverUrl: string;
  natsUrl?: string;
  // The apiserver's audit log (JSON lines), when started with `auditPolicy`.
  auditLog?: string;
  // Runs the pinned kubectl as admin (or as whoever `kubeconfig`, e.g. from kubeconfigFor, names).
  kubectl(args: string[], opts?: KubectlOptions): Promise<KubectlResult>;
  kubeconfigFor(user: string, groups?: string[]): Promise<string>;
  // Applies cert-manager's CRDs (waits until Established) and starts its controller unless it runs.
  installCertManager(): Promise<void>;
  stopApiserver(): Promise<void>;
  startApiserver(): Promise<void>;
  // configFile: run from now on with this config (null: none, back to the default no-auth server).
  restartNats(opts?: { wipeStore?: boolean; configFile?: string | null }): Promise<void>;
  /**
   * Has nats-server reload its configuration (SIGHUP) if it runs and is ready; false while it starts or
   * restarts (a SIGHUP before it handles the signal ends it), and then the caller should ask again later.
   */
  reloadNats(): boolean;
  stop(): Promise<void>;
  // Pids of the running processes by name (etcd, kube-apiserver, ...): for `cli.ts up` and orphan tests.
  pids(): Record<string, number>;
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const bins = await binaries();
  const cp = new LocalControlPlane(opts, bins, await prepareDirs(opts.dir));
  try {
    await cp.start();
  } catch (err) {
    await cp.stop().catch(() => {}); // the startup error is the one worth reporting
    throw err;
  }
  return cp;
}

interface Dirs {
  dir: string;
  owned: boolean; // created here, so removed by stop()
  etcdData: string; // on tmpfs when available: etcd's write latency dominates apiserver latency
}

async function prepareDirs(dir: string | undefined): Promise<Dirs> {
  const owned = dir === undefined;
  const base = dir ?? (await mkdtemp(path.join(os.tmpdir(), 'palisade-cp-')));
  if (owned) registerScratch(base);
  await mkdir(path.join(base, 'logs'), { recursive: true });
  const shm = existsSync('/dev/shm') ? '/dev/shm' : base;
  const etcdData = await mkdtemp(path.join(shm, 'palisade-etcd-'));
  registerScratch(etcdData);
  // Where the data lives, for people debugging (it is outside the state dir when on tmpfs).
  if (shm !== base) {
    const link = path.join(base, 'etcd-data');
    await rm(link, { force: true });
    await symlink(etcdData, link);
  }
  return { dir: path.resolve(base), owned, etcdData };
}

function required(opts: ControlPlaneOptions, b: Binaries): string[] {
  const files = [b.etcd, b.kubeApiserver, b.kubectl, b.certManagerCrds];
  if (opts.controllerManager !== false) files.push(b.kubeControllerManager);
  if (opts.nats !== false) files.push(b.natsServer);
  if (opts.certManager) files.push(b.certManagerController);
  return files;
}

class LocalControlPlane implements ControlPlane {
  readonly dir: string;
  readonly kubeconfig: string;
  apiserverUrl = '';
  natsUrl?: string;
  auditLog?: string;
  #opts: ControlPlaneOptions;
  #bins: Binaries;
  #dirs: Dirs;
  #layout: Layout;
  #log: (line: string) => void;
  #children = new Map<string, Child>();
  #apiserverConfig?: ApiserverConfig;
  #pki?: Pki;
  #target?: ApiTarget;
  #nats?: { port: number; storeDir: string; configFile?: string };
  #stopped = false;
  /** Restarts of nats-server under way: no SIGHUP meanwhile. */
  #natsRestarts = 0;
  #kubeconfigCount = 0;

  constructor(opts: ControlPlaneOptions, bins: Binaries, dirs: Dirs) {
    this.#opts = opts;
    this.#bins = bins;
    this.#dirs = dirs;
    this.dir = dirs.dir;
    this.kubeconfig = path.join(dirs.dir, 'kubeconfig');
    this.#layout = { logs: path.join(dirs.dir, 'logs'), bins, track: (c) => this.#track(c) };
    this.#log = opts.log ?? (() => {});
  }

  async start(): Promise<void> {
    const t0 = Date.now();
    await requireFiles(required(this.#opts, this.#bins));
    const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
    // Started now, awaited later: the work below overlaps with etcd's and NATS's startup.
    const ports = { client: etcdClient, peer: etcdPeer };
    const scratch = [this.#dirs.etcdData, ...(this.#dirs.owned ? [this.dir] : [])];
    const etcd = startEtcd(this.#layout, this.#dirs.etcdData, ports, scratch);
    const nats = this.#opts.nats === false ? undefined : this.#startNats(this.#opts.nats);
    const crds = this.#loadAllCrds();
    for (const p of [etcd, nats, crds]) p?.catch(() => {}); // each is awaited below; no unhandled rejection meanwhile
    await rm(path.join(this.dir, 'pki'), { recursive: true, force: true }); // a reused state dir starts fresh
    const pki = (this.#pki = await createPki(path.join(this.dir, 'pki')));
    await etcd;
    this.#log(`etcd ready after ${Date.now() - t0} ms`);
    const withKcm = this.#opts.controllerManager !== false;
    this.#apiserverConfig = { port: apiPort, etcdPort: etcdClient, pki, withControllerManager: withKcm };
    if (this.#opts.auditPolicy !== undefined) {
      const policyFile = path.join(this.dir, 'audit-policy.yaml');
      await writeFile(policyFile, this.#opts.auditPolicy);
      this.auditLog = path.join(this.#layout.logs, 'kube-apiserver-audit.log');
      this.#apiserverConfig.audit = { policyFile, logFile: this.auditLog };
    }
    await this.startApiserver();
    this.#log(`kube-apiserver ready after ${Date.now() - t0} ms`);
    this.apiserverUrl = `https://127.0.0.1:${apiPort}`;
    const ca = await readServingCa(pki);
    this.#target = { url: this.apiserverUrl, token: pki.adminToken, ca };
    await writeKubeconfig(this.kubeconfig, this.apiserverUrl, ca, 'admin', { token: pki.adminToken });
    const crdDocs = await crds;
    await Promise.all([
      this.#installCrdsThenCertManager(crdDocs),
      withKcm ? this.#startControllerManager() : undefined,
      nats,
    ]);
    this.#log(`control plane ready after ${Date.now() - t0} ms (state in ${this.dir})`);
  }

  async #loadAllCrds(): Promise<Awaited<ReturnType<typeof loadCrds>>> {
    const log = this.#log;
    const certManager = this.#opts.certManager === 'later' ? [] : await this.#loadCertManagerCrds();
    const extra = await Promise.all(
      (this.#opts.crdDirs ?? []).map((d) => loadCrds(d, { stripLabels: false, log })),
    );
    return [...certManager, ...extra.flat()];
  }

  #loadCertManagerCrds(): ReturnType<typeof loadCrds> {
    return loadCrds(this.#bins.certManagerCrds, { stripLabels: true, log: this.#log });
  }

  async #installCrdsThenCertManager(crds: Awaited<ReturnType<typeof loadCrds>>): Promise<void> {
    const target = this.#requireTarget();
    await installCrds(target, crds, this.#watchApiserver());
    this.#log(`${crds.length} CRDs established`);
    if (this.#opts.certManager === true) await this.#startCertManager();
  }

  async #startCertManager(): Promise<void> {
    const running = this.#children.get('cert-manager-controller');
    if (running && running.exitStatus === undefined) return;
    await startCertManager(this.#layout, this.kubeconfig, await freePort());
    this.#log('cert-manager controller started');
  }

  async installCertManager(): Promise<void> {
    await installCrds(this.#requireTarget(), await this.#loadCertManagerCrds(), this.#watchApiserver());
    this.#log('cert-manager CRDs established');
    await this.#startCertManager();
  }

  // Waiting for the "default" ServiceAccount proves the controller manager runs and reaches the apiserver.
  async #startControllerManager(): Promise<void> {
    const target = this.#requireTarget();
    const pki = this.#requirePki();
    const kcm = startControllerManager(this.#layout, this.kubeconfig, pki);
    const saPath = '/api/v1/namespaces/default/serviceaccounts/default';
    await waitUntil(
      'kube-controller-manager to create the default ServiceAccount',
      async () => ((await apiRequest(target, 'GET', saPath)).status === 200 ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 100, watch: [...this.#watchApiserver(), kcm] },
    );
    this.#log('kube-controller-manager working');
  }

  async #startNats(config: true | undefined | { configFile: string }): Promise<void> {
    const port = await freePort();
    const storeDir = path.join(this.dir, 'nats-store');
    // A fresh control plane gets a fresh JetStream store, as it gets a fresh etcd.
    await rm(storeDir, { recursive: true, force: true });
    this.#nats = { port, storeDir, ...(typeof config === 'object' ? { configFile: config.configFile } : {}) };
    await startNats(this.#layout, this.#nats);
    this.natsUrl = `nats://127.0.0.1:${port}`;
  }

  #track(child: Child): void {
    // A start still in flight when startup failed must not leave a process behind.
    if (this.#stopped) child.killNow();
    this.#children.set(child.name, child);
  }

  #watchApiserver(): Child[] {
    const apiserver = this.#children.get('kube-apiserver');
    return apiserver ? [apiserver] : [];
  }

  #requireTarget(): ApiTarget {
    if (!this.#target) throw new Error('the control plane is not started');
    return this.#target;
  }

  #requirePki(): Pki {
    if (!this.#pki) throw new Error('the control plane is not started');
    return this.#pki;
  }

  async kubectl(args: string[], opts: KubectlOptions = {}): Promise<KubectlResult> {
    const cacheDir = path.join(this.dir, 'kubectl-cache');
    const argv = [`--kubeconfig=${opts.kubeconfig ?? this.kubeconfig}`, `--cache-dir=${cacheDir}`, ...args];
    const result = await run(this.#bins.kubectl, argv, opts.input);
    if (result.code !== 0 && !opts.allowFail) {
      throw new Error(`kubectl ${args.join(' ')} failed (exit ${result.code}): ${result.stderr.trim()}`);
    }
    return result;
  }

  // A client-certificate kubeconfig (CN = user, O = groups) signed by the apiserver's --client-ca-file:
  // any identity, no apiserver restart. RBAC sees exactly `user` and `groups` plus system:authenticated.
  async kubeconfigFor(user: string, groups: string[] = []): Promise<string> {
    const target = this.#requireTarget();
    const dir = path.join(this.dir, 'kubeconfigs');
    await mkdir(dir, { recursive: true });
    const safe = user.replace(/[^A-Za-z0-9_.-]/g, '_');
    const file = path.join(dir, `${safe}-${++this.#kubeconfigCount}.yaml`);
    const ca = target.ca ?? (await readServingCa(this.#requirePki()));
    await writeKubeconfig(
      file,
      this.apiserverUrl,
      ca,
      user,
      await clientCredentials(this.#requirePki(), user, groups),
    );
    return file;
  }

  // SIGTERM stops the listener at once, but the process then drains open watches for up to a minute
  // (--request-timeout): clients already see the outage, so don't wait for the drain.
  async stopApiserver(): Promise<void> {
    await this.#children.get('kube-apiserver')?.stop(1000);
  }

  async startApiserver(): Promise<void> {
    const current = this.#children.get('kube-apiserver');
    if (current && current.exitStatus === undefined) return;
    if (!this.#apiserverConfig) throw new Error('the control plane is not started');
    await startApiserver(this.#layout, this.#apiserverConfig);
  }

  async restartNats(opts: { wipeStore?: boolean; configFile?: string | null } = {}): Promise<void> {
    if (!this.#nats) throw new Error('this control plane runs without NATS');
    if (opts.configFile === null) delete this.#nats.configFile;
    else if (opts.configFile !== undefined) this.#nats.configFile = opts.configFile;
    this.#natsRestarts++;
    try {
      await this.#children.get('nats-server')?.stop();
      if (opts.wipeStore) await rm(this.#nats.storeDir, { recursive: true, force: true });
      await startNats(this.#layout, this.#nats);
    } finally {
      this.#natsRestarts--;
    }
  }

  reloadNats(): boolean {
    const child = this.#children.get('nats-server');
    if (this.#natsRestarts > 0 || !child || child.exitStatus !== undefined) return false;
    process.kill(child.pid, 'SIGHUP');
    return true;
  }

  pids(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, child] of this.#children) if (child.exitStatus === undefined) out[name] = child.pid;
    return out;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    // Clients first, then the apiserver, then etcd, which otherwise waits for the apiserver's connections.
    // The apiserver drains its own loopback watches for up to a minute: nothing here needs that drain.
    const stopping = (names: string[], graceMs: number): Promise<void[]> =>
      Promise.all(names.map((name) => this.#children.get(name)?.stop(graceMs)));
    await stopping(['cert-manager-controller', 'kube-controller-manager', 'nats-server'], 2000);
    await stopping(['kube-apiserver'], 250);
    await stopping(['etcd'], 2000);
    await rm(this.#dirs.etcdData, { recursive: true, force: true });
    releaseScratch(this.#dirs.etcdData);
    if (this.#dirs.owned) {
      await rm(this.dir, { recursive: true, force: true });
      releaseScratch(this.dir);
    } else {
      await rm(path.join(this.dir, 'etcd-data'), { force: true }); // the link into the removed tmpfs dir
    }
  }
}

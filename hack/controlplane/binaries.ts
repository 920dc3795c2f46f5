// Locates the control plane's binaries, built by hack/build-tools.sh into a versioned cache.
import { access, constants, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');
export const BUILD_TOOLS = path.join(REPO_ROOT, 'hack', 'build-tools.sh');

export interface Binaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubectl: string;
  natsServer: string;
  /** What the chart runs beside nats-server to reload it when its mounted files change. */
  natsReloader: string;
  certManagerController: string;
  certManagerCrds: string;
  helm: string;
  promtool: string;
  kubernetesVersion: string;
}

export function cacheDir(): string {
  return process.env.PALISADE_CACHE || path.join(homedir(), '.cache', 'palisade');
}

// versions.env is the single source of truth for pins (shell syntax, but only KEY=value lines).
export async function readVersions(): Promise<Record<string, string>> {
  const text = await readFile(path.join(REPO_ROOT, 'hack', 'versions.env'), 'utf8');
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(\S+)/.exec(line.trim());
    if (m?.[1] && m[2]) out[m[1]] = m[2];
  }
  return out;
}

function pin(versions: Record<string, string>, key: string): string {
  const v = versions[key];
  if (!v) throw new Error(`hack/versions.env has no ${key}`);
  return v;
}

export async function binaries(): Promise<Binaries> {
  const v = await readVersions();
  const bin = path.join(cacheDir(), 'bin');
  const k8s = pin(v, 'KUBERNETES_VERSION');
  const cm = pin(v, 'CERT_MANAGER_VERSION');
  return {
    etcd: path.join(bin, `etcd-${pin(v, 'ETCD_VERSION')}`),
    kubeApiserver: path.join(bin, `kube-apiserver-${k8s}`),
    kubeControllerManager: path.join(bin, `kube-controller-manager-${k8s}`),
    kubectl: path.join(bin, `kubectl-${k8s}`),
    natsServer: path.join(bin, `nats-server-${pin(v, 'NATS_SERVER_VERSION')}`),
    natsReloader: path.join(bin, `nats-server-config-reloader-${pin(v, 'NATS_RELOADER_VERSION')}`),
    certManagerController: path.join(bin, `cert-manager-controller-${cm}`),
    certManagerCrds: path.join(cacheDir(), `cert-manager-crds-${cm}`),
    // Stamped like a release build (hack/build-tools.sh): `helm template` needs no --kube-version.
    helm: path.join(bin, `helm-${pin(v, 'HELM_VERSION')}-stamped`),
    promtool: path.join(bin, `promtool-${pin(v, 'PROMETHEUS_VERSION')}`),
    kubernetesVersion: k8s,
  };
}

// Fails early with the fix, instead of a spawn ENOENT deep inside startup.
export async function requireFiles(paths: string[]): Promise<void> {
  const missing: string[] = [];
  for (const p of paths) {
    try {
      await access(p, constants.R_OK);
    } catch {
      missing.push(p);
    }
  }
  if (missing.length > 0) {
    throw new Error(`control plane binaries missing (run hack/build-tools.sh): ${missing.join(', ')}`);
  }
}

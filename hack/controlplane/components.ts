// How each control-plane process is started and when it counts as ready.
import path from 'node:path';
import type { Binaries } from './binaries.ts';
import { apiRequest, natsGreets, tcpOpen, waitUntil, type ApiTarget } from './net.ts';
import type { Pki } from './pki.ts';
import { servingCertFile } from './pki.ts';
import { Child } from './proc.ts';

export interface Layout {
  logs: string;
  bins: Binaries;
  // Called as soon as a process exists, before it is ready: a failed start must still be stoppable.
  track: (child: Child) => void;
}

function child(layout: Layout, name: string, bin: string, args: string[], scratchDirs: string[] = []): Child {
  const logFile = path.join(layout.logs, `${name}.log`);
  const c = new Child({ name, bin, args, logFile, scratchDirs });
  layout.track(c);
  return c;
}

export interface EtcdPorts {
  client: number;
  peer: number;
}

// `scratchDirs` (etcd's data dir and maybe the whole state dir) are removed if the Node process dies.
export async function startEtcd(
  layout: Layout,
  dataDir: string,
  ports: EtcdPorts,
  scratchDirs: string[],
): Promise<Child> {
  const client = `http://127.0.0.1:${ports.client}`;
  const peer = `http://127.0.0.1:${ports.peer}`;
  const etcd = child(
    layout,
    'etcd',
    layout.bins.etcd,
    [
      '--name=default',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=default=${peer}`,
      '--unsafe-no-fsync=true', // test data: durability is not worth the fsync latency
      // A lone member still waits one election timeout before leading: 100 ms instead of 1 s (+ jitter).
      '--heartbeat-interval=10',
      '--election-timeout=100',
      '--log-level=warn',
    ],
    scratchDirs,
  );
  await waitUntil(
    'etcd /health',
    async () => {
      const res = await fetch(`${client}/health`);
      const body = (await res.json()) as { health?: string };
      return body.health === 'true' ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 50, watch: [etcd] },
  );
  return etcd;
}

export interface ApiserverConfig {
  port: number;
  etcdPort: number;
  pki: Pki;
  withControllerManager: boolean;
  /** Audit policy and log files: the apiserver then logs requests as the policy says (JSON lines). */
  audit?: { policyFile: string; logFile: string };
}

export function apiserverArgs(c: ApiserverConfig): string[] {
  const args = [
    `--etcd-servers=http://127.0.0.1:${c.etcdPort}`,
    `--cert-dir=${c.pki.certDir}`,
    `--secure-port=${c.port}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    '--service-cluster-ip-range=10.0.0.0/24',
    '--allow-privileged=true',
    '--authorization-mode=RBAC',
    `--service-account-issuer=https://127.0.0.1:${c.port}/`,
    `--service-account-key-file=${c.pki.saPub}`,
    `--service-account-signing-key-file=${c.pki.saKey}`,
    `--token-auth-file=${c.pki.tokensCsv}`,
    `--client-ca-file=${c.pki.clientCaFile}`,
  ];
  // Without the serviceaccount controller no "default" ServiceAccount exists and the admission plugin
  // would reject every Pod.
  if (!c.withControllerManager) args.push('--disable-admission-plugins=ServiceAccount');
  // NB: the log backend's default mode is blocking: an event is written before the request goes on.
  // One file, never rotated (the default rotates at 100 MB), so a reader can follow it.
  if (c.audit)
    args.push(
      `--audit-policy-file=${c.audit.policyFile}`,
      `--audit-log-path=${c.audit.logFile}`,
      '--audit-log-maxsize=100000',
    );
  return args;
}

export async function startApiserver(layout: Layout, c: ApiserverConfig): Promise<Child> {
  const apiserver = child(layout, 'kube-apiserver', layout.bins.kubeApiserver, apiserverArgs(c));
  // The serving cert does not exist before the first start, so readiness is probed without verification.
  const target: ApiTarget = { url: `https://127.0.0.1:${c.port}`, token: c.pki.adminToken };
  await waitUntil(
    'kube-apiserver /readyz',
    async () => ((await apiRequest(target, 'GET', '/readyz')).status === 200 ? true : undefined),
    { timeoutMs: 90_000, intervalMs: 100, watch: [apiserver] },
  );
  return apiserver;
}

export function startControllerManager(layout: Layout, kubeconfig: string, pki: Pki): Child {
  return child(layout, 'kube-controller-manager', layout.bins.kubeControllerManager, [
    `--kubeconfig=${kubeconfig}`,
    '--controllers=garbagecollector,namespace,serviceaccount,serviceaccount-token',
    `--service-account-private-key-file=${pki.saKey}`,
    `--root-ca-file=${servingCertFile(pki)}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    '--secure-port=0', // no health endpoint needed; avoids another port (and a clash on the default 10257)
  ]);
}

export interface NatsConfig {
  port: number;
  storeDir: string;
  configFile?: string;
}

export async function startNats(layout: Layout, c: NatsConfig): Promise<Child> {
  // Command-line flags override the config file, so an operator-mode file keeps its accounts and
  // resolver but always listens where we say.
  const args = ['-a', '127.0.0.1', '-p', String(c.port), '--jetstream', '--store_dir', c.storeDir];
  if (c.configFile) args.unshift('-c', c.configFile);
  const nats = child(layout, 'nats-server', layout.bins.natsServer, args);
  await waitUntil(
    'nats-server accepting clients',
    async () => ((await natsGreets(c.port)) ? true : undefined),
    {
      timeoutMs: 30_000,
      intervalMs: 50,
      watch: [nats],
    },
  );
  return nats;
}

const CERT_MANAGER_CONTROLLERS = [
  'issuers',
  'clusterissuers',
  'certificaterequests-approver', // without it CertificateRequests are never approved
  'certificaterequests-issuer-selfsigned',
  'certificaterequests-issuer-ca',
  'certificates-trigger',
  'certificates-issuing',
  'certificates-key-manager',
  'certificates-request-manager',
  'certificates-readiness',
  'certificates-revision-manager',
].join(',');

export async function startCertManager(
  layout: Layout,
  kubeconfig: string,
  metricsPort: number,
): Promise<Child> {
  const cm = child(layout, 'cert-manager-controller', layout.bins.certManagerController, [
    `--kubeconfig=${kubeconfig}`,
    '--leader-elect=false',
    '--cluster-resource-namespace=kube-system',
    `--metrics-listen-address=127.0.0.1:${metricsPort}`,
    `--controllers=${CERT_MANAGER_CONTROLLERS}`,
  ]);
  // The metrics listener opens once the controller has its client and informers configured.
  await waitUntil(
    'cert-manager metrics listener',
    async () => ((await tcpOpen(metricsPort)) ? true : undefined),
    {
      timeoutMs: 60_000,
      intervalMs: 100,
      watch: [cm],
    },
  );
  return cm;
}

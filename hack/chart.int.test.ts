/**
 * The Helm chart: lint, then render with default and non-default values and have the real local
 * apiserver accept every rendered object (CRDs included) in a server-side dry run. Rendered by the
 * project's helm with no --kube-version: it is stamped like a release build.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { REPO_ROOT } from './controlplane/binaries.ts';
import { helm } from './helm.ts';
import { parseConfig } from '../controllers/config.ts';
import { testEnv } from './testenv/env.ts';
import { ensureNamespace, uniqueName } from '../e2e/support/cluster.ts';

const CHART = path.join(REPO_ROOT, 'charts/palisade');

const OBSERVABILITY = `
metrics: { serviceMonitor: { enabled: true } }
prometheusRule: { enabled: true, labels: { release: kube-prometheus-stack } }
grafanaDashboard:
  { enabled: true, namespace: monitoring, labels: { team: platform }, annotations: { grafana_folder: Palisade } }
`;

interface Rendered {
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  data?: Record<string, string>;
  spec?: unknown;
}

const NON_DEFAULT = `
replicaCount: 3
shards: [a, b]
image: { repository: registry.example.com/palisade, tag: "9.9.9", pullPolicy: Always }
operator: { logLevel: debug, concurrency: 16, metricsPort: 9090 }
serviceAccount: { create: true, name: palisade-custom, annotations: { team: platform } }
podDisruptionBudget: { enabled: false }
metrics: { service: { enabled: false } }
nodeSelector: { kubernetes.io/os: linux }
nats: { enabled: false, externalUrl: "nats.example.com:4222", agentUrl: "tls://nats.example.com:4222" }
keyService:
  { port: 9443, replicas: 2, agentChannelAddress: "palisade.example.com:443", networkPolicy: { enabled: true } }
`;

async function render(namespace: string, valuesFile?: string): Promise<string> {
  return helm([
    'template',
    'palisade',
    CHART,
    '--namespace',
    namespace,
    '--include-crds',
    ...(valuesFile ? ['-f', valuesFile] : []),
  ]);
}

describe('Helm chart', function () {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-chart-'));
    await writeFile(path.join(dir, 'values.yaml'), NON_DEFAULT);
    await writeFile(path.join(dir, 'observability.yaml'), OBSERVABILITY);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('passes helm lint, strict, with default, non-default and observability values', async function () {
    await helm(['lint', '--strict', CHART]);
    await helm(['lint', '--strict', CHART, '-f', path.join(dir, 'values.yaml')]);
    await helm(['lint', '--strict', CHART, '-f', path.join(dir, 'observability.yaml')]);
  });

  it('renders with `helm template` and no flags (helm knows a current Kubernetes version)', async function () {
    const manifest = await helm(['template', CHART]);
    assert.match(manifest, /kind: Deployment/);
  });

  it('renders the Grafana dashboard and the PrometheusRule from the chart files when enabled', async function () {
    const objects = parseAllDocuments(
      await helm([
        'template',
        'palisade',
        CHART,
        '-n',
        'palisade-system',
        '-f',
        path.join(dir, 'observability.yaml'),
      ]),
    )
      .map((d) => d.toJS() as Rendered | null)
      .filter((d): d is Rendered => !!d?.kind);
    const dashboard = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'palisade-dashboard');
    assert.ok(dashboard, 'the dashboard ConfigMap');
    assert.equal(dashboard.metadata.namespace, 'monitoring');
    assert.equal(dashboard.metadata.labels?.grafana_dashboard, '1');
    assert.equal(dashboard.metadata.labels?.team, 'platform');
    assert.equal(dashboard.metadata.annotations?.grafana_folder, 'Palisade');
    const json = await readFile(path.join(CHART, 'dashboards/palisade.json'), 'utf8');
    assert.deepEqual(JSON.parse(dashboard.data?.['palisade.json'] ?? ''), JSON.parse(json));
    const rule = objects.find((o) => o.kind === 'PrometheusRule');
    assert.ok(rule, 'the PrometheusRule');
    assert.equal(rule.metadata.labels?.release, 'kube-prometheus-stack');
    const source = parse(await readFile(path.join(CHART, 'rules/palisade.rules.yaml'), 'utf8')) as object;
    assert.deepEqual(rule.spec, source, 'the rules file, verbatim');
    // The rules read per-object series by their own `namespace` label: the scrape must keep it.
    const monitor = objects.find((o) => o.kind === 'ServiceMonitor');
    assert.deepEqual(
      (monitor?.spec as { endpoints: { honorLabels?: boolean }[] }).endpoints[0]?.honorLabels,
      true,
    );
    // Off by default: a plain install needs neither Grafana nor the Prometheus operator.
    const plain = await helm(['template', 'palisade', CHART]);
    assert.doesNotMatch(plain, /PrometheusRule|grafana_dashboard/);
  });

  it('renders key-API replicas that only serve, with their own V8 flags, and sends the key API to them', async function () {
    const objects = parseAllDocuments(
      await helm(['template', 'palisade', CHART, '-n', 'ps', '--set', 'keyService.replicas=3']),
    )
      .map((d) => d.toJS() as Rendered | null)
      .filter((d): d is Rendered => !!d?.kind);
    type PodTemplate = {
      replicas: number;
      template: {
        metadata: { labels: Record<string, string> };
        spec: { containers: { args: string[]; env: { name: string; value?: string }[] }[] };
      };
    };
    const deployments = new Map(
      objects.filter((o) => o.kind === 'Deployment').map((o) => [o.metadata.name, o.spec as PodTemplate]),
    );
    const keyApi = deployments.get('palisade-keyservice');
    const operator = deployments.get('palisade');
    assert.ok(keyApi && operator, [...deployments.keys()].join(','));
    assert.equal(keyApi.replicas, 3);
    const [api] = keyApi.template.spec.containers;
    const [op] = operator.template.spec.containers;
    // What the process makes of the chart's arguments (the script's path first).
    const config = parseConfig(api?.args.slice(api.args.indexOf('dist/controllers/main.js') + 1) ?? [], {});
    assert.equal(config.role, 'keyservice');
    assert.equal(config.keyServiceAddress, '0.0.0.0:8443');
    assert.equal(
      parseConfig(op?.args.slice(op.args.indexOf('dist/controllers/main.js') + 1) ?? [], {}).role,
      'operator',
    );
    // V8's defaults on the key-API replicas; the operator keeps its memory flags.
    assert.ok(!api?.env.some((e) => e.name === 'NODE_OPTIONS'), 'no NODE_OPTIONS on key-API replicas');
    assert.ok(!api?.args.includes('--optimize-for-size'));
    assert.ok(op?.args.includes('--optimize-for-size'));
    const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'palisade-keyservice');
    const selector = (service?.spec as { selector: Record<string, string> }).selector;
    for (const [k, v] of Object.entries(selector))
      assert.equal(keyApi.template.metadata.labels[k], v, `the Service selects key-API pods (${k})`);
    assert.notEqual(
      operator.template.metadata.labels['app.kubernetes.io/component'],
      selector['app.kubernetes.io/component'],
    );
    // A second PodDisruptionBudget keeps one key-API replica through a drain; it selects no operator pod.
    const pdb = objects.find(
      (o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === 'palisade-keyservice',
    );
    assert.equal(
      (pdb?.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels[
        'app.kubernetes.io/component'
      ],
      'keyservice',
    );
  });

  it('refuses values the schema does not allow, saying which', async function () {
    await writeFile(path.join(dir, 'bad.yaml'), 'replicaCount: 0\noperator: { logLevel: loud }\n');
    await assert.rejects(render('x', path.join(dir, 'bad.yaml')), /replicaCount[\s\S]*minimum|logLevel/);
    await writeFile(path.join(dir, 'bad-address.yaml'), 'keyService: { agentChannelAddress: "https://x" }\n');
    await assert.rejects(render('x', path.join(dir, 'bad-address.yaml')), /agentChannelAddress/);
  });

  for (const variant of ['default', 'non-default'] as const) {
    it(`renders ${variant} values into objects the API server accepts (server-side dry run)`, async function () {
      const ns = uniqueName('palisade-chart');
      await ensureNamespace(ns);
      const manifest = await render(ns, variant === 'default' ? undefined : path.join(dir, 'values.yaml'));
      const kinds = parseAllDocuments(manifest)
        .map((d) => d.toJS() as { kind?: string } | null)
        .filter((d): d is { kind: string } => !!d?.kind)
        .map((d) => d.kind);
      assert.ok(kinds.includes('CustomResourceDefinition') && kinds.includes('Deployment'), kinds.join(','));
      // The bundled NATS (default) or an existing one (non-default), and the operator pointed at it.
      assert.equal(kinds.includes('StatefulSet'), variant === 'default');
      const natsUrl = variant === 'default' ? `palisade-nats.${ns}.svc:4222` : 'nats.example.com:4222';
      assert.ok(manifest.includes(`--nats-url=${natsUrl}`), `the operator dials ${natsUrl}`);
      assert.equal(
        manifest.includes('--agent-channel-address=palisade.example.com:443'),
        variant === 'non-default',
        'the address agents are told beside pairing codes, only when set',
      );
      const r = await testEnv().kubectl(
        ['apply', '--server-side', '--dry-run=server', '--force-conflicts', '-f', '-'],
        {
          input: manifest,
          allowFail: true,
        },
      );
      // ServiceMonitor needs the Prometheus operator's CRD, which a plain cluster lacks; it is off by default.
      assert.equal(r.code, 0, r.stderr);
    });
  }
});

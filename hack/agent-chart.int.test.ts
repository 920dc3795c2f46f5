/**
 * The agent's Helm chart and image. The chart: lint, the schema's refusals, rendering into objects the
 * real apiserver accepts, the pod's hardening, and its Role enforced by the real apiserver's RBAC — the
 * agent process, holding only that Role's identity, pairs into its credentials Secret and can do
 * nothing else. The image: there is no container engine here, so agent/Dockerfile is checked by its rules
 * and by running its build steps outside an image (as hack/dockerfile.int.test.ts does for the
 * operator's), then starting the final stage's contents.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from './controlplane/binaries.ts';
import { helm } from './helm.ts';
import { testEnv } from './testenv/env.ts';
import { ensureNamespace, kube, uniqueName } from '../e2e/support/cluster.ts';
import type { KubeObject, Secret } from '../controllers/runtime/kube/types.ts';
import { startFakePalisade, type FakePalisade } from '../agent/testdata/server.ts';
import { SecretStore } from '../agent/store.ts';

const run = promisify(execFile);
const CHART = path.join(REPO_ROOT, 'charts/palisade-agent');
const PIN = `sha256:${'0123456789abcdef'.repeat(4)}`;
const CODE = 'K7QP-4MZX';
const NEXT_CODE = 'R2D2-C3P0';

const VALUES = `
palisade: { server: "palisade.example.com:8443", caFingerprint: "${PIN}" }
pairing: { existingSecret: palisade-pairing-code }
`;
const NON_DEFAULT = `
image: { repository: registry.example.com/palisade-agent, tag: "9.9.9", pullPolicy: Always }
palisade: { server: "10.0.0.7:8443", serverName: palisade-keyservice.palisade-system.svc, tenant: acme, caFingerprint: "${PIN}" }
pairing: { existingSecret: edge-pairing, key: the-code }
credentialsSecret: { name: edge-credentials }
channels: [grpc, nats]
interval: 30s
natsServer: tls://nats.example.com:4222
serviceAccount: { create: true, name: edge-agent, annotations: { team: platform } }
nodeSelector: { kubernetes.io/os: linux }
`;

interface Container {
  name: string;
  args: string[];
  resources?: { requests?: object; limits?: object };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean };
}
interface Rendered extends KubeObject {
  rules?: { resources: string[]; resourceNames?: string[]; verbs: string[] }[];
  spec?: {
    template: {
      spec: {
        securityContext: { runAsNonRoot?: boolean };
        initContainers: Container[];
        containers: Container[];
        serviceAccountName: string;
      };
    };
  };
}

function objects(manifest: string): Rendered[] {
  return parseAllDocuments(manifest)
    .map((d) => d.toJS() as Rendered | null)
    .filter((d): d is Rendered => !!d?.kind);
}

const agentArgs = (d: Rendered, name: string) =>
  [...(d.spec?.template.spec.initContainers ?? []), ...(d.spec?.template.spec.containers ?? [])].find(
    (c) => c.name === name,
  )?.args ?? [];

describe('Agent Helm chart', function () {
  this.timeout(120_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-agent-chart-'));
    await writeFile(path.join(dir, 'values.yaml'), VALUES);
    await writeFile(path.join(dir, 'non-default.yaml'), NON_DEFAULT);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('passes helm lint, strict, with minimal and non-default values', async () => {
    await helm(['lint', '--strict', CHART, '-f', path.join(dir, 'values.yaml')]);
    await helm(['lint', '--strict', CHART, '-f', path.join(dir, 'non-default.yaml')]);
  });

  it('refuses values the schema does not allow, saying which', async () => {
    const missing = await helm(['template', CHART]).catch((e: unknown) => String(e));
    for (const field of ['/palisade/server', '/palisade/caFingerprint', '/pairing/existingSecret'])
      assert.ok(missing.includes(field), `names ${field}:\n${missing}`);
    await writeFile(
      path.join(dir, 'bad.yaml'),
      `${VALUES}\nchannels: [grpc, carrier-pigeon]\ninterval: soon\n`.replace(PIN, 'sha1:abc'),
    );
    const bad = await helm(['template', CHART, '-f', path.join(dir, 'bad.yaml')]).catch((e: unknown) =>
      String(e),
    );
    for (const field of ['/palisade/caFingerprint', '/channels/1', '/interval'])
      assert.ok(bad.includes(field), `names ${field}:\n${bad}`);
  });

  it('runs the agent non-root, read-only, unprivileged, with resources, pairing once then running', async () => {
    const rendered = objects(
      await helm(['template', 'edge', CHART, '-n', 'edge', '-f', path.join(dir, 'non-default.yaml')]),
    );
    const d = rendered.find((o) => o.kind === 'Deployment');
    assert.ok(d?.spec);
    const pod = d.spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.serviceAccountName, 'edge-agent');
    for (const c of [...pod.initContainers, ...pod.containers]) {
      assert.equal(c.securityContext?.allowPrivilegeEscalation, false, c.name);
      assert.equal(c.securityContext?.readOnlyRootFilesystem, true, c.name);
      assert.ok(c.resources?.requests && c.resources.limits, `${c.name} has resources`);
    }
    assert.deepEqual(agentArgs(d, 'pair'), [
      'dist/agent/main.js',
      'pair',
      '--if-unpaired',
      '--server=10.0.0.7:8443',
      `--ca-fingerprint=${PIN}`,
      '--server-name=palisade-keyservice.palisade-system.svc',
      '--tenant=acme',
      '--code-secret=edge-pairing:the-code',
      '--credentials-secret=edge-credentials',
    ]);
    assert.deepEqual(agentArgs(d, 'agent'), [
      'dist/agent/main.js',
      'run',
      '--credentials-secret=edge-credentials',
      '--channels=grpc,nats',
      '--interval=30s',
      '--nats-server=tls://nats.example.com:4222',
    ]);
    const role = rendered.find((o) => o.kind === 'Role');
    assert.deepEqual(role?.rules, [
      {
        apiGroups: [''],
        resources: ['secrets'],
        resourceNames: ['edge-credentials'],
        verbs: ['get', 'update'],
      },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['edge-pairing'], verbs: ['get'] },
    ]);
  });

  for (const variant of ['values.yaml', 'non-default.yaml']) {
    it(`renders ${variant} into objects the API server accepts (server-side dry run)`, async () => {
      const ns = uniqueName('agent-chart');
      await ensureNamespace(ns);
      const manifest = await helm(['template', 'a', CHART, '-n', ns, '-f', path.join(dir, variant)]);
      const r = await testEnv().kubectl(
        ['apply', '--server-side', '--dry-run=server', '--force-conflicts', '-f', '-'],
        { input: manifest, allowFail: true },
      );
      assert.equal(r.code, 0, r.stderr);
    });
  }

  describe("with only its Role's permissions", () => {
    let palisade: FakePalisade;
    let ns: string;
    let kubeconfig: string;
    const credentials = 'a-palisade-agent-credentials';

    before(async () => {
      palisade = await startFakePalisade({ code: CODE, moreCodes: [NEXT_CODE] });
      ns = uniqueName('agent-rbac');
      await ensureNamespace(ns);
      // The chart, installed for real (its credentials Secret empty, as the chart creates it).
      const manifest = await helm(['template', 'a', CHART, '-n', ns, '-f', path.join(dir, 'values.yaml')]);
      const applied = await testEnv().kubectl(['apply', '--server-side', '-f', '-'], {
        input: manifest,
        allowFail: true,
      });
      assert.equal(applied.code, 0, applied.stderr);
      await kube().create<Secret>({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'palisade-pairing-code', namespace: ns },
        data: { code: Buffer.from(CODE).toString('base64') },
      } as Secret);
      await kube().create<Secret>({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'someone-elses', namespace: ns },
        data: { x: Buffer.from('y').toString('base64') },
      } as Secret);
      // Authenticated as the ServiceAccount's user name, which is what RBAC matches a ServiceAccount by.
      kubeconfig = await testEnv().kubeconfigFor(`system:serviceaccount:${ns}:a-palisade-agent`, [
        'system:serviceaccounts',
        `system:serviceaccounts:${ns}`,
      ]);
    });
    after(async () => {
      await palisade.stop();
      await kube().delete({ kind: 'Namespace', name: ns });
    });

    it('pairs into its credentials Secret, reading the code from the code Secret', async () => {
      const r = await run(
        process.execPath,
        [
          path.join(REPO_ROOT, 'agent/main.ts'),
          'pair',
          '--if-unpaired',
          `--server=${palisade.address}`,
          `--ca-fingerprint=${palisade.pin}`,
          // Outside a pod there is no ServiceAccount namespace file: the namespace is given.
          `--code-secret=${ns}/palisade-pairing-code:code`,
          `--credentials-secret=${ns}/${credentials}`,
          `--kubeconfig=${kubeconfig}`,
        ],
        { env: { ...process.env, KUBECONFIG: '' } },
      );
      assert.match(r.stdout, /paired as ClusterAgent/);
      // Read back as the agent reads it: the stored set is complete.
      const stored = await new SecretStore(kube(), ns, credentials).load();
      assert.equal(stored?.clusterAgent, 'edge');
      assert.equal(stored?.server, palisade.address);
    });

    it('pairs again only when the code Secret shows a new code ID, taking the server and CA pin shown beside it', async () => {
      const pairIfUnpaired = () =>
        run(
          process.execPath,
          [
            path.join(REPO_ROOT, 'agent/main.ts'),
            'pair',
            '--if-unpaired',
            `--code-secret=${ns}/palisade-pairing-code`,
            `--credentials-secret=${ns}/${credentials}`,
            `--kubeconfig=${kubeconfig}`,
          ],
          { env: { ...process.env, KUBECONFIG: '' } },
        );
      const store = new SecretStore(kube(), ns, credentials);
      const first = await store.load();
      assert.equal(first?.codeId, 'C0DE1D');
      assert.match((await pairIfUnpaired()).stdout, /already paired/);
      // The platform engineer copies a new code Secret as Palisade shows it: code, code ID, pin, server.
      const shown = {
        code: NEXT_CODE,
        'code-id': 'C0DE2D',
        'ca-pin': palisade.pin,
        server: palisade.address,
      };
      await kube().update<Secret>({
        ...((await kube().get<Secret>({
          kind: 'Secret',
          name: 'palisade-pairing-code',
          namespace: ns,
        })) as Secret),
        data: Object.fromEntries(
          Object.entries(shown).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
        ),
      });
      const again = await pairIfUnpaired();
      assert.match(again.stdout, /new code \(ID C0DE2D\): pairing again/);
      const second = await store.load();
      assert.equal(second?.codeId, 'C0DE2D');
      assert.notEqual(second?.certPem, first?.certPem);
      assert.match((await pairIfUnpaired()).stdout, /already paired/);
    });

    it('may do nothing else with Secrets', async () => {
      const can = async (...args: string[]) =>
        (
          await testEnv().kubectl(['auth', 'can-i', ...args, '-n', ns, `--kubeconfig=${kubeconfig}`], {
            allowFail: true,
          })
        ).stdout.trim();
      assert.equal(await can('update', `secret/${credentials}`), 'yes');
      assert.equal(await can('get', 'secret/palisade-pairing-code'), 'yes');
      assert.equal(await can('update', 'secret/palisade-pairing-code'), 'no');
      assert.equal(await can('get', 'secret/someone-elses'), 'no');
      assert.equal(await can('list', 'secrets'), 'no');
      assert.equal(await can('create', 'secrets'), 'no');
      assert.equal(await can('delete', `secret/${credentials}`), 'no');
    });
  });
});

interface Stage {
  from: string;
  steps: { op: string; args: string }[];
}

function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const raw of text.replace(/\\\n/g, ' ').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [op = '', ...rest] = line.split(/\s+/);
    if (op.toUpperCase() === 'FROM') stages.push({ from: rest[0] ?? '', steps: [] });
    else stages.at(-1)?.steps.push({ op: op.toUpperCase(), args: rest.join(' ') });
  }
  return stages;
}

describe('Agent Dockerfile', function () {
  let stages: Stage[];
  let work: string;
  before(async () => {
    stages = parseDockerfile(await readFile(path.join(REPO_ROOT, 'agent/Dockerfile'), 'utf8'));
    work = await mkdtemp(path.join(os.tmpdir(), 'palisade-agent-image-'));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it("builds from the lockfile on the operator image's pinned distroless Node base, as a non-root user", async () => {
    const operator = parseDockerfile(await readFile(path.join(REPO_ROOT, 'Dockerfile'), 'utf8'));
    assert.equal(stages.length, 2);
    assert.deepEqual(
      stages.map((s) => s.from),
      operator.map((s) => s.from),
      'the same bases as the operator image',
    );
    const final = stages[1] as Stage;
    assert.match(final.from, /^gcr\.io\/distroless\/nodejs24-/);
    const user = final.steps.filter((s) => s.op === 'USER').at(-1);
    assert.ok(user && !/^(root|0)(:|$)/.test(user.args), 'a non-root USER');
    assert.ok((stages[0] as Stage).steps.some((s) => s.op === 'RUN' && /npm ci\b/.test(s.args)));
  });

  it('produces an agent that pairs with Palisade when its build steps run outside an image', async function () {
    this.timeout(10 * 60_000);
    const build = path.join(work, 'src');
    const app = path.join(work, 'app');
    for (const step of (stages[0] as Stage).steps) {
      if (step.op === 'COPY') {
        for (const src of step.args.split(/\s+/).slice(0, -1))
          await cp(path.join(REPO_ROOT, src), path.join(build, src), { recursive: true });
      } else if (step.op === 'RUN') {
        await run('bash', ['-euo', 'pipefail', '-c', step.args], { cwd: build, maxBuffer: 64 << 20 });
      }
    }
    for (const step of (stages[1] as Stage).steps.filter((s) => s.op === 'COPY')) {
      const m = /--from=\S+\s+(\S+)\s+(\S+)/.exec(step.args);
      assert.ok(m, `final-stage COPY comes from the build stage: ${step.args}`);
      await cp(path.join(build, (m[1] as string).replace(/^\/src\/?/, '')), path.join(app, m[2] as string), {
        recursive: true,
      });
    }
    const palisade = await startFakePalisade({ code: CODE });
    try {
      const creds = path.join(work, 'credentials');
      const r = await run(
        process.execPath,
        [
          'dist/agent/main.js',
          'pair',
          `--server=${palisade.address}`,
          `--ca-fingerprint=${palisade.pin}`,
          `--credentials-dir=${creds}`,
        ],
        { cwd: app, env: { ...process.env, NODE_ENV: 'production', PALISADE_PAIRING_CODE: CODE } },
      );
      assert.match(r.stdout, /paired as ClusterAgent/);
    } finally {
      await palisade.stop();
    }
  });
});

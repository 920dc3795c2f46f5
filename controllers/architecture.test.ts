import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(repo, dir))) {
    const rel = path.join(dir, entry);
    if (statSync(path.join(repo, rel)).isDirectory()) out.push(...sources(rel));
    else if (rel.endsWith('.ts') && !rel.endsWith('.test.ts')) out.push(rel);
  }
  return out;
}

function imports(file: string): string[] {
  const text = readFileSync(path.join(repo, file), 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map(
    (m) => m[1] as string,
  );
}

/** Resolves a relative import to a repo path; package imports stay as they are. */
function target(file: string, spec: string): string {
  return spec.startsWith('.') ? path.normalize(path.join(path.dirname(file), spec)) : spec;
}

const all = [...sources('controllers'), ...sources('crds')];

// controllers/crypto checks its own imports (crypto/imports.test.ts).
describe('architecture: dependencies flow one way', () => {
  it('imports no Kubernetes client library (runtime/kube is the client; importing one cost 85 MiB RSS)', () => {
    const offenders = all.filter((f) => imports(f).some((s) => s.startsWith('@kubernetes/client-node')));
    assert.deepEqual(offenders, []);
  });

  it('keeps crds/ free of controller code', () => {
    const offenders = sources('crds').filter((f) =>
      imports(f).some((s) => target(f, s).startsWith('controllers/')),
    );
    assert.deepEqual(offenders, []);
  });

  it('keeps controllers/runtime free of the kinds it drives', () => {
    const offenders = sources('controllers/runtime').filter((f) =>
      imports(f).some((s) => {
        const t = target(f, s);
        return t.startsWith('controllers/') && !t.startsWith('controllers/runtime/');
      }),
    );
    assert.deepEqual(offenders, []);
  });

  it('keeps controllers/keystore below the kinds that use it', () => {
    const kinds = ['tenant', 'tenantkey', 'clusteragent', 'certificatebinding', 'nats'];
    const offenders = sources('controllers/keystore').filter((f) =>
      imports(f).some((s) => kinds.some((k) => target(f, s).startsWith(`controllers/${k}/`))),
    );
    assert.deepEqual(offenders, []);
  });

  // The gRPC server and its two families of services: the key service's and the cluster channel's.
  it('lets only controllers/keyservice and controllers/agentchannel import @grpc', () => {
    const grpcFolders = ['controllers/keyservice/', 'controllers/agentchannel/'];
    const offenders = all.filter(
      (f) => !grpcFolders.some((d) => f.startsWith(d)) && imports(f).some((s) => s.startsWith('@grpc/')),
    );
    assert.deepEqual(offenders, []);
  });

  it('lets only controllers/nats/protocol import @nats-io', () => {
    const offenders = all.filter(
      (f) => !f.startsWith('controllers/nats/protocol/') && imports(f).some((s) => s.startsWith('@nats-io/')),
    );
    assert.deepEqual(offenders, []);
  });
});

/** The cycles of a directed graph, each as the path that closes it. */
function cyclesOf(graph: ReadonlyMap<string, Iterable<string>>): string[][] {
  const out: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string) => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') out.push([...stack.slice(stack.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  return out;
}

// NB: type-only imports count too: a cycle of types is still a knot a reader must untie.
const fileGraph = new Map(
  all.map((f) => [
    f,
    imports(f)
      .filter((s) => s.startsWith('.'))
      .map((s) => target(f, s)),
  ]),
);
const folderGraph = new Map<string, Set<string>>();
for (const [f, targets] of fileGraph) {
  for (const t of targets) {
    if (path.dirname(t) === path.dirname(f)) continue;
    const set = folderGraph.get(path.dirname(f)) ?? new Set<string>();
    set.add(path.dirname(t));
    folderGraph.set(path.dirname(f), set);
  }
}

describe('architecture: no knots', () => {
  it('finds a cycle when there is one (the check itself)', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    assert.deepEqual(cyclesOf(g), [['a', 'b', 'c', 'a']]);
    assert.deepEqual(
      cyclesOf(
        new Map([
          ['a', ['b']],
          ['b', []],
        ]),
      ),
      [],
    );
  });

  it('has no import cycle between files', () => {
    assert.deepEqual(
      cyclesOf(fileGraph).map((c) => c.join(' → ')),
      [],
    );
  });

  it('has no import cycle between folders', () => {
    assert.deepEqual(
      cyclesOf(folderGraph).map((c) => c.join(' → ')),
      [],
    );
  });

  // NB: test support (testdata/, testing/) serves the tests of the folder that contains it, and imports it.
  it('imports only downward: no folder imports a folder that contains it (test support aside)', () => {
    const support = (f: string) => /\/(testdata|testing)(\/|$)/.test(path.dirname(f));
    const upward = [...fileGraph].flatMap(([f, targets]) =>
      targets
        .filter((t) => !support(f) && path.dirname(f).startsWith(`${path.dirname(t)}/`))
        .map((t) => `${f} → ${t}`),
    );
    assert.deepEqual(upward, []);
  });
});

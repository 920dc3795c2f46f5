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

/** Every relative import (type-only ones too: a cycle of types is still a knot a reader must untie). */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(repo, file), 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"](\.[^'"]+)['"]/gm)].map((m) =>
    path.normalize(path.join(path.dirname(file), m[1] as string)),
  );
}

/** The cycles of a directed graph, each as the path that closes it. */
export function cyclesOf(graph: ReadonlyMap<string, Iterable<string>>): string[][] {
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

const files = [...sources('controllers'), ...sources('crds')];
const fileGraph = new Map(files.map((f) => [f, importsOf(f)]));
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

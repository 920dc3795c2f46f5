/**
 * Generates every file derived from the API's TypeScript source (crds/v1alpha1/*.ts):
 *
 * - `crds/palisade.dev_<plural>.yaml`, one CustomResourceDefinition per file;
 * - identical copies in `charts/palisade/crds/` (Helm installs CRDs from there, untemplated);
 * - `docs/api.md`, the API reference (formatted with the project's Prettier settings);
 * - `charts/palisade/templates/rbac.yaml`, the chart's RBAC, from controllers/permissions.ts;
 * - `examples/argocd/argocd-cm-patch.yaml`, Argo CD health checks, from examples/argocd/health.lua.
 *
 * Usage: `node hack/gen-crds.ts` writes them (and removes YAML files in those folders that are no longer
 * generated); `node hack/gen-crds.ts --check` writes nothing, and exits 1 with a diff of every stale,
 * missing or extra file (`make verify`).
 */
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { apiReference, crdFileName, crdYAML } from '../crds/render.ts';
import { ALL_CRDS } from '../crds/v1alpha1/index.ts';
import { ARGOCD_CM_PATCH, argocdConfigMapPatch } from './argocd.ts';
import { RBAC_TEMPLATE, rbacTemplate } from './rbac.ts';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Folders whose `*.yaml` files are all generated. */
export const CRD_DIRS = ['crds', 'charts/palisade/crds'] as const;
export const API_DOC = 'docs/api.md';

/** Every generated file: repository-relative path → content. */
export async function generatedFiles(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const crd of ALL_CRDS) {
    for (const dir of CRD_DIRS) files.set(`${dir}/${crdFileName(crd)}`, crdYAML(crd));
  }
  const options = (await prettier.resolveConfig(join(REPO_ROOT, API_DOC))) ?? {};
  files.set(API_DOC, await prettier.format(apiReference(ALL_CRDS), { ...options, filepath: API_DOC }));
  files.set(RBAC_TEMPLATE, rbacTemplate());
  files.set(ARGOCD_CM_PATCH, argocdConfigMapPatch());
  return files;
}

export interface Problem {
  path: string;
  kind: 'missing' | 'stale' | 'extra';
  diff?: string;
}

/** Compares the generated files with the ones on disk under `root`. Empty when all are current. */
export async function staleFiles(root = REPO_ROOT): Promise<Problem[]> {
  const files = await generatedFiles();
  const problems: Problem[] = [];
  for (const [path, want] of files) {
    const have = await readIfExists(join(root, path));
    if (have === undefined) problems.push({ path, kind: 'missing' });
    else if (have !== want) problems.push({ path, kind: 'stale', diff: unifiedDiff(path, have, want) });
  }
  for (const path of await existingYAML(root)) {
    if (!files.has(path)) problems.push({ path, kind: 'extra' });
  }
  return problems;
}

/** Writes every generated file and removes generated-folder YAML that is no longer generated. */
export async function writeFiles(root = REPO_ROOT): Promise<string[]> {
  const files = await generatedFiles();
  const changed: string[] = [];
  for (const [path, content] of files) {
    if ((await readIfExists(join(root, path))) === content) continue;
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
    changed.push(path);
  }
  for (const path of await existingYAML(root)) {
    if (files.has(path)) continue;
    await rm(join(root, path));
    changed.push(path);
  }
  return changed;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

async function existingYAML(root: string): Promise<string[]> {
  const found: string[] = [];
  for (const dir of CRD_DIRS) {
    const entries = await readdir(join(root, dir)).catch(() => [] as string[]);
    found.push(...entries.filter((f) => f.endsWith('.yaml')).map((f) => `${dir}/${f}`));
  }
  return found.sort();
}

/** A unified diff (3 lines of context) from `a` (on disk) to `b` (generated), cut at `maxLines`. */
export function unifiedDiff(path: string, a: string, b: string, maxLines = 80): string {
  const x = a.split('\n');
  const y = b.split('\n');
  // Longest common subsequence table, from the end: lcs[i][j] = LCS length of x[i..], y[j..].
  const lcs = Array.from({ length: x.length + 1 }, () => new Uint32Array(y.length + 1));
  for (let i = x.length - 1; i >= 0; i--) {
    const row = lcs[i] as Uint32Array;
    const next = lcs[i + 1] as Uint32Array;
    for (let j = y.length - 1; j >= 0; j--) {
      row[j] =
        x[i] === y[j] ? (next[j + 1] as number) + 1 : Math.max(next[j] as number, row[j + 1] as number);
    }
  }
  const ops: { op: ' ' | '-' | '+'; line: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) {
      ops.push({ op: ' ', line: x[i++] as string });
      j++;
    } else if (i < x.length && (j === y.length || (lcs[i + 1]?.[j] ?? 0) >= (lcs[i]?.[j + 1] ?? 0))) {
      ops.push({ op: '-', line: x[i++] as string });
    } else ops.push({ op: '+', line: y[j++] as string });
  }
  const keep = ops.map((_, k) => ops.slice(Math.max(0, k - 3), k + 4).some((o) => o.op !== ' '));
  const out = [`--- ${path} (on disk)`, `+++ ${path} (generated)`];
  let skipped = false;
  ops.forEach((o, k) => {
    if (!keep[k]) {
      if (!skipped) out.push('@@');
      skipped = true;
      return;
    }
    skipped = false;
    out.push(`${o.op}${o.line}`);
  });
  return out.length > maxLines
    ? [...out.slice(0, maxLines), `... (${out.length - maxLines} more lines)`].join('\n')
    : out.join('\n');
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--check')) {
    const problems = await staleFiles();
    if (problems.length === 0) return 0;
    for (const p of problems) {
      console.error(`${p.path}: ${p.kind === 'extra' ? 'no longer generated' : p.kind}`);
      if (p.diff) console.error(p.diff);
    }
    console.error(`\n${problems.length} generated file(s) out of date: run \`node hack/gen-crds.ts\`.`);
    return 1;
  }
  const changed = await writeFiles();
  for (const path of changed) console.log(`wrote ${path}`);
  if (changed.length === 0) console.log('generated files are up to date');
  return 0;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));

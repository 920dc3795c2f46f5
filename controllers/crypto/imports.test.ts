import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name === 'node_modules' || e.name.startsWith('.')) return [];
    const p = join(dir, e.name);
    return e.isDirectory() ? sources(p) : /\.(ts|js|mjs)$/.test(e.name) ? [p] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [
    ...text.matchAll(/(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]/g),
  ].map((m) => m[1] ?? m[2] ?? '');
}

describe('crypto package boundaries', () => {
  it('imports only its own files, @noble/* and node:crypto in library code (no Kubernetes, no I/O, no logging)', () => {
    const library = sources(here).filter((f) => !/\.test\.ts$|\/testdata\/|\/bench\.ts$/.test(f));
    for (const file of library) {
      for (const spec of imports(file)) {
        assert.ok(
          spec.startsWith('./') || spec.startsWith('@noble/') || spec === 'node:crypto',
          `${relative(root, file)} imports ${spec}`,
        );
      }
    }
  });

  it('is the only importer of @noble/* in the project', () => {
    const outside = ['controllers', 'crds', 'hack', 'e2e']
      .flatMap((d) => {
        try {
          return sources(join(root, d));
        } catch {
          return [];
        }
      })
      .filter((f) => !f.startsWith(here + '/'));
    for (const file of outside) {
      assert.ok(
        !imports(file).some((s) => s.startsWith('@noble/')),
        `${relative(root, file)} imports @noble/*`,
      );
    }
  });
});

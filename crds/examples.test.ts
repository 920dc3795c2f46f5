import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../hack/gen-crds.ts';
import type { JSONSchemaProps } from './schema/schema.ts';
import { ALL_CRDS, API_VERSION } from './v1alpha1/index.ts';

/**
 * The OpenAPI part of what the API server checks (types, unknown fields, required, enums, patterns,
 * bounds); CEL rules are left to the integration test against a real API server.
 */
function problems(value: unknown, s: JSONSchemaProps, path: string): string[] {
  // ObjectMeta is validated by the API server itself; the schema only bounds name and generateName.
  if (path.endsWith('.metadata')) return [];
  const out: string[] = [];
  const fail = (what: string) => out.push(`${path}: ${what}`);
  if (s.type === 'object') {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return [`${path}: not an object`];
    const obj = value as Record<string, unknown>;
    for (const r of s.required ?? []) if (!(r in obj)) fail(`${r} is required`);
    for (const [k, v] of Object.entries(obj)) {
      const p = s.properties?.[k] ?? s.additionalProperties;
      if (p) out.push(...problems(v, p, `${path}.${k}`));
      else if (s.properties) fail(`unknown field ${k}`);
    }
  } else if (s.type === 'array') {
    if (!Array.isArray(value)) return [`${path}: not an array`];
    if (s.minItems !== undefined && value.length < s.minItems) fail(`fewer than ${s.minItems} items`);
    if (s.maxItems !== undefined && value.length > s.maxItems) fail(`more than ${s.maxItems} items`);
    value.forEach((v, i) => out.push(...(s.items ? problems(v, s.items, `${path}[${i}]`) : [])));
  } else if (s.type === 'string') {
    if (typeof value !== 'string') return [`${path}: not a string`];
    if (s.pattern && !new RegExp(s.pattern, 'u').test(value)) fail(`${value} does not match ${s.pattern}`);
    if (s.maxLength !== undefined && value.length > s.maxLength) fail('too long');
    if (s.minLength !== undefined && value.length < s.minLength) fail('too short');
  } else if (s.type === 'integer') {
    if (!Number.isInteger(value)) return [`${path}: not an integer`];
    if (s.minimum !== undefined && (value as number) < s.minimum) fail(`below ${s.minimum}`);
    if (s.maximum !== undefined && (value as number) > s.maximum) fail(`above ${s.maximum}`);
  } else if (s.type === 'boolean' && typeof value !== 'boolean') fail('not a boolean');
  if (s.enum && !s.enum.includes(value as string))
    fail(`${String(value)} is not one of ${s.enum.join(', ')}`);
  return out;
}

async function examples(): Promise<{ file: string; doc: Record<string, unknown> }[]> {
  const dir = join(REPO_ROOT, 'examples');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort();
  const out = [];
  for (const file of files) {
    for (const d of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) {
      assert.deepEqual(d.errors, [], `${file} parses`);
      out.push({ file, doc: d.toJS() as Record<string, unknown> });
    }
  }
  return out;
}

describe('examples/', () => {
  it('holds at least one object of every kind, and at least one Tenant with deletionPolicy Delete', async () => {
    const docs = await examples();
    const kinds = new Set(docs.map((d) => d.doc.kind));
    for (const crd of ALL_CRDS) assert.ok(kinds.has(crd.spec.names.kind), crd.spec.names.kind);
    assert.ok(docs.some((d) => d.doc.kind === 'Tenant' && JSON.stringify(d.doc).includes('"Delete"')));
  });

  it("validates against the CRDs' OpenAPI schemas", async () => {
    for (const { file, doc } of await examples()) {
      assert.equal(doc.apiVersion, API_VERSION, file);
      const crd = ALL_CRDS.find((c) => c.spec.names.kind === doc.kind);
      const schema = crd?.spec.versions[0]?.schema.openAPIV3Schema;
      assert.ok(schema, `${file}: kind ${String(doc.kind)} is a Palisade kind`);
      assert.deepEqual(problems(doc, schema, `${file}:${String(doc.kind)}`), []);
    }
  });

  it('puts namespaced objects in the namespace tenant-<name> of an example Tenant', async () => {
    const docs = await examples();
    const tenants = docs
      .filter((d) => d.doc.kind === 'Tenant')
      .map((d) => (d.doc.metadata as { name: string }).name);
    const clusterScoped = new Set(
      ALL_CRDS.filter((c) => c.spec.scope === 'Cluster').map((c) => c.spec.names.kind),
    );
    for (const { file, doc } of docs) {
      if (clusterScoped.has(String(doc.kind))) continue;
      const ns = (doc.metadata as { namespace?: string }).namespace ?? '';
      assert.ok(tenants.map((t) => `tenant-${t}`).includes(ns), `${file}: ${ns}`);
    }
  });
});

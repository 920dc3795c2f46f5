import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, staleFiles } from '../../hack/gen-crds.ts';
import type { JSONSchemaProps } from '../schema/schema.ts';
import {
  ALL_CRDS,
  BOUNDED_DURATION_PATTERN,
  CATEGORY,
  CERT_DNS_NAME_PATTERN,
  DNS_LABEL_PATTERN,
  DURATION_PATTERN,
  GROUP,
  MAX_DURATION,
  parseDuration,
  VERSION,
} from './index.ts';
import type { CustomResourceDefinition } from './index.ts';

function versionOf(crd: CustomResourceDefinition) {
  const v = crd.spec.versions[0];
  assert.ok(v, `${crd.metadata.name} has a version`);
  return v;
}

/** Every schema node under `s`, with its path. */
function* nodes(s: JSONSchemaProps, path: string): Generator<[string, JSONSchemaProps]> {
  yield [path, s];
  for (const [k, p] of Object.entries(s.properties ?? {})) yield* nodes(p, `${path}.${k}`);
  if (s.items) yield* nodes(s.items, `${path}[]`);
  if (s.additionalProperties) yield* nodes(s.additionalProperties, `${path}{}`);
}

/** The schema a printer column's JSONPath points at, or undefined when it names an undeclared field. */
function resolve(root: JSONSchemaProps, jsonPath: string): JSONSchemaProps | undefined {
  if (jsonPath.startsWith('.metadata.')) return { type: 'string' };
  let s: JSONSchemaProps | undefined = root;
  for (const part of jsonPath
    .replace(/\[[^\]]*\]/g, '[]')
    .slice(1)
    .split('.')) {
    s = s?.properties?.[part.replace('[]', '')];
    if (part.endsWith('[]')) s = s?.items;
  }
  return s;
}

function satisfies(value: unknown, s: JSONSchemaProps): boolean {
  if (s.enum && !s.enum.includes(value as string)) return false;
  if (typeof value === 'string' && s.pattern && !new RegExp(s.pattern, 'u').test(value)) return false;
  if (typeof value === 'number' && s.minimum !== undefined && value < s.minimum) return false;
  if (typeof value === 'number' && s.maximum !== undefined && value > s.maximum) return false;
  return true;
}

describe('palisade.dev/v1alpha1 CRDs', () => {
  it('are current in crds/, charts/palisade/crds/ and docs/api.md (else run node hack/gen-crds.ts)', async () => {
    const problems = await staleFiles();
    assert.deepEqual(
      problems.map((p) => `${p.path}: ${p.kind}\n${p.diff ?? ''}`),
      [],
    );
  });

  it('are the kinds of the group, each in its own resource', () => {
    assert.deepEqual(
      ALL_CRDS.map((c) => [c.metadata.name, c.spec.scope]),
      [
        [`tenants.${GROUP}`, 'Cluster'],
        [`tenantkeys.${GROUP}`, 'Namespaced'],
        [`clusteragents.${GROUP}`, 'Namespaced'],
        [`certificatebindings.${GROUP}`, 'Namespaced'],
        [`keyaccesspolicies.${GROUP}`, 'Cluster'],
      ],
    );
  });

  for (const crd of ALL_CRDS) {
    const kind = crd.spec.names.kind;
    describe(kind, () => {
      const version = versionOf(crd);
      const root = version.schema.openAPIV3Schema;
      const status = root.properties?.status;

      it('serves and stores v1alpha1 with a status subresource', () => {
        assert.equal(version.name, VERSION);
        assert.ok(version.served && version.storage);
        assert.deepEqual(version.subresources, { status: {} });
      });

      it('is in the palisade category and has a short name', () => {
        assert.deepEqual(crd.spec.names.categories, [CATEGORY]);
        assert.ok(crd.spec.names.shortNames.length > 0);
      });

      it('prints Ready and Reason from the Ready condition, and Age', () => {
        const byName = new Map(version.additionalPrinterColumns.map((c) => [c.name, c]));
        assert.equal(byName.get('Ready')?.jsonPath, '.status.conditions[?(@.type=="Ready")].status');
        assert.equal(byName.get('Reason')?.jsonPath, '.status.conditions[?(@.type=="Ready")].reason');
        assert.equal(byName.get('Age')?.jsonPath, '.metadata.creationTimestamp');
      });

      it('has printer columns that point at declared fields of a matching type', () => {
        for (const c of version.additionalPrinterColumns) {
          const s = resolve(root, c.jsonPath);
          assert.ok(s, `${c.name}: ${c.jsonPath} is declared`);
          if (c.type === 'date') assert.ok(s.format === 'date-time' || c.jsonPath.startsWith('.metadata.'));
          if (c.type === 'integer') assert.equal(s.type, 'integer', c.name);
        }
      });

      it('keeps observedGeneration and conditions (a list map keyed by type) in status', () => {
        assert.equal(status?.properties?.observedGeneration?.type, 'integer');
        const conditions = status?.properties?.conditions;
        assert.equal(conditions?.['x-kubernetes-list-type'], 'map');
        assert.deepEqual(conditions?.['x-kubernetes-list-map-keys'], ['type']);
        assert.deepEqual(conditions?.items?.required, [
          'type',
          'status',
          'lastTransitionTime',
          'reason',
          'message',
        ]);
      });

      it('has a structural schema: every node typed, no unknown fields preserved, list map keys required', () => {
        for (const [path, s] of nodes(root, kind)) {
          assert.ok(s.type, `${path} has a type`);
          assert.equal(
            s['x-kubernetes-preserve-unknown-fields'],
            undefined,
            `${path} preserves unknown fields`,
          );
          for (const key of s['x-kubernetes-list-map-keys'] ?? []) {
            assert.ok(s.items?.required?.includes(key), `${path}: list map key ${key} is required`);
          }
          for (const name of s.required ?? [])
            assert.ok(s.properties?.[name], `${path}: ${name} is declared`);
        }
      });

      it('bounds every spec string and list, so that the API server can estimate the cost of CEL rules', () => {
        const spec = root.properties?.spec;
        assert.ok(spec);
        for (const [path, s] of nodes(spec, `${kind}.spec`)) {
          if (s.type === 'string') assert.ok(s.maxLength !== undefined || s.enum, `${path} has a maxLength`);
          if (s.type === 'array') assert.ok(s.maxItems !== undefined, `${path} has maxItems`);
        }
      });

      it('describes every field (kubectl explain)', () => {
        for (const [path, s] of nodes(root, kind)) {
          if (path.startsWith(`${kind}.metadata`)) continue;
          assert.ok(s.description, `${path} has a description`);
        }
      });

      it('has defaults that satisfy their own schema', () => {
        for (const [path, s] of nodes(root, kind)) {
          if (s.default !== undefined)
            assert.ok(satisfies(s.default, s), `${path}: default ${String(s.default)}`);
        }
      });

      it('gives every CEL rule a human message', () => {
        for (const [path, s] of nodes(root, kind)) {
          for (const r of s['x-kubernetes-validations'] ?? []) {
            assert.ok(r.message ?? r.messageExpression, `${path}: ${r.rule} has a message`);
          }
        }
      });
    });
  }
});

describe('validation patterns', () => {
  const cases: [string, string, string[], string[]][] = [
    [
      'DURATION_PATTERN',
      DURATION_PATTERN,
      ['90s', '1h30m', '0.5h', '336h', '100ms'],
      ['', '1d', '-1h', 'h', '1 h', '1H'],
    ],
    [
      'DNS_LABEL_PATTERN',
      DNS_LABEL_PATTERN,
      ['acme', 'a', 'tenant-1', '0x'],
      ['', 'Acme', 'a.b', '-a', 'a-', 'a_b'],
    ],
    [
      'CERT_DNS_NAME_PATTERN',
      CERT_DNS_NAME_PATTERN,
      ['api.example.com', '*.example.com', 'svc.ns.svc', 'localhost'],
      [
        '*.*.example.com',
        'api.*.example.com',
        'api_x.example.com',
        '.example.com',
        'example.com.',
        'API.example.com',
      ],
    ],
  ];
  for (const [name, pattern, good, bad] of cases) {
    it(`${name} accepts ${good.join(', ')} and rejects ${bad.map((b) => JSON.stringify(b)).join(', ')}`, () => {
      const re = new RegExp(pattern, 'u');
      for (const g of good) assert.ok(re.test(g), `accepts ${g}`);
      for (const b of bad) assert.ok(!re.test(b), `rejects ${b}`);
    });
  }

  it('BOUNDED_DURATION_PATTERN keeps every duration field value far from a Go duration overflow (2562047h)', () => {
    const re = new RegExp(BOUNDED_DURATION_PATTERN, 'u');
    for (const ok of ['90s', '1h30m', '87600h', '99999h', '2592000s', '9999999m', '1.5h', '250ms'])
      assert.ok(re.test(ok), `accepts ${ok}`);
    for (const big of ['100000h', '10000000m', '1000000000s', '9999999999h', '2562048h'])
      assert.ok(!re.test(big), `refuses ${big}`);
    // The largest value per character of each unit, repeated up to the fields' maxLength (32).
    const maxLength = 32;
    for (const widest of [
      '99999h',
      '9999999m',
      '999999999s',
      '999999999999ms',
      '999999999999999us',
      '9'.repeat(18) + 'ns',
    ]) {
      const value = widest.repeat(Math.floor(maxLength / widest.length));
      assert.ok(re.test(value) && value.length <= maxLength, value);
      assert.ok(parseDuration(value) < 1_000_000 * 3_600_000, `${value} stays under a million hours`);
    }
    assert.ok(parseDuration(MAX_DURATION) < 1_000_000 * 3_600_000);
  });
});

describe('hack/gen-crds.ts --check', () => {
  it('names the stale, missing and extra files, with a diff of the stale one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'palisade-gen-'));
    try {
      for (const d of ['crds', 'charts', 'docs', 'examples'])
        await cp(join(REPO_ROOT, d), join(dir, d), { recursive: true });
      const tenants = join(dir, 'crds/palisade.dev_tenants.yaml');
      const text = await readFile(tenants, 'utf8');
      await writeFile(tenants, text.replace('shortNames:\n      - tn', 'shortNames:\n      - tnt'));
      await rm(join(dir, 'charts/palisade/crds/palisade.dev_tenantkeys.yaml'));
      await writeFile(join(dir, 'crds/palisade.dev_widgets.yaml'), 'kind: CustomResourceDefinition\n');

      const problems = await staleFiles(dir);

      assert.deepEqual(
        problems.map((p) => [p.path, p.kind]),
        [
          ['crds/palisade.dev_tenants.yaml', 'stale'],
          ['charts/palisade/crds/palisade.dev_tenantkeys.yaml', 'missing'],
          ['crds/palisade.dev_widgets.yaml', 'extra'],
        ],
      );
      assert.match(problems[0]?.diff ?? '', /^-      - tnt\n\+      - tn$/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

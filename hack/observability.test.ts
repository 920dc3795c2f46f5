/**
 * The chart's dashboard and alerting rules read only metrics the operator exports: every `palisade_*`
 * name they mention is registered somewhere under controllers/ (or is one of prom-client's default
 * metrics, which the operator collects with the same prefix).
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { collectDefaultMetrics, Registry } from 'prom-client';

const ROOT = path.resolve(import.meta.dirname, '..');
const DASHBOARD = path.join(ROOT, 'charts/palisade/dashboards/palisade.json');
const RULES = path.join(ROOT, 'charts/palisade/rules/palisade.rules.yaml');

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

/** Every series name the operator can expose, histograms' and summaries' suffixes included. */
async function exported(): Promise<Set<string>> {
  const names = new Set<string>();
  const add = (name: string, type: string) => {
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  };
  for (const file of await sources(path.join(ROOT, 'controllers'))) {
    const text = await readFile(file, 'utf8');
    for (const m of text.matchAll(/new (Counter|Gauge|Histogram|Summary)\(\{\s*name: '(palisade_\w+)'/g))
      add(m[2] ?? '', (m[1] ?? '').toLowerCase());
  }
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'palisade_' });
  for (const m of await registry.getMetricsAsJSON()) add(m.name, String(m.type));
  return names;
}

function mentioned(text: string): string[] {
  return [...new Set([...text.matchAll(/\bpalisade_[a-z0-9_]+/g)].map((m) => m[0]))].sort();
}

describe('Dashboard and alerting rules', function () {
  let known: Set<string>;
  before(async () => {
    known = await exported();
  });

  for (const [what, file] of [
    ['the Grafana dashboard reads', DASHBOARD],
    ['the alerting rules read', RULES],
  ] as const) {
    it(`${what} only metrics the operator exports`, async function () {
      const names = mentioned(await readFile(file, 'utf8'));
      assert.ok(names.length > 5, `only ${names.length} metrics in ${path.basename(file)}`);
      assert.deepEqual(
        names.filter((n) => !known.has(n)),
        [],
        `not exported (known: ${[...known].join(', ')})`,
      );
    });
  }

  it('the dashboard queries through its datasource variable, so it works with any Prometheus', async function () {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as {
      uid: string;
      panels: { type: string; title: string; datasource?: { uid: string } }[];
    };
    assert.equal(dashboard.uid, 'palisade-overview');
    const panels = dashboard.panels.filter((p) => p.type !== 'row');
    assert.ok(panels.length > 10);
    for (const p of panels) assert.equal(p.datasource?.uid, '${datasource}', p.title);
  });
});

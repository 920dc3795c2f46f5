/**
 * Sums a V8 CPU profile (`node --cpu-prof`, e.g. from `hack/bench/tenants.ts --profile`): the top
 * functions and files by self time, and Palisade's own functions by inclusive time (a sample counts once
 * for every distinct function on its stack), so "where the time goes" is read from the profile.
 *
 *   node hack/bench/profile.ts <file.cpuprofile> [--top 25]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' } },
});
const file = positionals[0];
if (!file) throw new Error('usage: node hack/bench/profile.ts <file.cpuprofile> [--top 25]');
const top = Number(values.top);
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const selfUs = new Map<number, number>();
p.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

const short = (url: string) =>
  url.replace(/^file:\/\/.*?\/(node_modules|controllers|crds|hack)\//, '$1/').replace(/^node:/, 'node:') ||
  '(native)';
const sum = (key: (n: Node) => string) => {
  const out = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (n) out.set(key(n), (out.get(key(n)) ?? 0) + us);
  }
  return [...out].sort((a, b) => b[1] - a[1]).slice(0, top);
};
const show = (title: string, rows: [string, number][]) => {
  console.log(title);
  for (const [k, us] of rows)
    console.log(
      `  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1e6).toFixed(2).padStart(7)} s  ${k}`,
    );
};
const frame = (n: Node) =>
  `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
const inclusive = new Map<string, number>();
p.samples.forEach((id, i) => {
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const n = byId.get(at);
    if (n && /controllers\//.test(n.callFrame.url)) seen.add(frame(n));
  }
  for (const k of seen) inclusive.set(k, (inclusive.get(k) ?? 0) + (p.timeDeltas[i] ?? 0));
});
console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled`);
show(
  'by function (self time):',
  sum(
    (n) =>
      `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`,
  ),
);
show(
  'by file (self time):',
  sum((n) => short(n.callFrame.url).replace(/^(node_modules\/(@[^/]+\/)?[^/]+)\/.*/, '$1')),
);
show(
  "Palisade's functions (controllers/), inclusive time:",
  [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top),
);

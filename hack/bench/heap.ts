/**
 * Where a V8 heap snapshot's memory is held: retained sizes from the dominator tree (what would be freed
 * if an object went), for the largest holders, each named by its class and the property that holds it.
 * For `make bench-memory --snapshot DIR` output: profiles, not guesses.
 *
 *   node hack/bench/heap.ts <file.heapsnapshot> [--top 40] [--min-kib 256] [--base <earlier.heapsnapshot>]
 *
 * With --base (e.g. the idle sample before the first Tenant) it prints instead what grew between the two:
 * live bytes and counts by kind of object (V8 node type and class or constructor name), largest growth first,
 * and per object of growth when --per N says how many (tenants) the growth is for.
 *
 * Retained sizes follow Cooper, Harvey and Kennedy's iterative dominator algorithm over the snapshot's
 * graph (weak edges ignored), as heap viewers compute them.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string', default: '40' },
    'min-kib': { type: 'string', default: '256' },
    base: { type: 'string' },
    per: { type: 'string' },
  },
});
const file = positionals[0];
if (!file)
  throw new Error(
    'usage: node hack/bench/heap.ts <file.heapsnapshot> [--top 40] [--min-kib 256] [--base <file> [--per N]]',
  );

interface Snapshot {
  snapshot: {
    meta: { node_fields: string[]; edge_fields: string[]; node_types: [string[]]; edge_types: [string[]] };
    node_count: number;
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}
const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;

/** Bytes and count by kind of object: V8's node type, and for objects and closures their class name. */
function byKind(s: Snapshot): Map<string, { bytes: number; count: number }> {
  const f = s.snapshot.meta.node_fields;
  const [tF, nF, zF] = ['type', 'name', 'self_size'].map((x) => f.indexOf(x)) as [number, number, number];
  const types = s.snapshot.meta.node_types[0];
  const out = new Map<string, { bytes: number; count: number }>();
  for (let i = 0; i < s.nodes.length; i += f.length) {
    const type = types[s.nodes[i + tF] as number] ?? '?';
    const name = s.strings[s.nodes[i + nF] as number] ?? '';
    const key =
      type === 'object' || type === 'closure' || type === 'native' ? `${type} ${name.slice(0, 60)}` : type;
    const e = out.get(key) ?? { bytes: 0, count: 0 };
    e.bytes += s.nodes[i + zF] as number;
    e.count++;
    out.set(key, e);
  }
  return out;
}

if (values.base) {
  const before = byKind(JSON.parse(readFileSync(values.base, 'utf8')) as Snapshot);
  const after = byKind(snap);
  const per = Number(values.per ?? 0);
  const rows = [...new Set([...before.keys(), ...after.keys()])].map((k) => ({
    k,
    bytes: (after.get(k)?.bytes ?? 0) - (before.get(k)?.bytes ?? 0),
    count: (after.get(k)?.count ?? 0) - (before.get(k)?.count ?? 0),
  }));
  rows.sort((a, b) => b.bytes - a.bytes);
  const total = rows.reduce((t, r) => t + r.bytes, 0);
  const kib = (b: number) => (b / 1024).toFixed(1).padStart(10);
  console.log(
    `${values.base} -> ${file}: ${kib(total)} KiB more${per ? `, ${(total / per).toFixed(0)} bytes per ${per}th` : ''}`,
  );
  console.log(`       KiB      count${per ? '  bytes/each  count/each' : ''}  kind`);
  for (const r of rows.slice(0, Number(values.top)))
    console.log(
      `${kib(r.bytes)} ${String(r.count).padStart(10)}${per ? `${(r.bytes / per).toFixed(0).padStart(12)}${(r.count / per).toFixed(1).padStart(12)}` : ''}  ${r.k}`,
    );
  process.exit(0);
}
const { meta } = snap.snapshot;
const NF = meta.node_fields.length;
const EF = meta.edge_fields.length;
const [typeF, nameF, sizeF, edgeCountF] = ['type', 'name', 'self_size', 'edge_count'].map((f) =>
  meta.node_fields.indexOf(f),
) as [number, number, number, number];
const [eTypeF, eNameF, eToF] = ['type', 'name_or_index', 'to_node'].map((f) =>
  meta.edge_fields.indexOf(f),
) as [number, number, number];
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const WEAK = edgeTypes.indexOf('weak');
const SHORTCUT = edgeTypes.indexOf('shortcut');
const n = snap.nodes.length / NF;

// Edges of each node, as indexes into `edges`.
const firstEdge = new Uint32Array(n + 1);
for (let i = 0, e = 0; i < n; i++) {
  firstEdge[i] = e;
  e += (snap.nodes[i * NF + edgeCountF] as number) * EF;
  firstEdge[i + 1] = e;
}
const followed = (e: number) => {
  const t = snap.edges[e + eTypeF];
  return t !== WEAK && t !== SHORTCUT;
};

// Reverse postorder from the root (node 0), iteratively.
const order = new Int32Array(n).fill(-1);
const post: number[] = [];
{
  const stack = [0];
  const next = new Uint32Array(n);
  const seen = new Uint8Array(n);
  seen[0] = 1;
  for (let i = 0; i < n; i++) next[i] = firstEdge[i] as number;
  while (stack.length) {
    const v = stack[stack.length - 1] as number;
    const end = firstEdge[v + 1] as number;
    let pushed = false;
    while ((next[v] as number) < end) {
      const e = next[v] as number;
      next[v] = e + EF;
      if (!followed(e)) continue;
      const w = (snap.edges[e + eToF] as number) / NF;
      if (seen[w]) continue;
      seen[w] = 1;
      stack.push(w);
      pushed = true;
      break;
    }
    if (!pushed) {
      stack.pop();
      post.push(v);
    }
  }
}
post.reverse();
post.forEach((v, i) => (order[v] = i));

// Predecessors (reachable ones only).
const predCount = new Uint32Array(n + 1);
for (const v of post)
  for (let e = firstEdge[v] as number; e < (firstEdge[v + 1] as number); e += EF)
    if (followed(e)) {
      const w = (snap.edges[e + eToF] as number) / NF;
      predCount[w] = (predCount[w] as number) + 1;
    }
const predStart = new Uint32Array(n + 1);
for (let i = 0; i < n; i++) predStart[i + 1] = (predStart[i] as number) + (predCount[i] as number);
const preds = new Uint32Array(predStart[n] as number);
const fill = predStart.slice();
for (const v of post)
  for (let e = firstEdge[v] as number; e < (firstEdge[v + 1] as number); e += EF)
    if (followed(e)) {
      const w = (snap.edges[e + eToF] as number) / NF;
      const at = fill[w] as number;
      preds[at] = v;
      fill[w] = at + 1;
    }

const idom = new Int32Array(n).fill(-1);
idom[0] = 0;
const intersect = (a: number, b: number) => {
  while (a !== b) {
    while ((order[a] as number) > (order[b] as number)) a = idom[a] as number;
    while ((order[b] as number) > (order[a] as number)) b = idom[b] as number;
  }
  return a;
};
for (let changed = true; changed;) {
  changed = false;
  for (let i = 1; i < post.length; i++) {
    const v = post[i] as number;
    let d = -1;
    for (let p = predStart[v] as number; p < (predStart[v + 1] as number); p++) {
      const u = preds[p] as number;
      if (idom[u] === -1) continue;
      d = d === -1 ? u : intersect(u, d);
    }
    if (d !== -1 && idom[v] !== d) {
      idom[v] = d;
      changed = true;
    }
  }
}

const retained = new Float64Array(n);
for (let i = 0; i < n; i++) retained[i] = snap.nodes[i * NF + sizeF] as number;
for (let i = post.length - 1; i > 0; i--) {
  const v = post[i] as number;
  const d = idom[v] as number;
  retained[d] = (retained[d] as number) + (retained[v] as number);
}

const nameOf = (v: number) => {
  const type = nodeTypes[snap.nodes[v * NF + typeF] as number];
  const name = snap.strings[snap.nodes[v * NF + nameF] as number] ?? '';
  return type === 'object' || type === 'closure' ? name : `(${type}) ${name.slice(0, 40)}`;
};
/** The property (or element) of `v`'s dominator that points at `v`, if any. */
const heldAs = (v: number) => {
  const d = idom[v] as number;
  for (let e = firstEdge[d] as number; e < (firstEdge[d + 1] as number); e += EF) {
    if ((snap.edges[e + eToF] as number) / NF !== v) continue;
    const t = edgeTypes[snap.edges[e + eTypeF] as number];
    const k = snap.edges[e + eNameF] as number;
    return t === 'element' || t === 'hidden' ? `[${k}]` : (snap.strings[k] ?? '?');
  }
  return '?';
};

const total = retained[0] as number;
const MiB = (b: number) => (b / 1048576).toFixed(1).padStart(7);
console.log(`${file}: ${n.toLocaleString('en-US')} nodes, ${MiB(total)} MiB reachable`);
// The largest holders that are not just the chain down to them: skip a node whose retained size is
// almost all one child's.
const minBytes = Number(values['min-kib']) * 1024;
const children = new Map<number, number[]>();
for (const v of post) {
  if (v === 0 || (retained[v] as number) < minBytes) continue;
  const d = idom[v] as number;
  let c = children.get(d);
  if (!c) children.set(d, (c = []));
  c.push(v);
}
const rows: { v: number; own: number }[] = [];
for (const v of post) {
  if ((retained[v] as number) < minBytes) continue;
  const big = (children.get(v) ?? []).reduce((s, c) => s + (retained[c] as number), 0);
  rows.push({ v, own: (retained[v] as number) - big });
}
rows.sort((a, b) => b.own - a.own);
/** `v` and up to three of its dominators, each as `Class.property`, innermost first. */
const chain = (v: number) => {
  const parts: string[] = [];
  for (let i = 0; i < 4 && v !== 0; i++, v = idom[v] as number)
    parts.push(`${nameOf(v).slice(0, 40)} (as ${heldAs(v).slice(0, 30)})`);
  return parts.join(' <- ');
};
console.log('retained MiB, of it not in a listed holder below it; the holder <- what holds it');
for (const { v, own } of rows.slice(0, Number(values.top)))
  console.log(`${MiB(retained[v] as number)} ${MiB(own)}  ${chain(v)}`);

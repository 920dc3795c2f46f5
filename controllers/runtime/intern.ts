/**
 * One copy of each short string the caches hold many times over. JSON.parse makes a new string for every
 * value, so 10,000 Tenants held "True", "palisade-system", each condition's type and reason and the same
 * second's timestamps as hundreds of thousands of copies: about 3 KiB of heap per tenant. The pool is
 * bounded (cleared when full, which only ends sharing for strings seen before), and is never given what
 * a Secret holds in `data`, so no key material outlives the object that carried it.
 */
const MAX_LENGTH = 64;
const POOL_LIMIT = 16_384;
/** Values unique to one object: pooling them would only churn the pool. */
const UNIQUE_FIELDS = new Set(['uid', 'resourceVersion']);
/** Top-level fields never pooled: a Secret's or ConfigMap's content. */
const CONTENT_FIELDS = new Set(['data', 'stringData', 'binaryData']);

let pool = new Map<string, string>();

export function intern(s: string): string {
  if (s.length > MAX_LENGTH) return s;
  const had = pool.get(s);
  if (had !== undefined) return had;
  if (pool.size >= POOL_LIMIT) pool = new Map();
  pool.set(s, s);
  return s;
}

/** Starts an empty pool (for tests: a pool filled by others may be cleared in the middle of one). */
export function emptyPool(): void {
  pool = new Map();
}

/** Whether the pool holds `s` now (for tests: what must never be pooled is not). */
export function pooled(s: string): boolean {
  return pool.has(s);
}

/** Replaces, in place, every short string value of a Kubernetes object but its content (see above). */
export function internObject(obj: object): void {
  for (const [k, v] of Object.entries(obj)) {
    if (CONTENT_FIELDS.has(k)) continue;
    internValue(obj as Record<string, unknown>, k, v);
  }
}

function internValue(holder: Record<string, unknown> | unknown[], k: string | number, v: unknown): void {
  if (typeof v === 'string') {
    if (!UNIQUE_FIELDS.has(k as string)) (holder as Record<string | number, unknown>)[k] = intern(v);
  } else if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) internValue(v, i, v[i]);
  } else if (v !== null && typeof v === 'object') {
    for (const [ck, cv] of Object.entries(v)) internValue(v as Record<string, unknown>, ck, cv);
  }
}

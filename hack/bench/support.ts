/** Helpers shared by the benchmarks in hack/bench/. */

/** Runs `fn` over `items` with at most `n` in flight. */
export async function pool<T>(
  items: readonly T[],
  n: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

/** The operator's API writes so far (create, update, apply, patch, delete), from its /metrics. */
export async function scrapeWrites(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^palisade_api_requests_total\{verb="(create|update|apply|patch|delete)".*\} (\d+)/.exec(line);
    if (m) sum += Number(m[2]);
  }
  return sum;
}

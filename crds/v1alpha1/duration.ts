/** Go durations, the API's format for periods (`720h`, `1h30m`, `90s`): see DURATION_PATTERN. */
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };

/** A Go duration in milliseconds; throws on anything else (the CRD schema rejects such values first). */
export function parseDuration(text: string): number {
  const re = /([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let end = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    end = re.lastIndex;
  }
  if (text === '' || end !== text.length) throw new Error(`invalid duration ${JSON.stringify(text)}`);
  return total;
}

/**
 * Test support: how many entries of Maps and Sets code walks, so a test can tell an O(1) step from a scan
 * without timing anything. Counts each step of a Map or Set iterator (for...of, spread, Array.from) and
 * each entry a `forEach` visits, while `fn` runs (including across its awaits).
 */
export async function entriesWalked(fn: () => unknown): Promise<number> {
  const mapIter = Object.getPrototypeOf(new Map().entries()) as { next: (...a: unknown[]) => unknown };
  const setIter = Object.getPrototypeOf(new Set().values()) as { next: (...a: unknown[]) => unknown };
  const saved = {
    mapNext: mapIter.next,
    setNext: setIter.next,
    mapForEach: Map.prototype.forEach,
    setForEach: Set.prototype.forEach,
  };
  let walked = 0;
  mapIter.next = function (this: unknown, ...a: unknown[]) {
    walked++;
    return saved.mapNext.apply(this, a);
  };
  setIter.next = function (this: unknown, ...a: unknown[]) {
    walked++;
    return saved.setNext.apply(this, a);
  };
  Map.prototype.forEach = function (this: Map<unknown, unknown>, ...a) {
    walked += this.size;
    return saved.mapForEach.apply(this, a);
  };
  Set.prototype.forEach = function (this: Set<unknown>, ...a) {
    walked += this.size;
    return saved.setForEach.apply(this, a);
  };
  try {
    await fn();
    return walked;
  } finally {
    mapIter.next = saved.mapNext;
    setIter.next = saved.setNext;
    Map.prototype.forEach = saved.mapForEach;
    Set.prototype.forEach = saved.setForEach;
  }
}

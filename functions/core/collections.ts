/** `items` by `key`, each group in the order of `items`. */
export function groupedBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group === undefined) groups.set(k, [item]);
    else group.push(item);
  }
  return groups;
}

/** How many of `items` have each key, in the order keys are first met; an item whose key is null is not counted. */
export function countedBy<T, K>(items: readonly T[], key: (item: T) => K | null): Map<K, number> {
  const counts = new Map<K, number>();
  for (const item of items) {
    const k = key(item);
    if (k !== null) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

/** `array`, or a copy of it at least twice as long when it holds fewer than `needed` numbers: for one filled a record at a time. */
export function withRoom(array: Uint32Array, needed: number): Uint32Array {
  if (needed <= array.length) return array;
  const grown = new Uint32Array(Math.max(needed, 2 * array.length));
  grown.set(array);
  return grown;
}

/**
 * Pairs of strings, each kept once, by the first then the second: no string joining the two per
 * pair met (one per event or key, each made, flattened and hashed to be looked up).
 */
export class PairSet {
  private readonly byFirst = new Map<string, Set<string>>();

  /** Adds the pair: whether it is new. */
  add(first: string, second: string): boolean {
    let seconds = this.byFirst.get(first);
    if (seconds === undefined) this.byFirst.set(first, (seconds = new Set()));
    if (seconds.has(second)) return false;
    seconds.add(second);
    return true;
  }
}

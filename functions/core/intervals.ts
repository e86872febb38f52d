/**
 * Time ranges as `[start, end)` in epoch ms, and the arithmetic coverage does with them: merged
 * runs, what one set leaves out of another, the holes in a window.
 */

export type Interval = readonly [start: number, end: number];

/** Sorted, overlapping or touching ranges joined. */
export function mergeIntervals(intervals: readonly Interval[]): Interval[] {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

/** The parts of `[from, to)` that no interval covers. */
export function gapsIn(intervals: readonly Interval[], from: number, to: number): Interval[] {
  const gaps: Interval[] = [];
  let cursor = from;
  for (const [s, e] of intervals) {
    if (e <= cursor) continue;
    if (s >= to) break;
    if (s > cursor) gaps.push([cursor, Math.min(s, to)]);
    cursor = Math.max(cursor, e);
    if (cursor >= to) break;
  }
  if (cursor < to) gaps.push([cursor, to]);
  return gaps;
}

/** The parts of `intervals` (sorted, disjoint) outside every one of `removed` (sorted, disjoint). */
export function subtractIntervals(intervals: readonly Interval[], removed: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  for (const [s, e] of intervals) {
    let cursor = s;
    for (const [rs, re] of removed) {
      if (re <= cursor) continue;
      if (rs >= e) break;
      if (rs > cursor) out.push([cursor, rs]);
      cursor = Math.max(cursor, re);
      if (cursor >= e) break;
    }
    if (cursor < e) out.push([cursor, e]);
  }
  return out;
}

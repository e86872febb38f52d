/**
 * A packed month's `counts` (dynamo-evidence-store, `DAYS#` items): `dd:n.n.n.n` per day, days in
 * order, space-separated (`03:2.0.0.0 05:0.0.1.0`). The stage merges a batch's days into a month
 * once per batch for every namespace it saw: parsed into a map and written again, that was a tenth
 * of a fleet run's garbage. Two such texts merge here in one pass: a day in one text only is
 * copied as it is, a day in both is summed.
 */

/** Days in `a` or `b`, their counts summed; null when either is not in the canonical form (the caller then merges another way). */
export function mergeCountsText(a: string, b: string): string | null {
  if (!isCanonical(a) || !isCanonical(b)) return null;
  if (a === '') return b;
  if (b === '') return a;
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const endA = tokenEnd(a, i);
    const endB = tokenEnd(b, j);
    const order = compareDay(a, i, b, j);
    if (order < 0) {
      out.push(a.slice(i, endA));
      i = endA + 1;
    } else if (order > 0) {
      out.push(b.slice(j, endB));
      j = endB + 1;
    } else {
      out.push(sumToken(a.slice(i, endA), b.slice(j, endB)));
      i = endA + 1;
      j = endB + 1;
    }
  }
  if (i < a.length) out.push(a.slice(i));
  if (j < b.length) out.push(b.slice(j));
  return out.join(' ');
}

/** Where the token starting at `from` ends (a space, or the end of the text). */
function tokenEnd(text: string, from: number): number {
  const space = text.indexOf(' ', from);
  return space < 0 ? text.length : space;
}

/** The order of two tokens' days (two digits each). */
function compareDay(a: string, i: number, b: string, j: number): number {
  return a.charCodeAt(i) - b.charCodeAt(j) || a.charCodeAt(i + 1) - b.charCodeAt(j + 1);
}

/** `dd:…` of one day in both texts: its four counts summed. */
function sumToken(x: string, y: string): string {
  const xs = x.slice(3).split('.');
  const ys = y.slice(3).split('.');
  return `${x.slice(0, 3)}${xs.map((n, k) => Number(n) + Number(ys[k])).join('.')}`;
}

/**
 * Empty, or tokens `dd:n.n.n.n` (two-digit day, four counts as String(n) writes them), one space
 * between them, days strictly increasing: what the store writes. Anything else is merged by
 * parsing, as before this pass existed.
 */
function isCanonical(text: string): boolean {
  let at = 0;
  let previousDay = -1;
  while (at < text.length) {
    const d1 = text.charCodeAt(at) - 0x30;
    const d2 = text.charCodeAt(at + 1) - 0x30;
    if (!(d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9) || text.charCodeAt(at + 2) !== 0x3a) return false;
    const day = d1 * 10 + d2;
    if (day <= previousDay) return false;
    previousDay = day;
    at += 3;
    for (let count = 0; count < 4; count += 1) {
      const start = at;
      while (at < text.length) {
        const c = text.charCodeAt(at);
        if (c < 0x30 || c > 0x39) break;
        at += 1;
      }
      // digits as String(n) writes a count: no leading zero, and exact as a number
      if (at === start || at - start > 15 || (text.charCodeAt(start) === 0x30 && at - start > 1)) return false;
      const separator = count < 3 ? 0x2e : 0x20;
      if (at === text.length) return count === 3;
      if (text.charCodeAt(at) !== separator) return false;
      at += 1;
    }
    // after a space, another token must follow
    if (at === text.length) return false;
  }
  return true;
}

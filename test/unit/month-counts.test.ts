import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeCountsText } from '../../functions/adapters/month-counts';

/** The merge read plainly: both texts parsed into days, summed, written back in day order. */
function reference(a: string, b: string): string {
  const days = new Map<string, number[]>();
  for (const text of [a, b]) {
    for (const token of text.split(' ').filter(Boolean)) {
      const [dd, counts] = token.split(':') as [string, string];
      const n = counts.split('.').map(Number);
      const sum = days.get(dd);
      days.set(dd, sum === undefined ? n : sum.map((x, i) => x + (n[i] ?? 0)));
    }
  }
  return [...days.keys()]
    .sort()
    .map((dd) => `${dd}:${(days.get(dd) as number[]).join('.')}`)
    .join(' ');
}

/** A month's counts as the store writes them: some days of 01–31, in order, four counts each. */
const monthText = fc
  .uniqueArray(fc.integer({ min: 1, max: 31 }), { maxLength: 31 })
  .chain((days) => fc.tuple(fc.constant([...days].sort((x, y) => x - y)), fc.array(fc.tuple(fc.nat(50), fc.nat(3), fc.nat(50), fc.nat(3)), { minLength: days.length, maxLength: days.length })))
  .map(([days, counts]) => days.map((d, i) => `${String(d).padStart(2, '0')}:${(counts[i] as number[]).join('.')}`).join(' '));

describe('mergeCountsText: two packed months of daily counts in one pass', () => {
  it('gives what parsing both, summing by day and writing in day order gives', () => {
    fc.assert(
      fc.property(monthText, monthText, (a, b) => {
        expect(mergeCountsText(a, b)).toBe(reference(a, b));
      }),
      { seed: 20261203, numRuns: 3000 },
    );
  });

  it('sums a day in both, copies a day in one, keeps day order', () => {
    expect(mergeCountsText('01:1.0.0.0 03:2.0.1.0', '02:0.0.5.1 03:1.1.0.0')).toBe('01:1.0.0.0 02:0.0.5.1 03:3.1.1.0');
    expect(mergeCountsText('', '07:1.0.0.0')).toBe('07:1.0.0.0');
    expect(mergeCountsText('07:1.0.0.0', '')).toBe('07:1.0.0.0');
  });

  it.each([
    ['a leading zero', '01:01.0.0.0'],
    ['days out of order', '03:1.0.0.0 01:1.0.0.0'],
    ['a day twice', '03:1.0.0.0 03:1.0.0.0'],
    ['three counts', '03:1.0.0'],
    ['a trailing space', '03:1.0.0.0 '],
    ['a one-digit day', '3:1.0.0.0'],
    ['a letter', '03:1.0.x.0'],
    ['a count past 15 digits', '03:1234567890123456.0.0.0'],
  ])('leaves %s to the parsing merge (null)', (_label, text) => {
    expect(mergeCountsText(text, '01:1.0.0.0')).toBeNull();
    expect(mergeCountsText('01:1.0.0.0', text)).toBeNull();
  });
});

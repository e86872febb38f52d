import { describe, expect, it } from 'vitest';
import { EventIdSet } from '../../functions/core/event-id-set';
import { prng } from '../support/prng';

const hex = (rand: () => number, n: number) => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(rand() * 16)]).join('');
const uuid = (rand: () => number) => `${hex(rand, 8)}-${hex(rand, 4)}-${hex(rand, 4)}-${hex(rand, 4)}-${hex(rand, 12)}`;

/** Ids as runs meet them: mostly UUIDs, some sharing their leading digits (the sample fleet's), some not UUIDs at all. */
function randomId(rand: () => number, seen: string[]): string {
  const r = rand();
  if (r < 0.15 && seen.length > 0) return seen[Math.floor(rand() * seen.length)]!; // a repeat
  if (r < 0.55) return uuid(rand);
  if (r < 0.85) return `00000000-${hex(rand, 4)}-4${hex(rand, 3)}-8${hex(rand, 3)}-${hex(rand, 12)}`;
  if (r < 0.9) return uuid(rand).toUpperCase(); // not lowercase: kept as given
  if (r < 0.95) return `e-${Math.floor(rand() * 1000)}`;
  return `${uuid(rand).slice(0, 35)}g`; // a UUID's length, not its digits
}

describe('EventIdSet: a Set of eventIDs in less memory', () => {
  it.each([1, 7, 2026])('answers has, size and the order of its values as a Set<string> of the same adds (seed %i)', (seed) => {
    const rand = prng(seed);
    const set = new Set<string>();
    const ids = new EventIdSet();
    const seen: string[] = [];
    for (let i = 0; i < 5_000; i += 1) {
      const id = randomId(rand, seen);
      seen.push(id);
      // ask before adding, with an id not added yet as often as one that is
      const probe = rand() < 0.5 ? id : randomId(rand, seen);
      expect(ids.has(probe)).toBe(set.has(probe));
      set.add(id);
      ids.add(id);
      expect(ids.size).toBe(set.size);
    }
    expect([...ids]).toEqual([...set]);
    for (const id of seen) expect(ids.has(id)).toBe(true);
  });

  it('gives back a UUID exactly as it came, and keeps any other id as it is', () => {
    const ids = new EventIdSet();
    ids.add('1de3452e-d9f8-4c9c-ad87-514e28b7ec34').add('1DE3452E-D9F8-4C9C-AD87-514E28B7EC34').add('00000000-0000-0000-0000-000000000000').add('replay-1');
    expect([...ids]).toEqual(['1de3452e-d9f8-4c9c-ad87-514e28b7ec34', '1DE3452E-D9F8-4C9C-AD87-514E28B7EC34', '00000000-0000-0000-0000-000000000000', 'replay-1']);
    expect(ids.has('1de3452e-d9f8-4c9c-ad87-514e28b7ec35')).toBe(false);
    expect(ids.has('1de3452ed9f84c9cad87514e28b7ec34')).toBe(false);
  });

  it('keeps the order of UUIDs added before and after the first id that is not one', () => {
    const ids = new EventIdSet();
    const rand = prng(3);
    const first = Array.from({ length: 100 }, () => uuid(rand));
    const later = Array.from({ length: 100 }, () => uuid(rand));
    for (const id of first) ids.add(id);
    ids.add('not-a-uuid');
    for (const id of later) ids.add(id);
    expect([...ids]).toEqual([...first, 'not-a-uuid', ...later]);
  });
});

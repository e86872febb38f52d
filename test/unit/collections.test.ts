import { describe, expect, it } from 'vitest';
import { PairSet, withRoom } from '../../functions/core/collections';

describe('PairSet', () => {
  it('says a pair is new once, whatever its parts hold (no separator two pairs could share)', () => {
    const pairs = new PairSet();
    expect([pairs.add('ROLE#a', 'NS#x'), pairs.add('ROLE#a', 'NS#x'), pairs.add('ROLE#a', 'NS#y'), pairs.add('ROLE#b', 'NS#x')]).toEqual([true, false, true, true]);
    // joined with "|" these two would be one key
    expect([pairs.add('a|b', 'c'), pairs.add('a', 'b|c'), pairs.add('a\u0000b', 'c'), pairs.add('a', 'b\u0000c')]).toEqual([true, true, true, true]);
    expect(pairs.add('', '')).toBe(true);
    expect(pairs.add('', '')).toBe(false);
  });
});

describe('withRoom', () => {
  it('gives the array itself while it has room, else a copy at least twice as long holding its numbers', () => {
    const array = Uint32Array.of(1, 2, 3, 4);
    expect(withRoom(array, 4)).toBe(array);
    const grown = withRoom(array, 5);
    expect([grown.length, [...grown.subarray(0, 4)]]).toEqual([8, [1, 2, 3, 4]]);
    expect(withRoom(array, 20).length).toBe(20);
  });
});

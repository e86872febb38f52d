import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import type { EvidenceItem } from '../../functions/core/evidence';
import { ItemPacker, packedMark } from '../../functions/core/packed-item';
import { prng } from '../support/prng';

const POOLED = new Set(['scope', 'namespace', 'roleArn']);
const NAMES = ['type', 'scope', 'namespace', 'roleArn', 'count', 'firstSeen', 'roles', 'batches', 'flag', 'note', 'ratio', 'gone', ''];

/** Values of every kind the packing holds, the awkward ones often. */
function randomValue(random: () => number, frozen: readonly (readonly string[])[]): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const text = () => pick(['', 'a', 'ns-01', 'arn:aws:iam::111122223333:role/r', 'caf\u00e9 \u00ff\u0080', '2026-10-25T09:42:22Z', '\u0000\u0001\u007f']) + (random() < 0.3 ? String(Math.floor(random() * 1e6)) : '');
  switch (Math.floor(random() * 12)) {
    case 0:
    case 1:
      return text();
    case 2:
      return Math.floor(random() * 300);
    case 3:
      return pick([0, -0, -1, -130, 127, 128, 16_383, 16_384, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 53, -(2 ** 60)]);
    case 4:
      return pick([0.5, -1.25, Math.PI, 1e-300, Number.NaN, Infinity, -Infinity, Number.MIN_VALUE]);
    case 5:
      return random() < 0.5;
    case 6:
      return null;
    case 7:
      return undefined;
    case 8:
      return Array.from({ length: Math.floor(random() * 4) }, text);
    default:
      return pick(frozen);
  }
}

function randomItem(random: () => number, frozen: readonly (readonly string[])[]): EvidenceItem {
  const names = NAMES.filter(() => random() < 0.5);
  // the keys anywhere among the fields, as an item read from the table may have them
  const at = Math.floor(random() * (names.length + 1));
  names.splice(at, 0, 'pk', 'sk');
  const item: Record<string, unknown> = {};
  for (const name of names) item[name] = name === 'pk' ? `SCOPE#c${Math.floor(random() * 3)}` : name === 'sk' ? `SA#${Math.floor(random() * 1e4)}` : randomValue(random, frozen);
  return item as EvidenceItem;
}

describe('ItemPacker', () => {
  it('gives back every item as it was packed: its fields in order, its values exactly, its mark', () => {
    for (let seed = 1; seed <= 40; seed += 1) {
      const random = prng(seed);
      const frozen = [Object.freeze(['b1', 'b2']), Object.freeze([]), Object.freeze(['b3'])];
      const packer = new ItemPacker(POOLED);
      const items = Array.from({ length: 200 }, () => randomItem(random, frozen));
      const packed = items.map((item, i) => packer.pack(item, i * 1_000) as string);
      for (const [i, item] of items.entries()) {
        expect(packed[i], `seed ${seed} item ${i}`).toBeTypeOf('string');
        expect(packedMark(packed[i] as string)).toBe(i * 1_000);
        const back = packer.unpack(item.pk, item.sk, packed[i] as string);
        expect(Object.keys(back), `seed ${seed} item ${i}`).toEqual(Object.keys(item));
        for (const name of Object.keys(item)) {
          const [a, b] = [back[name], item[name]];
          if (Array.isArray(b)) {
            expect(a).toEqual(b);
            // a frozen array is the same array (the stage's tag sets are found by identity); another is new
            expect(a === b).toBe(Object.isFrozen(b));
          } else expect(Object.is(a, b), `seed ${seed} item ${i} field ${name}: ${String(a)} against ${String(b)}`).toBe(true);
        }
      }
    }
  });

  it('gives an item as DynamoDB wire values exactly as the document client marshals it, or none for a number marshalling has its own rules for', () => {
    let marshalled = 0;
    let declined = 0;
    for (let seed = 1; seed <= 40; seed += 1) {
      const random = prng(seed);
      const frozen = [Object.freeze(['b1', 'b2']), Object.freeze([]), Object.freeze(['b3'])];
      const packer = new ItemPacker(POOLED);
      for (const [i, item] of Array.from({ length: 200 }, () => randomItem(random, frozen)).entries()) {
        const packed = packer.pack(item, i) as string;
        const wire = packer.unpackAttributes(item.pk, item.sk, packed);
        const floats = Object.values(item).some((v) => typeof v === 'number' && !(Number.isSafeInteger(v) && !Object.is(v, -0)));
        expect(wire === null, `seed ${seed} item ${i}`).toBe(floats);
        if (wire === null) {
          declined += 1;
          continue;
        }
        marshalled += 1;
        // the fields in the same order too (the request's JSON is the same)
        expect(JSON.stringify(wire), `seed ${seed} item ${i}`).toBe(JSON.stringify(marshall(packer.unpack(item.pk, item.sk, packed), { removeUndefinedValues: true })));
      }
    }
    expect(marshalled).toBeGreaterThan(1000);
    expect(declined).toBeGreaterThan(100);
  });

  it('packs into one-byte strings, the recurring strings held once', () => {
    const packer = new ItemPacker(POOLED);
    const item = { pk: 'SCOPE#c', sk: 'SA#ns#sa', type: 'sa', scope: 'cluster:arn:aws:eks:eu-west-1:111122223333:cluster/payments', namespace: 'payments', firstSeen: '2026-10-25T09:42:22Z', count: 3 } as EvidenceItem;
    const packed = packer.pack(item, 1) as string;
    // the pooled scope and namespace are a few characters each; the timestamp is inline
    expect(packed.length).toBeLessThan(40);
    expect([...packed].every((c) => c.charCodeAt(0) <= 0xff)).toBe(true);
    expect(packer.pooled).toBe(2);
    packer.pack({ ...item, sk: 'SA#ns#other' }, 1);
    expect(packer.pooled).toBe(2);
  });

  it('hands out a new object each time: changing one changes neither the packed item nor the next', () => {
    const packer = new ItemPacker(POOLED);
    const packed = packer.pack({ pk: 'P', sk: 'S', type: 'sa', roles: ['a'], count: 1 } as EvidenceItem, 0) as string;
    const first = packer.unpack('P', 'S', packed);
    first['count'] = 2;
    (first['roles'] as string[]).push('b');
    const second = packer.unpack('P', 'S', packed);
    expect(second).toEqual({ pk: 'P', sk: 'S', type: 'sa', roles: ['a'], count: 1 });
  });

  it('refuses what it cannot give back exactly: a nested map, a non-string element, a character past U+00FF outside the pool, a field named __proto__', () => {
    const packer = new ItemPacker(POOLED);
    const base = { pk: 'P', sk: 'S', type: 'sa' };
    for (const odd of [{ map: { a: 1 } }, { list: ['a', 1] }, { note: 'r\u00e9sum\u00e9 \u2713' }, { set: new Set(['a']) }, JSON.parse('{"__proto__": "x"}')]) {
      expect(packer.pack({ ...base, ...odd } as unknown as EvidenceItem, 0), JSON.stringify(odd)).toBeUndefined();
    }
    // and goes on packing what it can; a pooled string is held as it is, whatever its characters
    const fine = { ...base, note: 'caf\u00e9', namespace: '\u4e2d', roles: ['\u2713'] } as EvidenceItem;
    expect(packer.unpack('P', 'S', packer.pack(fine, 0) as string)).toEqual(fine);
  });
});

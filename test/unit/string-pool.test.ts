import { describe, expect, it } from 'vitest';
import { flatString } from '../../functions/core/string-pool';

describe('flatString', () => {
  it('gives back the same text, whatever it was made of', () => {
    const parts = ['DAY#', 'risk-3202', '#', '2026-10-27'];
    const made = [parts.join(''), `${parts[0]}${parts[1]}${parts[2]}${parts[3]}`, '2026-10-27T00:00:00.000Z'.replace('.000Z', 'Z'), 'naïve café', '日本の名前', ''];
    for (const text of made) expect(flatString(text)).toBe(text);
  });

  it('never normalizes: a text NFC would change is kept as it was', () => {
    // e + combining acute, A + combining ring, a Hangul syllable spelled in jamo: NFC composes each
    for (const text of ['caf\u0065\u0301', 'A\u030Angstr\u00F6m', '\u1100\u1161']) {
      expect(text.normalize()).not.toBe(text);
      expect(flatString(text)).toBe(text);
    }
  });
});

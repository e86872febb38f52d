import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gzipPieces } from '../../functions/core/gzip-pieces';

describe('gzipPieces', () => {
  it('is gzip of the joined text, byte for byte, however the text is cut', async () => {
    // pieces of every size around the 64 K chunk, some with characters of two, three and four UTF-8 bytes
    let seed = 7;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const alphabet = ['a', '{"k":', '1', ',', '→', 'é', '😀', '\n', '"'];
    const pieces = Array.from({ length: 400 }, () => {
      const size = [0, 1, 17, 4_096, 65_535, 65_536, 70_000][Math.floor(next() * 7)]!;
      return Array.from({ length: Math.ceil(size / 8) }, () => alphabet[Math.floor(next() * alphabet.length)]!).join('').slice(0, size);
    });
    const text = pieces.join('');
    expect(text.length).toBeGreaterThan(20 * 65_536);
    for (const level of [1, 9]) {
      const packed = await gzipPieces(pieces, level);
      expect(packed.equals(gzipSync(Buffer.from(text, 'utf8'), { level }))).toBe(true);
    }
    expect(gunzipSync(await gzipPieces([], 1)).toString('utf8')).toBe('');
  });

  it('keeps a surrogate pair whole when a chunk ends between its halves', async () => {
    const pieces = ['x'.repeat(65_535) + '\ud83d', '\ude00 and after'];
    const packed = await gzipPieces(pieces, 6);
    expect(gunzipSync(packed).toString('utf8')).toBe(`${'x'.repeat(65_535)}😀 and after`);
    expect(packed.equals(gzipSync(Buffer.from(pieces.join(''), 'utf8'), { level: 6 }))).toBe(true);
  });
});

import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gzipPieces, gzipPiecesInChunks } from '../../functions/core/gzip-pieces';

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

describe('gzipPiecesInChunks', () => {
  /** Text that level 1 barely compresses, so that it makes many chunks. */
  const noisy = (n: number, seed: number) => {
    let x = seed;
    return Array.from({ length: n }, () => {
      x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
      return x.toString(36);
    }).join(',');
  };

  it('hands over the same gzip in consecutive chunks of the size asked, in order, one at a time', async () => {
    const pieces = Array.from({ length: 200 }, (_, i) => noisy(2_000, i + 1));
    const whole = gzipSync(Buffer.from(pieces.join(''), 'utf8'), { level: 1 });
    const taken: Buffer[] = [];
    let busy = false;
    let overlapped = false;
    const count = await gzipPiecesInChunks(pieces, 1, 100_000, async (chunk) => {
      if (busy) overlapped = true;
      busy = true;
      await new Promise((resolve) => setTimeout(resolve, 1));
      taken.push(Buffer.from(chunk));
      busy = false;
    });
    expect(count).toBe(Math.ceil(whole.length / 100_000));
    expect(count).toBeGreaterThan(10);
    expect(taken.slice(0, -1).every((chunk) => chunk.length === 100_000)).toBe(true);
    expect(Buffer.concat(taken).equals(whole)).toBe(true);
    expect(overlapped).toBe(false);
  });

  it('hands over chunks while the text is still being made', async () => {
    let made = 0;
    const madeWhenTaken: number[] = [];
    function* pieces() {
      for (let i = 0; i < 100; i += 1) {
        made += 1;
        yield noisy(2_000, i + 1);
      }
    }
    await gzipPiecesInChunks(pieces(), 1, 50_000, async () => {
      madeWhenTaken.push(made);
    });
    expect(madeWhenTaken[0]).toBeLessThan(100);
  });

  it('rejects with the failure of a take, and takes nothing after it', async () => {
    const pieces = Array.from({ length: 100 }, (_, i) => noisy(2_000, i + 1));
    let takes = 0;
    await expect(
      gzipPiecesInChunks(pieces, 1, 20_000, async () => {
        takes += 1;
        if (takes === 3) throw new Error('store refused chunk 3');
      }),
    ).rejects.toThrow('store refused chunk 3');
    expect(takes).toBe(3);
  });

  it('hands over one chunk for an empty text (gzip has a header)', async () => {
    const taken: Buffer[] = [];
    expect(await gzipPiecesInChunks([], 1, 1_000, async (chunk) => void taken.push(chunk))).toBe(1);
    expect(gunzipSync(Buffer.concat(taken)).toString('utf8')).toBe('');
  });
});

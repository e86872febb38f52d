import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

/** Characters of text handed to zlib at a time. */
const CHUNK_CHARACTERS = 65_536;

/**
 * The gzip of the pieces' text joined, made as they come: no string or buffer of the whole text is
 * ever held. The bytes are those of `gzipSync` on the whole text at the same level, since deflate
 * without flushes does not depend on how its input is cut.
 *
 * For texts of megabytes (a batch's journal, a report's page data): whole, each was a string and
 * its UTF-8 copy, both too large for V8's young generation, so each lived until the next full
 * collection and grew the heap by twice its size.
 */
export async function gzipPieces(pieces: Iterable<string>, level: number): Promise<Buffer> {
  const out: Buffer[] = [];
  await gzipPiecesInChunks(pieces, level, Infinity, (chunk) => {
    out.push(chunk);
    return Promise.resolve();
  });
  return Buffer.concat(out);
}

/**
 * The same gzip, handed to `take` in consecutive chunks of `chunkBytes` (the last one shorter) as
 * it is made, one `take` at a time and in order, while the text goes on being made and compressed:
 * a stage's journal is written chunk by chunk while the rest of it is still being made, rather than
 * after. When more than two chunks wait for `take`, the making waits for them. Resolves to the number
 * of chunks once every `take` has resolved; rejects with the first `take` that rejects (and takes no more).
 */
export async function gzipPiecesInChunks(
  pieces: Iterable<string>,
  level: number,
  chunkBytes: number,
  take: (chunk: Buffer) => Promise<void>,
): Promise<number> {
  const gzip = createGzip({ level });
  let made: Buffer[] = [];
  let madeBytes = 0;
  let chunks = 0;
  let waiting = 0;
  let taken: Promise<void> = Promise.resolve();
  const hand = (chunk: Buffer) => {
    chunks += 1;
    waiting += 1;
    taken = taken.then(() => {
      waiting -= 1;
      return take(chunk);
    });
    // handled here so that a failure waits, unreported, for the await below that throws it
    taken.catch(() => undefined);
  };
  /** What was made and not handed yet, as one buffer. */
  const joined = () => (made.length === 1 ? (made[0] as Buffer) : Buffer.concat(made, madeBytes));
  gzip.on('data', (data: Buffer) => {
    made.push(data);
    madeBytes += data.length;
    if (madeBytes < chunkBytes) return;
    const all = joined();
    let at = 0;
    for (; all.length - at >= chunkBytes; at += chunkBytes) hand(all.subarray(at, at + chunkBytes));
    made = at < all.length ? [all.subarray(at)] : [];
    madeBytes = all.length - at;
  });
  let pending: string[] = [];
  let pendingLength = 0;
  const write = async (last: boolean) => {
    let text = pending.join('');
    // A pair of UTF-16 surrogates cut between two chunks would be encoded as two U+FFFD: the first half waits for the second.
    const end = text.charCodeAt(text.length - 1);
    const held = !last && end >= 0xd800 && end <= 0xdbff ? text.slice(-1) : '';
    if (held !== '') text = text.slice(0, -1);
    pending = held === '' ? [] : [held];
    pendingLength = held.length;
    if (!gzip.write(text, 'utf8')) await once(gzip, 'drain');
    if (waiting > 2) await taken;
  };
  try {
    for (const piece of pieces) {
      pending.push(piece);
      pendingLength += piece.length;
      if (pendingLength >= CHUNK_CHARACTERS) await write(false);
    }
    await write(true);
    gzip.end();
    await finished(gzip);
  } catch (error) {
    gzip.destroy();
    throw error;
  }
  if (madeBytes > 0 || chunks === 0) hand(joined());
  await taken;
  return chunks;
}

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
  const gzip = createGzip({ level });
  const out: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => out.push(chunk));
  let pending: string[] = [];
  let pendingLength = 0;
  const hand = async (last: boolean) => {
    let chunk = pending.join('');
    // A pair of UTF-16 surrogates cut between two chunks would be encoded as two U+FFFD: the first half waits for the second.
    const end = chunk.charCodeAt(chunk.length - 1);
    const held = !last && end >= 0xd800 && end <= 0xdbff ? chunk.slice(-1) : '';
    if (held !== '') chunk = chunk.slice(0, -1);
    pending = held === '' ? [] : [held];
    pendingLength = held.length;
    if (!gzip.write(chunk, 'utf8')) await once(gzip, 'drain');
  };
  for (const piece of pieces) {
    pending.push(piece);
    pendingLength += piece.length;
    if (pendingLength >= CHUNK_CHARACTERS) await hand(false);
  }
  await hand(true);
  gzip.end();
  await finished(gzip);
  return Buffer.concat(out);
}

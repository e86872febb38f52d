/**
 * Reads CloudTrail's digest files (core/cloudtrail-digest) into coverage: the log files each lists,
 * so that one not read leaves its hours a hole. Shared by `analyze` of folders and of `s3://`
 * prefixes; each hands over how to get a digest's bytes.
 */
import { gunzipSync } from 'node:zlib';
import { CoverageAccumulator } from '../core/coverage';
import { digestName, readDigest } from '../core/cloudtrail-digest';
import type { InputProblem } from '../core/envelopes';
import { mapLimit } from './map-limit';

export interface DigestsRead {
  /** The listed log files, to record as coverage (they only ever take proof away). */
  coverage: CoverageAccumulator;
  /** The digest files read: those whose lists are known. */
  read: string[];
  /** Log files they list (a file listed by two digests, a backfill and its hour's, counts once per digest). */
  listed: number;
  /** Digest files that could not be read or are not digests: reported, and their lists not known. */
  problems: InputProblem[];
}

/**
 * A digest lists an hour's files, a few kB gzipped; a bound keeps a hostile file from taking the
 * memory (an hour of a busy region's files, hundreds of entries of ~400 bytes, is far below it).
 */
const MAX_DIGEST_BYTES = 16 * 1024 * 1024;
/** Digests read at once: small files, many of them (one an hour per account and region). */
const DIGEST_CONCURRENCY = 8;

/** Each digest's list; a digest that cannot be read is a problem named by file and field, and the rest go on. */
export async function readDigests(names: readonly string[], bytesOf: (name: string) => Promise<Buffer>): Promise<DigestsRead> {
  const read: DigestsRead = { coverage: new CoverageAccumulator(), read: [], listed: 0, problems: [] };
  await mapLimit(names, DIGEST_CONCURRENCY, async (name) => {
    let document: unknown;
    try {
      const raw = await bytesOf(name);
      const bytes = raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw, { maxOutputLength: MAX_DIGEST_BYTES }) : raw;
      if (bytes.length > MAX_DIGEST_BYTES) throw new Error(`over ${MAX_DIGEST_BYTES / 1024 / 1024} MB: not a digest file`);
      document = JSON.parse(bytes.toString('utf8'));
    } catch (error) {
      read.problems.push({ type: 'problem', file: name, where: null, reason: `CloudTrail digest file not read (${describe(error)}): the log files it lists are not checked` });
      return;
    }
    const digest = readDigest(document);
    if (!digest.ok) {
      read.problems.push({ type: 'problem', file: name, where: digest.field, reason: `not a usable CloudTrail digest file: ${digest.reason}; the log files it lists are not checked` });
      return;
    }
    read.read.push(name);
    read.listed += digest.listed.length;
    for (const file of digest.listed) read.coverage.addListedFile(file);
    // a backfill digest, or one renamed, is no link of the chain
    const self = digestName(name);
    if (self !== null) read.coverage.addDigest(self, digest.previous);
  });
  return read;
}

function describe(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR') return 'not valid gzip';
  if (code === 'ERR_BUFFER_TOO_LARGE') return `over ${MAX_DIGEST_BYTES / 1024 / 1024} MB: not a digest file`;
  if (error instanceof SyntaxError) return 'not JSON';
  return error instanceof Error ? error.message : String(error);
}

/**
 * Reads CloudTrail log files from disk (or stdin) into records. The only I/O is here: finding
 * files, reading, gunzip. What the JSON holds is decided by core/envelopes.
 *
 * Bad input never throws: every file, directory or line that yields nothing says why as a
 * `problem` item, so one corrupt object in a year of S3 logs does not stop a replay.
 *
 * Memory is bounded whatever the input (a gzip bomb, /dev/zero): files are read and gunzipped
 * as streams, under a cap on the bytes one file may inflate to and on its inflation ratio; a
 * file larger than one record's cap is split into records as it streams (core/json-stream).
 */
import { createHash } from 'node:crypto';
import type { Dirent, Stats } from 'node:fs';
import { createReadStream } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { promisify } from 'node:util';
import { createGunzip, gunzip } from 'node:zlib';
import { readSmallFileOnThread, stopSmallFileThreadWhenIdle, type FileDigest, type ThreadSkim } from './small-file-thread';
import { iterateRecords, jsonErrorMessage } from '../core/envelopes';
import type { InputItem, InputProblem } from '../core/envelopes';
import { JsonStreamSplitter, mebibytes, type SplitItem } from '../core/json-stream';
import { recordsDocument, type RawRecord } from '../core/record-prefilter';
import { columnsBytes } from '../core/event-columns';
import type { Normalizing, SkimmedRecords } from '../core/record-skim';
import { DIGEST_FILE_NAME } from '../core/cloudtrail-digest';

/** What one file may cost. Real CloudTrail log files are a few MB and inflate about 10×. */
export interface ReadLimits {
  /** Bytes one file may hold once inflated; the rest of a larger one is not read. */
  maxFileBytes: number;
  /**
   * Bytes of one record (an element of `Records`, a JSON line); also the size up to which a
   * file is parsed whole rather than streamed. Parsing JSON costs several times its size.
   */
  maxRecordBytes: number;
  /** Inflated bytes per compressed byte a gzip may reach, once past `ratioCheckAfterBytes`. */
  maxInflationRatio: number;
  ratioCheckAfterBytes: number;
}

export const DEFAULT_READ_LIMITS: ReadLimits = {
  maxFileBytes: 256 * 1024 * 1024,
  maxRecordBytes: 16 * 1024 * 1024,
  maxInflationRatio: 100,
  ratioCheckAfterBytes: 8 * 1024 * 1024,
};

/** The path that means "read standard input". */
export const STDIN = '-';

export interface InputFiles {
  files: string[];
  /** CloudTrail's digest files found (in `CloudTrail-Digest/` folders, or named as one): not records, the lists the log files are checked against. */
  digests: string[];
  problems: InputProblem[];
}

/**
 * Extensions taken when walking a directory. CloudTrail writes `.json.gz`; the others are what
 * people save LookupEvents output, EventBridge archives and SQS dumps as.
 */
const LOG_EXTENSIONS = ['.json', '.json.gz', '.jsonl', '.jsonl.gz', '.ndjson', '.ndjson.gz'];

/**
 * Folders CloudTrail writes beside `CloudTrail/` in the S3 layout. Digest files are `.json.gz`
 * but hold the lists of log files delivered (read apart: adapters/cloudtrail-digests), not
 * records; Insights files hold Insights events, not API calls.
 */
const DIGEST_FOLDER = 'CloudTrail-Digest';
const SKIPPED_FOLDERS = new Set(['CloudTrail-Insight']);
/** The same files found outside their folder (e.g. after a flattening copy), by S3 object name. */
const SKIPPED_NAME = /_CloudTrail-(?:Digest|Insight)_/;

function isLogFileName(name: string): boolean {
  const lower = name.toLowerCase();
  return LOG_EXTENSIONS.some((ext) => lower.endsWith(ext)) && !SKIPPED_NAME.test(name);
}

function problem(file: string, reason: string, where: string | null = null): InputProblem {
  return { type: 'problem', file, where, reason };
}

/** Node's messages repeat the syscall and path (`ENOENT: no such file or directory, open 'x'`); the item already names the file. */
function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'not a directory';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

interface Candidate {
  /** As given or as found (directory as given + relative path): what messages show. */
  shown: string;
  /** Real path, so the same file reached twice (named and under a directory, or by a symlink) is read once. */
  identity: string;
}

/** Files and directories (recursive) → the log files under them, sorted, deduplicated. */
export async function listInputFiles(paths: string[], options: { skipFolders?: readonly string[] } = {}): Promise<InputFiles> {
  const candidates: Candidate[] = [];
  const digests: Candidate[] = [];
  const problems: InputProblem[] = [];
  const skipped = new Set(await Promise.all((options.skipFolders ?? []).map(folderIdentity)));

  for (const given of paths) {
    if (given === STDIN) {
      candidates.push({ shown: STDIN, identity: STDIN });
      continue;
    }
    let info: Stats;
    try {
      info = await stat(given);
    } catch (err) {
      problems.push(problem(given, describeFsError(err)));
      continue;
    }
    if (!info.isDirectory()) {
      // Named explicitly: taken whatever the extension (it may be a FIFO or /dev/stdin too), a digest as a digest.
      (DIGEST_FILE_NAME.test(path.basename(given)) ? digests : candidates).push({ shown: given, identity: await realpathOr(given) });
      continue;
    }
    // Each root gets its own visited set: with a shared one, `logs logs/2024` would find
    // `logs/2024` already visited and wrongly report it empty. Duplicates go at the end.
    const found: Candidate[] = [];
    const before = problems.length;
    await walk(given, new Set(), { found, digests, problems, skipped, inDigests: path.basename(path.resolve(given)) === DIGEST_FOLDER });
    // An unreadable root already has its problem; "no log files" on top would be noise.
    const rootUnreadable = problems.slice(before).some((p) => p.file === given);
    if (found.length === 0 && !rootUnreadable) {
      problems.push(problem(given, `no CloudTrail log files (.json, .json.gz, .jsonl) under ${given}`));
    }
    for (const c of found) candidates.push(c);
  }

  return { files: distinct(candidates), digests: distinct(digests), problems };
}

/** Code-unit order, not locale order: deterministic, and S3 object names sort by delivery time. Each file once. */
function distinct(candidates: Candidate[]): string[] {
  candidates.sort((a, b) => (a.shown < b.shown ? -1 : a.shown > b.shown ? 1 : 0));
  const seen = new Set<string>();
  const files: string[] = [];
  for (const c of candidates) {
    if (seen.has(c.identity)) continue;
    seen.add(c.identity);
    files.push(c.shown);
  }
  return files;
}

async function realpathOr(p: string): Promise<string> {
  try {
    return await realpath(p);
  } catch {
    return path.resolve(p);
  }
}

/**
 * A folder's real path, as the walk would see it, also before it exists: the real path of its
 * nearest existing parent, then the rest of its path. The store's own folder is listed as skipped
 * while the store opens (analyze lists its paths meanwhile), and may be made during the walk: under
 * a symlinked parent, the path as given would not be the identity the walk finds it at.
 */
export async function folderIdentity(p: string): Promise<string> {
  const resolved = path.resolve(p);
  try {
    return await realpath(resolved);
  } catch {
    const parent = path.dirname(resolved);
    return parent === resolved ? resolved : path.join(await folderIdentity(parent), path.basename(resolved));
  }
}

interface Walk {
  found: Candidate[];
  digests: Candidate[];
  problems: InputProblem[];
  /**
   * Real paths of folders left out when met below a root (the store's own folder: its
   * rejects.jsonl and alerts.jsonl are `.jsonl`, and `analyze .` beside the default store read them
   * as bad records, more each run). A root inside one is walked (the demo's logs are in its store).
   */
  skipped: ReadonlySet<string>;
  /** Below a `CloudTrail-Digest/` folder: only digest files are taken, as digests. */
  inDigests: boolean;
}

async function walk(dir: string, visited: Set<string>, into: Walk): Promise<void> {
  const { found, digests, problems, skipped, inDigests } = into;
  let real: string;
  let entries: Dirent[];
  try {
    real = await realpath(dir);
    // A symlink back up the tree would otherwise recurse forever.
    if (visited.has(real)) return;
    visited.add(real);
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    problems.push(problem(dir, describeFsError(err)));
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    let isDir = entry.isDirectory();
    let isFile = entry.isFile();
    let identity = path.join(real, entry.name);
    if (entry.isSymbolicLink()) {
      try {
        const target = await stat(full);
        isDir = target.isDirectory();
        isFile = target.isFile();
        identity = await realpath(full);
      } catch (err) {
        // A dangling link that looks like a log file is reported; other dangling links are noise.
        if (isLogFileName(entry.name)) problems.push(problem(full, describeFsError(err)));
        continue;
      }
    }
    if (isDir) {
      if (!SKIPPED_FOLDERS.has(entry.name) && !skipped.has(identity)) await walk(full, visited, { ...into, inDigests: inDigests || entry.name === DIGEST_FOLDER });
    } else if (isFile && DIGEST_FILE_NAME.test(entry.name)) {
      digests.push({ shown: full, identity });
    } else if (isFile && !inDigests && isLogFileName(entry.name)) {
      found.push({ shown: full, identity });
    }
    // Sockets, FIFOs and devices found by walking are skipped: reading one could block forever.
  }
}

/** Why reading stopped: the item to yield, whatever was read before it. */
class ReadStop extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

function isZlibError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/**
 * The file's bytes, inflated when they are gzip (detected by content: S3 downloads lose or gain
 * `.gz` freely), in chunks, under the limits. Throws ReadStop.
 */
async function* inflatedChunks(file: string, stdin: Readable, limits: ReadLimits): AsyncGenerator<Buffer> {
  // Small reads keep the inflation ratio measured closely: a bomb is refused within megabytes.
  const source: Readable = file === STDIN ? stdin : createReadStream(file, { highWaterMark: 64 * 1024 });
  let compressed = 0;
  let inflated = 0;
  const raw = (async function* () {
    for await (const chunk of source) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      compressed += bytes.length;
      yield bytes;
    }
  })();
  const fsError = (err: unknown) => new ReadStop(describeFsError(err));
  try {
    // Two bytes decide gzip or not; a first chunk of one byte (a pipe) is joined with the next.
    let first: Buffer = Buffer.alloc(0);
    while (first.length < 2) {
      let next: IteratorResult<Buffer>;
      try {
        next = await raw.next();
      } catch (err) {
        throw fsError(err);
      }
      if (next.done) break;
      first = first.length === 0 ? next.value : Buffer.concat([first, next.value]);
    }
    const counted = (bytes: Buffer): Buffer => {
      inflated += bytes.length;
      if (inflated > limits.maxFileBytes) {
        throw new ReadStop(`larger than ${mebibytes(limits.maxFileBytes)}${compressed > 0 && inflated > compressed ? ' once inflated' : ''} (the cap on one file): the rest is not read`);
      }
      return bytes;
    };
    if (!(first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b)) {
      if (first.length > 0) yield counted(first);
      try {
        for (;;) {
          const next = await raw.next();
          if (next.done) break;
          yield counted(next.value);
        }
      } catch (err) {
        if (err instanceof ReadStop) throw err;
        throw fsError(err);
      }
      return;
    }

    const gunzip = createGunzip();
    let sourceError: unknown = null;
    const input = (async function* () {
      yield first;
      try {
        yield* raw;
      } catch (err) {
        sourceError = err;
        throw err;
      }
    })();
    pipeline(input, gunzip, () => {
      // Errors surface through the iteration below; this only keeps them from being unhandled.
    });
    try {
      for await (const chunk of gunzip) {
        const bytes = counted(chunk as Buffer);
        if (inflated > limits.ratioCheckAfterBytes && inflated > compressed * limits.maxInflationRatio) {
          throw new ReadStop(
            `gzip inflates more than ${limits.maxInflationRatio}× (${mebibytes(inflated)} from ${mebibytes(compressed)} read): refused as a likely gzip bomb`,
          );
        }
        yield bytes;
      }
    } catch (err) {
      if (err instanceof ReadStop) throw err;
      if (sourceError !== null) throw fsError(sourceError);
      if (isZlibError(err)) throw new ReadStop(`truncated or corrupt gzip (${err instanceof Error ? err.message : String(err)})`);
      throw fsError(err);
    } finally {
      gunzip.destroy();
    }
  } finally {
    // Stops the read at once (a cap hit on /dev/zero or a FIFO must not leave it running).
    await raw.return(undefined);
    if (file !== STDIN) source.destroy();
  }
}

/**
 * Every record (or problem) in one file; `-` reads stdin. Never throws for bad content.
 *
 * A file up to `maxRecordBytes` is parsed whole: tried as one JSON document first, then as
 * JSON Lines. A JSON Lines file with bad lines gives one problem per bad line and the other
 * lines' records; a file with no usable line gives a single `not JSON` problem, because a
 * broken pretty-printed document would otherwise produce one problem per line.
 *
 * A larger file is split as it streams (core/json-stream): the records before a break or a cap
 * are kept, and the break or the cap is the last item.
 *
 * @param options.stdin read instead of `process.stdin` for `-` (tests)
 */
export async function* readRecords(file: string, options: Pick<ReadOptions, 'stdin' | 'limits' | 'contents'> = {}): AsyncGenerator<InputItem> {
  for await (const chunk of readRecordChunks(file, options)) yield* chunk;
}

/** Items handed over per chunk by `readRecordChunks`: each await costs far more than a record. */
const CHUNK_ITEMS = 1024;

export interface ReadOptions {
  /** What `-` reads. @default process.stdin */
  stdin?: Readable;
  limits?: Partial<ReadLimits>;
  /**
   * Hand over a trail log file's records (`{"Records":[…]}`) as `RawRecord`s: validated and
   * skeletoned in one pass, not parsed (core/record-prefilter), for a caller that parses only the
   * ones its rules may want. Every other item, and every file of another shape (or not valid JSON
   * whole), is what the parsed reading gives.
   */
  raw?: boolean;
  /**
   * With `raw`: a small log file's records come skimmed by the reading thread, as one
   * `SkimmedRecords` (core/record-skim), for a caller that decides records per key. Any file the
   * thread did not skim comes as `raw` gives it.
   */
  skim?: boolean;
  /**
   * With `skim`: the clock and event time window the reading thread normalizes a skimmed file's
   * identity calls with (core/record-skim `SkimEvents`), asked for when the file's reading starts.
   */
  normalizing?: () => Normalizing;
  /**
   * For a caller that records the files it read by content (ingest-pipeline `analyzePaths`): a
   * file read on the reading thread is given to `digested` with the sha256 of the very bytes read
   * (compressed or not); a file read any other way (streamed, or on libuv's pool) waits for
   * `digestFirst` to hash it before it is read, so that a file changed after its hash is read again
   * by the next run. stdin is neither.
   */
  digests?: { digested(file: string, digest: FileDigest): void; digestFirst(file: string): Promise<void> };
  /**
   * For a caller that checks files against CloudTrail's digests (which list the SHA-256 of each
   * log file's uncompressed bytes): given the SHA-256 of a file's bytes once inflated, when the
   * whole file was read, before its last items are handed over.
   */
  contents?(file: string, sha256: string): void;
}

/**
 * `readRecords`, in order, a chunk of items at a time: what a caller that reads hundreds of
 * thousands of records uses, so the async hand-over is paid per chunk rather than per record.
 * Memory stays bounded as before: a chunk is a slice of what is already parsed.
 */
export function readRecordChunks(file: string, options?: ReadOptions & { raw?: false }): AsyncGenerator<InputItem[]>;
export function readRecordChunks(file: string, options: ReadOptions & { raw: true; skim?: false }): AsyncGenerator<SplitItem[]>;
export function readRecordChunks(file: string, options: ReadOptions): AsyncGenerator<(SplitItem | SkimmedRecords)[]>;
export async function* readRecordChunks(file: string, options: ReadOptions = {}): AsyncGenerator<(SplitItem | SkimmedRecords)[]> {
  const limits = { ...DEFAULT_READ_LIMITS, ...options.limits };
  const raw = options.raw === true;
  const digests = options.digests === undefined || file === STDIN ? undefined : fileDigests(file, options.digests);
  const contents = options.contents === undefined ? undefined : (sha256: string) => options.contents?.(file, sha256);
  const small = file === STDIN ? null : await readSmallFile(file, limits, raw && options.skim === true, digests, options.normalizing, contents);
  if (small !== null) {
    if (!small.ok) yield [problem(file, small.reason)];
    else if (small.skim) yield [{ type: 'skimmed', file, bytes: small.bytes, ...small.skim }];
    else yield* chunked(whole(file, small.bytes, raw));
    return;
  }
  await digests?.digestFirst();
  const head: Buffer[] = [];
  let headBytes = 0;
  let splitter: JsonStreamSplitter<SplitItem> | null = null;
  const content = contents === undefined ? null : createHash('sha256');
  try {
    for await (const chunk of inflatedChunks(file, options.stdin ?? process.stdin, limits)) {
      content?.update(chunk);
      if (splitter !== null) {
        const items = splitter.push(chunk);
        if (items.length > 0) yield items;
        if (splitter.done) return;
        continue;
      }
      head.push(chunk);
      headBytes += chunk.length;
      if (headBytes > limits.maxRecordBytes) {
        const bytes = Buffer.concat(head);
        head.length = 0;
        // Windows tools (PowerShell's Out-File, Notepad) prepend a BOM.
        const body = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
        splitter = new JsonStreamSplitter<SplitItem>(file, limits, body.subarray(0, 4096).toString('utf8'), { raw });
        const items = splitter.push(body);
        if (items.length > 0) yield items;
        if (splitter.done) return;
      }
    }
  } catch (err) {
    if (!(err instanceof ReadStop)) throw err;
    yield [problem(file, err.reason)];
    return;
  }
  // read to its end: what a digest's hash is of
  if (content !== null) contents?.(content.digest('hex'));
  if (splitter !== null) {
    const items = splitter.end();
    if (items.length > 0) yield items;
    return;
  }
  yield* chunked(whole(file, Buffer.concat(head), raw));
}

/**
 * Files, in order, as named units of chunks, each file's reading (stat, read, gunzip and the skim
 * on the reading thread, the first chunk's scan) started before the caller reaches it, so that it
 * overlaps the caller's work (normalizing, waiting on the store) instead of following it. Files
 * are started as earlier ones finish, not only when the caller asks: while the caller stores a
 * batch (seconds at fleet scale), the reading thread goes on. Bounded three ways: READ_IN_FLIGHT
 * files being read at once, READ_AHEAD_FILES read and waiting, and READ_AHEAD_BYTES of what they
 * hold (a skimmed log file holds only its records a rule may want, a tenth of it). A unit must be
 * read to its end (or the generator closed) before the next is asked for.
 */
export function readFilesAhead(files: readonly string[], options: ReadOptions & { raw: true; skim?: false }): AsyncGenerator<{ name: string; items: AsyncIterable<SplitItem[]> }>;
export function readFilesAhead(files: readonly string[], options: ReadOptions & { raw: true }): AsyncGenerator<{ name: string; items: AsyncIterable<(SplitItem | SkimmedRecords)[]> }>;
export function readFilesAhead(files: readonly string[], options: ReadOptions & { raw: true }): AsyncGenerator<{ name: string; items: AsyncIterable<(SplitItem | SkimmedRecords)[]> }> {
  return readAhead(files, (file) => readRecordChunks(file, options));
}

/**
 * `readFilesAhead`'s scheduling over any reading of a file into chunks (`readRecordChunks`; a test
 * gives one whose reads finish when it says).
 */
export async function* readAhead(files: readonly string[], read: (file: string) => AsyncGenerator<(SplitItem | SkimmedRecords)[]>): AsyncGenerator<{ name: string; items: AsyncIterable<(SplitItem | SkimmedRecords)[]> }> {
  interface Ahead {
    chunks: AsyncGenerator<(SplitItem | SkimmedRecords)[]>;
    items: AsyncIterable<(SplitItem | SkimmedRecords)[]>;
    /** What its first chunk holds, once read (null while reading). */
    held: number | null;
  }
  const ahead: Ahead[] = [];
  let started = 0;
  let reading = 0;
  let heldBytes = 0;
  // What the files read so far held, on average: what each file still being read is counted at.
  let finishedFiles = 0;
  let finishedBytes = 0;
  const budget = new ReadAheadBudget();
  let closed = false;
  const start = (file: string) => {
    const chunks = read(file);
    const { first, iteration } = startedNow(chunks);
    const entry: Ahead = { chunks, held: null, items: iteration };
    reading += 1;
    first.then(
      (got) => finished(entry, got.done ? 0 : heldBy(got.value)),
      () => finished(entry, 0),
    );
    ahead.push(entry);
  };
  const finished = (entry: Ahead, held: number) => {
    reading -= 1;
    finishedFiles += 1;
    finishedBytes += held;
    // handed over meanwhile: what it holds is the caller's now
    if (ahead.includes(entry)) {
      entry.held = held;
      heldBytes += held;
    }
    refill(-1);
  };
  /** Starts what the bounds allow, and at least file `needed` (the caller waits for it). */
  const refill = (needed: number) => {
    while (!closed && started < files.length && (started <= needed || mayReadAhead({ reading, waiting: ahead.length, heldBytes, finishedFiles, finishedBytes, bound: budget.bytes }))) {
      start(files[started++] as string);
    }
  };
  try {
    for (let i = 0; i < files.length; i++) {
      refill(i);
      const current = ahead.shift() as Ahead;
      if (current.held !== null) {
        heldBytes -= current.held;
        budget.callerDidNotWait();
      }
      // the caller is about to wait for the reading thread (counted once past the first files, which it always waits for)
      else if (finishedFiles >= READ_IN_FLIGHT_AT_START) budget.callerWaited(finishedBytes / finishedFiles);
      yield { name: files[i] as string, items: current.items };
    }
  } finally {
    closed = true;
    await Promise.all(ahead.map((a) => a.chunks.return(undefined)));
    // What comes next (analyze's write-out) is where the run's peak is: the thread's heap goes first.
    stopSmallFileThreadWhenIdle();
  }
}

/**
 * Takes an async generator's first step now and iterates it from there, so that what the step
 * starts (a file's reading) overlaps what the caller does before it asks. The step's error is
 * thrown where the iteration reaches it; until then it does not count as unhandled.
 */
export function startedNow<T>(generator: AsyncGenerator<T>): { first: Promise<IteratorResult<T>>; iteration: AsyncGenerator<T> } {
  const first = generator.next();
  first.catch(() => undefined);
  const iteration = (async function* () {
    try {
      for (let got = await first; got.done !== true; got = await generator.next()) yield got.value;
    } finally {
      await generator.return(undefined);
    }
  })();
  return { first, iteration };
}

/**
 * Files asked of the reading thread at once (it takes them one by one). New ones are asked for
 * when earlier ones arrive, which the caller's thread sees only between its own tasks: with 4,
 * the reading thread ran dry during each synchronous stretch of a batch's work, and analyze waited
 * on it 8 s of a 43 s fleet run (1.5 s with 64). With 64 it still ran dry in each of a batch's
 * stretches on the fleet preset (~0.75 s of the caller's work, ~220 of its files' reading): the
 * caller then waited on it, and each thread was idle a third of the time in turn (9.9 and 5.0 s of
 * a 28 s run, 2026-12-05). The bytes bound below is what limits memory.
 */
const READ_IN_FLIGHT = 256;
/** The files the caller always waits for, before any is read: its waits count from then on. */
const READ_IN_FLIGHT_AT_START = 64;
/**
 * Files read and waiting for the caller. Enough for the reading thread to go on through a batch's
 * store work (~2 s, ~600 trail files at fleet scale; with 64 it idled most of each); the bytes
 * bound below is what limits memory.
 */
const READ_AHEAD_FILES = 1024;
/**
 * Bytes those files may hold, the ones still being read counted at the average so far: counted only
 * once read, 64 files in flight held another 45 MB where a file keeps half its records (20,000
 * namespaces, half the trail in scope), on top of these. Where the main thread is the slower one
 * (20,000 namespaces and more) the read-ahead is always full: 32 MB held analyze's peak ~10 MB
 * higher than 8 (four alternated runs each, 2026-12-04), and 8 held it ~5 MiB higher than 4 at
 * 40,000 namespaces (479 and 479 MiB against 475 and 470, 2026-12-05). Where the reading thread
 * is the slower one (the fleet preset, 90 % of its records unrelated, a file keeping ~116 KB), the
 * bound grows while the caller waits for it (`ReadAheadBudget`): with 256 files and 16 MB, 27.5
 * and 27.3 s against 29.6 and 30.3 with 64 and 4 MB (2026-12-05), the caller idle 5.2 s instead of
 * 9.9 and the reading thread hardly at all; its peak 371–373 MiB against 343–355.
 */
const READ_AHEAD_BYTES = 4 * 1024 * 1024;
const READ_AHEAD_MAX_BYTES = 16 * 1024 * 1024;
/** What a file keeps on average, at most, for the read-ahead to grow (`ReadAheadBudget`). */
const SMALL_KEPT_BYTES = 256 * 1024;

/**
 * The read-ahead's bytes bound: READ_AHEAD_BYTES while the caller finds each file read when it gets
 * to it, doubled up to READ_AHEAD_MAX_BYTES each time it has to wait for one while the files keep
 * little (under SMALL_KEPT_BYTES on average), and back down a sixty-fourth of the excess with each
 * file it finds read. Where files keep little (most of their records skipped), reading far ahead
 * costs little and the reading is what the run waits on; where they keep much, the caller waits
 * too, for a moment after each batch, but the run is bound by its own work: at 40,000 namespaces
 * (~650 KB kept a file) growing there too gave the same times and a peak 3–15 MiB higher.
 */
export class ReadAheadBudget {
  bytes = READ_AHEAD_BYTES;

  /** The caller waits for a file; the files read so far kept `perFile` bytes on average. */
  callerWaited(perFile: number): void {
    if (perFile < SMALL_KEPT_BYTES) this.bytes = Math.min(READ_AHEAD_MAX_BYTES, this.bytes * 2);
  }

  callerDidNotWait(): void {
    this.bytes -= (this.bytes - READ_AHEAD_BYTES) / 64;
  }
}

/**
 * What a file still being read is counted at before any has finished (after, at the average of those
 * that have). Counted at nothing, every file the first refill could start was started at once, and
 * their bytes arrived together while the run was still opening: at 40,000 namespaces (a file keeps
 * half its records, ~650 KB) ~40 MB in the reading thread's malloc arena, which glibc kept for the
 * whole run; counted at 1 MiB, 8 files start, then the average takes over. Alternated runs: 522–528
 * MiB against 531–550 at 40,000 namespaces, 462 against 469 at 20,000, 374–381 against 385–412 on
 * the fleet preset, in the same times.
 */
const FIRST_FILES_GUESS = 1024 * 1024;

/**
 * Whether the read-ahead may start one more file: fewer than READ_IN_FLIGHT being read, fewer than
 * READ_AHEAD_FILES waiting for the caller, and the bytes those hold under READ_AHEAD_BYTES, each
 * file still being read counted at the average so far (FIRST_FILES_GUESS before any has finished).
 */
export function mayReadAhead(state: { reading: number; waiting: number; heldBytes: number; finishedFiles: number; finishedBytes: number; bound?: number }): boolean {
  const perFile = state.finishedFiles === 0 ? FIRST_FILES_GUESS : state.finishedBytes / state.finishedFiles;
  return state.reading < READ_IN_FLIGHT && state.waiting < READ_AHEAD_FILES && state.heldBytes + state.reading * perFile < (state.bound ?? READ_AHEAD_BYTES);
}

/** Bytes a chunk holds, roughly: its records' bytes (a skimmed file's are what it kept, and the events normalized from them). */
function heldBy(chunk: readonly (SplitItem | SkimmedRecords)[]): number {
  let bytes = 0;
  for (const item of chunk) {
    if (item.type !== 'skimmed') bytes += item.type === 'raw' ? item.bytes.length : 1024;
    else bytes += item.bytes.length + item.records.byteLength + (item.events ? item.events.of.byteLength + columnsBytes(item.events) : 0);
  }
  return bytes;
}

/** A file read whole: its records unparsed when asked and it is a valid log file, else parsed. */
function whole(file: string, bytes: Buffer, raw: boolean): Iterable<InputItem | RawRecord> {
  return (raw ? recordsDocument(file, bytes) : null) ?? parseWhole(file, bytes);
}

function* chunked<T>(items: Iterable<T>): Generator<T[]> {
  let chunk: T[] = [];
  for (const item of items) {
    chunk.push(item);
    if (chunk.length >= CHUNK_ITEMS) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

const gunzipAsync = promisify(gunzip);

/** Files up to this size are read in one call: the usual CloudTrail log file, read as fast as before streaming. */
const SMALL_FILE_BYTES = 1024 * 1024;

/**
 * A small regular file read whole, and gunzipped with an output bound, when it is within every
 * limit; null when it needs the streaming path (large, a device or FIFO, or inflating past what
 * the streaming path would parse whole), which then reads it and says why. Read on a thread of its
 * own (small-file-thread.ts), or on libuv's pool when there is none.
 */
/** `ReadOptions.digests` for one file: hashed first at most once (a reading on the pool may hand the file on to the streaming path). */
interface FileDigests {
  digested(digest: FileDigest): void;
  digestFirst(): Promise<void>;
}

function fileDigests(file: string, digests: NonNullable<ReadOptions['digests']>): FileDigests {
  let first: Promise<void> | undefined;
  return { digested: (digest) => digests.digested(file, digest), digestFirst: () => (first ??= digests.digestFirst(file)) };
}

async function readSmallFile(
  file: string,
  limits: ReadLimits,
  skim: boolean,
  digests: FileDigests | undefined,
  normalizing: (() => Normalizing) | undefined,
  contents: ((sha256: string) => void) | undefined,
): Promise<{ ok: true; bytes: Buffer; skim?: ThreadSkim | null } | { ok: false; reason: string } | null> {
  const maxSmallBytes = Math.min(SMALL_FILE_BYTES, limits.maxRecordBytes);
  // absolute: the thread reads it later, and a test may change the working directory meanwhile
  const read = await readSmallFileOnThread(path.resolve(file), { ...limits, maxSmallBytes }, skim, digests !== undefined, skim ? normalizing?.() : undefined, contents !== undefined);
  switch (read.kind) {
    case 'bytes':
      if (read.digest !== undefined) digests?.digested(read.digest);
      if (read.content !== undefined) contents?.(read.content);
      return { ok: true, bytes: read.bytes, skim: read.skim };
    case 'stream':
      return null;
    case 'fs-error':
      return smallFileFsError(read);
    case 'gzip-error':
      return { ok: false, reason: `truncated or corrupt gzip (${read.message})` };
    case 'unavailable': {
      await digests?.digestFirst();
      const pooled = await readSmallFileOnPool(file, limits, maxSmallBytes);
      if (pooled?.ok === true && contents !== undefined) contents(createHash('sha256').update(pooled.bytes).digest('hex'));
      return pooled;
    }
  }
}

/** ENOENT and EACCES are named here; the streaming path names the rest (EISDIR and the like), exactly as for larger files. */
function smallFileFsError(err: { code?: string | undefined }): { ok: false; reason: string } | null {
  return err.code === 'ENOENT' || err.code === 'EACCES' ? { ok: false, reason: describeFsError(err) } : null;
}

async function readSmallFileOnPool(file: string, limits: ReadLimits, maxSmallBytes: number): Promise<{ ok: true; bytes: Buffer } | { ok: false; reason: string } | null> {
  let bytes: Buffer;
  try {
    const info = await stat(file);
    if (!info.isFile() || info.size > maxSmallBytes) return null;
    bytes = await readFile(file);
  } catch (err) {
    return smallFileFsError(err as NodeJS.ErrnoException);
  }
  if (!(bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b)) return bytes.length > limits.maxRecordBytes ? null : { ok: true, bytes };
  return inflateWhole(bytes, limits);
}

/** Bad lines held while no line has shown the file is JSON Lines; past this it is not. */
const HELD_PROBLEMS = 1000;

function* parseWhole(file: string, bytes: Buffer): Generator<InputItem> {
  let text = bytes.toString('utf8');
  // Windows tools (PowerShell's Out-File, Notepad) prepend a BOM, which JSON.parse rejects.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') {
    yield problem(file, 'empty file');
    return;
  }

  let whole: { ok: true; doc: unknown } | { ok: false; error: string };
  try {
    whole = { ok: true, doc: JSON.parse(text) };
  } catch (err) {
    whole = { ok: false, error: jsonErrorMessage(err) };
  }
  if (whole.ok) {
    yield* iterateRecords(whole.doc, file);
    return;
  }

  const held: InputItem[] = [];
  let usableLines = 0;
  let at = 0;
  for (let lineNo = 1; at <= text.length; lineNo++) {
    const nl = text.indexOf('\n', at);
    const line = text.slice(at, nl === -1 ? text.length : nl);
    at = nl === -1 ? text.length + 1 : nl + 1;
    if (line.trim() === '') continue;
    const where = `line ${lineNo}`;
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch (err) {
      const bad = problem(file, `not JSON: ${jsonErrorMessage(err)}`, where);
      if (usableLines > 0) yield bad;
      else if (held.length < HELD_PROBLEMS) held.push(bad);
      else break;
      continue;
    }
    // Only an object or array line shows this is JSON Lines: a broken pretty-printed file
    // has lines such as `"arn:aws:iam::…:role/x"` that parse on their own.
    if (typeof doc === 'object' && doc !== null && usableLines++ === 0) yield* held.splice(0);
    if (usableLines === 0) {
      for (const item of iterateRecords(doc, file, where)) {
        if (held.length < HELD_PROBLEMS) held.push(item);
      }
    } else {
      yield* iterateRecords(doc, file, where);
    }
  }

  if (usableLines === 0) yield problem(file, `not JSON: ${whole.error}`);
}

/**
 * Every record (or problem) of one object read from elsewhere (an S3 GetObject body), under the
 * same gzip detection, caps and parser as a file, with `name` as the `file` of its items. A body
 * already in memory is inflated in one call, as a small file is; a stream is destroyed once
 * reading stops, so a cap hit does not leave a download running.
 */
export async function* readRecordsFromStream(name: string, source: Readable | Buffer, options: { limits?: Partial<ReadLimits>; contents?: (sha256: string) => void } = {}): AsyncGenerator<InputItem> {
  if (Buffer.isBuffer(source)) {
    const limits = { ...DEFAULT_READ_LIMITS, ...options.limits };
    const whole = source.length <= limits.maxRecordBytes ? await inflateWhole(source, limits) : null;
    if (whole !== null) {
      if (whole.ok) {
        options.contents?.(createHash('sha256').update(whole.bytes).digest('hex'));
        yield* parseWhole(name, whole.bytes);
      } else yield problem(name, whole.reason);
      return;
    }
  }
  const stream = Buffer.isBuffer(source) ? Readable.from([source]) : source;
  const contents = options.contents;
  try {
    for await (const item of readRecords(STDIN, { stdin: stream, limits: options.limits, ...(contents === undefined ? {} : { contents: (_file, sha256) => contents(sha256) }) })) {
      yield item.file === STDIN ? { ...item, file: name } : item;
    }
  } finally {
    stream.destroy();
  }
}

/** Inflates a gzip body in memory within the caps: null when it needs the streaming path (too large). */
async function inflateWhole(bytes: Buffer, limits: ReadLimits): Promise<{ ok: true; bytes: Buffer } | { ok: false; reason: string } | null> {
  if (!(bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b)) return { ok: true, bytes };
  const bound = Math.min(limits.maxRecordBytes, limits.maxFileBytes, Math.max(limits.ratioCheckAfterBytes, bytes.length * limits.maxInflationRatio));
  try {
    return { ok: true, bytes: await gunzipAsync(bytes, { maxOutputLength: bound }) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException | null)?.code === 'ERR_BUFFER_TOO_LARGE') return null;
    return { ok: false, reason: `truncated or corrupt gzip (${err instanceof Error ? err.message : String(err)})` };
  }
}

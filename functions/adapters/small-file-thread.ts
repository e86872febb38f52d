/**
 * Small log files (the usual CloudTrail object, tens of KB) read and gunzipped on a thread of their
 * own, each in one synchronous pass: stat, read, inflate. Read through libuv's pool instead, a file
 * is five or six hand-overs between threads (stat, open, fstat, read, close, gunzip), and on the
 * demo's 2,800 files those hand-overs cost a fifth of analyze's CPU; gunzip also left the main
 * thread, which parses. A disk that is slow to answer stalls this thread, not the one parsing the
 * file before.
 *
 * The thread knows nothing of records: it returns the file's bytes, or why it could not, and the
 * caller (cloudtrail-files.ts) decides as it did reading on the pool. If the thread cannot start
 * or dies, every read then returns `unavailable`, and the caller reads on the pool as before.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SkimDictionary } from '../core/record-prefilter';
import type { Normalizing, Skim, SkimEvents } from '../core/record-skim';
import type { BuildOptions } from 'esbuild';
import skimBundle from './skim-bundle.json';

/** The caps on one small file, in bytes (the caller's ReadLimits, and its small-file size). */
export interface SmallFileCaps {
  /** Larger files (and anything not a regular file) are for the streaming path. */
  maxSmallBytes: number;
  maxRecordBytes: number;
  maxFileBytes: number;
  ratioCheckAfterBytes: number;
  maxInflationRatio: number;
}

/** A file's records as skimmed on the thread (core/record-skim), keyed in `dictionary`. */
export interface ThreadSkim {
  records: Uint32Array;
  dictionary: SkimDictionary;
  hours: Skim['hours'];
  /** Its identity calls normalized, when asked (core/record-skim `SkimEvents`). */
  events: SkimEvents | null;
}

/** A file's bytes as read (compressed or not): their sha256 and their length. */
export interface FileDigest {
  hash: string;
  size: number;
}

export type SmallFileResult =
  /**
   * The file's bytes, inflated if they were gzip; skimmed when asked and it is a log file's
   * `{"Records":[…]}` (else `skim` is null: the caller reads the bytes as before); with the digest
   * of the very bytes read, and the SHA-256 of the bytes inflated (`content`), when asked.
   */
  | { kind: 'bytes'; bytes: Buffer; skim: ThreadSkim | null; digest?: FileDigest; content?: string }
  /** Too large (on disk or once inflated) or not a regular file: the streaming path reads it. */
  | { kind: 'stream' }
  /** stat or read failed. */
  | { kind: 'fs-error'; code: string | undefined; message: string }
  /** gzip that will not inflate (truncated, corrupt). */
  | { kind: 'gzip-error'; message: string }
  /** No thread: read it on the pool. */
  | { kind: 'unavailable' };

type Reply = { id: number } & (
  | { kind: 'bytes'; buffer: ArrayBuffer; offset: number; length: number; skim: Skim | null; digest?: FileDigest; content?: string }
  | { kind: 'stream' }
  | { kind: 'fs-error'; code: string | undefined; message: string }
  | { kind: 'gzip-error'; message: string }
);

/*
 * CommonJS with Node's built-ins only: the CLI is one bundled file, and a thread started from
 * source needs nothing resolved. What it does is what readSmallFile in cloudtrail-files.ts did on
 * the pool; the bound on inflating is the same formula. The skimmer (skimSource), when there is
 * one, is evaluated first and leaves `cutoverWatchSkim` on globalThis.
 */
const THREAD_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { closeSync, openSync, readSync, statSync } = require('node:fs');
const { createHash } = require('node:crypto');
const { gunzipSync } = require('node:zlib');

// the compressed bytes are read into one buffer, reused: only what is handed over is allocated
let scratch = Buffer.alloc(0);

function readWhole(file, size) {
  if (scratch.length < size + 1) scratch = Buffer.allocUnsafeSlow(Math.max(size + 1, 64 * 1024));
  const fd = openSync(file, 'r');
  try {
    let n = 0;
    for (let got; n < scratch.length && (got = readSync(fd, scratch, n, scratch.length - n, null)) > 0; ) n += got;
    // grown past its stat since: the streaming path reads it
    return n > size ? null : scratch.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

function read(file, caps, digested, content) {
  let bytes;
  try {
    // stat first: a FIFO or a device is never opened here (opening a FIFO blocks)
    const info = statSync(file);
    if (!info.isFile() || info.size > caps.maxSmallBytes) return { kind: 'stream' };
    bytes = readWhole(file, info.size);
    if (bytes === null) return { kind: 'stream' };
  } catch (err) {
    return { kind: 'fs-error', code: err && err.code, message: String(err && err.message) };
  }
  // of the bytes as read, before they are inflated: what an earlier run recorded of the file
  const digest = digested ? { hash: createHash('sha256').update(bytes).digest('hex'), size: bytes.length } : undefined;
  // of the bytes inflated: what a CloudTrail digest lists of the file
  const contentOf = (inflated) => (content ? createHash('sha256').update(inflated).digest('hex') : undefined);
  if (!(bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b)) return bytes.length > caps.maxRecordBytes ? { kind: 'stream' } : { kind: 'bytes', bytes, digest, content: contentOf(bytes) };
  const bound = Math.min(caps.maxRecordBytes, caps.maxFileBytes, Math.max(caps.ratioCheckAfterBytes, bytes.length * caps.maxInflationRatio));
  try {
    // Inflated into one buffer of about the right size, not 16 KB chunks then joined (a hundred
    // allocations and a copy per file): gzip's last four bytes are the inflated size (mod 2^32,
    // RFC 1952 ISIZE; of the last member only), a hint that a wrong value merely makes slower.
    const hint = bytes.length >= 18 ? bytes.readUInt32LE(bytes.length - 4) + 1 : 0;
    const chunkSize = Math.min(bound + 1, Math.max(64 * 1024, hint));
    const inflated = gunzipSync(bytes, { maxOutputLength: bound, chunkSize });
    return { kind: 'bytes', bytes: inflated, digest, content: contentOf(inflated) };
  } catch (err) {
    if (err && err.code === 'ERR_BUFFER_TOO_LARGE') return { kind: 'stream' };
    return { kind: 'gzip-error', message: String(err && err.message) };
  }
}

const skimmer = globalThis.cutoverWatchSkim;

parentPort.on('message', ({ id, file, caps, skim, digest, content, normalizing, released }) => {
  // A file's kept records, handed back by the caller once read: dropped here, where a collection
  // comes soon (this heap is small and busy). On the caller's side they waited for its next full
  // collection, seconds away, and meanwhile filled this thread's malloc arena (~60 MB at fleet scale).
  if (released !== undefined) return;
  const result = read(file, caps, digest, content);
  if (result.kind !== 'bytes') return parentPort.postMessage({ id, ...result });
  // any failure of the skim leaves the file to the caller's own reading
  let skimmed = null;
  if (skim && skimmer) try { skimmed = skimmer(result.bytes, normalizing); } catch { skimmed = null; }
  // a skimmed file comes over as what the ingest parses of the records rules might want (record-skim)
  const b = skimmed !== null ? skimmed.bytes : result.bytes;
  if (skimmed !== null) skimmed.bytes = null;
  // handed over, not copied; a buffer that shares its memory (the scratch buffer of a plain file,
  // or Node's pool, whose slabs are Buffer.poolSize) is copied out first, once
  const shared = b.buffer === scratch.buffer || b.buffer.byteLength <= Buffer.poolSize;
  const own = shared ? new Uint8Array(b).buffer : b.buffer;
  const offset = shared ? 0 : b.byteOffset;
  const moved = skimmed === null ? [own] : [own, skimmed.records.buffer];
  if (skimmed !== null && skimmed.events !== null) moved.push(skimmed.events.fields.buffer, skimmed.events.of.buffer);
  parentPort.postMessage({ id, kind: 'bytes', buffer: own, offset, length: b.byteLength, skim: skimmed, digest: result.digest, content: result.content }, moved);
});
`;

/**
 * The thread's young generation. Since it parses and normalizes the identity calls (record-skim
 * `SkimEvents`), its garbage grew V8's default young generation for it to ~39 MB committed (14
 * before); capped at 8 MB, 15 MB, for more scavenges of little each. On the wide preset, two
 * alternated runs each: analyze's peak 416–428 MB against 438–466, in the same times (26.1–27.5 s
 * against 27.6–27.8); on the fleet preset 389–391 against 404–412 (20.7–21.9 s against 20.7–24.3).
 */
const READING_THREAD_LIMITS = { maxYoungGenerationSizeMb: 8 };

let thread: Worker | null = null;
let broken = false;
/** Off: every read is `unavailable`, as when no thread can be started (`useSmallFileThread`). */
let enabled = true;
let nextId = 0;
const pending = new Map<number, (result: SmallFileResult) => void>();

function start(): Worker | null {
  if (broken || !enabled) return null;
  if (thread !== null) return thread;
  try {
    thread = new Worker(`${skimSource() ?? ''}\n${THREAD_SOURCE}`, { eval: true, resourceLimits: READING_THREAD_LIMITS });
  } catch {
    broken = true;
    return null;
  }
  thread.on('message', (reply: Reply) => {
    const done = pending.get(reply.id);
    if (done === undefined) return;
    pending.delete(reply.id);
    if (pending.size === 0) thread?.unref();
    if (reply.kind === 'bytes') {
      done({
        kind: 'bytes',
        bytes: Buffer.from(reply.buffer, reply.offset, reply.length),
        skim: reply.skim === null ? null : received(reply.skim),
        ...(reply.digest === undefined ? {} : { digest: reply.digest }),
        ...(reply.content === undefined ? {} : { content: reply.content }),
      });
    }
    else {
      const { id: _id, ...result } = reply;
      done(result);
    }
  });
  const giveUp = () => {
    broken = true;
    thread = null;
    for (const done of pending.values()) done({ kind: 'unavailable' });
    pending.clear();
  };
  thread.on('error', giveUp);
  thread.on('exit', giveUp);
  // Only while a read is pending does the thread keep the process alive (see read). After the
  // listeners: a 'message' listener added to an unreferenced worker references it again, and a
  // thread started and never read from kept a failed analyze from exiting.
  thread.unref();
  return thread;
}

/**
 * One small file, read on the thread; skimmed too when `skim` (the caller decides its records
 * per key, core/record-skim), its identity calls normalized when also `normalizing`, with the
 * digest of the bytes read when `digest`, and the SHA-256 of the bytes inflated when `content`.
 */
export function readSmallFileOnThread(file: string, caps: SmallFileCaps, skim = false, digest = false, normalizing?: Normalizing, content = false): Promise<SmallFileResult> {
  const worker = start();
  if (worker === null) return Promise.resolve({ kind: 'unavailable' });
  const id = nextId++;
  return new Promise((resolve) => {
    if (pending.size === 0) worker.ref();
    pending.set(id, resolve);
    worker.postMessage({ id, file, caps, skim, digest, content, normalizing });
  });
}

/**
 * Starts the thread now, idle, rather than at the first read: it evaluates the skimmer and compiles
 * its WebAssembly while the caller opens its store (whose thread loads dynalite meanwhile), ~0.1 s
 * sooner to the first file of a run. Idle, it keeps no process alive.
 */
export function startSmallFileThread(): void {
  start();
}

/**
 * Whether reads use the thread (the default) or answer `unavailable`, so that callers read on
 * libuv's pool as they do where no thread can be started: for the tests of that path. Turned off,
 * an idle thread stops.
 */
export function useSmallFileThread(on: boolean): void {
  enabled = on;
  if (!on) stopSmallFileThreadWhenIdle();
}

/**
 * Hands a skimmed file's bytes back to the thread once the caller has read its records, to be
 * freed there soon rather than at this thread's next full collection. The buffer is detached here:
 * no view of it may be read after.
 */
export function releaseSkimmedBytes(bytes: Buffer): void {
  // one the size of Node's pool may be a slab other Buffers share: never detached
  if (thread === null || !(bytes.buffer instanceof ArrayBuffer) || bytes.buffer.byteLength <= Buffer.poolSize) return;
  thread.postMessage({ released: bytes.buffer }, [bytes.buffer]);
}

/**
 * Stops the thread when no read is pending, so that its heap (the skims' garbage, its dictionary)
 * leaves the process: analyze calls this once its files are read, before the write-out, where the
 * run's peak is. The next read starts a new thread, with a dictionary of its own.
 */
export function stopSmallFileThreadWhenIdle(): void {
  if (thread === null || pending.size > 0) return;
  const stopping = thread;
  thread = null;
  // its exit is not a failure (`giveUp` would stop all later reads from using a thread)
  stopping.removeAllListeners();
  stopping.on('error', () => undefined);
  // A new thread counts its keys from 0 again: they must not be read in this thread's dictionary.
  dictionary = { epoch: -1, skeletons: new Map() };
  void stopping.terminate();
}

/**
 * The thread's dictionary as received so far. Replies come in the order the thread skimmed, so a
 * file's new keys are added before any later file uses them, whether or not the file that brought
 * them is ever read further by its caller.
 */
let dictionary: SkimDictionary = { epoch: -1, skeletons: new Map() };

function received(skim: Skim): ThreadSkim {
  if (skim.epoch !== dictionary.epoch) dictionary = { epoch: skim.epoch, skeletons: new Map() };
  for (const [key, skeleton] of skim.keys) dictionary.skeletons.set(key, skeleton);
  return { records: skim.records, dictionary, hours: skim.hours, events: skim.events };
}

/** Set by scripts/build.mjs when bundling the CLI: the skimmer, already built. */
declare const __SKIM_THREAD_SOURCE__: string | undefined;

/**
 * The skimmer's code for the thread (skim-thread-entry.ts bundled with what it imports): built into
 * the CLI's bundle, or built here from source (tests, a run from source). Null when neither can be
 * had; the thread then only reads, and callers scan what it read themselves.
 */
function skimSource(): string | null {
  if (typeof __SKIM_THREAD_SOURCE__ === 'string') return __SKIM_THREAD_SOURCE__;
  // built once: a thread stopped when idle is started again with the same code
  builtSkimSource ??= buildSkimSource();
  return builtSkimSource;
}

let builtSkimSource: string | null | undefined;

function buildSkimSource(): string | null {
  try {
    const esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
    const entry = fileURLToPath(new URL('./skim-thread-entry.ts', import.meta.url));
    return esbuild.buildSync({ ...SKIM_BUNDLE, entryPoints: [entry], write: false }).outputFiles[0]?.text ?? null;
  } catch {
    return null;
  }
}

/** How the skimmer is bundled, as scripts/build.mjs bundles it, but silent: a failure here means no skimming, not an error. */
const SKIM_BUNDLE = { ...(skimBundle as Pick<BuildOptions, 'bundle' | 'platform' | 'format' | 'target'>), logLevel: 'silent' } satisfies BuildOptions;

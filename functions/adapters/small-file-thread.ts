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
import { Worker } from 'node:worker_threads';

/** The caps on one small file, in bytes (the caller's ReadLimits, and its small-file size). */
export interface SmallFileCaps {
  /** Larger files (and anything not a regular file) are for the streaming path. */
  maxSmallBytes: number;
  maxRecordBytes: number;
  maxFileBytes: number;
  ratioCheckAfterBytes: number;
  maxInflationRatio: number;
}

export type SmallFileResult =
  /** The file's bytes, inflated if they were gzip. */
  | { kind: 'bytes'; bytes: Buffer }
  /** Too large (on disk or once inflated) or not a regular file: the streaming path reads it. */
  | { kind: 'stream' }
  /** stat or read failed. */
  | { kind: 'fs-error'; code: string | undefined; message: string }
  /** gzip that will not inflate (truncated, corrupt). */
  | { kind: 'gzip-error'; message: string }
  /** No thread: read it on the pool. */
  | { kind: 'unavailable' };

type Reply = { id: number } & (
  | { kind: 'bytes'; buffer: ArrayBuffer }
  | { kind: 'stream' }
  | { kind: 'fs-error'; code: string | undefined; message: string }
  | { kind: 'gzip-error'; message: string }
);

/*
 * CommonJS with Node's built-ins only: the CLI is one bundled file, and a thread started from
 * source needs nothing resolved. What it does is what readSmallFile in cloudtrail-files.ts did on
 * the pool; the bound on inflating is the same formula.
 */
const THREAD_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { closeSync, openSync, readSync, statSync } = require('node:fs');
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

function read(file, caps) {
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
  if (!(bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b)) return bytes.length > caps.maxRecordBytes ? { kind: 'stream' } : { kind: 'bytes', bytes };
  const bound = Math.min(caps.maxRecordBytes, caps.maxFileBytes, Math.max(caps.ratioCheckAfterBytes, bytes.length * caps.maxInflationRatio));
  try {
    return { kind: 'bytes', bytes: gunzipSync(bytes, { maxOutputLength: bound }) };
  } catch (err) {
    if (err && err.code === 'ERR_BUFFER_TOO_LARGE') return { kind: 'stream' };
    return { kind: 'gzip-error', message: String(err && err.message) };
  }
}

parentPort.on('message', ({ id, file, caps }) => {
  const result = read(file, caps);
  if (result.kind !== 'bytes') return parentPort.postMessage({ id, ...result });
  // handed over, not copied; a buffer that shares its memory (the scratch buffer of a plain file,
  // or Node's pool) is copied out first, once
  const b = result.bytes;
  const own = b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b.buffer : new Uint8Array(b).buffer;
  parentPort.postMessage({ id, kind: 'bytes', buffer: own }, [own]);
});
`;

let thread: Worker | null = null;
let broken = false;
let nextId = 0;
const pending = new Map<number, (result: SmallFileResult) => void>();

function start(): Worker | null {
  if (broken) return null;
  if (thread !== null) return thread;
  try {
    thread = new Worker(THREAD_SOURCE, { eval: true });
  } catch {
    broken = true;
    return null;
  }
  // only while a read is pending does the thread keep the process alive (see read)
  thread.unref();
  thread.on('message', (reply: Reply) => {
    const done = pending.get(reply.id);
    if (done === undefined) return;
    pending.delete(reply.id);
    if (pending.size === 0) thread?.unref();
    if (reply.kind === 'bytes') done({ kind: 'bytes', bytes: Buffer.from(reply.buffer) });
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
  return thread;
}

/** One small file, read on the thread. */
export function readSmallFileOnThread(file: string, caps: SmallFileCaps): Promise<SmallFileResult> {
  const worker = start();
  if (worker === null) return Promise.resolve({ kind: 'unavailable' });
  const id = nextId++;
  return new Promise((resolve) => {
    if (pending.size === 0) worker.ref();
    pending.set(id, resolve);
    worker.postMessage({ id, file, caps });
  });
}

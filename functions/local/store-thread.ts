import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { FAST_CHECK_TYPES_SOURCE } from './dynalite-check-types';

/** The header carrying a token; dynalite's server refuses requests without a valid one. */
export const TOKEN_HEADER = 'x-cutover-watch-token';

/**
 * dynalite runs on a worker thread: request handling and LevelDB then use the second core while
 * the main thread parses records and builds requests (analyze ran about 1.7x faster than with
 * dynalite on the main thread, see bench/).
 */
/*
 * dynalite opens LevelDB on the first request, and a database that will not open (damaged, not
 * readable, locked by a process that ignores store.lock) then kills the thread mid-request. The
 * worker opens it once first, so that failure is reported at start, with LevelDB's reason.
 *
 * A thread serves one store at a time and, once that store is closed (dynalite closes LevelDB with
 * its server), may serve the next store this process opens: see embedded-store's idleThreads.
 */
const WORKER_SOURCE = /* js */ `
const { parentPort, workerData } = require('node:worker_threads');
const { timingSafeEqual } = require('node:crypto');
const { EventEmitter } = require('node:events');
const { Level } = require(workerData.levelPath);
// BatchWriteItem without dynalite's read of each item before it puts or deletes it. dynalite reads the
// old item for what a request may ask of it (a condition, old values, consumed capacity, index
// entries to move); a BatchWriteItem can ask none of these but consumed capacity, and a table
// without secondary indexes has no entries to move, so there the read changes nothing written. It
// was about a ninth of the store thread's time in analyze's write-out (a LevelDB Get per item, each
// finding nothing in a fresh store), and deleting the journals read megabytes of them back, paging
// LevelDB's table files into memory. The same validation, the same errors, each write under
// dynalite's lock of its item (an UpdateItem of the same item waits for it, as for dynalite's own
// put); anything else is dynalite's. dynalite's index requires its actions when it is loaded, so the
// action is replaced in the module cache before that.
const dynaliteDir = require('node:path').dirname(workerData.dynalitePath);
const batchWritePath = require.resolve(dynaliteDir + '/actions/batchWriteItem');
const dynaliteBatchWrite = require(batchWritePath);
const dynaliteDb = require(dynaliteDir + '/db');
const hasIndexes = (table) => (table.LocalSecondaryIndexes || []).length > 0 || (table.GlobalSecondaryIndexes || []).length > 0;
require.cache[batchWritePath].exports = function batchWriteItem(store, data, cb) {
  const names = Object.keys(data.RequestItems);
  if (data.ReturnConsumedCapacity === 'TOTAL' || data.ReturnConsumedCapacity === 'INDEXES') return dynaliteBatchWrite(store, data, cb);
  const tables = [];
  let waiting = names.length;
  let failed = false;
  const fail = (err) => {
    if (failed) return;
    failed = true;
    if (err.body && (/Missing the key/.test(err.body.message) || /Type mismatch for key/.test(err.body.message)))
      err.body.message = 'The provided key element does not match the schema';
    cb(err);
  };
  names.forEach((name, n) => store.getTable(name, (err, table) => {
    if (failed) return;
    if (err) return fail(err);
    tables[n] = table;
    if (--waiting > 0) return;
    if (tables.some(hasIndexes)) return dynaliteBatchWrite(store, data, cb);
    const writes = [];
    for (let t = 0; t < names.length; t++) {
      const table = tables[t];
      const seen = new Set();
      for (const req of data.RequestItems[names[t]]) {
        const item = req.PutRequest ? req.PutRequest.Item : undefined;
        const invalid = item !== undefined ? dynaliteDb.validateItem(item, table) : dynaliteDb.validateKey(req.DeleteRequest.Key, table);
        if (invalid != null) return fail(invalid);
        const key = dynaliteDb.createKey(item !== undefined ? item : req.DeleteRequest.Key, table);
        if (seen.has(key)) return fail(dynaliteDb.validationError('Provided list of item keys contains duplicates'));
        seen.add(key);
        writes.push({ itemDb: store.getItemDb(names[t]), key, item });
      }
    }
    let left = writes.length;
    if (left === 0) return cb(null, { UnprocessedItems: {} });
    for (const { itemDb, key, item } of writes) {
      itemDb.lock(key, (release) => {
        const done = release((err) => {
          if (err) return fail(err);
          if (--left === 0 && !failed) cb(null, { UnprocessedItems: {} });
        });
        if (item !== undefined) itemDb.put(key, item, done);
        else itemDb.del(key, done);
      });
    }
  }));
};
// dynalite's type check of each request, walked without copying a request that passes it as it is
// (dynalite-check-types.ts); anything else is checked by dynalite's own.
${FAST_CHECK_TYPES_SOURCE}
const dynaliteValidations = require(dynaliteDir + '/validations');
dynaliteValidations.checkTypes = fastCheckTypes(dynaliteValidations.checkTypes);
const dynalite = require(workerData.dynalitePath);
// Item reads on this thread: async, each read went to libuv's pool and back (a sixth of analyze's CPU
// in futex hand-overs); getSync is the same LevelDB Get, not found is undefined, errors keep their codes.
Level.prototype._get = function (key, options) {
  try { return Promise.resolve(this._getSync(key, options)); } catch (e) { return Promise.reject(e); }
};
// Item writes on this thread go to LevelDB together. dynalite writes item by item (a BatchWriteItem
// of 25 items is 25 puts, each a trip through libuv's pool and back: most of the store thread's time
// at the end of a fleet run). The puts, deletes and batches of one turn of the event loop go as one
// LevelDB WriteBatch, in the order they were made, and each resolves once that batch is written,
// as it resolved once its own write was: dynalite answers a request only after its writes resolve,
// and holds its item lock until then, so what a reader sees after an answer is unchanged.
const { _batch: writeBatch, _close: closeDb } = Level.prototype;
function queued(db, ops, options) {
  let writes = db.cutoverWatchWrites;
  if (writes === undefined) {
    writes = db.cutoverWatchWrites = { ops: [], settle: [], sync: false };
    setImmediate(() => flushWrites(db));
  }
  for (const op of ops) writes.ops.push(op);
  if (options && options.sync) writes.sync = true;
  return new Promise((resolve, reject) => writes.settle.push([resolve, reject]));
}
function flushWrites(db) {
  const writes = db.cutoverWatchWrites;
  if (writes === undefined) return Promise.resolve();
  db.cutoverWatchWrites = undefined;
  const written = writeBatch.call(db, writes.ops, { sync: writes.sync }).then(
    () => { for (const [resolve] of writes.settle) resolve(); },
    (e) => { for (const [, reject] of writes.settle) reject(e); },
  );
  db.cutoverWatchWriting = Promise.all([db.cutoverWatchWriting, written]);
  return written;
}
Level.prototype._put = function (key, value, options) { return queued(this, [{ type: 'put', key, value }], options); };
Level.prototype._del = function (key, options) { return queued(this, [{ type: 'del', key }], options); };
Level.prototype._batch = function (operations, options) { return queued(this, operations, options); };
// nothing queued or on its way is dropped by a close
Level.prototype._close = async function () { await flushWrites(this); await this.cutoverWatchWriting; return closeDb.call(this); };
const READS = new Set(['BatchGetItem', 'DescribeTable', 'DescribeTimeToLive', 'GetItem', 'ListTables', 'ListTagsOfResource', 'Query', 'Scan']);
const is = (given, token) => given.length === token.length && timingSafeEqual(given, token);
let server;
// The opening process's own requests come through this port (see StoreThreadHandler), not a socket.
let direct;
parentPort.on('message', (m) => {
  if (m.open) open(m.open, m.port);
  else if (m === 'close') {
    if (direct) direct.close();
    direct = undefined;
    server.close((e) => parentPort.postMessage({ closed: !e }));
  }
});
const encoder = new TextEncoder();
// One request as the server's 'request' listeners see it: the same token check, the same dynalite
// handler, with a request and response of just what they use.
function answer(port, r) {
  const req = new EventEmitter();
  req.method = r.method;
  req.url = r.url;
  req.headers = r.headers;
  req.resume = () => req;
  const headers = {};
  const res = {
    statusCode: 200,
    setHeader(name, value) { headers[name.toLowerCase()] = String(value); },
    writeHead(status, fields) { res.statusCode = status; for (const name in fields) res.setHeader(name, fields[name]); return res; },
    end(body) {
      const bytes = encoder.encode(body === undefined ? '' : String(body));
      port.postMessage({ id: r.id, statusCode: res.statusCode, headers, body: bytes }, [bytes.buffer]);
    },
  };
  server.emit('request', req, res);
  // dynalite reads the body from 'data' events as a socket's bytes (or one string) and answers at 'end'
  process.nextTick(() => {
    if (r.body.length > 0) req.emit('data', typeof r.body === 'string' ? r.body : Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength));
    req.emit('end');
  });
}
async function open(store, port) {
  const probe = new Level(store.path);
  try {
    await probe.open();
    await probe.close();
  } catch (e) {
    parentPort.postMessage({ error: (e.cause && e.cause.message) || e.message });
    return;
  }
  server = dynalite({ path: store.path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  // Anyone on the machine can connect to a loopback port: only the write token may write, the read
  // token may only read, and a request with neither never reaches dynalite.
  const handle = server.listeners('request')[0];
  server.removeAllListeners('request');
  const writeToken = Buffer.from(store.writeToken);
  const readToken = Buffer.from(store.readToken);
  server.on('request', (req, res) => {
    const given = Buffer.from(String(req.headers['${TOKEN_HEADER}'] || ''));
    const operation = String(req.headers['x-amz-target'] || '').split('.')[1] || '';
    if (store.open || is(given, writeToken) || (is(given, readToken) && READS.has(operation))) return handle(req, res);
    const body = JSON.stringify(is(given, readToken)
      ? { __type: 'com.amazonaws.dynamodb.v20120810#AccessDeniedException', message: 'this connection may only read the store (' + operation + ' refused)' }
      : { __type: 'com.amazon.coral.service#UnrecognizedClientException', message: 'no valid cutover-watch store token' });
    req.resume();
    res.writeHead(400, { 'Content-Type': 'application/x-amz-json-1.0', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.once('error', (e) => parentPort.postMessage({ error: e.message }));
  if (port) {
    direct = port;
    port.on('message', (r) => answer(port, r));
  }
  server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
}
`;

/**
 * The store thread's heap: dynalite holds a request or a page at a time (its live heap stayed
 * under 60 MB on the fleet preset), but with V8's defaults for a process the thread's heap grew to
 * 55–86 MB; with a young generation of 16 MB and this ceiling (which also lowers how far V8 lets
 * the old generation grow past what is live), 25–35 MB. Measured on the fleet preset, three runs
 * each, alternated: analyze's peak 637–643 MB against 633–703 MB, its write-out 4.9–5.1 s against
 * 4.3–4.5 s (more scavenges on the thread the write-out waits for), the run ~1 s longer. Kept while
 * peak memory is further over its target than time. Reaching the ceiling stops the thread, and the
 * run fails naming it (StoreThreadHandler).
 */
const STORE_THREAD_LIMITS = { maxYoungGenerationSizeMb: 16, maxOldGenerationSizeMb: 512 };

/** A store's thread, dynalite loading: it waits for the store to open (embedded-store `startServer`). */
export function newStoreThread(): Worker {
  const dynalitePath = createRequire(import.meta.url).resolve('dynalite');
  return new Worker(WORKER_SOURCE, { eval: true, workerData: { dynalitePath, levelPath: createRequire(dynalitePath).resolve('level') }, resourceLimits: STORE_THREAD_LIMITS });
}

let prestarted: { worker: Worker; exited: boolean } | undefined;

/**
 * Starts a store's thread before the command that will open the store has loaded: the CLI's
 * launcher calls it for the commands that open one (bin/prestart.ts), and the thread loads dynalite
 * (~0.15 s of CPU: a new thread, 89 modules, LevelDB's binding) on the other core while the
 * command's bundle loads. Unreferenced until taken: a command that never opens a store (a usage
 * error, --table) exits as before. A thread that fails to start is dropped, and the store's open
 * starts its own, which reports why.
 */
export function prestartStoreThread(): Worker | undefined {
  if (prestarted !== undefined) return prestarted.worker;
  let worker: Worker;
  try {
    worker = newStoreThread();
  } catch {
    // dynalite not found, no thread to be had: the store's open meets the same and says so, in the command's words
    return undefined;
  }
  const entry = { worker, exited: false };
  const dropped = () => {
    entry.exited = true;
  };
  entry.worker.on('error', dropped);
  entry.worker.once('exit', dropped);
  entry.worker.unref();
  prestarted = entry;
  return entry.worker;
}

/** The thread `prestartStoreThread` started, once, if it is still running; unreferenced still: the taker references it. */
export function takePrestartedStoreThread(): Worker | undefined {
  const entry = prestarted;
  prestarted = undefined;
  if (entry === undefined || entry.exited) return undefined;
  entry.worker.removeAllListeners();
  return entry.worker;
}

import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { randomBytes } from 'node:crypto';
import { constants, readFileSync, rmSync } from 'node:fs';
import { access, chmod, cp, link, lstat, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { makeDirectory } from '../adapters/make-directory';
import { StoreError } from '../adapters/dynamo-evidence-store';
import { newStoreThread, takePrestartedStoreThread, TOKEN_HEADER } from './store-thread';

/**
 * The embedded default: a real DynamoDB API (dynalite, LevelDB on disk) on a loopback port, so
 * the local runtime sends exactly the requests production sends.
 */
export interface EmbeddedStore {
  endpoint: string;
  client: DynamoDBClient;
  dir: string;
  /** Whether this store was opened to read beside the process that holds it (through its server). */
  attached?: { pid: number };
  close(): Promise<void>;
}

/** The file that says a folder is a cutover-watch store, written when one is created or adopted. */
export const STORE_MARKER = 'cutover-watch-store.json';
export const STORE_FORMAT = 1;
export const LOCK_FILE = 'store.lock';
/**
 * Where the process holding the lock says how to reach its dynalite server: loopback port and the
 * read token (0600, so only the store's owner can read it). Readers connect there instead of
 * opening LevelDB, which allows one process. The write token never leaves the holding process.
 */
export const SERVER_FILE = 'store.server.json';

/**
 * What this and earlier versions put in a store folder. `demo` is there because the demo's default
 * folder (`.cutover-watch/demo`) sits inside the default store.
 */
const STORE_ENTRIES = new Set(['db', LOCK_FILE, SERVER_FILE, 'rejects.jsonl', 'alerts.jsonl', 'demo', STORE_MARKER]);
/** Temporary files of ours a killed run may leave behind (see takeLock and writeStoreMarker). */
const OUR_TEMP = /^(store\.lock|store\.server\.json|cutover-watch-store\.json)\.(\d+\.[0-9a-f]+\.tmp|stale-\d+-[0-9a-f]+)$/;
const isOurs = (entry: string) => STORE_ENTRIES.has(entry) || OUR_TEMP.test(entry);
/** File names LevelDB writes: a `db/` holding anything else is not ours. */
const LEVELDB_FILE = /^(CURRENT|LOCK|LOG|LOG\.old|MANIFEST-\d+|\d+\.(ldb|log|sst)|\d+\.dbtmp)$/;

/**
 * Threads whose store was closed cleanly, dynalite still loaded: a new thread and dynalite's modules
 * cost about 0.15 s of CPU, which a process opening several stores (the demo, a reader beside a
 * writer, the tests) pays once. Unreferenced, so they never keep the process alive.
 */
const idleThreads: Worker[] = [];
let maxIdleThreads = 2;

/**
 * For a process that opens one store, reads it and then works on what it read (readiness, the
 * report): no thread is kept idle, so that closing the store gives back the heap its thread grew
 * serving the reads (an idle thread runs no collection). At 40,000 namespaces readiness peaked at
 * 496–514 MB with the closed store's thread kept, 464–504 MB without.
 */
export function keepNoIdleStoreThreads(): void {
  maxIdleThreads = 0;
  for (const thread of idleThreads.splice(0)) void thread.terminate();
}

function storeThread(): Worker {
  const idle = takePrestartedStoreThread() ?? idleThreads.pop();
  if (idle !== undefined) {
    idle.ref();
    return idle;
  }
  return newStoreThread();
}

export type StoreDirState = 'missing' | 'empty' | 'store' | 'legacy' | 'foreign';

/** What a folder is, read without changing anything in it. */
export async function inspectStoreDir(dir: string, label: string = dir): Promise<{ state: StoreDirState; entries: string[] }> {
  const entries = await listDir(dir, label);
  if (entries === null) return { state: 'missing', entries: [] };
  if (entries.length === 0) return { state: 'empty', entries };
  if (entries.includes(STORE_MARKER)) {
    await checkMarker(dir);
    return { state: 'store', entries };
  }
  // Stores written before the marker existed hold only names of ours, and a `db/` of LevelDB files.
  if (entries.every(isOurs)) {
    const db = entries.includes('db') ? await listDir(path.join(dir, 'db'), label).catch(() => null) : [];
    if (db !== null && db.every((f) => LEVELDB_FILE.test(f))) return { state: 'legacy', entries };
  }
  return { state: 'foreign', entries };
}

/** Marks `dir` as a store (0600, replaced atomically so a reader never sees half of it). */
export async function writeStoreMarker(dir: string): Promise<void> {
  const file = path.join(dir, STORE_MARKER);
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify({ tool: 'cutover-watch', kind: 'store', format: STORE_FORMAT })}\n`, { mode: 0o600 });
    await rename(temp, file);
  } catch (e) {
    await rm(temp, { force: true });
    throw new StoreError(`cannot write ${file}: ${fsProblem(e)}`, { cause: e });
  }
}

export interface OpenEmbeddedOptions {
  /** Commands that only read pass false: nothing is created, and a read-only store can be read. */
  write: boolean;
  /** A lock the caller already holds on `dir` (the demo takes it before clearing its folder). */
  lock?: StoreLock;
  /** How to name the folder in messages (relative to the working directory). */
  label?: string;
}

/**
 * Opens the store in a folder the user named, touching nothing that is not ours:
 * - a missing folder is created 0700 with the marker (only to write: a read needs a store);
 * - an empty folder is adopted (marker written);
 * - a folder with the marker is opened;
 * - a folder of an earlier version (no marker, only our names) gets the marker when written to;
 * - anything else is refused before anything in it is read by LevelDB or written.
 */
export async function openEmbeddedStore(dir: string, options: OpenEmbeddedOptions): Promise<EmbeddedStore> {
  const label = options.label ?? dir;
  const { state, entries } = await inspectStoreDir(dir, label);
  if (state === 'foreign') {
    const others = entries.filter((e) => !isOurs(e));
    const holds = others.length === 0 ? 'a db folder of files LevelDB does not write' : `${others.slice(0, 3).join(', ')}${others.length > 3 ? ', …' : ''}`;
    throw new StoreError(`${label} is not a cutover-watch store (it holds ${holds}) and was left untouched: pass --store with a new or empty folder`);
  }
  if (!options.write) {
    if (state === 'missing' || state === 'empty' || !entries.includes('db')) throw new StoreError(noStoreMessage(label, entries));
    if (!(await writable(dir)) || !(await writable(path.join(dir, 'db')))) return startPrivateCopy(dir, label);
    return openReader(dir, label, options.lock);
  }
  if (state === 'missing') {
    try {
      makeDirectory(dir, 0o700);
    } catch (e) {
      throw new StoreError(`cannot create the store folder ${label}: ${fsProblem(e)}`, { cause: e });
    }
  }
  if (!(await writable(dir))) throw new StoreError(`the store in ${label} is read-only (${await whyNotWritable(dir)}): commands that only read it (readiness, coverage, evidence, alerts, report) can use it`);
  if (state !== 'store') await writeStoreMarker(dir);
  return startEmbeddedStore(dir, { lock: options.lock ?? (await takeLock(dir, label)), label });
}

function noStoreMessage(label: string, entries: readonly string[]): string {
  const demo = entries.includes('demo') ? ` (the demo's store is --store ${path.join(label, 'demo')})` : '';
  return `no store in ${label}: run \`cutover-watch analyze PATH\` first (or pass --store)${demo}`;
}

/**
 * Starts dynalite on `<dir>/db`, taking the folder's lock unless one is given, and publishes its
 * port and read token in SERVER_FILE for readers. It does not check what the folder holds: what
 * takes a folder from the user goes through `openEmbeddedStore`.
 */
export async function startEmbeddedStore(
  dir: string,
  options: {
    lock?: StoreLock;
    label?: string;
    access?: 'write' | 'read';
    publish?: boolean;
    /**
     * Answer any client, without a token, as a DynamoDB-compatible server does: for tests that point
     * code building its own SDK client (a Lambda handler, `--endpoint`) at it. Never a user's store.
     */
    openToAnyClient?: boolean;
  } = {},
): Promise<EmbeddedStore> {
  const label = options.label ?? dir;
  if (options.lock === undefined) {
    // The lock file goes in the folder: it must exist first (the db folder is made by startServer).
    try {
      makeDirectory(dir, 0o700);
    } catch (e) {
      throw new StoreError(`cannot create ${label}: ${fsProblem(e)}`, { cause: e });
    }
  }
  const server = await startServer(dir, label, options.lock ?? (await takeLock(dir)), options.publish ?? true, options.openToAnyClient === true);
  const route: Route = { port: server.port, token: options.access === 'read' ? server.readToken : server.writeToken };
  const client = embeddedClient(route, server.direct);
  let closed = false;
  return {
    endpoint: `http://127.0.0.1:${server.port}`,
    client,
    dir,
    async close() {
      if (closed) return;
      closed = true;
      client.destroy();
      await server.close();
    },
  };
}

interface Server {
  port: number;
  writeToken: string;
  readToken: string;
  /** This process's own way to the store's thread (its readers elsewhere use the port). */
  direct: StoreThreadHandler;
  close(): Promise<void>;
}

async function startServer(dir: string, label: string, lock: StoreLock, publish: boolean, open = false): Promise<Server> {
  const dbDir = path.join(dir, 'db');
  try {
    makeDirectory(dbDir, 0o700);
  } catch (e) {
    await lock.release();
    throw new StoreError(`cannot create ${dbDir}: ${fsProblem(e)}`, { cause: e });
  }
  const writeToken = randomBytes(32).toString('hex');
  const readToken = randomBytes(32).toString('hex');
  const worker = storeThread();
  let exited = false;
  const markExited = () => (exited = true);
  worker.once('exit', markExited);
  const serverFile = path.join(dir, SERVER_FILE);
  const channel = new MessageChannel();
  const direct = new StoreThreadHandler(channel.port1, worker);
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      const stopped = (code: number) => reject(new Error(`its thread stopped (exit code ${code})`));
      const settle = () => worker.off('error', reject).off('exit', stopped);
      worker.once('error', reject).once('exit', stopped);
      worker.once('message', (m: { port?: number; error?: string }) => {
        settle();
        if (m.port) resolve(m.port);
        else reject(new Error(m.error));
      });
      worker.postMessage({ open: { path: dbDir, writeToken, readToken, open }, port: channel.port2 }, [channel.port2]);
    });
  } catch (e) {
    direct.destroy();
    await worker.terminate();
    await lock.release();
    throw new StoreError(`cannot open the store in ${label}: ${(e as Error).message}; move it aside (or pass another --store) and analyze again`, { cause: e });
  }
  if (publish) {
    // Whatever is there was left by a holder that died: this process holds the lock now.
    await writeServerFile(serverFile, { pid: process.pid, port, readToken }).catch(() => undefined);
  }
  return {
    port,
    writeToken,
    readToken,
    direct,
    async close() {
      direct.destroy();
      // Readers stop finding this server first; those connected finish their request, then move on.
      if (publish) await removeOwnServerFile(serverFile);
      // dynalite flushes and closes LevelDB with its server; only then may the thread go or serve another store.
      const closedCleanly =
        !exited &&
        (await new Promise<boolean>((resolve) => {
          const died = () => resolve(false);
          worker.once('exit', died);
          worker.once('message', (m: { closed?: boolean }) => {
            worker.off('exit', died);
            resolve(m.closed === true);
          });
          worker.postMessage('close');
        }));
      worker.off('exit', markExited);
      if (closedCleanly && idleThreads.length < maxIdleThreads) {
        worker.unref();
        idleThreads.push(worker);
      } else {
        await worker.terminate();
      }
      await lock.release();
    },
  };
}

/** Where an embedded client sends its requests, and how it finds a new server when that one goes. */
interface Route {
  port: number;
  token: string;
  /** A reader's: find the store's server again (the holder finished, or this process takes over). */
  reroute?: () => Promise<void>;
}

/** A connection that never reached the server, or a server that went away: safe to resend a read. */
const CONNECTION_LOST = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

/**
 * Requests that look signed, as dynalite checks them (an `AWS4-` Authorization header with a
 * credential, signed headers and a signature, and a date), without signing them: dynalite never
 * verifies a signature, and SigV4 hashed every request's whole body (a fleet run's journals and
 * write-outs are hundreds of megabytes) on the main thread, for nobody.
 */
const LOOKS_SIGNED: NonNullable<DynamoDBClientConfig['httpAuthSchemes']>[number]['signer'] = {
  async sign(request) {
    request.headers['authorization'] = 'AWS4-HMAC-SHA256 Credential=local/20000101/local/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0';
    request.headers['x-amz-date'] = '20000101T000000Z';
    return request;
  },
};

function embeddedClient(route: Route, direct?: StoreThreadHandler): DynamoDBClient {
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${route.port}`,
    region: 'local',
    // dynalite checks that requests look signed, not by whom: the token header says who.
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    httpAuthSchemes: [{ schemeId: 'aws.auth#sigv4', identityProvider: (config) => config.getIdentityProvider('aws.auth#sigv4'), signer: LOOKS_SIGNED }],
    maxAttempts: 3,
    // A holder stopped with Ctrl-Z would otherwise keep a reader waiting forever; 30 s, not less,
    // because on a loaded machine (a CI runner, a laptop building) a busy server accepts late.
    requestHandler: direct ?? { connectionTimeout: 30_000, requestTimeout: 60_000 },
  });
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { port?: number; headers: Record<string, string> };
      for (let attempt = 1; ; attempt += 1) {
        request.port = route.port;
        request.headers[TOKEN_HEADER] = route.token;
        try {
          return await next(args);
        } catch (e) {
          if (route.reroute === undefined || attempt >= 5 || !CONNECTION_LOST.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
          await route.reroute();
        }
      }
    },
    // After the retry middleware: each attempt goes to the current server.
    { step: 'finalizeRequest', name: 'cutoverWatchStoreRoute', priority: 'low' },
  );
  return client;
}

/** What the store's thread answers a request sent through StoreThreadHandler's port. */
interface ThreadAnswer {
  id: number;
  statusCode: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

/**
 * The SDK's request handler for the process that opened the store: the same requests (signed JSON,
 * with the token header) to the same server code on the store's thread, through a MessagePort
 * instead of a loopback socket. HTTP over loopback cost both threads their sockets, framing and a
 * buffer per read: about 2.6 s of the main thread's CPU and 1.1 s of the store thread's on the
 * fleet preset. Processes reading beside it still connect to the server's port.
 */
class StoreThreadHandler {
  readonly metadata = { handlerProtocol: 'http/1.1' };
  private next = 0;
  private closed = false;
  private readonly pending = new Map<number, { resolve: (answer: { response: Omit<ThreadAnswer, 'id'> }) => void; reject: (error: Error) => void }>();

  /** Why the thread stopped, when it failed (an uncaught error, its heap's ceiling) rather than closed. */
  private failure: string | null = null;
  private readonly threadFailed = (error: Error) => {
    this.failure = error.message;
  };
  private readonly threadExited = () => this.destroy();

  constructor(
    private readonly port: MessagePort,
    private readonly worker: Worker,
  ) {
    port.on('message', (answer: ThreadAnswer) => {
      const waiting = this.pending.get(answer.id);
      if (waiting === undefined) return;
      this.pending.delete(answer.id);
      if (this.pending.size === 0) port.unref();
      waiting.resolve({ response: { statusCode: answer.statusCode, headers: answer.headers, body: answer.body } });
    });
    // only while a request is pending does the port keep the process alive
    port.unref();
    // a thread's 'error' comes before its 'exit'; heard here, it fails this store's requests, not the process
    worker.on('error', this.threadFailed);
    worker.once('exit', this.threadExited);
  }

  handle(request: { method: string; path: string; query?: Record<string, string | string[] | null>; headers: Record<string, string>; body?: unknown }): Promise<{ response: Omit<ThreadAnswer, 'id'> }> {
    if (this.closed) return Promise.reject(Object.assign(new Error(this.failure === null ? 'the store is closed' : this.stoppedBecause()), { code: 'ECONNREFUSED' }));
    const id = this.next++;
    const headers: Record<string, string> = {};
    for (const name in request.headers) headers[name.toLowerCase()] = request.headers[name] as string;
    // The SDK's JSON bodies are bytes (read as bytes: its wrapper warns when asked for string
    // methods), handed over as bytes and decoded by dynalite on the store's thread, as a socket's:
    // decoded here (~5 % of the main thread's work at the end of a fleet run) the text was then
    // copied across again. A small body is a view of Node's shared pool: its own bytes go, not the pool's.
    const bytes = request.body instanceof Uint8Array ? request.body : null;
    const body = typeof request.body === 'string' ? request.body : bytes === null ? '' : bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(request.query ?? {})) for (const v of [value ?? ''].flat()) query.append(name, v);
    const search = query.size > 0 ? `?${query.toString()}` : '';
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.port.ref();
      this.pending.set(id, { resolve, reject });
      this.port.postMessage({ id, method: request.method, url: `${request.path}${search}`, headers, body });
    });
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  /** Closes the port; a request still waiting fails as one whose connection was lost. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.worker.off('exit', this.threadExited);
    // a thread closed cleanly may serve another store: its next handler listens to it
    if (this.failure === null) this.worker.off('error', this.threadFailed);
    this.port.close();
    const gone = this.failure === null ? 'the store thread went away' : this.stoppedBecause();
    for (const { reject } of this.pending.values()) reject(Object.assign(new Error(gone), { code: 'ECONNRESET' }));
    this.pending.clear();
  }

  private stoppedBecause(): string {
    return `the store's thread stopped (${this.failure ?? 'no reason given'}); what was committed is kept, and the next run finishes it`;
  }
}

interface ServerInfo {
  pid: number;
  port: number;
  readToken: string;
}

async function writeServerFile(file: string, info: ServerInfo): Promise<void> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify(info)}\n`, { mode: 0o600, flag: 'wx' });
    await rename(temp, file);
    published.add(file);
    onExit();
  } finally {
    await rm(temp, { force: true });
  }
}

async function removeOwnServerFile(file: string): Promise<void> {
  const info = await readFile(file, 'utf8').then((t) => JSON.parse(t) as Partial<ServerInfo>, () => null);
  if (info?.pid === process.pid) await rm(file, { force: true });
  // Only now: a process ended meanwhile (`analyze | head`) still removes it at exit.
  published.delete(file);
}

/**
 * The server of the process holding the lock, when it says so in a file only this user could
 * have written and only this user can read (a file another user planted could point a reader at
 * their own server). Anything else is no server.
 */
async function readServerFile(dir: string, holder: number): Promise<ServerInfo | null> {
  const file = path.join(dir, SERVER_FILE);
  try {
    const s = await lstat(file);
    if (!s.isFile() || (s.mode & 0o077) !== 0 || (process.getuid !== undefined && s.uid !== process.getuid())) return null;
    const info = JSON.parse(await readFile(file, 'utf8')) as Partial<ServerInfo>;
    const valid = info.pid === holder && Number.isInteger(info.port) && info.port! > 0 && info.port! < 65536 && typeof info.readToken === 'string' && /^[0-9a-f]{64}$/.test(info.readToken);
    return valid ? (info as ServerInfo) : null;
  } catch {
    return null;
  }
}

/** How long a reader waits for a live holder to publish its server (it starts, or it is closing). */
const HOLDER_WAIT_MS = 10_000;

/**
 * A read beside whatever holds the store: through the holder's server when another process holds
 * it (a running analyze), else on a server of its own, which it publishes for other readers. When
 * the server it reads through goes away (the writer finished), the next request finds the store's
 * server again, or takes the lock and starts one: the reader only ever sees the store grow.
 */
async function openReader(dir: string, label: string, lock: StoreLock | undefined): Promise<EmbeddedStore> {
  let own: Server | null = null;
  let attached: { pid: number } | undefined;
  const route: Route = { port: 0, token: '' };
  const connect = async (given?: StoreLock) => {
    const deadline = Date.now() + HOLDER_WAIT_MS;
    for (;;) {
      let taken: StoreLock;
      try {
        taken = given ?? (await takeLock(dir, label));
      } catch (e) {
        if (!(e instanceof StoreInUseError)) throw e;
        const info = await readServerFile(dir, e.holder);
        if (info !== null) {
          Object.assign(route, { port: info.port, token: info.readToken });
          attached = { pid: info.pid };
          return;
        }
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      own = await startServer(dir, label, taken, true);
      Object.assign(route, { port: own.port, token: own.readToken });
      attached = undefined;
      return;
    }
  };
  await connect(lock);
  route.reroute = async () => {
    if (own === null) await connect();
  };
  const client = embeddedClient(route);
  let closed = false;
  return {
    endpoint: `http://127.0.0.1:${route.port}`,
    client,
    dir,
    get attached() {
      return attached;
    },
    async close() {
      if (closed) return;
      closed = true;
      client.destroy();
      await (own as Server | null)?.close();
    },
  };
}

/**
 * A store the user may read but not write (`chmod -R a-w`, a read-only mount, someone else's
 * folder): LevelDB cannot open a database without writing its LOCK and LOG files and a new log,
 * so it reads a private copy of `db/` in a 0700 temporary folder, removed on close. Nobody can be
 * writing the original meanwhile (it is read-only), so no lock is needed on it.
 */
async function startPrivateCopy(dir: string, label: string): Promise<EmbeddedStore> {
  const copy = await mkdtemp(path.join(os.tmpdir(), 'cutover-watch-readonly-'));
  copies.add(copy);
  onExit();
  const remove = async () => {
    copies.delete(copy);
    await rm(copy, { recursive: true, force: true });
  };
  try {
    await cp(path.join(dir, 'db'), path.join(copy, 'db'), { recursive: true, filter: (src) => path.basename(src) !== 'LOCK' });
    await makeOwnerWritable(copy);
  } catch (e) {
    await remove();
    throw new StoreError(`cannot read the store in ${label}: ${fsProblem(e)}`, { cause: e });
  }
  const started = await startEmbeddedStore(copy, { lock: { file: copy, release: remove }, label, access: 'read', publish: false });
  return { ...started, dir };
}

/** The copy keeps the source's modes (read-only): give it back to its owner. */
async function makeOwnerWritable(dir: string): Promise<void> {
  await chmod(dir, 0o700);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await makeOwnerWritable(p);
    else await chmod(p, 0o600);
  }
}

/** The lock is held by a live process (`holder`): a writer must wait; a reader can read through it. */
export class StoreInUseError extends StoreError {
  constructor(
    label: string,
    readonly holder: number,
  ) {
    super(`the store in ${label} is in use by another cutover-watch process (pid ${holder}); wait for it or pass another --store`);
  }
}

export interface StoreLock {
  file: string;
  release(): Promise<void>;
}

/** Lock files this process holds, to tell its own live lock from one a crashed run with our pid left. */
const held = new Set<string>();
/** Private copies of read-only stores this process made. */
const copies = new Set<string>();
/** Server files this process wrote, removed at exit so no reader is sent to a port nobody serves. */
const published = new Set<string>();

/**
 * `readiness | head` ends the process from its EPIPE handler without unwinding: the lock would be
 * left (harmless: taken over as stale) and a copy of the evidence in the temp folder (not harmless).
 */
let exitHook = false;
function onExit(): void {
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const copy of copies) rmSync(copy, { recursive: true, force: true });
    for (const file of published) {
      try {
        if ((JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown }).pid === process.pid) rmSync(file, { force: true });
      } catch {
        // already gone
      }
    }
    for (const file of held) {
      try {
        if (readFileSync(file, 'utf8') === String(process.pid)) rmSync(file, { force: true });
      } catch {
        // already gone
      }
    }
  });
}

/**
 * LevelDB allows one process per database; say so plainly instead of letting a request fail
 * deep inside dynalite. The lock file appears atomically with the pid in it (a hard link of a
 * finished temporary file), so two CLIs started together cannot both take it, and a reader never
 * sees it empty. A lock left by a process that has died is moved aside and taken over; if what was
 * moved is not what was judged stale (another process took it over first), it is put back.
 */
export async function takeLock(dir: string, label: string = dir): Promise<StoreLock> {
  const file = path.join(dir, LOCK_FILE);
  const inUse = (holder: number) => new StoreInUseError(label, holder);
  // A held lock is refused before anything is written: the folder stays exactly as it was.
  const current = await readFile(file, 'utf8').catch(() => null);
  if (current !== null && isHeld(file, current)) throw inUse(Number.parseInt(current, 10));
  for (let attempt = 0; attempt < 5; attempt += 1) {
    try {
      await createWithPid(file);
      held.add(file);
      onExit();
      return { file, release: () => releaseLock(file) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new StoreError(`cannot lock the store in ${label}: ${fsProblem(e)}`, { cause: e });
    }
    const content = await readFile(file, 'utf8').catch(() => null);
    if (content === null) continue; // released meanwhile
    if (isHeld(file, content)) throw inUse(Number.parseInt(content, 10));
    const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await rename(file, aside);
    } catch {
      continue;
    }
    const moved = await readFile(aside, 'utf8').catch(() => null);
    if (moved !== content) await link(aside, file).catch(() => undefined);
    await rm(aside, { force: true });
  }
  throw new StoreError(`cannot lock the store in ${label}: other processes keep taking it; try again`);
}

function isHeld(file: string, content: string): boolean {
  const holder = Number.parseInt(content, 10);
  return Number.isInteger(holder) && holder > 0 && (holder === process.pid ? held.has(file) : isAlive(holder));
}

async function createWithPid(file: string): Promise<void> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, String(process.pid), { mode: 0o600, flag: 'wx' });
  try {
    await link(temp, file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // A file system without hard links: an exclusive create is atomic too, only briefly empty.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS') await writeFile(file, String(process.pid), { mode: 0o600, flag: 'wx' });
    else throw e;
  } finally {
    await rm(temp, { force: true });
  }
}

async function releaseLock(file: string): Promise<void> {
  if (!held.delete(file)) return;
  // Only our own: a lock another process took over (after ours was judged stale) stays.
  if ((await readFile(file, 'utf8').catch(() => null)) === String(process.pid)) await rm(file, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/**
 * A process killed (`kill -9`) whose parent has not collected it yet is a zombie: it still answers
 * `kill(pid, 0)`, but holds nothing. Linux says so in /proc (state Z, after the command's closing
 * parenthesis, proc(5)); elsewhere it cannot be told and counts as alive.
 */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

/** The entries of a folder, null when it does not exist; anything else unusable is a StoreError. */
async function listDir(dir: string, label: string): Promise<string[] | null> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new StoreError(`${label} is not a folder: pass --store with a folder`);
    return await readdir(dir);
  } catch (e) {
    if (e instanceof StoreError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new StoreError(`cannot read the store folder ${label}: ${fsProblem(e)}`, { cause: e });
  }
}

async function checkMarker(dir: string): Promise<void> {
  const file = path.join(dir, STORE_MARKER);
  let format: unknown;
  try {
    format = (JSON.parse(await readFile(file, 'utf8')) as { format?: unknown }).format;
  } catch (e) {
    throw new StoreError(`${file} is unreadable (${fsProblem(e)}): restore it or pass another --store`, { cause: e });
  }
  if (typeof format !== 'number' || format > STORE_FORMAT) {
    throw new StoreError(`${file}: store format ${String(format)} is not one this cutover-watch reads (${STORE_FORMAT}); upgrade cutover-watch or pass another --store`);
  }
}

async function writable(dir: string): Promise<boolean> {
  return access(dir, constants.W_OK).then(
    () => true,
    () => false,
  );
}

async function whyNotWritable(dir: string): Promise<string> {
  return access(dir, constants.W_OK).then(
    () => 'writable',
    (e: unknown) => fsProblem(e),
  );
}

export function fsProblem(e: unknown): string {
  switch ((e as NodeJS.ErrnoException).code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on device';
    case 'ENOTDIR':
      return 'a path component is a file, not a folder';
    case 'EEXIST':
      return 'exists and is not a folder';
    default:
      return (e as Error).message;
  }
}

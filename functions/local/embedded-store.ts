import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { StoreError } from '../adapters/dynamo-evidence-store';

/**
 * The embedded default: a real DynamoDB API (dynalite, LevelDB on disk) on a loopback port, so
 * the local runtime sends exactly the requests production sends.
 */
export interface EmbeddedStore {
  endpoint: string;
  client: DynamoDBClient;
  dir: string;
  close(): Promise<void>;
}

/**
 * dynalite runs on a worker thread: request handling and LevelDB then use the second core while
 * the main thread parses records and builds requests (analyze ran about 1.7x faster than with
 * dynalite on the main thread, see bench/).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const dynalite = require(workerData.dynalitePath);
const server = dynalite({ path: workerData.path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
server.once('error', (e) => parentPort.postMessage({ error: e.message }));
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (m) => { if (m === 'close') server.close(() => parentPort.postMessage({ closed: true })); });
`;

export async function startEmbeddedStore(dir: string): Promise<EmbeddedStore> {
  const dbDir = path.join(dir, 'db');
  await mkdir(dbDir, { recursive: true });
  const lock = await takeLock(dir);
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { dynalitePath: createRequire(import.meta.url).resolve('dynalite'), path: dbDir },
  });
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', (m: { port?: number; error?: string }) => (m.port ? resolve(m.port) : reject(new Error(m.error))));
    });
  } catch (e) {
    await worker.terminate();
    await lock.release();
    throw new StoreError(`could not start the embedded store in ${dir}: ${(e as Error).message}`, { cause: e });
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'local',
    // dynalite checks that requests are signed, not by whom.
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
  });
  let closed = false;
  return {
    endpoint,
    client,
    dir,
    async close() {
      if (closed) return;
      closed = true;
      client.destroy();
      // dynalite flushes LevelDB on close; only then may the thread go.
      await new Promise<void>((resolve) => {
        worker.once('message', () => resolve());
        worker.once('exit', () => resolve());
        worker.postMessage('close');
      });
      await worker.terminate();
      await lock.release();
    },
  };
}

/**
 * LevelDB allows one process per database; say so plainly instead of letting a request fail
 * deep inside dynalite. A lock left by a process that has died is taken over.
 */
async function takeLock(dir: string): Promise<{ release(): Promise<void> }> {
  const file = path.join(dir, 'store.lock');
  const holder = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
  if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
    throw new StoreError(`the store in ${dir} is in use by another cutover-watch process (pid ${holder}); wait for it or pass another --store`);
  }
  await writeFile(file, String(process.pid));
  return { release: () => rm(file, { force: true }) };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

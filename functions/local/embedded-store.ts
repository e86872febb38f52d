import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import dynalite from 'dynalite';
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

export async function startEmbeddedStore(dir: string): Promise<EmbeddedStore> {
  const dbDir = path.join(dir, 'db');
  await mkdir(dbDir, { recursive: true });
  const lock = await takeLock(dir);
  const server = dynalite({ path: dbDir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
  } catch (e) {
    await lock.release();
    throw new StoreError(`could not start the embedded store in ${dir}: ${(e as Error).message}`, { cause: e });
  }
  const { port } = server.address() as AddressInfo;
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
      await new Promise<void>((resolve) => server.close(() => resolve()));
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

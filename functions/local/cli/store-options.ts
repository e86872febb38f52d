import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Command } from 'commander';
import path from 'node:path';
import { DynamoEvidenceStore, StoreError } from '../../adapters/dynamo-evidence-store';
import { DEFAULT_TABLE_NAME } from '../../core/table-schema';
import { openEmbeddedStore, type StoreLock } from '../embedded-store';
import { UsageError, type Io } from './io';

export const DEFAULT_STORE_DIR = '.cutover-watch';
/** The embedded store's folder when `--store` is not given: one store for every working directory. */
export const STORE_ENV = 'CUTOVER_WATCH_STORE';

export interface StoreOptions {
  store?: string;
  table?: string;
  region?: string;
  endpoint?: string;
}

/** The options every store-using command takes, with the same help text everywhere. */
export function withStoreOptions(command: Command, env: NodeJS.ProcessEnv = process.env): Command {
  const fromEnv = env[STORE_ENV] ? ` (now ${STORE_ENV}=${env[STORE_ENV]})` : '';
  return command
    .option(
      '--store <dir>',
      `embedded store folder (dynalite, on disk; created 0700 if missing; an existing one must be empty or a store); default: $${STORE_ENV}, else ${DEFAULT_STORE_DIR}${fromEnv}`,
    )
    .option('--table <name>', 'use a DynamoDB table instead of the embedded store (the deployed stack\'s evidence table)')
    .option('--region <region>', 'AWS region of --table (default: AWS_REGION)')
    .option('--endpoint <url>', 'DynamoDB endpoint for --table (e.g. a DynamoDB-compatible server on localhost)');
}

export interface OpenStore {
  store: DynamoEvidenceStore;
  /** Where the store lives, for messages: a directory or `table NAME in REGION`. */
  where: string;
  /** Directory for local side files (rejects); the embedded store's own directory. */
  localDir: string;
  /** The store's DynamoDB client (analyze counts its requests). */
  client: DynamoDBClient;
  close(): Promise<void>;
}

export interface OpenMode {
  /**
   * false for commands that only read: a missing store is an error instead of being created, and
   * a store the user may not write is read from a private copy. @default true
   */
  write?: boolean;
  /** A lock on the store folder the caller already holds (the demo's). */
  lock?: StoreLock;
}

/**
 * The embedded store's folder: `--store`, else $CUTOVER_WATCH_STORE, else `.cutover-watch`, relative
 * to the working directory; `where` names it in messages, with the variable when it chose.
 */
export function storeDir(options: Pick<StoreOptions, 'store'>, cwd: string, env: NodeJS.ProcessEnv = process.env): { dir: string; where: string } {
  const fromEnv = options.store === undefined && env[STORE_ENV] ? env[STORE_ENV] : undefined;
  const dir = path.resolve(cwd, options.store ?? fromEnv ?? DEFAULT_STORE_DIR);
  const relative = path.relative(cwd, dir);
  const shown = relative.startsWith('..') || path.isAbsolute(relative) ? dir : relative || '.';
  return { dir, where: fromEnv === undefined ? shown : `${shown} (${STORE_ENV})` };
}

export async function openStore(options: StoreOptions, io: Io, mode: OpenMode = {}): Promise<OpenStore> {
  const write = mode.write ?? true;
  if (options.table !== undefined) {
    const region = options.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'];
    if (!region) throw new UsageError('--table needs a region: pass --region (e.g. --region us-east-1) or set AWS_REGION');
    const client = new DynamoDBClient({ region, ...(options.endpoint ? { endpoint: options.endpoint } : {}) });
    // A deployed table has other writers (the ingest Lambda): batches go under its writer lease, and
    // the CLI waits out a dead holder's (WRITER_LEASE_SECONDS) rather than give up.
    const store = new DynamoEvidenceStore({ client, tableName: options.table, writerLease: true, leaseWaitMs: 180_000 });
    try {
      await store.assertTable(region);
    } catch (e) {
      client.destroy();
      throw new UsageError((e as Error).message, { cause: e });
    }
    return {
      store,
      where: `table ${options.table} in ${region}`,
      localDir: storeDir({}, io.cwd).dir,
      client,
      close: async () => client.destroy(),
    };
  }
  const { dir, where } = storeDir(options, io.cwd);
  const embedded = await openEmbeddedStore(dir, { write, lock: mode.lock, label: where });
  const store = new DynamoEvidenceStore({ client: embedded.client, tableName: DEFAULT_TABLE_NAME, singleWriter: true });
  try {
    if (write) await store.ensureTable();
    else await store.assertTable(undefined);
  } catch (e) {
    await embedded.close();
    // A folder with a store but no table: a store that was never written to, as far as a read goes.
    if (e instanceof StoreError) throw new StoreError(`no store in ${where}: run \`cutover-watch analyze PATH\` first (or pass --store)`, { cause: e });
    // LevelDB opens on the first request: a damaged or unreadable db/ shows up here.
    throw new StoreError(`cannot open the store in ${where}: ${(e as Error).message}; move it aside (or pass another --store) and analyze again`, { cause: e });
  }
  return { store, where, localDir: dir, client: embedded.client, close: () => embedded.close() };
}

/** Runs `fn` with an open store and always closes it (the embedded server holds a lock). */
export async function withStore<T>(options: StoreOptions, io: Io, fn: (open: OpenStore) => Promise<T>, mode: OpenMode = {}): Promise<T> {
  const open = await openStore(options, io, mode);
  try {
    return await fn(open);
  } finally {
    await open.close();
  }
}

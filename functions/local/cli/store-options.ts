import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Command } from 'commander';
import path from 'node:path';
import { DynamoEvidenceStore } from '../../adapters/dynamo-evidence-store';
import { DEFAULT_TABLE_NAME } from '../../core/table-schema';
import { startEmbeddedStore } from '../embedded-store';
import { UsageError, type Io } from './io';

export const DEFAULT_STORE_DIR = '.cutover-watch';

export interface StoreOptions {
  store?: string;
  table?: string;
  region?: string;
  endpoint?: string;
}

/** The options every store-using command takes, with the same help text everywhere. */
export function withStoreOptions(command: Command): Command {
  return command
    .option('--store <dir>', `embedded store directory (dynalite, on disk)`, DEFAULT_STORE_DIR)
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
  close(): Promise<void>;
}

export async function openStore(options: StoreOptions, io: Io): Promise<OpenStore> {
  if (options.table !== undefined) {
    const region = options.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'];
    if (!region) throw new UsageError('--table needs a region: pass --region (e.g. --region us-east-1) or set AWS_REGION');
    const client = new DynamoDBClient({ region, ...(options.endpoint ? { endpoint: options.endpoint } : {}) });
    const store = new DynamoEvidenceStore({ client, tableName: options.table });
    try {
      await store.assertTable(region);
    } catch (e) {
      client.destroy();
      throw new UsageError((e as Error).message, { cause: e });
    }
    return {
      store,
      where: `table ${options.table} in ${region}`,
      localDir: path.resolve(io.cwd, DEFAULT_STORE_DIR),
      close: async () => client.destroy(),
    };
  }
  const dir = path.resolve(io.cwd, options.store ?? DEFAULT_STORE_DIR);
  const embedded = await startEmbeddedStore(dir);
  const store = new DynamoEvidenceStore({ client: embedded.client, tableName: DEFAULT_TABLE_NAME, singleWriter: true });
  try {
    await store.ensureTable();
  } catch (e) {
    await embedded.close();
    throw e;
  }
  return { store, where: path.relative(io.cwd, dir) || '.', localDir: dir, close: () => embedded.close() };
}

/** Runs `fn` with an open store and always closes it (the embedded server holds a lock). */
export async function withStore<T>(options: StoreOptions, io: Io, fn: (open: OpenStore) => Promise<T>): Promise<T> {
  const open = await openStore(options, io);
  try {
    return await fn(open);
  } finally {
    await open.close();
  }
}

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Option, type Command } from 'commander';
import path from 'node:path';
import { collectGarbageNow } from '../../adapters/collect-garbage';
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
  /** The region of --table. */
  tableRegion?: string;
  /**
   * `--region` on a command that reads nothing but the store: refused, since --region is the
   * region to read everywhere (it named --table's region before).
   */
  region?: string;
  endpoint?: string;
}

/** The one line for `--region` given to a command that reads only the store. */
export const REGION_MEANING = "--region is the region to read; the table's region is --table-region";

/** The options every store-using command takes, with the same help text everywhere. */
export function withStoreOptions(command: Command, env: NodeJS.ProcessEnv = process.env): Command {
  const fromEnv = env[STORE_ENV] ? ` (now ${STORE_ENV}=${env[STORE_ENV]})` : '';
  return command
    .option(
      '--store <dir>',
      `embedded store folder (dynalite, on disk; created 0700 if missing; an existing one must be empty or a store); default: $${STORE_ENV}, else ${DEFAULT_STORE_DIR}${fromEnv}`,
    )
    .option('--table <name>', 'use a DynamoDB table instead of the embedded store (the deployed stack\'s evidence table)')
    .option('--table-region <region>', "AWS region of --table (default: AWS_REGION, else the region of the AWS_PROFILE profile)")
    .option('--endpoint <url>', 'DynamoDB endpoint for --table (e.g. a DynamoDB-compatible server on localhost)')
    // Hidden: a command that reads regions (inventory sync, backfill, analyze) shows it with its own meaning.
    .addOption(new Option('--region <region>', 'the region to read').hideHelp());
}

/**
 * Gives the hidden `--region` of a command that reads regions its meaning there (and shows it);
 * `parse` makes it repeatable.
 */
export function withReadRegion(command: Command, description: string, parse?: (value: string, previous: string[] | undefined) => string[]): Command {
  const option = command.options.find((o) => o.long === '--region');
  if (!option) return parse ? command.option('--region <region>', description, parse) : command.option('--region <region>', description);
  option.description = description;
  option.hidden = false;
  if (parse) option.argParser(parse);
  return command;
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

/** `OpenStore.localDir` before the store is opened: the embedded store's folder, or with --table the default one. */
export function localDirOf(options: Pick<StoreOptions, 'store' | 'table'>, cwd: string): string {
  return storeDir(options.table === undefined ? options : {}, cwd).dir;
}

export async function openStore(options: StoreOptions, io: Io, mode: OpenMode = {}): Promise<OpenStore> {
  const write = mode.write ?? true;
  if (options.region !== undefined) throw new UsageError(REGION_MEANING);
  if (options.table !== undefined) {
    const { client, region } = await tableClient(options);
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
      localDir: localDirOf(options, io.cwd),
      client,
      close: async () => client.destroy(),
    };
  }
  const { dir, where } = storeDir(options, io.cwd);
  const embedded = await openEmbeddedStore(dir, { write, lock: mode.lock, label: where });
  const store = new DynamoEvidenceStore({ client: embedded.client, tableName: DEFAULT_TABLE_NAME, singleWriter: true, collectGarbage: collectGarbageNow });
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

/**
 * The client of --table: in --table-region, else the region the SDK finds (AWS_REGION, then the
 * AWS_PROFILE profile's `region` in the shared config file).
 */
async function tableClient(options: StoreOptions): Promise<{ client: DynamoDBClient; region: string }> {
  const endpoint = options.endpoint ? { endpoint: options.endpoint } : {};
  if (options.tableRegion !== undefined) return { client: new DynamoDBClient({ region: options.tableRegion, ...endpoint }), region: options.tableRegion };
  const client = new DynamoDBClient(endpoint);
  try {
    return { client, region: await client.config.region() };
  } catch {
    client.destroy();
    throw new UsageError('--table needs a region: pass --table-region (e.g. --table-region us-east-1) or set AWS_REGION');
  }
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

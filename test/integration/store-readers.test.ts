import type { Worker } from 'node:worker_threads';
import { DescribeTableCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import { DEFAULT_TABLE_NAME } from '../../functions/core/table-schema';
import { openEmbeddedStore, SERVER_FILE, startEmbeddedStore, type EmbeddedStore } from '../../functions/local/embedded-store';

// A reader beside the process that holds the store (here the same process: the lock is per folder).
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'cw-store-readers-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const item = (sk: string) => ({ pk: { S: 'TEST' }, sk: { S: sk } });
const query = (client: EmbeddedStore['client']) =>
  client.send(new QueryCommand({ TableName: DEFAULT_TABLE_NAME, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: 'TEST' } } }));

describe('a store held by a writer', () => {
  let dir: string;
  let writer: EmbeddedStore;
  let reader: EmbeddedStore;
  beforeAll(async () => {
    dir = path.join(tmp, 'store');
    writer = await openEmbeddedStore(dir, { write: true });
    await new DynamoEvidenceStore({ client: writer.client, tableName: DEFAULT_TABLE_NAME, singleWriter: true }).ensureTable();
    await writer.client.send(new PutItemCommand({ TableName: DEFAULT_TABLE_NAME, Item: item('before') }));
    reader = await openEmbeddedStore(dir, { write: false });
  });
  afterAll(async () => {
    await reader?.close();
    await writer?.close();
  });

  it("publishes its server's port and read token only to its owner (0600), never the write token", async () => {
    const file = path.join(dir, SERVER_FILE);
    const info = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;

    expect(((await stat(file)).mode & 0o777).toString(8)).toBe('600');
    expect(Object.keys(info).sort()).toEqual(['pid', 'port', 'readToken']);
    expect(info['pid']).toBe(process.pid);
  });

  it('is read through the holder’s server, seeing what the writer wrote since', async () => {
    await writer.client.send(new PutItemCommand({ TableName: DEFAULT_TABLE_NAME, Item: item('during') }));

    expect(reader.attached).toEqual({ pid: process.pid });
    expect((await query(reader.client)).Items?.map((i) => i['sk']?.S)).toEqual(['before', 'during']);
  });

  it('refuses every write from a reader, and any request without a token', async () => {
    await expect(reader.client.send(new PutItemCommand({ TableName: DEFAULT_TABLE_NAME, Item: item('sneaky') }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: 'this connection may only read the store (PutItem refused)',
    });
    const port = (JSON.parse(await readFile(path.join(dir, SERVER_FILE), 'utf8')) as { port: number }).port;
    const anonymous = await fetch(`http://127.0.0.1:${port}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.DescribeTable', 'x-cutover-watch-token': 'guess' },
      body: JSON.stringify({ TableName: DEFAULT_TABLE_NAME }),
    });

    expect(anonymous.status).toBe(400);
    expect(await anonymous.text()).toContain('UnrecognizedClientException');
    expect((await query(reader.client)).Items?.map((i) => i['sk']?.S)).toEqual(['before', 'during']);
  });

  it('keeps being read when the writer finishes: the reader takes the store over, then leaves it free', async () => {
    await writer.close();
    expect(await readdir(dir)).not.toContain(SERVER_FILE);

    expect((await query(reader.client)).Items?.map((i) => i['sk']?.S)).toEqual(['before', 'during']);
    expect(reader.attached).toBeUndefined();
    // what it published for other readers is again a read-only server
    expect(JSON.parse(await readFile(path.join(dir, SERVER_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
    await expect(reader.client.send(new PutItemCommand({ TableName: DEFAULT_TABLE_NAME, Item: item('sneaky') }))).rejects.toThrow(/may only read/);
    await reader.client.send(new DescribeTableCommand({ TableName: DEFAULT_TABLE_NAME }));

    await reader.close();
    expect((await readdir(dir)).sort()).toEqual(['cutover-watch-store.json', 'db']);
  });
});

describe('stores opened one after another in one process', () => {
  it('each answers with its own data: the one opened after another closed (on its idle thread) starts empty, and the first reopens intact', async () => {
    const first = await openEmbeddedStore(path.join(tmp, 'first'), { write: true });
    await new DynamoEvidenceStore({ client: first.client, tableName: DEFAULT_TABLE_NAME, singleWriter: true }).ensureTable();
    await first.client.send(new PutItemCommand({ TableName: DEFAULT_TABLE_NAME, Item: item('first') }));
    await first.close();

    const second = await openEmbeddedStore(path.join(tmp, 'second'), { write: true });
    try {
      // a fresh folder: no table yet, and nothing of the first store's
      await expect(second.client.send(new DescribeTableCommand({ TableName: DEFAULT_TABLE_NAME }))).rejects.toThrow(/not found/);
      await new DynamoEvidenceStore({ client: second.client, tableName: DEFAULT_TABLE_NAME, singleWriter: true }).ensureTable();
      expect((await query(second.client)).Items).toEqual([]);
    } finally {
      await second.close();
    }

    // the first store, opened again, still holds its item: its LevelDB was closed, not lost
    const again = await openEmbeddedStore(path.join(tmp, 'first'), { write: false });
    try {
      expect((await query(again.client)).Items?.map((i) => i['sk']?.S)).toEqual(['first']);
    } finally {
      await again.close();
    }
  });
});

describe('a store opened in this process to read', () => {
  it('answers reads, refuses writes with the read token, and a closed client fails instead of hanging', async () => {
    const dir = path.join(tmp, 'read-here');
    const writer = await openEmbeddedStore(dir, { write: true });
    await new DynamoEvidenceStore({ client: writer.client, tableName: DEFAULT_TABLE_NAME, singleWriter: true }).ensureTable();
    await writer.client.send(new PutItemCommand({ TableName: DEFAULT_TABLE_NAME, Item: item('kept') }));
    await writer.close();

    const store = await startEmbeddedStore(dir, { access: 'read' });
    try {
      expect((await query(store.client)).Items?.map((i) => i['sk']?.S)).toEqual(['kept']);
      await expect(store.client.send(new PutItemCommand({ TableName: DEFAULT_TABLE_NAME, Item: item('refused') }))).rejects.toThrow(/may only read the store \(PutItem refused\)/);
    } finally {
      await store.close();
    }
    await expect(query(store.client)).rejects.toThrow();
  });

  /** A request as the SDK hands it to the holder's handler (StoreThreadHandler). */
  const LIST_TABLES = { method: 'POST', path: '/', headers: { 'x-amz-target': 'DynamoDB_20120810.ListTables' }, body: '{}' };

  it('fails a request still waiting for the store thread when the store closes, instead of leaving it waiting', async () => {
    const store = await startEmbeddedStore(path.join(tmp, 'closed-mid-request'));
    // the holder's own way to its thread (no socket): a request handed to it, then the store closed
    // before the thread's answer can come back (that takes a turn of the event loop)
    const thread = store.client.config.requestHandler as unknown as { handle(request: object): Promise<unknown> };
    const settled: string[] = [];
    const inFlight = thread.handle(LIST_TABLES).then(
      () => settled.push('answered'),
      (e: Error) => settled.push(`failed: ${e.message}`),
    );
    await store.close();
    await inFlight;
    expect(settled).toEqual(['failed: the store thread went away']);
  });

  it('fails the requests of a store whose thread stops on an error (its heap ceiling), naming it, and the process goes on', async () => {
    const store = await startEmbeddedStore(path.join(tmp, 'thread-failed'));
    const thread = store.client.config.requestHandler as unknown as { handle(request: object): Promise<unknown>; worker: Worker };
    const failed = (request: Promise<unknown>) => request.then(() => 'answered', (e: Error) => e.message);
    expect(await failed(thread.handle(LIST_TABLES))).toBe('answered');
    // as a Worker reports what stopped it (ERR_WORKER_OUT_OF_MEMORY at its resourceLimits), then exits;
    // unheard, the 'error' would be thrown in this process
    thread.worker.emit('error', new Error('Worker terminated due to reaching memory limit: JS heap out of memory'));
    await thread.worker.terminate();
    try {
      expect(await failed(thread.handle(LIST_TABLES))).toMatch(/^the store's thread stopped \(Worker terminated due to reaching memory limit: JS heap out of memory\); what was committed is kept/);
    } finally {
      await store.close();
    }
  });
});

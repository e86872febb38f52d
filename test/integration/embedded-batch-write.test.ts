import { BatchWriteItemCommand, CreateTableCommand, DescribeTableCommand, DynamoDBClient, GetItemCommand, QueryCommand, ScanCommand, type AttributeValue, type WriteRequest } from '@aws-sdk/client-dynamodb';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedTables } from '../support/embedded-tables';

// The embedded store answers BatchWriteItem itself where dynalite's answer would read each item
// first for nothing (functions/local/embedded-store.ts): what is written and what is refused must
// be what dynalite (and DynamoDB) would write and refuse. The same cases run against dynalite's own
// path (a plain dynalite server in memory), so the two are checked against each other.
const tables = embeddedTables('batch-write');
let dynalite: { server: Server; client: DynamoDBClient } | undefined;
beforeAll(async () => {
  const start = createRequire(import.meta.url)('dynalite') as (options: { createTableMs: number }) => Server;
  const server = start({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dynalite = { server, client: new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }) };
});
afterAll(async () => {
  dynalite?.client.destroy();
  await new Promise((resolve) => dynalite?.server.close(resolve) ?? resolve(undefined));
});

const targets = [
  ['the embedded store', () => tables.embedded.client],
  ["dynalite's own path", () => dynalite!.client],
] as const;

describe.each(targets)('BatchWriteItem on %s', (_, client) => {
  let made = 0;

  async function table(indexed = false): Promise<string> {
    made += 1;
    const name = `bw-${made}`;
    await client().send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          ...(indexed ? [{ AttributeName: 'owner', AttributeType: 'S' as const }] : []),
        ],
        ...(indexed ? { GlobalSecondaryIndexes: [{ IndexName: 'by-owner', KeySchema: [{ AttributeName: 'owner', KeyType: 'HASH' as const }], Projection: { ProjectionType: 'ALL' as const } }] } : {}),
      }),
    );
    // dynalite answers "not found" for a table until it is ACTIVE, as DynamoDB does
    while ((await client().send(new DescribeTableCommand({ TableName: name }))).Table?.TableStatus !== 'ACTIVE') await new Promise((resolve) => setTimeout(resolve, 5));
    return name;
  }

  const put = (sk: string, fields: Record<string, AttributeValue> = {}): WriteRequest => ({ PutRequest: { Item: { pk: { S: 'P' }, sk: { S: sk }, ...fields } } });
  const del = (sk: string): WriteRequest => ({ DeleteRequest: { Key: { pk: { S: 'P' }, sk: { S: sk } } } });
  const write = (name: string, requests: WriteRequest[]) => client().send(new BatchWriteItemCommand({ RequestItems: { [name]: requests } }));
  const items = async (name: string) => (await client().send(new ScanCommand({ TableName: name }))).Items ?? [];

  it('puts whole items (a put replaces every attribute) and deletes keys, present or not', async () => {
    const name = await table();
    await write(name, [put('a', { n: { N: '1' }, old: { S: 'x' } }), put('b', { n: { N: '2' } }), put('c')]);

    const answer = await write(name, [put('a', { n: { N: '3' } }), del('b'), del('never-written')]);

    expect(answer.UnprocessedItems).toEqual({});
    expect(await items(name)).toEqual([
      { pk: { S: 'P' }, sk: { S: 'a' }, n: { N: '3' } },
      { pk: { S: 'P' }, sk: { S: 'c' } },
    ]);
  });

  it('writes 25 items of 300 KB each, and deletes them again', async () => {
    const name = await table();
    const big = 'x'.repeat(300_000);
    const keys = Array.from({ length: 25 }, (_, n) => `chunk-${String(n).padStart(2, '0')}`);
    await write(name, keys.map((sk) => put(sk, { body: { S: big } })));

    const got = await client().send(new GetItemCommand({ TableName: name, Key: { pk: { S: 'P' }, sk: { S: 'chunk-24' } } }));
    expect(got.Item?.['body']?.S).toBe(big);

    await write(name, keys.map(del));
    expect(await items(name)).toEqual([]);
  });

  it("refuses what dynalite refuses, with dynalite's message, and writes nothing of the request", async () => {
    const name = await table();
    await write(name, [put('kept', { n: { N: '1' } })]);
    const refused = async (requests: WriteRequest[]) => {
      const error = await write(name, requests).then(
        () => null,
        (e: unknown) => e as { name: string; message: string },
      );
      return error && { name: error.name, message: error.message };
    };

    expect(await refused([put('new'), del('kept'), put('new')])).toEqual({ name: 'ValidationException', message: 'Provided list of item keys contains duplicates' });
    expect(await refused([put('new'), { DeleteRequest: { Key: { pk: { S: 'P' } } } }])).toEqual({ name: 'ValidationException', message: 'The provided key element does not match the schema' });
    expect(await refused([put('new'), put('huge', { body: { S: 'x'.repeat(410 * 1024) } })])).toEqual({ name: 'ValidationException', message: 'Item size has exceeded the maximum allowed size' });
    expect(await items(name)).toEqual([{ pk: { S: 'P' }, sk: { S: 'kept' }, n: { N: '1' } }]);

    const missing = await client().send(new BatchWriteItemCommand({ RequestItems: { 'no-such-table': [put('a')] } })).catch((e: unknown) => e as Error);
    expect((missing as Error).name).toBe('ResourceNotFoundException');
  });

  it("keeps a table's secondary index in step: puts, replacements and deletes move its entries", async () => {
    const name = await table(true);
    const owned = async (owner: string) =>
      ((await client().send(new QueryCommand({ TableName: name, IndexName: 'by-owner', KeyConditionExpression: '#o = :o', ExpressionAttributeNames: { '#o': 'owner' }, ExpressionAttributeValues: { ':o': { S: owner } } }))).Items ?? [])
        .map((i) => i['sk']?.S)
        .sort();
    await write(name, [put('a', { owner: { S: 'ann' } }), put('b', { owner: { S: 'ann' } })]);

    await write(name, [put('a', { owner: { S: 'bob' } }), del('b')]);

    expect(await owned('ann')).toEqual([]);
    expect(await owned('bob')).toEqual(['a']);
  });
});

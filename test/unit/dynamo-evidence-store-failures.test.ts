import { ConditionalCheckFailedException, DynamoDBClient, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import type { EvidenceItem } from '../../functions/core/evidence';

// Failure paths dynalite cannot produce on demand: throttling, lost races, unprocessed batches.
const ddb = mockClient(DynamoDBDocumentClient);
afterEach(() => ddb.reset());

const store = () => new DynamoEvidenceStore({ client: new DynamoDBClient({ region: 'us-east-1' }), tableName: 't' });
const conditionFailed = () => new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });

describe('DynamoEvidenceStore failure paths', () => {
  it('treats a claim that loses the race as a replay, not an error', async () => {
    // GIVEN nothing is known, but another writer claims evt-2 between our read and our write
    ddb.on(BatchGetCommand).resolves({ Responses: { t: [] } });
    ddb.on(PutCommand).resolves({});
    ddb.on(PutCommand, { Item: { pk: 'EVENT#evt-2' } }).rejects(conditionFailed());

    const fresh = await store().claimEvents(['evt-1', 'evt-2'], new Date('2026-11-23T00:00:00Z'));

    expect([...fresh]).toEqual(['evt-1']);
  });

  it('retries keys BatchGetItem leaves unprocessed instead of dropping them', async () => {
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { t: [] }, UnprocessedKeys: { t: { Keys: [{ pk: 'EVENT#evt-1', sk: 'EVENT' }] } } })
      .resolvesOnce({ Responses: { t: [{ pk: 'EVENT#evt-1', sk: 'EVENT' }] } });

    const fresh = await store().claimEvents(['evt-1'], new Date());

    expect(fresh.size).toBe(0);
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(2);
  });

  it('retries requests BatchWriteItem leaves unprocessed', async () => {
    ddb
      .on(BatchWriteCommand)
      .resolvesOnce({ UnprocessedItems: { t: [{ DeleteRequest: { Key: { pk: 'EVENT#a', sk: 'EVENT' } } }] } })
      .resolvesOnce({});

    await store().releaseEvents(['a', 'b']);

    const second = ddb.commandCalls(BatchWriteCommand)[1]!.args[0].input.RequestItems!['t'];
    expect(second).toEqual([{ DeleteRequest: { Key: { pk: 'EVENT#a', sk: 'EVENT' } } }]);
  });

  it('reports a throttled item write as failed with the events that fed it, and writes the others', async () => {
    const item = (sk: string): EvidenceItem => ({ pk: 'SCOPE#x', sk, type: 'node-day', scope: 'x', day: '2026-11-20', callOk: 1, callFailed: 0 });
    ddb.on(BatchGetCommand).resolves({ Responses: { t: [] } });
    ddb.on(PutCommand).resolves({});
    ddb.on(PutCommand, { Item: { sk: 'NDAY#2026-11-20' } }).rejects(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }));

    const result = await store().apply([
      { item: item('NDAY#2026-11-20'), eventIds: ['e1', 'e2'] },
      { item: item('NDAY#2026-11-21'), eventIds: ['e3'] },
    ]);

    expect(result.written).toBe(1);
    expect(result.failed.map((f) => f.eventIds)).toEqual([['e1', 'e2']]);
    expect(String(result.failed[0]!.error)).toMatch(/slow down/);
  });

  it('re-reads and merges again when another writer changed the item first', async () => {
    const delta: EvidenceItem = { pk: 'SCOPE#x', sk: 'NDAY#d', type: 'node-day', scope: 'x', day: 'd', callOk: 1, callFailed: 0 };
    ddb.on(BatchGetCommand).resolves({ Responses: { t: [{ ...delta, callOk: 5, version: 3 }] } });
    ddb.on(PutCommand).rejectsOnce(conditionFailed()).resolves({});
    ddb.on(GetCommand).resolves({ Item: { ...delta, callOk: 9, version: 4 } });

    const result = await store().apply([{ item: delta, eventIds: ['e1'] }]);

    expect(result.written).toBe(1);
    const puts = ddb.commandCalls(PutCommand).map((c) => c.args[0].input);
    expect(puts.at(-1)).toMatchObject({ Item: { callOk: 10, version: 5 }, ExpressionAttributeValues: { ':v': 4 } });
  });
});


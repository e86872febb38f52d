import { ConditionalCheckFailedException, DynamoDBClient, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import type { EvidenceItem } from '../../functions/core/evidence';

// Failure paths dynalite cannot produce on demand: throttling, lost races, unprocessed batches.
const ddb = mockClient(DynamoDBDocumentClient);
afterEach(() => ddb.reset());
// Unit files share a worker: put the client's real send back for the files after this one.
afterAll(() => ddb.restore());

const store = () => new DynamoEvidenceStore({ client: new DynamoDBClient({ region: 'us-east-1' }), tableName: 't' });
const single = () => new DynamoEvidenceStore({ client: new DynamoDBClient({ region: 'us-east-1' }), tableName: 't', singleWriter: true });
const NOW = new Date('2026-11-23T00:00:00Z');
const events = (...ids: string[]) => ids.map((eventId) => ({ eventId, eventTime: '2026-11-22T10:15:00Z' }));
const conditionFailed = () => new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });

describe('DynamoEvidenceStore failure paths', () => {
  it('re-reads the hour and keeps out an id another writer counted when its claim write loses the race', async () => {
    // GIVEN nothing is known, but another writer counts evt-2 between our read and our claim
    ddb.on(BatchGetCommand).resolves({ Responses: { t: [] } });
    // a table marked as never holding per-event guards (see legacy-guards.test.ts)
    ddb.on(GetCommand).resolves({ Item: { pk: 'FORMAT', sk: 'GUARDS', legacyGuards: false } });
    ddb.on(PutCommand).resolves({});
    ddb.on(PutCommand, { Item: { pk: 'EVENTS#2026-11-22T10', sk: 'S#0001' } }).rejectsOnce(conditionFailed()).resolves({});
    ddb.on(QueryCommand).resolves({ Items: [{ pk: 'EVENTS#2026-11-22T10', sk: 'S#0001', ids: ['evt-2'], version: 1 }] });

    const claim = await store().claimEvents(events('evt-1', 'evt-2'), NOW);

    expect([...claim.fresh]).toEqual(['2026-11-22T10 evt-1']);
    const puts = ddb.commandCalls(PutCommand).map((c) => c.args[0].input);
    // the intent (journal head) before any claim, then the claim under the version it read
    expect(puts[0]).toMatchObject({ Item: { pk: 'JOURNAL', sk: `B#${claim.batch}`, state: 'open', hours: ['2026-11-22T10'] } });
    expect(puts.at(-1)).toMatchObject({
      Item: { ids: ['evt-2'], pending: { [claim.batch]: ['evt-1'] }, version: 2 },
      ConditionExpression: 'version = :v',
      ExpressionAttributeValues: { ':v': 1 },
    });
  });

  it('holds an id claimed by a young uncommitted batch in doubt, and takes over one past its lease', async () => {
    const young = `${(NOW.getTime() - 10_000).toString(36)}-aaaaaaaaaa`;
    const old = `${(NOW.getTime() - 600_000).toString(36)}-bbbbbbbbbb`;
    ddb.on(BatchGetCommand).resolves({ Responses: { t: [{ pk: 'EVENTS#2026-11-22T10', sk: 'S#0001', ids: [], pending: { [young]: ['evt-1'], [old]: ['evt-2'] }, version: 4 }] } });
    ddb.on(GetCommand).resolves({ Item: { state: 'open' } });
    ddb.on(UpdateCommand).resolves({});
    ddb.on(PutCommand).resolves({});

    const claim = await store().claimEvents(events('evt-1', 'evt-2'), NOW);

    expect([...claim.inDoubt]).toEqual(['2026-11-22T10 evt-1']);
    expect([...claim.fresh]).toEqual(['2026-11-22T10 evt-2']);
    // the old batch was given up (conditionally) before its claim was taken
    expect(ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input)).toEqual([
      expect.objectContaining({ Key: { pk: 'JOURNAL', sk: `B#${old}` }, ConditionExpression: '#s = :open' }),
    ]);
    expect(ddb.commandCalls(PutCommand).at(-1)!.args[0].input.Item).toMatchObject({ pending: { [young]: ['evt-1'], [claim.batch]: ['evt-2'] } });
  });

  it('treats an id claimed by a committed batch as a replay', async () => {
    const other = `${(NOW.getTime() - 10_000).toString(36)}-cccccccccc`;
    ddb.on(BatchGetCommand).resolves({ Responses: { t: [{ pk: 'EVENTS#2026-11-22T10', sk: 'S#0001', ids: [], pending: { [other]: ['evt-1'] }, version: 1 }] } });
    ddb.on(GetCommand).resolves({ Item: { state: 'committed' } });
    ddb.on(PutCommand).resolves({});

    const claim = await store().claimEvents(events('evt-1'), NOW);

    expect(claim.fresh.size + claim.inDoubt.size).toBe(0);
  });

  it('refuses to commit a batch another writer gave up', async () => {
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(PutCommand).rejects(conditionFailed());

    await expect(store().commit({ batch: 'b', at: NOW.toISOString(), deltas: [], alerts: [], guards: {} })).rejects.toThrow(/given up by another writer/);
  });

  it('retries keys BatchGetItem leaves unprocessed instead of dropping them', async () => {
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { t: [] }, UnprocessedKeys: { t: { Keys: [{ pk: 'EVENTS#2026-11-22T10', sk: 'S#0001' }] } } })
      .resolvesOnce({ Responses: { t: [{ pk: 'EVENTS#2026-11-22T10', sk: 'S#0001', ids: ['evt-1'] }] } });

    const claim = await store().claimEvents(events('evt-1'), NOW);

    expect(claim.fresh.size).toBe(0);
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(2);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('retries requests BatchWriteItem leaves unprocessed', async () => {
    const chunk = { PutRequest: { Item: { pk: 'JOURNAL', sk: 'C#b#0000', data: '{}' } } };
    ddb.on(BatchWriteCommand).resolvesOnce({ UnprocessedItems: { t: [chunk] } }).resolvesOnce({});
    ddb.on(PutCommand).resolves({});

    await single().commit({ batch: 'b', at: NOW.toISOString(), deltas: [], alerts: [], guards: {} });

    const second = ddb.commandCalls(BatchWriteCommand)[1]!.args[0].input.RequestItems!['t'];
    expect(second).toEqual([chunk]);
  });

  it('reports a throttled item write as failed, as the delta it was given, and writes the others', async () => {
    const item = (sk: string): EvidenceItem => ({ pk: 'SCOPE#x', sk, type: 'node-day', scope: 'x', day: '2026-11-20', callOk: 1, callFailed: 0 });
    ddb.on(BatchGetCommand).resolves({ Responses: { t: [] } });
    ddb.on(PutCommand).resolves({});
    ddb.on(PutCommand, { Item: { sk: 'NDAY#2026-11-20' } }).rejects(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }));

    const result = await store().apply([
      { item: item('NDAY#2026-11-20') },
      { item: item('NDAY#2026-11-21') },
    ]);

    expect(result.written).toBe(1);
    expect(result.failed.map((f) => f.item)).toEqual([item('NDAY#2026-11-20')]);
    expect(String(result.failed[0]!.error)).toMatch(/slow down/);
  });

  it("reports a month of daily counts that failed as each day's delta it packed, so the events of those days are the ones retried", async () => {
    const day = (namespace: string, date: string): EvidenceItem => ({ pk: 'SCOPE#x', sk: `DAY#${namespace}#${date}`, type: 'day', scope: 'x', namespace, day: date, irsaOk: 1, irsaFailed: 0 });
    ddb.on(BatchGetCommand).resolves({ Responses: { t: [] } });
    ddb.on(PutCommand).resolves({});
    ddb.on(PutCommand, { Item: { sk: 'DAYS#billing#2026-11' } }).rejects(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }));

    const result = await store().apply([{ item: day('billing', '2026-11-20') }, { item: day('payments', '2026-11-20') }, { item: day('billing', '2026-11-21') }, { item: day('billing', '2026-12-01') }]);

    expect(result.written).toBe(2);
    expect(result.failed.map((f) => f.item)).toEqual([day('billing', '2026-11-20'), day('billing', '2026-11-21')]);
  });

  it('re-reads and merges again when another writer changed the item first', async () => {
    const delta: EvidenceItem = { pk: 'SCOPE#x', sk: 'NDAY#d', type: 'node-day', scope: 'x', day: 'd', callOk: 1, callFailed: 0 };
    ddb.on(BatchGetCommand).resolves({ Responses: { t: [{ ...delta, callOk: 5, version: 3 }] } });
    ddb.on(PutCommand).rejectsOnce(conditionFailed()).resolves({});
    ddb.on(GetCommand).resolves({ Item: { ...delta, callOk: 9, version: 4 } });

    const result = await store().apply([{ item: delta }]);

    expect(result.written).toBe(1);
    const puts = ddb.commandCalls(PutCommand).map((c) => c.args[0].input);
    expect(puts.at(-1)).toMatchObject({ Item: { callOk: 10, version: 5 }, ExpressionAttributeValues: { ':v': 4 } });
  });
});


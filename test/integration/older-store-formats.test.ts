import { gzipSync } from 'node:zlib';
import { PutCommand, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import { aggregate } from '../../functions/core/evidence';
import { ingestBatch } from '../../functions/core/ingest';
import { GUARD_FORMAT_PK, GUARD_FORMAT_SK, legacyEventGuardPk, SCOPES_PK } from '../../functions/core/table-schema';
import { embeddedTables } from '../support/embedded-tables';
import { identityEvent } from '../support/events';

/*
 * What older versions left in a table is still read right.
 *
 * Stores written before the journal kept one guard item per event (`EVENT#<id>`). A claim still
 * honours them in a table that may hold them, and skips the lookup (one key per event) in a table
 * that never counted an event before a journal-era writer claimed in it.
 */
const tables = embeddedTables('older-formats');

const events = (ids: string[]) =>
  ids.map((id, n) =>
    identityEvent('irsa', {
      eventId: id,
      eventTime: `2026-11-10T10:0${n}:00Z`,
      oidcIssuer: 'oidc.eks.eu-west-1.amazonaws.com/id/ABC',
      namespace: 'payments',
      serviceAccount: 'api',
      roleArn: 'arn:aws:iam::111122223333:role/api',
    }),
  );

/** Records every key a BatchGetItem asks for, by SDK middleware on the shared client. */
function watchBatchGets(): { keys: string[]; remove(): void } {
  const keys: string[] = [];
  const client = tables.embedded.client;
  const name = `watch-gets-${Math.random().toString(36).slice(2)}`;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'BatchGetItemCommand') {
        // The document client's input: keys as plain strings (marshalled later in the stack).
        const request = (args.input as { RequestItems: Record<string, { Keys: { pk: string }[] }> }).RequestItems;
        for (const { Keys } of Object.values(request)) for (const k of Keys) keys.push(k.pk);
      }
      return next(args);
    },
    { step: 'initialize', name },
  );
  return { keys, remove: () => void client.middlewareStack.remove(name) };
}

const doc = () => DynamoDBDocumentClient.from(tables.embedded.client);
const marker = async (store: DynamoEvidenceStore) =>
  (await doc().send(new GetCommand({ TableName: store.tableName, Key: { pk: GUARD_FORMAT_PK, sk: GUARD_FORMAT_SK } }))).Item;

describe('per-event guards of pre-journal stores', () => {
  it('a table that never counted an event gets the format marker at its first claim, and no claim looks up a guard per event', async () => {
    const store = await tables.fresh();
    const watch = watchBatchGets();
    try {
      const first = await ingestBatch(events(['a-1', 'a-2']), store, new Date('2026-11-10T11:00:00Z'));
      const again = await ingestBatch(events(['a-1', 'a-2', 'a-3']), store, new Date('2026-11-10T11:05:00Z'));
      expect(first.replayed).toBe(0);
      expect(again.replayed).toBe(2);
      expect(watch.keys.filter((k) => k.startsWith('EVENT#'))).toEqual([]);
      expect(await marker(store)).toMatchObject({ legacyGuards: false });
    } finally {
      watch.remove();
    }
  });

  it('a table that counted events before, without the marker, still honours a per-event guard and is not marked', async () => {
    const store = await tables.fresh();
    // What a pre-journal writer left: the event's scope and its own guard item.
    await doc().send(new PutCommand({ TableName: store.tableName, Item: { pk: SCOPES_PK, sk: 'issuer:oidc.eks.eu-west-1.amazonaws.com/id/ABC', type: 'scope', kind: 'issuer' } }));
    await doc().send(new PutCommand({ TableName: store.tableName, Item: { pk: legacyEventGuardPk('old-1'), sk: 'EVENT' } }));
    const watch = watchBatchGets();
    try {
      const result = await ingestBatch(events(['old-1', 'new-1']), store, new Date('2026-11-10T11:00:00Z'));
      expect(result.replayed).toBe(1);
      expect(watch.keys).toContain(legacyEventGuardPk('new-1'));
      expect(await marker(store)).toBeUndefined();
    } finally {
      watch.remove();
    }
  });

  it('a marked table does not read per-event guards (so an EVENT# item written after the marker is not one)', async () => {
    const store = await tables.fresh();
    await ingestBatch(events(['m-1']), store, new Date('2026-11-10T11:00:00Z'));
    await doc().send(new PutCommand({ TableName: store.tableName, Item: { pk: legacyEventGuardPk('m-2'), sk: 'EVENT' } }));
    const result = await ingestBatch(events(['m-1', 'm-2']), store, new Date('2026-11-10T11:05:00Z'));
    expect(result.replayed).toBe(1);
    expect(result.itemsWritten).toBeGreaterThan(0);
  });
});

describe('daily counts packed as a map of lists', () => {
  it('a month written as `d` (a list of four counts per day) is read, summed with new events, and written back as one string', async () => {
    const store = await tables.fresh();
    const doc = DynamoDBDocumentClient.from(tables.embedded.client);
    const scope = 'issuer:oidc.eks.eu-west-1.amazonaws.com/id/ABC';
    const pk = `SCOPE#${scope}`;
    // GIVEN a month of payments written before: 2 IRSA assumes on the 10th, 1 Pod Identity on the 12th
    await doc.send(new PutCommand({ TableName: store.tableName, Item: { pk, sk: 'DAYS#payments#2026-11', type: 'days', scope, namespace: 'payments', month: '2026-11', d: { '12': [0, 0, 1, 0], '10': [2, 0, 0, 0] } } }));
    // WHEN two events of the 10th are ingested
    await ingestBatch(events(['older-days-2', 'older-days-3']), store, new Date('2026-11-20T00:00:00Z'));

    // THEN the month holds the sums in the string form, and no map
    const { Item } = await doc.send(new GetCommand({ TableName: store.tableName, Key: { pk, sk: 'DAYS#payments#2026-11' } }));
    expect(Item?.['counts']).toBe('10:4.0.0.0 12:0.0.1.0');
    expect(Item?.['d']).toBeUndefined();
    // and readers see one item a day
    const days = (await store.namespaceEvidence([scope], 'payments')).filter((i) => i.type === 'day');
    expect(days.map((d) => [d.sk, d['irsaOk'], d['piOk']])).toEqual([
      ['DAY#payments#2026-11-10', 4, undefined],
      ['DAY#payments#2026-11-12', undefined, 1],
    ]);
  });
});

describe('journals written as text chunks', () => {
  it('a committed journal of text chunks (as written before journals were compressed) is rolled forward by the next batch', async () => {
    const store = await tables.fresh();
    const batch = `${new Date('2026-11-10T11:00:00Z').getTime().toString(36).padStart(9, '0')}-0123456789`;
    const counted = events(['t-1', 't-2']);
    const body = JSON.stringify({ deltas: aggregate(counted).map((d) => d.item), alerts: [], guards: { '2026-11-10T10': ['t-1', 't-2'] } });
    const half = Math.ceil(body.length / 2);
    for (const [n, data] of [body.slice(0, half), body.slice(half)].entries()) {
      await doc().send(new PutCommand({ TableName: store.tableName, Item: { pk: 'JOURNAL', sk: `C#${batch}#${String(n).padStart(4, '0')}`, data } }));
    }
    await doc().send(
      new PutCommand({ TableName: store.tableName, Item: { pk: 'JOURNAL', sk: `B#${batch}`, batch, state: 'committed', at: '2026-11-10T11:00:00.000Z', chunks: 2, hours: ['2026-11-10T10'] } }),
    );

    // The next batch recovers it first: its events count, once, and the journal is gone.
    const next = await ingestBatch(events(['t-1', 't-2', 't-3']), store, new Date('2026-11-10T11:05:00Z'));
    expect(next.replayed).toBe(2);
    const evidence = await store.namespaceEvidence(['issuer:oidc.eks.eu-west-1.amazonaws.com/id/ABC'], 'payments');
    expect(evidence.find((i) => i.sk === 'SA#payments#api')).toMatchObject({ irsaOk: 3, irsaLastOk: '2026-11-10T10:02:00Z' });
    const journal = await doc().send(new GetCommand({ TableName: store.tableName, Key: { pk: 'JOURNAL', sk: `B#${batch}` } }));
    expect(journal.Item).toBeUndefined();
  });
});

describe('a batch journal an earlier version committed, met by a staged run', () => {
  it.each([
    ['before its items', 'SCOPE#'],
    ['after its items (tagged with the batch), before the guards', 'EVENTS#'],
  ])("is rolled forward into the stage, and a write-out cut short after the stage's journal, %s, is finished by the next run: each event once, no journal left", async (_when, dies) => {
    // GIVEN a committed batch journal of t-1 and t-2, as a version that wrote one per batch left it
    const store = await tables.fresh();
    const batch = `${new Date('2026-11-10T11:00:00Z').getTime().toString(36).padStart(9, '0')}-0123456789`;
    const body = JSON.stringify({ deltas: aggregate(events(['t-1', 't-2']), {}, batch).map((d) => d.item), alerts: [], guards: { '2026-11-10T10': ['t-1', 't-2'] } });
    await doc().send(new PutCommand({ TableName: store.tableName, Item: { pk: 'JOURNAL', sk: `C#${batch}#0000`, gz: gzipSync(body) } }));
    await doc().send(
      new PutCommand({ TableName: store.tableName, Item: { pk: 'JOURNAL', sk: `B#${batch}`, batch, state: 'committed', at: '2026-11-10T11:00:00.000Z', chunks: 1, hours: ['2026-11-10T10'] } }),
    );
    // ... and writes that fail once the stage's journal is written (the write-out dies there)
    const client = tables.embedded.client;
    const name = `cut-after-stage-journal-${store.tableName}`;
    let stageJournal = false;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = JSON.stringify(args.input);
        if (context.commandName === 'BatchWriteItemCommand' && input.includes('"kind":"stage"')) stageJournal = true;
        else if (stageJournal && context.commandName === 'BatchWriteItemCommand' && input.includes(dies)) throw new Error('injected: the writer died here');
        return next(args);
      },
      { step: 'initialize', name },
    );

    // WHEN a staged run meets it: its recovery rolls it into the stage and writes the stage out, which dies
    store.stageWrites();
    try {
      await expect(ingestBatch(events(['t-1', 't-2', 't-3']), store, new Date('2026-11-10T11:05:00Z'))).rejects.toThrow(/injected/);
    } finally {
      client.middlewareStack.remove(name);
    }
    expect(stageJournal).toBe(true);
    // (items the write-out reached carry the rolled-forward batch's tag: its journal may be applied again)
    const reached = (await doc().send(new GetCommand({ TableName: store.tableName, Key: { pk: 'SCOPE#issuer:oidc.eks.eu-west-1.amazonaws.com/id/ABC', sk: 'SA#payments#api' } }))).Item;
    expect(reached?.['batches']).toEqual(dies === 'EVENTS#' ? [batch] : undefined);

    // THEN the next run (a new writer) finishes both journals: t-1 and t-2 count once, t-3 once
    const next = new DynamoEvidenceStore({ client: tables.embedded.client, tableName: store.tableName, singleWriter: true });
    next.stageWrites();
    const rerun = await ingestBatch(events(['t-1', 't-2', 't-3']), next, new Date('2026-11-10T11:10:00Z'));
    await next.endStaging();
    expect(rerun.replayed).toBe(2);
    const evidence = await next.namespaceEvidence(['issuer:oidc.eks.eu-west-1.amazonaws.com/id/ABC'], 'payments');
    expect(evidence.find((i) => i.sk === 'SA#payments#api')).toMatchObject({ irsaOk: 3, irsaLastOk: '2026-11-10T10:02:00Z' });
    const { Items = [] } = await doc().send(new ScanCommand({ TableName: store.tableName }));
    expect(Items.filter((i) => i['pk'] === 'JOURNAL')).toEqual([]);
  });
});

describe('one eventID at two hours', () => {
  it('is two events in one batch, in one staged run and across runs alike, so a rerun counts what a clean run counts', async () => {
    // Two records sharing an eventID but not an hour (CloudTrail repeats an event with its own eventTime).
    const twin = (hour: string) =>
      identityEvent('irsa', {
        eventId: 'twin',
        eventTime: `2026-11-10T${hour}:00:00Z`,
        oidcIssuer: 'oidc.eks.eu-west-1.amazonaws.com/id/ABC',
        namespace: 'payments',
        serviceAccount: 'api',
        roleArn: 'arn:aws:iam::111122223333:role/api',
      });
    const oneBatch = await tables.fresh();
    expect((await ingestBatch([twin('10'), twin('11')], oneBatch, new Date('2026-11-10T12:00:00Z'))).replayed).toBe(0);

    const staged = await tables.fresh();
    staged.stageWrites();
    expect((await ingestBatch([twin('10')], staged, new Date('2026-11-10T12:00:00Z'))).replayed).toBe(0);
    expect((await ingestBatch([twin('11')], staged, new Date('2026-11-10T12:00:00Z'))).replayed).toBe(0);
    await staged.endStaging();
    // Another run: both are in the guards now, each in its hour.
    expect((await ingestBatch([twin('10'), twin('11')], staged, new Date('2026-11-10T12:05:00Z'))).replayed).toBe(2);

    const irsaOk = async (store: DynamoEvidenceStore) =>
      (await store.namespaceEvidence(['issuer:oidc.eks.eu-west-1.amazonaws.com/id/ABC'], 'payments')).find((i) => i.sk === 'SA#payments#api')?.['irsaOk'];
    expect(await irsaOk(oneBatch)).toBe(2);
    expect(await irsaOk(staged)).toBe(2);
  });
});

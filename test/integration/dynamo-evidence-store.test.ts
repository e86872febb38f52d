import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBDocumentClient, GetCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import type { Alert } from '../../functions/core/alert';
import type { EvidenceItem } from '../../functions/core/evidence';
import type { IdentityEvent } from '../../functions/core/identity-event';
import { ingestBatch, type BatchJournal } from '../../functions/core/ingest';
import { defaultPolicy } from '../../functions/core/policy';
import { assessReadiness } from '../../functions/core/readiness';
import { COVERAGE_PK, coverageSk, JOURNAL_PK } from '../../functions/core/table-schema';
import { startEmbeddedStore, type EmbeddedStore } from '../../functions/local/embedded-store';
import { putItem } from '../support/count-writes';
import { logCoverage } from '../support/coverage';
import { CoverageAccumulator } from '../../functions/core/coverage';
import { FILE_MARK_SETS } from '../../functions/core/coverage-marks';
import { identityEvent } from '../support/events';
import { numberedAlert } from '../support/alerts';
import { storedEvidence } from '../support/stored-evidence';

// The real DynamoDB API (dynalite on disk), as the CLI runs it.
let dir: string;
let embedded: EmbeddedStore;
let tableCount = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cw-store-'));
  embedded = await startEmbeddedStore(dir);
});
afterAll(async () => {
  await embedded.close();
  await rm(dir, { recursive: true, force: true });
});

async function freshStore(singleWriter = false, options: Omit<ConstructorParameters<typeof DynamoEvidenceStore>[0], 'client' | 'tableName' | 'singleWriter'> = {}): Promise<DynamoEvidenceStore> {
  tableCount += 1;
  const store = new DynamoEvidenceStore({ client: embedded.client, tableName: `evidence-${tableCount}`, singleWriter, ...options });
  await store.ensureTable();
  return store;
}

const issuer = 'oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789ABCDEF0123456789';
const clusterArn = 'arn:aws:eks:us-east-1:111122223333:cluster/payments-prod';
let seq = 0;
function event(over: Partial<IdentityEvent>): IdentityEvent {
  seq += 1;
  return identityEvent('irsa', {
    eventId: `evt-${seq}`, eventTime: '2026-11-10T10:00:00Z', namespace: 'orders', serviceAccount: 'orders-api',
    roleArn: 'arn:aws:iam::111122223333:role/orders-api', action: 'sts:AssumeRoleWithWebIdentity', ...over,
  });
}
const irsa = (time: string) => event({ kind: 'irsa', eventTime: time, oidcIssuer: issuer });
const pod = (time: string) =>
  event({ kind: 'pod-identity', eventTime: time, cluster: 'payments-prod', clusterArn, action: 'sts:AssumeRole', podName: 'orders-api-1' });

const inventory = {
  clusters: [{ name: 'payments-prod', arn: clusterArn, region: 'us-east-1', account: '111122223333', oidcIssuer: issuer }],
  associations: [],
  nodegroups: [],
};


describe('DynamoEvidenceStore on dynalite', () => {
  it('stores evidence that readiness reads back, with exact counts and first/last times', async () => {
    const store = await freshStore();
    await store.saveInventory(inventory);
    const events = [irsa('2026-11-01T08:00:00Z'), irsa('2026-11-05T09:00:00Z'), pod('2026-11-04T00:00:00Z'), pod('2026-11-17T00:00:00Z')];

    const result = await ingestBatch(events, store, new Date('2026-11-21T00:00:00Z'));

    expect(result.failedEventIds).toEqual([]);
    // The trail's log files of those weeks were read: coverage goes through the store's ADD sets and back.
    const coverage = logCoverage([{ account: '111122223333', region: 'us-east-1' }], Date.parse('2026-10-25T00:00:00Z'), Date.parse('2026-11-19T00:00:00Z'));
    await store.recordCoverage(coverage);
    await store.recordCoverage(coverage.slice(0, 3));
    const snap = await store.snapshot({ fromDay: '2026-11-01', namespaceDays: false });
    expect(snap.coverage.map((d) => [d.day, d.fileHours.length]).sort()).toEqual(coverage.map((d) => [d.day, d.fileHours.length]).sort());
    const report = assessReadiness(snap, { asOf: new Date('2026-11-18T12:00:00Z') });
    expect(report.namespaces).toHaveLength(1);
    expect(report.namespaces[0]).toMatchObject({
      cluster: 'payments-prod', namespace: 'orders', verdict: 'SOAKING', lastIrsa: '2026-11-05T09:00:00Z',
      firstPodIdentity: '2026-11-04T00:00:00Z', lastPodIdentity: '2026-11-17T00:00:00Z', soakDaysLeft: 1,
      soakEndsAt: '2026-11-19T09:00:00Z',
    });
    const sa = snap.items.filter((i) => i.type === 'sa');
    expect(sa.map((i) => [i['irsaOk'] ?? 0, i['piOk'] ?? 0]).sort()).toEqual([[0, 2], [2, 0]]);
  });

  it.each([
    ['the only writer', true],
    ['several writers at once', false],
  ] as const)("%s: keeps a day's log file marks and gives back only the listed files not read", async (_mode, singleWriter) => {
    const store = await freshStore(singleWriter);
    const file = (n: number) => ({ account: '111122223333', region: 'eu-west-1', day: '2026-11-19', token: `20261119T${String(n).padStart(2, '0')}05Z_File${n}`, oldest: Date.parse(`2026-11-19T${String(n).padStart(2, '0')}:00:00Z`), newest: Date.parse(`2026-11-19T${String(n).padStart(2, '0')}:04:00Z`), sha256: null });
    const marks = (each: (c: CoverageAccumulator) => void) => {
      const c = new CoverageAccumulator();
      each(c);
      return c.days();
    };
    // WHEN a digest lists 12 files, and 11 writers record one of them read each: several writers
    // all at once (each from the same first read), the only writer one after the other
    await store.recordCoverage(marks((c) => Array.from({ length: 12 }, (_, n) => c.addListedFile(file(n)))));
    const writers = Array.from({ length: 11 }, () => new DynamoEvidenceStore({ client: embedded.client, tableName: store.tableName, singleWriter }));
    const readOne = (w: DynamoEvidenceStore, n: number) => w.recordCoverage(marks((c) => c.addReadFile(file(n))));
    if (singleWriter) for (const [n, w] of writers.entries()) await readOne(w, n);
    else await Promise.all(writers.map(readOne));

    // THEN readers get the one file no writer read, not the marks
    expect(await store.coverageDays()).toEqual([
      { account: '111122223333', region: 'eu-west-1', day: '2026-11-19', fileHours: [], liveHours: [], slices: [], unreadFiles: [`${file(11).token} 2026-11-19T11:00:00Z 2026-11-19T11:04:00Z -`] },
    ]);
    // and once it is read, none; and the item keeps no mark of what matched (~300 files a day on a real trail)
    await readOne(store, 11);
    expect((await store.coverageDays())[0]).not.toHaveProperty('unreadFiles');
    const { Item } = await DynamoDBDocumentClient.from(embedded.client).send(new GetCommand({ TableName: store.tableName, Key: { pk: COVERAGE_PK, sk: coverageSk('111122223333', 'eu-west-1', '2026-11-19') } }));
    expect(Object.keys(Item ?? {}).filter((field) => (FILE_MARK_SETS as readonly string[]).includes(field))).toEqual([]);
  });

  it.each([
    ['conditional guards (shared table)', false],
    ['batched guards (embedded, single writer)', true],
  ])('replaying the same events, in other batches and order, changes no item: %s', async (_mode, singleWriter) => {
    const store = await freshStore(singleWriter);
    const events = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? pod : irsa)(`2026-11-${String(1 + (i % 20)).padStart(2, '0')}T0${i % 10}:00:00Z`));
    await ingestBatch(events, store, new Date('2026-11-21T00:00:00Z'));
    const before = await storedEvidence(store);

    const replay1 = await ingestBatch(events.slice(0, 30).reverse(), store, new Date('2026-11-22T00:00:00Z'));
    const replay2 = await ingestBatch(events.slice(20), store, new Date('2026-11-22T00:00:00Z'));

    expect(replay1.replayed).toBe(30);
    expect(replay2.replayed).toBe(40);
    expect(replay1.itemsWritten + replay2.itemsWritten).toBe(0);
    expect(await storedEvidence(store)).toEqual(before);
  });

  it('writes an item only when a merge changes it: a field it lacked is a change; another field order, or counts of zero, are not', async () => {
    const store = await freshStore(true);
    const role = { pk: 'ROLE#arn:aws:iam::111122223333:role/orders-api', sk: 'ROLE', type: 'role', roleArn: 'arn:aws:iam::111122223333:role/orders-api', firstSeen: '2026-11-01T00:00:00Z' } as EvidenceItem;
    const day = (dd: string, irsaOk: number) => ({ pk: 'SCOPE#issuer#x', sk: `DAY#orders#2026-11-${dd}`, type: 'day', scope: 'issuer#x', namespace: 'orders', day: `2026-11-${dd}`, irsaOk, irsaFailed: 0 }) as EvidenceItem;
    expect(await store.apply([{ item: role }, { item: day('05', 2) }, { item: day('03', 1) }])).toMatchObject({ written: 2, unchanged: 0 });

    // a later use of the role (the first stays first), its fields in another order; a day that adds nothing
    const later = { firstSeen: '2026-11-02T00:00:00Z', roleArn: role.roleArn, type: 'role', sk: role.sk, pk: role.pk } as EvidenceItem;
    expect(await store.apply([{ item: later }, { item: day('05', 0) }])).toMatchObject({ written: 0, unchanged: 2 });

    // a field the item did not hold, and a count that moves
    expect(await store.apply([{ item: { ...later, note: 'seen from a new place' } }, { item: day('03', 1) }])).toMatchObject({ written: 2, unchanged: 0 });
    const doc = DynamoDBDocumentClient.from(embedded.client);
    const read = async (pk: string, sk: string) => (await doc.send(new GetCommand({ TableName: store.tableName, Key: { pk, sk } }))).Item;
    expect(await read(role.pk, role.sk)).toMatchObject({ firstSeen: '2026-11-01T00:00:00Z', note: 'seen from a new place' });
    // the month's days, each `dd:irsaOk.irsaFailed.piOk.piFailed`
    expect(await read('SCOPE#issuer#x', 'DAYS#orders#2026-11')).toMatchObject({ counts: '03:2.0.0.0 05:2.0.0.0' });
  });

  it('two writers merging into the same items concurrently lose no count (optimistic lock)', async () => {
    const store = await freshStore();
    const other = new DynamoEvidenceStore({ client: embedded.client, tableName: store.tableName });
    const a = Array.from({ length: 40 }, (_, i) => irsa(`2026-11-10T10:${String(i).padStart(2, '0')}:00Z`));
    const b = Array.from({ length: 40 }, (_, i) => irsa(`2026-11-11T10:${String(i).padStart(2, '0')}:00Z`));

    const results = await Promise.all([
      ...Array.from({ length: 8 }, (_, i) => ingestBatch(a.slice(i * 5, i * 5 + 5), store, new Date())),
      ...Array.from({ length: 8 }, (_, i) => ingestBatch(b.slice(i * 5, i * 5 + 5), other, new Date())),
    ]);

    expect(results.flatMap((r) => r.failedEventIds)).toEqual([]);
    const sa = (await storedEvidence(store)).find((i) => i.type === 'sa');
    expect(sa).toMatchObject({ irsaOk: 80, irsaFirstOk: '2026-11-10T10:00:00Z', irsaLastOk: '2026-11-11T10:39:00Z' });
  });

  it('keeps inventory facts across imports: a later list summary does not erase a described role', async () => {
    const store = await freshStore();
    const described = { cluster: 'payments-prod', clusterArn, namespace: 'orders', serviceAccount: 'orders-api', associationId: 'a-1', roleArn: 'arn:aws:iam::111122223333:role/orders-api', targetRoleArn: null, disableSessionTags: false, createdAt: null };
    await store.saveInventory({ clusters: [], associations: [described], nodegroups: [] });
    await store.saveInventory({ clusters: [], associations: [{ ...described, roleArn: null, disableSessionTags: null }], nodegroups: [] });

    const stored = await store.loadInventory();

    expect(stored.associations).toEqual([described]);
  });

  it('says which table is missing and how to fix it', async () => {
    const store = new DynamoEvidenceStore({ client: embedded.client, tableName: 'no-such-table' });
    await expect(store.assertTable('eu-west-1')).rejects.toThrow(/table no-such-table does not exist in eu-west-1: deploy the stack/);
  });

  it('refuses a second process on the same store directory, naming it', async () => {
    // this process already holds `dir`; a lock held by a live pid that is not ours must be refused
    const other = await mkdtemp(path.join(os.tmpdir(), 'cw-lock-'));
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path.join(other, 'store.lock'), String(process.ppid));
    await expect(startEmbeddedStore(other)).rejects.toThrow(/in use by another cutover-watch process \(pid \d+\)/);
    await rm(other, { recursive: true, force: true });
  });
});

describe("the only writer's recovery before each batch", () => {
  /** A probe on the client: counts reads of the journal partition, and fails the next write of a journal head, after it lands or before. */
  function journalProbe() {
    const probe = { reads: 0, failHead: undefined as 'after' | 'before' | undefined };
    embedded.client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = JSON.stringify(args.input);
        if (context.commandName === 'QueryCommand' && input.includes(`"${JOURNAL_PK}"`)) probe.reads += 1;
        const head = context.commandName === 'BatchWriteItemCommand' && input.includes('"B#');
        if (head && probe.failHead === 'before') {
          probe.failHead = undefined;
          throw new Error('connection refused before the commit was written (injected)');
        }
        const out = await next(args);
        if (head && probe.failHead === 'after') {
          probe.failHead = undefined;
          throw new Error('socket hang up after the commit was written (injected)');
        }
        return out;
      },
      { step: 'initialize', name: 'journal-probe' },
    );
    return probe;
  }
  const now = new Date('2026-11-21T00:00:00Z');
  const batches = [1, 2, 3, 4].map((day) => Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? pod : irsa)(`2026-11-0${day}T0${i}:00:00Z`)));

  it("reads the journals at its first batch and after its stage's journal write failed, and finishes what that write-out left", async () => {
    // GIVEN the only writer staging its batches
    const store = await freshStore(true);
    expect(store.stageWrites()).toBe(true);
    const probe = journalProbe();
    try {
      // WHEN two batches go in without trouble
      await ingestBatch(batches[0]!, store, now);
      await ingestBatch(batches[1]!, store, now);
      // THEN only the first read the journals (nothing else writes this table)
      expect(probe.reads).toBe(1);

      // WHEN a write-out's journal lands but its answer is lost
      probe.failHead = 'after';
      await expect(store.writeStaged()).rejects.toThrow(/injected/);
      expect(store.lostStages).toBe(1);
      const readsBefore = probe.reads;
      // ... and the second batch is read again (its files were not recorded as read), then two more go in
      const reread = await ingestBatch(batches[1]!, store, now);
      await ingestBatch(batches[2]!, store, now);
      await ingestBatch(batches[3]!, store, now);
      await store.endStaging();

      // THEN the next batch's recovery read the journals and finished the write-out: the events read
      // again are replays, and the table holds what one clean batch of all four gives
      expect(probe.reads).toBeGreaterThan(readsBefore);
      expect(reread.replayed).toBe(6);
      const clean = await freshStore(true);
      await ingestBatch(batches.flat(), clean, now);
      expect(await storedEvidence(store)).toEqual(await storedEvidence(clean));
    } finally {
      embedded.client.middlewareStack.remove('journal-probe');
    }
  });

  it('loses nothing counted when a write-out fails before its journal lands: nothing of the stage is in the table, and its events read again count once', async () => {
    // GIVEN the only writer staging two batches
    const store = await freshStore(true);
    expect(store.stageWrites()).toBe(true);
    const probe = journalProbe();
    const keys = async () => {
      const { Items = [] } = await DynamoDBDocumentClient.from(embedded.client).send(new ScanCommand({ TableName: `evidence-${tableCount}` }));
      return Items.map((item) => `${String(item['pk'])} ${String(item['sk'])}`).filter((k) => !k.startsWith(`${JOURNAL_PK} C#`));
    };
    try {
      await ingestBatch(batches[0]!, store, now);
      const before = await keys();
      await ingestBatch(batches[1]!, store, now);

      // WHEN its write-out fails before the journal's head is written
      probe.failHead = 'before';
      await expect(store.writeStaged()).rejects.toThrow(/injected/);

      // THEN the table holds none of the stage: no evidence, no guard, no journal head (its chunks,
      // written first, are inert and swept by the next recovery)
      expect(store.lostStages).toBe(1);
      expect(await keys()).toEqual(before);

      // WHEN both batches are read again (their files were not recorded as read) and the stage ends
      const again = [await ingestBatch(batches[0]!, store, now), await ingestBatch(batches[1]!, store, now)];
      await store.endStaging();

      // THEN every event counts (none is taken for a replay), and the table is what one clean batch gives
      expect(again.map((r) => r.replayed)).toEqual([0, 0]);
      const clean = await freshStore(true);
      await ingestBatch(batches.slice(0, 2).flat(), clean, now);
      expect(await storedEvidence(store)).toEqual(await storedEvidence(clean));
    } finally {
      embedded.client.middlewareStack.remove('journal-probe');
    }
  });
  it('finishes from its journal a staged item it could not pack (a map, a string set and binary another writer left), exactly', async () => {
    // GIVEN a role item holding what the stage's packing cannot hold, and a writer staging a merge into it
    const store = await freshStore(true);
    const tableName = `evidence-${tableCount}`;
    const role = { pk: 'ROLE#arn:aws:iam::111122223333:role/orders-api', sk: 'ROLE', type: 'role', roleArn: 'arn:aws:iam::111122223333:role/orders-api', firstSeen: '2026-11-02T00:00:00Z' } as EvidenceItem;
    const odd = { audit: { by: 'migration-bot', tickets: ['OPS-1'] }, owners: new Set(['team-a', 'team-b']), digest: new Uint8Array([0, 1, 254, 255]) };
    const doc = DynamoDBDocumentClient.from(embedded.client);
    await doc.send(new PutCommand({ TableName: tableName, Item: { ...role, ...odd, version: 1 } }));
    store.stageWrites();
    expect(await store.apply([{ item: { ...role, firstSeen: '2026-11-01T00:00:00Z' }, batch: 'mhz0000-aaaa' }])).toMatchObject({ written: 1 });
    const probe = journalProbe();
    try {
      // WHEN its write-out's journal lands, the answer is lost, and the next recovery finishes it
      probe.failHead = 'after';
      await expect(store.writeStaged()).rejects.toThrow(/injected/);
      await store.recover(now);
    } finally {
      embedded.client.middlewareStack.remove('journal-probe');
    }

    // THEN the item holds the merge beside all the other writer left, as it was
    const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: { pk: role.pk, sk: role.sk } }));
    expect(Item).toMatchObject({ firstSeen: '2026-11-01T00:00:00Z', audit: odd.audit, owners: odd.owners });
    expect(new Uint8Array(Item?.['digest'] as Uint8Array)).toEqual(odd.digest);
    expect((await DynamoDBDocumentClient.from(embedded.client).send(new ScanCommand({ TableName: tableName }))).Items?.filter((i) => i['pk'] === JOURNAL_PK)).toEqual([]);
  });
});

describe("the only writer's write-out of a stage", () => {
  const now = new Date('2026-11-21T00:00:00Z');
  /** A batch of day `d`: an IRSA assume and a Pod Identity fetch in each of 40 namespaces, so a write-out is several requests. */
  const batchOfDay = (d: number) =>
    Array.from({ length: 40 }, (_, n) => [
      event({ kind: 'irsa', eventTime: `2026-11-0${d}T01:00:00Z`, oidcIssuer: issuer, namespace: `ns-${n}` }),
      event({ kind: 'pod-identity', eventTime: `2026-11-0${d}T02:00:00Z`, cluster: 'payments-prod', clusterArn, action: 'sts:AssumeRole', podName: 'api-1', namespace: `ns-${n}` }),
    ]).flat();
  const batches = [1, 2, 3].map(batchOfDay);
  /** Every item of the table as stored (tags and journal included), page after page. */
  async function table(store: DynamoEvidenceStore): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await DynamoDBDocumentClient.from(embedded.client).send(new ScanCommand({ TableName: store.tableName, ExclusiveStartKey: start }));
      items.push(...((page.Items ?? []) as Record<string, unknown>[]));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  }
  /** Item writes fail from the second request of each write-out on, while `cut.on`. */
  function cutWriteOuts(): { on: boolean; remove: () => void } {
    const cut = { on: true, remove: () => embedded.client.middlewareStack.remove('cut-write-out') };
    let requests = 0;
    embedded.client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = JSON.stringify(args.input);
        // a write-out's first request of items goes through, the rest fail
        if (context.commandName === 'BatchWriteItemCommand' && !input.includes('"SCOPE#')) requests = 0;
        if (cut.on && context.commandName === 'BatchWriteItemCommand' && input.includes('"SCOPE#') && ++requests > 1) throw new Error('injected: the request did not reach the table');
        return next(args);
      },
      { step: 'initialize', name: 'cut-write-out' },
    );
    return cut;
  }

  it('cut short in two runs, finished by a third: each batch is counted once, and no journal is left', async () => {
    // GIVEN a first run whose write-out writes its first request of items and no more
    const store = await freshStore(true);
    const cut = cutWriteOuts();
    let partial = 0;
    try {
      store.stageWrites();
      for (const batch of batches) await ingestBatch(batch, store, now);
      await expect(store.endStaging()).rejects.toThrow(/injected/);
      partial = (await table(store)).filter((i) => String(i['pk']).startsWith('SCOPE#')).length;
      // WHEN a second run's recovery rolls those batches forward into its own write-out, cut short the same way
      const second = new DynamoEvidenceStore({ client: embedded.client, tableName: store.tableName, singleWriter: true });
      second.stageWrites();
      await expect(second.recover(now)).rejects.toThrow(/injected/);
      // ... and a third finishes them
      cut.on = false;
      const third = new DynamoEvidenceStore({ client: embedded.client, tableName: store.tableName, singleWriter: true });
      third.stageWrites();
      await third.recover(now);
      await third.endStaging();
    } finally {
      cut.remove();
    }
    // THEN the table holds what one clean run of the same batches gives
    const clean = await freshStore(true);
    for (const batch of batches) await ingestBatch(batch, clean, now);
    expect(await storedEvidence(store)).toEqual(await storedEvidence(clean));
    expect((await table(store)).filter((i) => i['pk'] === JOURNAL_PK)).toEqual([]);
    // (the first write-out had written some of its items, not all)
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan((await table(clean)).filter((i) => String(i['pk']).startsWith('SCOPE#')).length);
  });
});

describe("the only writer's journals", () => {
  it('leave out the deltas that change nothing staged (a role seen again later), keep the ones that do, and give what the per-batch writer gives', async () => {
    const now = new Date('2026-11-21T00:00:00Z');
    const detected = (store: DynamoEvidenceStore) => ({ policy: defaultPolicy(), inventory, port: store });
    // the same role and namespace in three batches: first seen at 10:00, then later, then earlier
    const batches = ['2026-11-10T10:00:00Z', '2026-11-10T11:00:00Z', '2026-11-10T09:00:00Z'].map((time) => [pod(time), irsa(time)]);
    const staged = await freshStore(true);
    staged.stageWrites();
    const journals: BatchJournal[] = [];
    const commit = staged.commit.bind(staged);
    staged.commit = async (journal) => {
      journals.push(journal);
      return commit(journal);
    };
    for (const batch of batches) await ingestBatch(batch, staged, now, detected(staged));
    await staged.endStaging();

    const detectionTypes = (journal: BatchJournal) => journal.deltas.filter((d) => d.type === 'role' || d.type === 'role-ns' || d.type === 'scope').map((d) => d.type).sort();
    expect(journals.map(detectionTypes)).toEqual([['role', 'role-ns', 'scope', 'scope'], [], ['role', 'role-ns']]);
    // the counts are in every journal
    expect(journals.map((j) => j.deltas.filter((d) => d.type === 'sa').length)).toEqual([2, 2, 2]);

    const perBatch = await freshStore(false);
    for (const batch of batches) await ingestBatch(batch, perBatch, now, detected(perBatch));
    expect(await storedEvidence(staged)).toEqual(await storedEvidence(perBatch));
    // the detections' items too (the role's first sighting), which the snapshot leaves out
    const roles = async (store: DynamoEvidenceStore) =>
      ((await DynamoDBDocumentClient.from(embedded.client).send(new ScanCommand({ TableName: store.tableName }))).Items ?? [])
        .filter((i) => String(i['pk']).startsWith('ROLE#'))
        .map(({ version: _v, batches: _b, ...rest }) => rest)
        .sort((a, b) => String(a['sk']).localeCompare(String(b['sk'])));
    expect(await roles(staged)).toEqual(await roles(perBatch));
    expect((await roles(staged)).map((i) => [i['sk'], i['firstSeen']])).toEqual([
      ['NS#orders', '2026-11-10T09:00:00Z'],
      ['ROLE', '2026-11-10T09:00:00Z'],
    ]);
  });
});

describe('a journal of a kind this version does not know', () => {
  it('stops the recovery naming it and what to do, and touches nothing', async () => {
    // GIVEN a newer version's journal, committed, left by a kill
    const store = await freshStore(true);
    const doc = DynamoDBDocumentClient.from(embedded.client);
    const batch = '0mxajypy8-2155103085';
    await doc.send(new PutCommand({ TableName: store.tableName, Item: { pk: JOURNAL_PK, sk: `C#${batch}#0000`, gz: new Uint8Array([1, 2, 3]) } }));
    await doc.send(new PutCommand({ TableName: store.tableName, Item: { pk: JOURNAL_PK, sk: `B#${batch}`, batch, state: 'committed', at: '2026-11-21T00:00:00Z', chunks: 1, hours: [], kind: 'columns' } }));

    // WHEN this version recovers THEN it refuses, and the journal is still there for that version
    await expect(store.recover(new Date('2026-11-21T00:10:00Z'))).rejects.toThrow(/unfinished journal \(batch 0mxajypy8-2155103085\) of a kind this cutover-watch does not know \(columns\).*run that version once/);
    const { Items } = await doc.send(new ScanCommand({ TableName: store.tableName }));
    expect((Items ?? []).map((i) => i['sk']).sort()).toEqual([`B#${batch}`, `C#${batch}#0000`]);
  });
});

describe('daily counts, packed per namespace and month', () => {
  it('are one item a month in the table, read back as one item a day, summed with the day items of a store written before', async () => {
    const store = await freshStore(true);
    const scopePk = `SCOPE#issuer:${issuer}`;
    // GIVEN a store written before the packing: a day item of orders on 2026-11-10 (2 IRSA assumes)
    await store.putMeta({ pk: scopePk, sk: 'DAY#orders#2026-11-10', type: 'day', scope: `issuer:${issuer}`, namespace: 'orders', day: '2026-11-10', irsaOk: 2, irsaFailed: 0 });
    // WHEN events of that day, another day of the month and the next month are ingested
    const result = await ingestBatch([irsa('2026-11-10T11:00:00Z'), irsa('2026-11-12T09:00:00Z'), irsa('2026-11-12T10:00:00Z'), irsa('2026-12-01T00:10:00Z')], store, new Date('2026-12-02T00:00:00Z'));
    expect(result.failedEventIds).toEqual([]);

    // THEN the table holds one item per month
    const packed = (await store.queryMeta(scopePk, 'DAYS#')).map((i) => i['sk']);
    expect(packed).toEqual(['DAYS#orders#2026-11', 'DAYS#orders#2026-12']);
    // and every reader sees one item per day, the old and the new counts summed
    const days = (await store.namespaceEvidence([`issuer:${issuer}`], 'orders')).filter((i) => i.type === 'day');
    expect(days.map((d) => [d.sk, d['irsaOk'], d['piOk']])).toEqual([
      ['DAY#orders#2026-11-10', 3, undefined],
      ['DAY#orders#2026-11-12', 2, undefined],
      ['DAY#orders#2026-12-01', 1, undefined],
    ]);
    expect((await storedEvidence(store)).filter((i) => i.type === 'day').map((d) => d.sk)).toEqual(days.map((d) => d.sk));
  });

  it('read back exactly, large counts and zeros too (a count is kept as a small integer only where it is one)', async () => {
    const store = await freshStore(true);
    const scopePk = `SCOPE#issuer:${issuer}`;
    // GIVEN a month whose counts were written whole: past 2^30 and 2^32 (a bare `| 0` would wrap
    // them), zeros, and a day with only failures
    const counts = '01:1073741824.0.0.0 02:4294967297.0.5.0 03:0.0.0.0 04:0.7.0.0';
    await store.putMeta({ pk: scopePk, sk: 'DAYS#orders#2026-11', type: 'days', scope: `issuer:${issuer}`, namespace: 'orders', month: '2026-11', counts });
    // WHEN a reader reads the namespace's days
    const days = (await store.namespaceEvidence([`issuer:${issuer}`], 'orders')).filter((i) => i.type === 'day');
    // THEN each count is the number written, and a day of zeros has no counts
    expect(days.map((d) => [d['day'], d['irsaOk'], d['irsaFailed'], d['piOk'], d['piFailed']])).toEqual([
      ['2026-11-01', 1073741824, 0, undefined, undefined],
      ['2026-11-02', 4294967297, 0, 5, 0],
      ['2026-11-03', undefined, undefined, undefined, undefined],
      ['2026-11-04', 0, 7, undefined, undefined],
    ]);
    expect(days.map((d) => d.sk)).toEqual(['DAY#orders#2026-11-01', 'DAY#orders#2026-11-02', 'DAY#orders#2026-11-03', 'DAY#orders#2026-11-04']);
  });
});

describe("the only writer's staged items, merged where they are held", () => {
  it('answers a namespace’s detection state from the stage while it holds every evidence item there is, asking the table nothing; one that held evidence before is read', async () => {
    // GIVEN a probe of the requests that read evidence partitions
    const reads: string[] = [];
    const evidencePk = (pk: unknown) => /^(SCOPE|ROLE#|SPIKE#)/.test(String(pk));
    embedded.client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { ExpressionAttributeValues?: Record<string, unknown>; RequestItems?: Record<string, { Keys?: { pk: unknown }[] }> };
        if (context.commandName === 'QueryCommand' && evidencePk(input.ExpressionAttributeValues?.[':pk'])) reads.push(`query ${String(input.ExpressionAttributeValues?.[':pk'])}`);
        if (context.commandName === 'BatchGetItemCommand') for (const r of Object.values(input.RequestItems ?? {})) for (const k of r.Keys ?? []) if (evidencePk(k.pk)) reads.push(`get ${String(k.pk)}`);
        return next(args);
      },
      { step: 'initialize', name: 'evidence-reads' },
    );
    const needs = { roles: [], roleNamespaces: [], spikes: [], nodeRoles: [], namespaces: [{ place: clusterArn, namespace: 'orders', scopes: [`issuer:${issuer}`] }] };
    const now = new Date('2026-11-21T00:00:00Z');
    try {
      // WHEN a first run into a store without evidence stages a batch, and the next asks for the namespace's state
      const fresh = await freshStore(true);
      await fresh.saveInventory(inventory);
      fresh.stageWrites();
      // (the first batch's own reads come before its first merge: the table is asked once whether it holds any evidence, then nothing)
      const role = 'arn:aws:iam::111122223333:role/orders';
      const first = await fresh.detectionState({ ...needs, roles: [role], roleNamespaces: [{ roleArn: role, namespace: 'orders' }] }, inventory);
      expect([first.roleFirstSeen.size, first.namespaces.get(`${clusterArn}|orders`)]).toEqual([0, { firstPodIdentity: null, lastIrsa: null }]);
      expect(reads).toEqual([]);
      await ingestBatch([irsa('2026-11-10T10:00:00Z')], fresh, now);
      reads.length = 0;
      const staged = await fresh.detectionState(needs, inventory);
      // THEN the stage answers, and the table is asked nothing
      expect(staged.namespaces.get(`${clusterArn}|orders`)).toEqual({ firstPodIdentity: null, lastIrsa: '2026-11-10T10:00:00Z' });
      expect(reads).toEqual([]);

      // AND a store that held evidence before it staged reads the namespace from the table
      const earlier = await freshStore(true);
      await earlier.saveInventory(inventory);
      await ingestBatch([irsa('2026-11-09T10:00:00Z')], earlier, now);
      earlier.stageWrites();
      await ingestBatch([irsa('2026-11-10T10:00:00Z')], earlier, now);
      reads.length = 0;
      const read = await earlier.detectionState(needs, inventory);
      expect(read.namespaces.get(`${clusterArn}|orders`)).toEqual({ firstPodIdentity: null, lastIrsa: '2026-11-10T10:00:00Z' });
      expect(reads).toEqual([`query SCOPE#issuer:${issuer}`]);
      await Promise.all([fresh.endStaging(), earlier.endStaging()]);
    } finally {
      embedded.client.middlewareStack.remove('evidence-reads');
    }
  });

  it('hands readers a copy: an item read while staging keeps what it said when a later batch merges into the stage', async () => {
    // GIVEN the only writer staging, and a first batch of two IRSA assumes in orders
    const store = await freshStore(true);
    await store.saveInventory(inventory);
    store.stageWrites();
    const now = new Date('2026-11-21T00:00:00Z');
    await ingestBatch([irsa('2026-11-10T10:00:00Z'), irsa('2026-11-10T11:00:00Z')], store, now);
    // as stored, tags and version too (namespaceEvidence hands out copies without the tags anyway)
    const serviceAccount = async () => (await store.queryMeta(`SCOPE#issuer:${issuer}`, 'SA#orders#'))[0]!;
    const first = await serviceAccount();
    expect(first['irsaOk']).toBe(2);

    // WHEN a second batch merges a third assume into the same staged item
    await ingestBatch([irsa('2026-11-12T09:00:00Z')], store, now);

    // THEN the item read before is as it was read, and a new read sees the merge, before and after the write-out
    expect([first['irsaOk'], first['irsaLastOk'], first['version'], (first['batches'] as string[]).length]).toEqual([2, '2026-11-10T11:00:00Z', 1, 1]);
    const second = await serviceAccount();
    expect([second['irsaOk'], second['irsaLastOk'], second['version'], (second['batches'] as string[]).length]).toEqual([3, '2026-11-12T09:00:00Z', 2, 2]);
    await store.endStaging();
    // (written without the staged batches' tags: the stage's own journal made the write-out exact)
    const { batches: _tags, ...written } = second;
    expect(await serviceAccount()).toEqual(written);
  });

  it('writes an item the stage replaced (a merge without a batch makes a new one) once, as last merged', async () => {
    // GIVEN the only writer staging, a role first merged by a batch, then by a merge without one
    const store = await freshStore(true);
    const puts: string[] = [];
    embedded.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'BatchWriteItemCommand') {
          for (const request of Object.values((args.input as { RequestItems: Record<string, { PutRequest?: { Item: Record<string, unknown> } }[]> }).RequestItems).flat()) {
            const item = request.PutRequest === undefined ? undefined : putItem(request.PutRequest.Item);
            if (String(item?.['pk']).startsWith('ROLE#')) puts.push(JSON.stringify(item));
          }
        }
        return next(args);
      },
      { step: 'initialize', name: 'put-probe' },
    );
    const role = { pk: 'ROLE#arn:aws:iam::111122223333:role/orders-api', sk: 'ROLE', type: 'role', roleArn: 'arn:aws:iam::111122223333:role/orders-api', firstSeen: '2026-11-02T00:00:00Z' } as EvidenceItem;
    try {
      store.stageWrites();
      expect(await store.apply([{ item: role, batch: 'mhz0000-aaaa' }])).toMatchObject({ written: 1 });
      expect(await store.apply([{ item: { ...role, firstSeen: '2026-11-01T00:00:00Z' } }])).toMatchObject({ written: 1 });
      await store.endStaging();
    } finally {
      embedded.client.middlewareStack.remove('put-probe');
    }

    // THEN one put of the role, holding the earlier first sighting, and the table holds that
    expect(puts).toHaveLength(1);
    expect(JSON.parse(puts[0]!)).toMatchObject({ firstSeen: '2026-11-01T00:00:00Z', version: 2 });
    expect(await store.queryMeta(role.pk)).toEqual([expect.objectContaining({ firstSeen: '2026-11-01T00:00:00Z', version: 2 })]);
  });

  it('stages an item it cannot pack (a map another writer left in it) whole, and writes it back with the merge', async () => {
    // GIVEN a table whose role item holds a nested map, and a non-ASCII note the stage's packing keeps only as an object
    const store = await freshStore(true);
    const tableName = `evidence-${tableCount}`;
    const role = { pk: 'ROLE#arn:aws:iam::111122223333:role/orders-api', sk: 'ROLE', type: 'role', roleArn: 'arn:aws:iam::111122223333:role/orders-api', firstSeen: '2026-11-02T00:00:00Z' } as EvidenceItem;
    const odd = { audit: { by: 'migration-bot', tickets: ['OPS-1'] }, note: 'v\u00e9rifi\u00e9 \u2713' };
    await DynamoDBDocumentClient.from(embedded.client).send(new PutCommand({ TableName: tableName, Item: { ...role, ...odd, version: 1 } }));

    // WHEN two staged batches merge an earlier, then a later sighting into it, and a read comes between
    store.stageWrites();
    expect(await store.apply([{ item: { ...role, firstSeen: '2026-11-01T00:00:00Z' }, batch: 'mhz0000-aaaa' }])).toMatchObject({ written: 1 });
    const read = await store.queryMeta(role.pk);
    expect(await store.apply([{ item: { ...role, firstSeen: '2026-11-03T00:00:00Z' }, batch: 'mhz0001-bbbb' }])).toMatchObject({ unchanged: 1 });
    await store.endStaging();

    // THEN the read saw the merge, and the table holds the merge beside what the other writer left
    expect(read).toEqual([expect.objectContaining({ firstSeen: '2026-11-01T00:00:00Z', ...odd })]);
    expect(await store.queryMeta(role.pk)).toEqual([expect.objectContaining({ firstSeen: '2026-11-01T00:00:00Z', version: 2, ...odd })]);
  });

  it('keeps a staged sort key exactly as given, characters Unicode would normalize included', async () => {
    // GIVEN the only writer staging two items whose sort keys differ only in Unicode normalization
    const store = await freshStore(true);
    const pk = 'ROLE#arn:aws:iam::111122223333:role/orders-api';
    const item = (sk: string, firstSeen: string) => ({ pk, sk, type: 'role-ns', roleArn: 'arn:aws:iam::111122223333:role/orders-api', namespace: sk.slice(3), firstSeen }) as EvidenceItem;
    const decomposed = 'NS#cafe\u0301';
    const composed = 'NS#caf\u00e9';
    store.stageWrites();
    await store.apply([{ item: item(decomposed, '2026-11-02T00:00:00Z'), batch: 'mhz0000-aaaa' }]);
    await store.apply([{ item: item(composed, '2026-11-03T00:00:00Z'), batch: 'mhz0001-bbbb' }]);
    await store.apply([{ item: item(decomposed, '2026-11-01T00:00:00Z'), batch: 'mhz0002-cccc' }]);
    await store.endStaging();

    // THEN two items, each under its own key, each with its own merges
    const stored = await store.queryMeta(pk, 'NS#');
    expect(stored.map((i) => [i['sk'], i['firstSeen']]).sort()).toEqual([
      [decomposed, '2026-11-01T00:00:00Z'],
      [composed, '2026-11-03T00:00:00Z'],
    ].sort());
  });

  it('lets its items go at the end of the last write-out, and asks for a collection before the guards and the journals go', async () => {
    // GIVEN a store whose process can start a collection, recording what the table was sent before it
    const sent: string[] = [];
    let sentWhenCollected: string[] | undefined;
    const store = await freshStore(true, {
      collectGarbage: async () => {
        sentWhenCollected = [...sent];
      },
    });
    await store.saveInventory(inventory);
    embedded.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'BatchWriteItemCommand') {
          const text = JSON.stringify(args.input);
          sent.push(text.includes('"EVENTS#') ? 'guards' : text.includes('DeleteRequest') ? 'delete' : text.includes('"SCOPE#') ? 'items' : 'other');
        }
        return next(args);
      },
      { step: 'initialize', name: 'write-probe' },
    );
    try {
      // WHEN a stage of two batches ends (a stage of one item is worth a collection here)
      store.stageWrites({ collectAfterItems: 1 });
      const now = new Date('2026-11-21T00:00:00Z');
      await ingestBatch([irsa('2026-11-10T10:00:00Z')], store, now);
      await ingestBatch([irsa('2026-11-11T10:00:00Z')], store, now);
      expect(sentWhenCollected).toBeUndefined();
      await store.endStaging();
    } finally {
      embedded.client.middlewareStack.remove('write-probe');
    }

    // THEN the collection came once the items were written, before any guard or journal deletion
    expect(sentWhenCollected).toContain('items');
    expect(sentWhenCollected).not.toContain('guards');
    expect(sentWhenCollected).not.toContain('delete');
    expect(sent.slice(sentWhenCollected!.length)).toEqual(expect.arrayContaining(['guards', 'delete']));
  });
});

describe("the only writer's reads of items it has not seen", () => {
  /** Runs `work` counting the evidence items (scopes and theirs, detection state) the client asks for meanwhile. */
  async function countingItemReads(work: () => Promise<void>): Promise<number> {
    let reads = 0;
    embedded.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'BatchGetItemCommand') {
          // the Document client's keys, marshalled or not yet at this step
          const requested = Object.values((args.input as { RequestItems: Record<string, { Keys: { pk: string | { S: string } }[] }> }).RequestItems);
          for (const { Keys } of requested) reads += Keys.filter((k) => /^(SCOPE|ROLE#|SPIKE#)/.test(typeof k.pk === 'string' ? k.pk : k.pk.S)).length;
        }
        return next(args);
      },
      { step: 'initialize', name: 'item-read-probe' },
    );
    try {
      await work();
    } finally {
      embedded.client.middlewareStack.remove('item-read-probe');
    }
    return reads;
  }
  const now = new Date('2026-11-21T00:00:00Z');
  /** One staged run of `batches` by the only writer; the evidence items it asked the table for. */
  const stagedRun = (store: DynamoEvidenceStore, batches: IdentityEvent[][], limits = {}) =>
    countingItemReads(async () => {
      store.stageWrites(limits);
      for (const batch of batches) await ingestBatch(batch, store, now);
      await store.endStaging();
    });
  /** What a writer that reads every item it merges into stores for `batches`. */
  async function readingWriter(batches: IdentityEvent[][], store?: DynamoEvidenceStore): Promise<DynamoEvidenceStore> {
    const clean = store ?? (await freshStore(false));
    for (const batch of batches) await ingestBatch(batch, clean, now);
    return clean;
  }
  const day = (d: number) => Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? pod : irsa)(`2026-11-${String(d).padStart(2, '0')}T0${i}:00:00Z`));

  it('reads none in a store that holds no evidence yet, and reads again once it does', async () => {
    // GIVEN a table with no evidence, staged by its only writer
    const store = await freshStore(true);
    const first = [day(1), day(2)];
    // WHEN a first run stores two batches
    const firstReads = await stagedRun(store, first);
    // THEN it read no item (none was there), and stored what a writer reading each one stores
    expect(firstReads).toBe(0);
    const clean = await readingWriter(first);
    expect(await storedEvidence(store)).toEqual(await storedEvidence(clean));

    // WHEN a second run meets those items again
    const secondReads = await stagedRun(store, [day(3)]);
    await readingWriter([day(3)], clean);
    // THEN it read them, and merged into them
    expect(secondReads).toBeGreaterThan(0);
    expect(await storedEvidence(store)).toEqual(await storedEvidence(clean));
  });

  it("reads an item once per run in a store that holds evidence: the detections' later batches are answered by the stage, with a reading writer's alerts", async () => {
    // GIVEN a table with evidence (a first run), and a second run by its only writer, the detections on
    const store = await freshStore(true);
    await stagedRun(store, [day(1)]);
    const clean = await readingWriter([day(1)]);
    const detection = (port: DynamoEvidenceStore) => ({ policy: defaultPolicy(), inventory, port });
    store.stageWrites();
    const reads: number[] = [];
    const alerts: string[] = [];
    const expected: string[] = [];
    // WHEN three batches: the first meets a role, its namespace and service account; the second the
    // same again; the third the role from a namespace it was never used from
    const batches = [[irsa('2026-11-02T01:00:00Z')], [irsa('2026-11-02T02:00:00Z')], [event({ kind: 'irsa', eventTime: '2026-11-20T03:00:00Z', oidcIssuer: issuer, namespace: 'billing' })]];
    for (const batch of batches) {
      reads.push(await countingItemReads(async () => void alerts.push(...(await ingestBatch(batch, store, now, detection(store))).alerts.map((a) => a.id))));
      expected.push(...(await ingestBatch(batch, clean, now, detection(clean))).alerts.map((a) => a.id));
    }
    await store.endStaging();
    // THEN the second batch read nothing (the first's reads and merges are staged), the others what they met first
    expect(reads[0]).toBeGreaterThan(0);
    expect(reads[1]).toBe(0);
    expect(reads[2]).toBeGreaterThan(0);
    // and raised what a writer reading every item raised (the role's new namespace among them), and stored the same
    expect(alerts).toEqual(expected);
    expect(alerts.some((id) => id.includes('unexpected-namespace'))).toBe(true);
    expect(await storedEvidence(store)).toEqual(await storedEvidence(clean));
  });

  it('reads once the stage has forgotten what it wrote (past maxKnown)', async () => {
    // GIVEN a stage written out after every batch and forgetting its items each time
    const store = await freshStore(true);
    const batches = [day(1), day(2), day(3)];
    const reads = await stagedRun(store, batches, { maxBatches: 1, maxKnown: 0 });
    // THEN the batches after the first read the items the first wrote, and the counts add up
    expect(reads).toBeGreaterThan(0);
    expect(await storedEvidence(store)).toEqual(await storedEvidence(await readingWriter(batches)));
  });

  it.each([
    // the service account's IRSA count after one more assume: the stored one kept, or the first
    ['a service account without its scope (a write-out cut short)', { pk: `SCOPE#issuer:${issuer}`, sk: 'SA#orders#orders-api', type: 'sa', irsaOk: 5, irsaFailed: 0 }, 6],
    ["a role's detection state, which events no scope can place also leave", { pk: 'ROLE#arn:aws:iam::111122223333:role/orders-api', sk: 'ROLE', type: 'role', roleArn: 'arn:aws:iam::111122223333:role/orders-api', firstSeen: '2026-01-01T00:00:00Z' }, 1],
  ])('reads in a store holding only %s', async (_what, item, irsaOk) => {
    // GIVEN a table whose only evidence is that item
    const store = await freshStore(true);
    await DynamoDBDocumentClient.from(embedded.client).send(new PutCommand({ TableName: store.tableName, Item: item }));
    // WHEN the only writer stages a run
    const reads = await stagedRun(store, [[irsa('2026-11-01T01:00:00Z')]]);
    // THEN it read the items it met, and a count already stored is kept
    expect(reads).toBeGreaterThan(0);
    const sa = (await storedEvidence(store)).find((i) => i.sk === 'SA#orders#orders-api');
    expect(sa?.['irsaOk']).toBe(irsaOk);
  });
});

describe('batch tags on items (what a journal applied again skips)', () => {
  // An hour of the live ingest's five-minute batches, each with an assume of the same service account.
  const hourOfBatches = (store: DynamoEvidenceStore, write: (batch: () => Promise<unknown>) => Promise<unknown>) =>
    (async () => {
      for (let i = 0; i < 12; i += 1) {
        const at = new Date(Date.parse('2026-11-10T10:00:00Z') + i * 5 * 60_000);
        await write(() => ingestBatch([irsa(at.toISOString().replace('.000Z', 'Z'))], store, new Date(at.getTime() + 60_000)));
      }
      // as stored: the readers' snapshot leaves the tags out
      const { Items = [] } = await DynamoDBDocumentClient.from(embedded.client).send(new ScanCommand({ TableName: store.tableName }));
      return Items.find((i) => i['type'] === 'sa')!['batches'] as string[];
    })();

  it('a writer under the lease keeps only the tags of journals that can still be applied: one, not an hour of them', async () => {
    const store = await freshStore(false, { writerLease: true });
    const tags = await hourOfBatches(store, (batch) => store.withWriterLease(batch));
    // Each batch finished the journals before it (recover), so their tags were dead weight: ~20
    // bytes each, on an item of under a kilobyte, the second WRU of its writes.
    expect(tags).toHaveLength(1);
  });

  it('writers without the lease keep an hour of tags: another may be applying a journal at any time', async () => {
    const store = await freshStore();
    const tags = await hourOfBatches(store, (batch) => batch());
    expect(tags).toHaveLength(12);
  });
});

describe("the CLI's alert outbox (useAlertOutbox)", () => {
  const alert = (n: number) => numberedAlert(n);
  const ids = (alerts: readonly Alert[]) => alerts.map((a) => a.id);

  it.each([
    ['the only writer', true],
    ['a writer under the lease', false],
  ] as const)('%s: a new alert is owed until delivered; one recorded before is not owed again', async (_name, singleWriter) => {
    // GIVEN one alert recorded by a run that delivered it
    const store = await freshStore(singleWriter, singleWriter ? {} : { writerLease: true });
    store.useAlertOutbox();
    await store.recordAlerts([alert(1)]);
    await store.alertsDelivered([alert(1).id]);

    // WHEN a run records it again beside two new ones, and is stopped before delivering
    const fresh = await store.recordAlerts([alert(1), alert(2), alert(3)]);

    // THEN the next run finds the two new ones owed, in order, as stored; once delivered, none
    expect(ids(fresh)).toEqual(ids([alert(2), alert(3)]));
    expect(await store.undeliveredAlerts()).toEqual([alert(2), alert(3)]);
    await store.alertsDelivered(ids(fresh));
    expect(await store.undeliveredAlerts()).toEqual([]);
  });

  it('drops a note whose alert was never recorded (killed between the two): whichever run records it delivers it', async () => {
    const store = await freshStore(true);
    const doc = DynamoDBDocumentClient.from(embedded.client);
    await doc.send(new PutCommand({ TableName: store.tableName, Item: { pk: 'OUTBOX', sk: alert(4).id, alertPk: 'ALERTS#2026-11' } }));
    store.useAlertOutbox();

    expect(await store.undeliveredAlerts()).toEqual([]);
    const { Items } = await doc.send(new ScanCommand({ TableName: store.tableName }));
    expect((Items ?? []).filter((i) => i['pk'] === 'OUTBOX')).toEqual([]);
    // recorded later, it is new, and owed
    expect(ids(await store.recordAlerts([alert(4)]))).toEqual([alert(4).id]);
    expect(ids(await store.undeliveredAlerts())).toEqual([alert(4).id]);
  });

  it('is refused to a writer without the lease (writers racing for one alert would delete each other\'s notes)', async () => {
    const store = await freshStore(false);
    expect(() => store.useAlertOutbox()).toThrow(/the alert outbox needs the only writer or the writer lease/);
  });

  it('writes no note without it (the deployed ingest, whose outbox is the table stream)', async () => {
    const store = await freshStore(true);
    await store.recordAlerts([alert(5)]);
    const { Items } = await DynamoDBDocumentClient.from(embedded.client).send(new ScanCommand({ TableName: store.tableName }));
    expect((Items ?? []).map((i) => i['pk'])).toEqual(['ALERTS#2026-11']);
  });
});

import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoEvidenceStore, type StageLimits } from '../../functions/adapters/dynamo-evidence-store';
import { analyzePaths, type AnalyzeOptions, type AnalyzeSummary } from '../../functions/adapters/ingest-pipeline';
import { readInventoryFiles } from '../../functions/local/cli/commands/inventory';
import { writeScaledFleet } from '../../functions/local/sample-fleet/scale';
import { processSqsBatch } from '../../functions/adapters/sqs-ingest';
import { aggregate, type EvidenceItem } from '../../functions/core/evidence';
import type { IdentityEvent } from '../../functions/core/identity-event';
import { ingestBatch } from '../../functions/core/ingest';
import { emptyInventory, mergeInventory, parseInventoryDocument, type Inventory } from '../../functions/core/inventory';
import { defaultPolicy } from '../../functions/core/policy';
import { startEmbeddedStore, type EmbeddedStore } from '../../functions/local/embedded-store';
import { sampleFleet } from '../support/sample-fleets';
import { JOURNAL_LEASE_SECONDS } from '../../functions/core/table-schema';
import { countWrites, putItem } from '../support/count-writes';
import { identityEvent } from '../support/events';
import { fullBatches, routedFleet, sqsBatch } from '../support/sqs-batches';
import { storedEvidence } from '../support/stored-evidence';

// Write requests, counted by SDK middleware on the client (what DynamoDB bills and throttles), and
// exact counts, for the demo's sample fleet through the ingest Lambda's SQS path: single full
// batches, retries and several writers. The whole fleet through analyze and through the handler,
// with their per-1,000 bounds, is test/integration/ingest-handler.test.ts (one pass serves both).
const END = new Date('2026-11-20T00:00:00Z');
const fleet = sampleFleet({ seed: 7, end: END });
const inventory: Inventory = fleet.inventory.reduce((inv, f) => {
  const parsed = parseInventoryDocument(f.content);
  if (!parsed.ok) throw new Error(parsed.reason);
  return mergeInventory(inv, parsed.inventory);
}, emptyInventory());
/** The first full SQS batch of the fleet's routed traffic. */
const firstBatch = fullBatches(routedFleet(fleet))[0]!;
let dir: string;
let embedded: EmbeddedStore;
let writes: ReturnType<typeof countWrites>;
let tables = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cw-writes-'));
  embedded = await startEmbeddedStore(path.join(dir, 'store'));
  writes = countWrites(embedded.client);
}, 60_000);
afterAll(async () => {
  await embedded.close();
  await rm(dir, { recursive: true, force: true });
});

/** The embedded store's single writer, the deployed ingest's writer lease, or conditional claims (no lease). */
type Writers = boolean | 'lease';

async function table(writers: Writers): Promise<DynamoEvidenceStore> {
  tables += 1;
  const store = new DynamoEvidenceStore({ client: embedded.client, tableName: `writes-${tables}`, singleWriter: writers === true, writerLease: writers === 'lease' });
  await store.ensureTable();
  await store.saveInventory(inventory);
  writes.reset();
  return store;
}


describe('write requests', () => {
  it('the ingest Lambda writes per item and guard hour a batch touches, not per event', async () => {
    // GIVEN a quarter of a full SQS batch of the fleet's traffic (most of its keys), and the same
    // records twice over with other eventIDs: twice the events on the same keys
    const routed = firstBatch.slice(0, Math.floor(firstBatch.length / 4));
    const twin = routed.map((e) => ({ ...e, detail: { ...(e['detail'] as object), eventID: `${String((e['detail'] as Record<string, unknown>)['eventID'])}-twin` } }));
    const deps = { policy: defaultPolicy(), inventory, nodeRoleArns: [], now: END };

    const once = await table('lease');
    const single = await processSqsBatch(sqsBatch(routed), { ...deps, store: once });
    const singleWrites = writes.total();
    const twice = await table('lease');
    const double = await processSqsBatch(sqsBatch([...routed, ...twin]), { ...deps, store: twice });
    const doubleWrites = writes.total();
    const replay = await processSqsBatch(sqsBatch([...routed, ...twin], 10_000), { ...deps, store: twice });

    // THEN twice the events cost the same requests (guard shards hold more ids, no more shards)
    expect(single.response.batchItemFailures).toEqual([]);
    expect(double.response.batchItemFailures).toEqual([]);
    expect(double.events).toHaveLength(2 * single.events.length);
    // (a few more for the alerts twice the denied events raise)
    expect(doubleWrites).toBeLessThanOrEqual(singleWrites + 3);
    expect(replay.replayed).toBe(double.events.length);
    // the replay writes only the writer lease it takes and gives back
    expect(writes.total()).toBe(doubleWrites + 2);
    // every day count of the twin table is twice the other's: counted once each
    const days = (items: EvidenceItem[]) => items.filter((i) => i.type === 'day').map((i) => [i.sk, i['irsaOk'] ?? 0, i['piOk'] ?? 0]);
    expect(days(await storedEvidence(twice))).toEqual(days(await storedEvidence(once)).map(([sk, irsa, pi]) => [sk, 2 * Number(irsa), 2 * Number(pi)]));
  }, 60_000);
});

describe('the ingest Lambda on full batches (writer lease)', () => {
  const deps = () => ({ policy: defaultPolicy(), inventory, nodeRoleArns: [], now: END });
  const counts = (items: EvidenceItem[]) => items.filter((i) => i.type === 'sa' || i.type === 'day' || i.type === 'fetch-day' || i.type === 'node-day');

  /**
   * The first 800 messages of the fleet's first full batch, and the table one invocation on them
   * makes (once, for both tests): what the retried and the racing invocations must end with.
   */
  const bodies = firstBatch.slice(0, 800);
  let cleanRun: Promise<{ store: DynamoEvidenceStore; events: number }> | undefined;
  const clean = () =>
    (cleanRun ??= (async () => {
      const store = await table('lease');
      const run = await processSqsBatch(sqsBatch(bodies), { ...deps(), store });
      return { store, events: run.events.length };
    })());

  it('a batch retried after a partial failure counts each event once', async () => {
    const reference = await clean();
    const store = await table('lease');
    // GIVEN the first two item writes holding daily counts fail (after the commit)
    let failures = 2;
    const name = `fail-days-${store.tableName}`;
    embedded.client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = (args as { input: { RequestItems?: Record<string, { PutRequest?: { Item: Record<string, unknown> } }[]> } }).input;
        const puts = context.commandName === 'BatchWriteItemCommand' ? (input.RequestItems?.[store.tableName] ?? []) : [];
        // daily counts are stored packed per namespace and month (DAYS#<ns>#<month>)
        const days = puts.some((r) => String(r.PutRequest?.Item?.['sk'] ?? '').startsWith('DAYS#'));
        if (days && failures > 0) {
          failures -= 1;
          throw new Error('injected: the request did not reach the table');
        }
        return next(args);
      },
      { step: 'initialize', name },
    );
    try {
      const first = await processSqsBatch(sqsBatch(bodies), { ...deps(), store });
      const failed = new Set(first.response.batchItemFailures.map((f) => f.itemIdentifier));
      // WHEN SQS redelivers exactly the messages returned, and then the whole batch again
      const retry = sqsBatch(bodies).Records.filter((r) => failed.has(r.messageId));
      const second = await processSqsBatch({ Records: retry }, { ...deps(), store });
      const again = await processSqsBatch(sqsBatch(bodies), { ...deps(), store });

      expect(failures).toBe(0);
      expect(failed.size).toBeGreaterThan(0);
      expect(failed.size).toBeLessThan(bodies.length);
      expect(second.response.batchItemFailures).toEqual([]);
      expect(second.replayed).toBe(second.events.length);
      expect(again.replayed).toBe(again.events.length);
      // THEN the store holds what the clean run wrote
      expect(counts(await storedEvidence(store))).toEqual(counts(await storedEvidence(reference.store)));
    } finally {
      embedded.client.middlewareStack.remove(name);
    }
  }, 120_000);

  it('invocations racing for the lease with overlapping messages count each event once', async () => {
    const reference = await clean();
    const a = await table('lease');
    const b = new DynamoEvidenceStore({ client: embedded.client, tableName: a.tableName, writerLease: true });
    // four invocations at once on two containers, each batch overlapping its neighbours by half
    const slices = [0, 200, 400, 600].map((from) => [...bodies.slice(from, from + 200), ...bodies.slice((from + 200) % 800, ((from + 300) % 800) || 800)]);
    const results = await Promise.all(slices.map((slice, i) => processSqsBatch(sqsBatch(slice), { ...deps(), store: i % 2 ? a : b })));

    expect(results.flatMap((r) => r.response.batchItemFailures)).toEqual([]);
    // each event counted by exactly one of the invocations that held it
    expect(results.reduce((n, r) => n + r.events.length - r.replayed, 0)).toBe(reference.events);
    expect(counts(await storedEvidence(a))).toEqual(counts(await storedEvidence(reference.store)));
  }, 120_000);

  it('a holder killed after its commit: the next writer waits the lease out, finishes the batch, counts the rest once', async () => {
    const events = Array.from({ length: 40 }, (_, n) =>
      identityEvent('irsa', {
        eventId: `dead-${n}`, eventTime: `2026-11-10T10:${String(n).padStart(2, '0')}:00Z`, oidcIssuer: 'oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789ABCDEF0123456789',
        namespace: 'orders', serviceAccount: 'orders-api', roleArn: 'arn:aws:iam::111122223333:role/orders-api', action: 'sts:AssumeRoleWithWebIdentity',
      }),
    );
    const store = await table('lease');
    const t0 = new Date('2026-11-10T11:00:00Z');
    // GIVEN a holder that committed the first half and died holding the lease (a short one, for the test)
    const dead = new DynamoEvidenceStore({ client: embedded.client, tableName: store.tableName, singleWriter: true });
    const half = events.slice(0, 20);
    const claim = await dead.claimEvents(half, t0);
    await dead.commit({ batch: claim.batch, at: t0.toISOString(), deltas: aggregate(half).map((d) => d.item), alerts: [], guards: { '2026-11-10T10': half.map((e) => e.eventId) } });
    await dead.putMeta({ pk: 'LEASE', sk: 'WRITER', holder: 'dead', expiresAtMs: Date.now() + 1000 });

    // WHEN the next writer ingests all of them
    const next = new DynamoEvidenceStore({ client: embedded.client, tableName: store.tableName, writerLease: true, leaseWaitMs: 20_000 });
    const result = await next.withWriterLease(() => ingestBatch(events, next, t0));

    // THEN the dead batch is finished from its journal and the rest is counted once
    expect(result).toMatchObject({ replayed: 20, failedEventIds: [] });
    expect((await storedEvidence(store)).find((i) => i.type === 'sa')).toMatchObject({ irsaOk: 40 });
    expect(await next.getMeta('LEASE', 'WRITER')).toBeUndefined();
  }, 30_000);

  it('a holder killed part way through writing its items: the next writer merges each of the rest once, then keeps one tag', async () => {
    const events = Array.from({ length: 40 }, (_, n) =>
      identityEvent('irsa', {
        eventId: `half-${n}`, eventTime: `2026-11-10T10:${String(n).padStart(2, '0')}:00Z`, oidcIssuer: 'oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789ABCDEF0123456789',
        namespace: n % 2 === 0 ? 'orders' : 'billing', serviceAccount: 'api', roleArn: `arn:aws:iam::111122223333:role/${n % 2 === 0 ? 'orders' : 'billing'}-api`, action: 'sts:AssumeRoleWithWebIdentity',
      }),
    );
    const store = await table('lease');
    const t0 = new Date('2026-11-10T11:00:00Z');
    // GIVEN a holder that committed the first half, wrote some of its items (tagged with its batch) and died holding the lease
    const dead = new DynamoEvidenceStore({ client: embedded.client, tableName: store.tableName, singleWriter: true });
    const half = events.slice(0, 20);
    const claim = await dead.claimEvents(half, t0);
    const deltas = aggregate(half);
    await dead.commit({ batch: claim.batch, at: t0.toISOString(), deltas: deltas.map((d) => d.item), alerts: [], guards: { '2026-11-10T10': half.map((e) => e.eventId) } });
    const written = deltas.filter((d) => d.item.type === 'sa' && d.item['namespace'] === 'orders');
    expect(written).toHaveLength(1);
    await dead.apply(written.map((d) => ({ ...d, batch: claim.batch })));
    await dead.putMeta({ pk: 'LEASE', sk: 'WRITER', holder: 'dead', expiresAtMs: Date.now() + 1000 });

    // WHEN the next writer ingests all of them
    const next = new DynamoEvidenceStore({ client: embedded.client, tableName: store.tableName, writerLease: true, leaseWaitMs: 20_000 });
    const result = await next.withWriterLease(() => ingestBatch(events, next, t0));

    // THEN the item the dead holder wrote is not merged twice, the others are finished, the rest counted once
    expect(result).toMatchObject({ replayed: 20, failedEventIds: [] });
    const sas = (await storedEvidence(store)).filter((i) => i.type === 'sa');
    expect(sas.map((i) => [i['namespace'], i['irsaOk']]).sort()).toEqual([['billing', 20], ['orders', 20]]);
    // and, the dead batch finished, the items carry the tag of the batch that wrote them last only
    const { Items = [] } = await DynamoDBDocumentClient.from(embedded.client).send(new ScanCommand({ TableName: store.tableName }));
    expect(Items.filter((i) => i['type'] === 'sa').map((i) => (i['batches'] as string[]).length)).toEqual([1, 1]);
  }, 30_000);
});

describe('several writers', () => {
  const issuer = 'oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789ABCDEF0123456789';
  const irsa = (n: number): IdentityEvent =>
    identityEvent('irsa', {
      eventId: `evt-${n}`, eventTime: `2026-11-10T10:${String(n % 60).padStart(2, '0')}:00Z`, oidcIssuer: issuer, namespace: 'orders',
      serviceAccount: 'orders-api', roleArn: 'arn:aws:iam::111122223333:role/orders-api', action: 'sts:AssumeRoleWithWebIdentity',
    });

  it('count each event once when overlapping batches race for the same eventIDs (SQS redelivery, backfill over live)', async () => {
    const a = await table(false);
    const b = new DynamoEvidenceStore({ client: embedded.client, tableName: a.tableName });
    const events = Array.from({ length: 120 }, (_, i) => irsa(i));
    const now = new Date('2026-11-10T11:00:00Z');

    // four batches at once, each overlapping its neighbours by half
    const results = await Promise.all(
      [0, 30, 60, 90].map((from, i) => ingestBatch([...events.slice(from, from + 30), ...events.slice((from + 30) % 120, (from + 45) % 120 || 120)], i % 2 ? a : b, now)),
    );
    // ids held in doubt by a batch still running are retried, as SQS would redeliver them
    const retry = [...new Set(results.flatMap((r) => r.failedEventIds))];
    const retried = await ingestBatch(events.filter((e) => retry.includes(e.eventId)), a, now);

    expect(retried.failedEventIds).toEqual([]);
    const sa = (await storedEvidence(a)).find((i) => i.type === 'sa');
    expect(sa).toMatchObject({ irsaOk: 120 });
    expect((await storedEvidence(a)).find((i) => i.type === 'day')).toMatchObject({ irsaOk: 120 });
  }, 30_000);

  it('finish a writer killed after its commit, and give up one killed before, once the lease is over', async () => {
    const store = await table(false);
    const other = new DynamoEvidenceStore({ client: embedded.client, tableName: store.tableName });
    const t0 = new Date('2026-11-10T11:00:00Z');
    const later = (s: number) => new Date(t0.getTime() + s * 1000);
    const committed = Array.from({ length: 10 }, (_, i) => irsa(1000 + i));
    const uncommitted = Array.from({ length: 10 }, (_, i) => irsa(2000 + i));
    // GIVEN a writer that committed a batch and died, and one that claimed a batch and died
    const claim = await store.claimEvents(committed, t0);
    await store.commit({ batch: claim.batch, at: t0.toISOString(), deltas: aggregate(committed).map((d) => d.item), alerts: [], guards: { '2026-11-10T10': committed.map((e) => e.eventId) } });
    await store.claimEvents(uncommitted, t0);

    // WHEN another writer meets the same events within the lease, then after it
    const early = await ingestBatch([...committed, ...uncommitted], other, later(60));
    const afterLease = await ingestBatch([...committed, ...uncommitted], other, later(JOURNAL_LEASE_SECONDS + 1));

    // THEN within the lease nothing is counted: committed ones are replays, the others in doubt
    expect(early).toMatchObject({ replayed: 10, itemsWritten: 0 });
    expect(early.failedEventIds.sort()).toEqual(uncommitted.map((e) => e.eventId).sort());
    // after it, the committed batch is finished from its journal and the other's events counted
    expect(afterLease).toMatchObject({ replayed: 10, failedEventIds: [] });
    expect((await storedEvidence(store)).find((i) => i.type === 'sa')).toMatchObject({ irsaOk: 20 });
    expect(await ingestBatch([...committed, ...uncommitted], other, later(600))).toMatchObject({ replayed: 20, itemsWritten: 0 });
    expect((await storedEvidence(store)).find((i) => i.type === 'sa')).toMatchObject({ irsaOk: 20 });
  }, 30_000);
});

describe('analyze of a fleet with many keys (the only writer, batches staged)', () => {
  // The fleet preset's shape with 80 namespaces in 2 clusters over 30 days,
  // a couple of events per namespace and day, so that each batch of 1,000 events touches most keys
  // of the run again (service accounts, roles, months of daily counts) and keys no batch touched.
  // The whole fleet is analyzed once, for the bound on requests per 1,000 events; the tests that
  // compare how a run stages and writes out its batches (the items stored, not their count) read
  // its last 4 days in batches of 100: 675 events in seven batches over most of the fleet's keys
  // (124 of its 166 service accounts), enough for what they look at (several stages when one is
  // written out every two batches, commits before the write-out, a write-out of about twenty
  // requests to cut short), for about a seventh of the whole fleet's reading and writing.
  const many = { clusters: 2, namespacesPerCluster: 40, days: 30, unrelatedShare: 0.5, seed: 11, end: new Date('2026-11-01T00:00:00Z') };
  const BATCH = 1000;
  const RECENT_DAYS = 4;
  const RECENT_BATCH = 100;
  let logDir: string;
  /** The log files of the fleet's last RECENT_DAYS days (CloudTrail's S3 layout: …/YYYY/MM/DD/file). */
  let recentFiles: string[];
  /** Log files per day: one per place (account and region) and hour. */
  let filesPerDay: number;
  let fleetInventory: Inventory;
  let reference: { summary: AnalyzeSummary; writes: number; items: EvidenceItem[] };
  /** The last days analyzed, and what the run said of its progress (`onFileDone` at the last file, `onWritingOut`), in order. */
  let recent: { summary: AnalyzeSummary; writes: number; items: EvidenceItem[]; heard: string[] };

  async function analyzeInto(
    store: DynamoEvidenceStore,
    options: { paths?: string[]; batchSize?: number; stageLimits?: Partial<StageLimits> } & Pick<AnalyzeOptions, 'onFileDone' | 'onWritingOut'> = {},
  ): Promise<AnalyzeSummary> {
    const { paths = recentFiles, batchSize = RECENT_BATCH, ...rest } = options;
    return analyzePaths({ paths, store, policy: defaultPolicy(), batchSize, now: () => many.end, ...rest });
  }

  async function fresh(): Promise<DynamoEvidenceStore> {
    const store = await table(true);
    await store.saveInventory(fleetInventory);
    writes.reset();
    return store;
  }

  beforeAll(async () => {
    const written = await writeScaledFleet(path.join(dir, 'many-keys'), many);
    logDir = written.logDir;
    filesPerDay = written.stats.files / many.days;
    const since = new Date(many.end.getTime() - RECENT_DAYS * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '/');
    recentFiles = (await readdir(logDir, { recursive: true }))
      .filter((f) => f.endsWith('.json.gz') && /\d{4}\/\d\d\/\d\d/.exec(f)![0] >= since)
      .sort()
      .map((f) => path.join(logDir, f));
    fleetInventory = await readInventoryFiles((await readdir(written.inventoryDir)).map((f) => path.join(written.inventoryDir, f)));
    const whole = await fresh();
    const summary = await analyzeInto(whole, { paths: [logDir], batchSize: BATCH });
    reference = { summary, writes: writes.total(), items: await storedEvidence(whole) };
    const part = await fresh();
    // what it says of its progress is heard on this run, which the other tests compare theirs with
    const heard: string[] = [];
    const recentSummary = await analyzeInto(part, {
      onFileDone: (_file, done) => void (done === recentFiles.length && heard.push('last file')),
      onWritingOut: (events) => void heard.push(`writing ${events}`),
    });
    recent = { summary: recentSummary, writes: writes.total(), items: await storedEvidence(part), heard };
  }, 120_000);

  it('says, after the last file, how many events it is writing out (the progress bar is full by then)', () => {
    expect(recent.heard).toEqual(['last file', `writing ${recent.summary.inScope - recent.summary.replayed}`]);
    expect(recent.summary.notStored).toBe(0);
  });

  it('writes at most 20 requests per 1,000 in-scope events', () => {
    expect(reference.summary.inScope).toBeGreaterThan(3 * BATCH);
    expect(reference.summary.notStored).toBe(0);
    expect(reference.items.filter((i) => i.type === 'sa').length).toBeGreaterThan(60);
    expect(reference.items.filter((i) => i.type === 'day').length).toBeGreaterThan(1500);
    expect((reference.writes * 1000) / reference.summary.inScope).toBeLessThanOrEqual(20);
  });

  it('the last days, which the staging tests read, are several batches of many keys', () => {
    // every hourly file of every place over those days (192), each test reading them all
    expect(recentFiles).toHaveLength(RECENT_DAYS * filesPerDay);
    expect(recent.summary.inScope).toBeGreaterThan(4 * RECENT_BATCH);
    expect(recent.summary.notStored).toBe(0);
    expect(recent.items.filter((i) => i.type === 'sa').length).toBeGreaterThan(60);
    expect(recent.items.filter((i) => i.type === 'day').length).toBeGreaterThan(RECENT_DAYS * 60);
  });

  it('writes each changed item once per stage: more batches cost only their alerts and coverage, no journal each', async () => {
    const store = await fresh();
    const summary = await analyzeInto(store, { batchSize: 100_000 });
    const oneBatch = writes.total();
    expect(summary).toMatchObject({ inScope: recent.summary.inScope, notStored: 0 });
    expect(await storedEvidence(store)).toEqual(recent.items);
    const batches = Math.ceil(recent.summary.inScope / RECENT_BATCH);
    expect(recent.writes - oneBatch).toBeLessThanOrEqual(batches - 1);
  }, 120_000);

  it('stores the same items when a stage is written out every two batches', async () => {
    const store = await fresh();
    const summary = await analyzeInto(store, { stageLimits: { maxBatches: 2 } });
    // more write-outs, more writes, the same store
    expect(writes.total()).toBeGreaterThan(recent.writes);
    expect(summary).toMatchObject({ inScope: recent.summary.inScope, notStored: 0, replayed: 0 });
    expect(await storedEvidence(store)).toEqual(recent.items);
  }, 120_000);

  it('records coverage and files read only once the stage holding their events is in the table (a reader never sees hours proven whose events are staged)', async () => {
    // GIVEN a run that stages every batch until its end, and a reader of the same table looking
    // right after each batch's commit (its events committed and staged, not written out)
    const store = await fresh();
    const reader = new DynamoEvidenceStore({ client: embedded.client, tableName: store.tableName });
    const seen: { coverageDays: number; filesRead: number }[] = [];
    const commit = store.commit.bind(store);
    store.commit = async (journal) => {
      await commit(journal);
      seen.push({ coverageDays: (await reader.coverageDays()).length, filesRead: (await reader.queryMeta('SOURCES#files')).length });
    };
    const run = await analyzePaths({
      paths: recentFiles,
      store,
      policy: defaultPolicy(),
      batchSize: RECENT_BATCH,
      now: () => many.end,
      skipFilesRead: true,
      stageLimits: { maxBatches: 1_000, maxItems: 10_000_000, maxEvents: 10_000_000, maxAgeMs: 3_600_000 },
    });
    // THEN before the write-out no hour was proven and no file recorded; after it, both are, and the items are whole
    expect(run.notStored).toBe(0);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen).toEqual(seen.map(() => ({ coverageDays: 0, filesRead: 0 })));
    expect((await reader.coverageDays()).length).toBeGreaterThan(0);
    expect((await reader.queryMeta('SOURCES#files')).length).toBeGreaterThan(0);
    expect(await storedEvidence(store)).toEqual(recent.items);
  }, 120_000);

  it('a write-out cut short leaves its journal committed: the next run finishes it, counting each event once', async () => {
    const store = await fresh();
    // GIVEN item writes that fail from the fourth request of the write-out on (the run's end)
    let itemRequests = 0;
    const name = `cut-write-out-${store.tableName}`;
    embedded.client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = (args as { input: { RequestItems?: Record<string, { PutRequest?: { Item: Record<string, unknown> } }[]> } }).input;
        const puts = context.commandName === 'BatchWriteItemCommand' ? (input.RequestItems?.[store.tableName] ?? []) : [];
        if (puts.some((r) => r.PutRequest !== undefined && String(putItem(r.PutRequest.Item)['pk']).startsWith('SCOPE#')) && ++itemRequests > 3) {
          throw new Error('injected: the request did not reach the table');
        }
        return next(args);
      },
      { step: 'initialize', name },
    );
    let cut: AnalyzeSummary;
    try {
      cut = await analyzeInto(store);
    } finally {
      embedded.client.middlewareStack.remove(name);
    }
    // THEN that run says its events are not all written, and the store is not the reference yet
    expect(cut.notStored).toBe(recent.summary.inScope);
    expect(cut.storeErrors.join('\n')).toContain('the next run finishes the write-out from its journal');
    expect(await storedEvidence(store)).not.toEqual(recent.items);

    // WHEN the same logs are analyzed again, by a new process (a new store object)
    const again = await analyzeInto(new DynamoEvidenceStore({ client: embedded.client, tableName: store.tableName, singleWriter: true }));

    // THEN every event was counted by the first run, once, and the store is the reference
    expect(again).toMatchObject({ replayed: recent.summary.inScope, notStored: 0 });
    expect(await storedEvidence(store)).toEqual(recent.items);
  }, 120_000);
});

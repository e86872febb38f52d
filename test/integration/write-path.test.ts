import type { SQSEvent } from 'aws-lambda';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import { processSqsBatch } from '../../functions/adapters/sqs-ingest';
import { aggregate, type EvidenceItem } from '../../functions/core/evidence';
import type { IdentityEvent } from '../../functions/core/identity-event';
import { ingestBatch } from '../../functions/core/ingest';
import type { Inventory } from '../../functions/core/inventory';
import { DEFAULT_NODE_ROLE_PATTERNS } from '../../functions/core/node-roles';
import { defaultPolicy } from '../../functions/core/policy';
import { cloudTrailEnvelope, matchingRules, rulePatterns } from '../../functions/core/rule-patterns';
import { analyzePaths } from '../../functions/adapters/ingest-pipeline';
import { readInventoryFiles } from '../../functions/local/cli/commands/inventory';
import { startEmbeddedStore, type EmbeddedStore } from '../../functions/local/embedded-store';
import { generateSampleFleet, writeSampleFleet } from '../../functions/local/sample-fleet';
import { JOURNAL_LEASE_SECONDS } from '../../functions/core/table-schema';
import { INGEST_BATCH_SIZE } from '../../lib/constructs/ingest-function';
import { countWrites } from '../support/count-writes';
import { identityEvent } from '../support/events';

// Write requests, counted by SDK middleware on the client (what DynamoDB bills and throttles),
// for the demo's sample fleet through analyze (one writer) and the ingest Lambda's SQS path.
const END = new Date('2026-11-20T00:00:00Z');
const fleet = generateSampleFleet({ seed: 7, end: END });
let dir: string;
let embedded: EmbeddedStore;
let writes: ReturnType<typeof countWrites>;
let inventory: Inventory;
let tables = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cw-writes-'));
  embedded = await startEmbeddedStore(path.join(dir, 'store'));
  writes = countWrites(embedded.client);
  const written = await writeSampleFleet(path.join(dir, 'fleet'), fleet);
  inventory = await readInventoryFiles((await readdir(written.inventoryDir)).map((f) => path.join(written.inventoryDir, f)));
}, 60_000);
afterAll(async () => {
  await embedded.close();
  await rm(dir, { recursive: true, force: true });
});

async function table(singleWriter: boolean): Promise<DynamoEvidenceStore> {
  tables += 1;
  const store = new DynamoEvidenceStore({ client: embedded.client, tableName: `writes-${tables}`, singleWriter });
  await store.ensureTable();
  await store.saveInventory(inventory);
  writes.reset();
  return store;
}

async function evidence(store: DynamoEvidenceStore): Promise<EvidenceItem[]> {
  const snapshot = await store.snapshot({ fromDay: '2000-01-01', namespaceDays: true });
  return snapshot.items.map(({ version: _v, ...rest }) => rest as EvidenceItem).sort((a, b) => `${a.pk} ${a.sk}`.localeCompare(`${b.pk} ${b.sk}`));
}

const sqsBatch = (bodies: readonly unknown[], offset = 0): SQSEvent => ({
  Records: bodies.map((body, n) => ({ messageId: `m-${offset + n}`, body: JSON.stringify(body) }) as SQSEvent['Records'][number]),
});

describe('write requests', () => {
  it('analyze of the sample fleet writes at most 20 requests per 1,000 in-scope events, and its replay writes none', async () => {
    const store = await table(true);
    const logs = path.join(dir, 'fleet', 'logs');

    const first = await analyzePaths({ paths: [logs], store, policy: defaultPolicy(), now: () => END });
    const firstWrites = writes.total();
    writes.reset();
    const replay = await analyzePaths({ paths: [logs], store, policy: defaultPolicy(), now: () => END });

    expect(first.inScope).toBeGreaterThan(4000);
    expect(first.notStored).toBe(0);
    expect((firstWrites * 1000) / first.inScope).toBeLessThanOrEqual(20);
    expect(replay.replayed).toBe(first.inScope);
    expect(writes.total()).toBe(0);
  }, 60_000);

  it('the ingest Lambda writes per item and guard hour a batch touches, not per event', async () => {
    // GIVEN a full SQS batch of the fleet's traffic, and the same records twice over with other
    // eventIDs: twice the events on the same keys
    const patterns = rulePatterns({ nodeRolePatterns: DEFAULT_NODE_ROLE_PATTERNS });
    const routed = fleet.files
      .flatMap((f) => f.records)
      .sort((a, b) => String(a['eventTime']).localeCompare(String(b['eventTime'])))
      .map(cloudTrailEnvelope)
      .filter((envelope) => matchingRules(envelope, patterns).length > 0)
      .slice(0, INGEST_BATCH_SIZE / 2);
    const twin = routed.map((e) => ({ ...e, detail: { ...(e['detail'] as object), eventID: `${String((e['detail'] as Record<string, unknown>)['eventID'])}-twin` } }));
    const deps = { policy: defaultPolicy(), inventory, nodeRoleArns: [], now: END };

    const once = await table(false);
    const single = await processSqsBatch(sqsBatch(routed), { ...deps, store: once });
    const singleWrites = writes.total();
    const twice = await table(false);
    const double = await processSqsBatch(sqsBatch([...routed, ...twin]), { ...deps, store: twice });
    const doubleWrites = writes.total();
    const replay = await processSqsBatch(sqsBatch([...routed, ...twin], 10_000), { ...deps, store: twice });

    // THEN twice the events cost the same requests (guard shards hold more ids, no more shards)
    expect(single.response.batchItemFailures).toEqual([]);
    expect(double.response.batchItemFailures).toEqual([]);
    expect(double.events).toHaveLength(2 * single.events.length);
    expect(doubleWrites).toBe(singleWrites);
    expect(replay.replayed).toBe(double.events.length);
    expect(writes.total()).toBe(doubleWrites);
    // every day count of the twin table is twice the other's: counted once each
    const days = (items: EvidenceItem[]) => items.filter((i) => i.type === 'day').map((i) => [i.sk, i['irsaOk'] ?? 0, i['piOk'] ?? 0]);
    expect(days(await evidence(twice))).toEqual(days(await evidence(once)).map(([sk, irsa, pi]) => [sk, 2 * Number(irsa), 2 * Number(pi)]));
  }, 60_000);
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
    const sa = (await evidence(a)).find((i) => i.type === 'sa');
    expect(sa).toMatchObject({ irsaOk: 120 });
    expect((await evidence(a)).find((i) => i.type === 'day')).toMatchObject({ irsaOk: 120 });
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
    expect((await evidence(store)).find((i) => i.type === 'sa')).toMatchObject({ irsaOk: 20 });
    expect(await ingestBatch([...committed, ...uncommitted], other, later(600))).toMatchObject({ replayed: 20, itemsWritten: 0 });
    expect((await evidence(store)).find((i) => i.type === 'sa')).toMatchObject({ irsaOk: 20 });
  }, 30_000);
});

import {
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { marshall, type marshallOptions } from '@aws-sdk/util-dynamodb';
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { gzipPieces, gzipPiecesInChunks } from '../core/gzip-pieces';
import type { Alert } from '../core/alert';
import type { IdentityEvent } from '../core/identity-event';
import { COVERAGE_SETS, type CoverageDay } from '../core/coverage';
import { compactMarks, derivedFromMarks, FILE_MARK_SETS } from '../core/coverage-marks';
import type { DetectionNeeds, DetectionState, NamespaceState } from '../core/detections';
import { groupedBy, PairSet } from '../core/collections';
import { EventIdSet } from '../core/event-id-set';
import { ItemPacker, packedMark } from '../core/packed-item';
import { MAY_CHANGE_NOTHING, mergeChangesInto, mergeItems, RECURRING_ITEM_FIELDS, setChanged, type EvidenceDelta, type EvidenceItem } from '../core/evidence';
import { placeNamespaceKeys, roleNamespaceKeys } from '../core/keys';
import { guardKey, type ApplyResult, type BatchJournal, type Claim, type EvidencePort, type GuardedEvent } from '../core/ingest';
import { emptyInventory, mergeInventories, mergeInventory, type Inventory } from '../core/inventory';
import type { EvidenceSnapshot } from '../core/readiness';
import { flatString, StringPool } from '../core/string-pool';
import { faultPoint } from './fault-injection';
import { mapLimit } from './map-limit';
import { mergeCountsText } from './month-counts';
import {
  COVERAGE_PK,
  coverageSk,
  EVENT_GUARD_TTL_DAYS,
  GUARD_SHARD_IDS,
  guardHour,
  guardPk,
  GUARD_FORMAT_PK,
  GUARD_FORMAT_SK,
  guardShardSk,
  INVENTORY_PK,
  JOURNAL_LEASE_SECONDS,
  JOURNAL_PK,
  OUTBOX_PK,
  legacyEventGuardPk,
  scopePk,
  SCOPES_PK,
  sourcesPk,
  FILES_READ_PK,
  TABLE_SCHEMA,
  WRITER_LEASE_PK,
  WRITER_LEASE_SECONDS,
  WRITER_LEASE_SK,
  WRITER_LEASE_WRITE_SECONDS,
} from '../core/table-schema';

/** DynamoDB limits: BatchGetItem takes 100 keys, BatchWriteItem 25 requests (DynamoDB API reference). */
const BATCH_GET_LIMIT = 100;
const BATCH_WRITE_LIMIT = 25;
/** Parallel single-item writes per batch: enough to hide latency, few enough not to throttle a new table. */
const WRITE_CONCURRENCY = 16;
/** Tries of a day's log file marks against other writers' (each a read and a conditional update, after a jittered wait). */
const FILE_MARK_ATTEMPTS = 20;
/**
 * Batch writes in flight while a stage is written out. One at a time, the end of a fleet run waited
 * ~9 s on 1,400 round trips to the embedded store. Sixteen finished a few seconds sooner than four
 * on the bench fleet, within its noise, but held ~100 MB more at the peak (947–996 against
 * 823–902 MB): four, while peak memory is over its target. Again with the stage packed: sixteen,
 * with the guards' shards (~2 MB a request) and the journal's chunks four at once, shortened the
 * fleet preset's write-out from 3.7–4.8 s to 3.0–3.7, but at 20,000 namespaces the shards in the
 * store's thread made the run's peak (367–456 MB, median ~410, against 369–406, ~385); eight, the
 * shards one at a time, ~0.3 s, within the hour's noise. Kept at four for requests of other items
 * (the files a run read); the stage's own items: ITEM_WRITE_CONCURRENCY.
 */
const WRITE_OUT_CONCURRENCY = 4;
/**
 * A write-out's BatchWriteItems of staged items in flight (25 items, ~12 KB a request: sixteen
 * hold ~200 KB; the guards' shards and the journal's chunks still go one at a time). The store's
 * thread writes to LevelDB what one turn of its loop received, and answers those requests together:
 * with four in flight the two threads took turns, each idle half the time (2026-12-06, the fleet
 * preset's items, alternated: 1.74–2.22 s against 2.17–2.71 with four).
 */
const ITEM_WRITE_CONCURRENCY = 16;
/** Parallel reads of the detection state: enough to keep the store busy, few enough to keep memory flat. */
const READ_CONCURRENCY = 16;
/** What a namespace's detection state is made of (DetectionState.namespaces). */
const NAMESPACE_STATE_FIELDS = ['piFirstOk', 'irsaLastAttempt'];
/** From this many namespaces of one scope in a batch, the scope's service accounts are read in one query, not one per namespace. */
const SCOPE_READ_NAMESPACES = 32;
/** Hot items (one namespace's day) can see a few writers at once; each retry backs off further. */
const MAX_CONFLICT_RETRIES = 20;

export class StoreError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StoreError';
  }
}

/**
 * Evidence in one DynamoDB table (layout: core/table-schema.ts). Only single-item conditional
 * writes, batch reads/writes and queries, so the same code runs on dynalite and DynamoDB.
 */
export class DynamoEvidenceStore implements EvidencePort {
  private readonly doc: DynamoDBDocumentClient;
  /** Chunks of the journals this store committed and has not deleted yet. */
  private readonly chunkCounts = new Map<string, number>();
  /** The single writer's write-behind while a run stages its writes (`stageWrites`). */
  private stage: Stage | undefined;
  private lostStageCount = 0;
  /**
   * The only writer, once it has recovered the table in full, knows every journal in it: the ones
   * it staged. Each journal write it then begins (commit, complete, write-out, abandon) is counted
   * here until it returns; one that throws leaves the count up, and the next `recover` reads the
   * journals again (what it left is found there, as after a kill).
   */
  private journalsKnown = false;
  private journalWritesOpen = 0;
  /** Set by `useAlertOutbox`: each new alert is owed to the caller's sinks until `alertsDelivered`. */
  private alertOutbox = false;

  constructor(
    private readonly deps: {
      client: DynamoDBClient;
      tableName: string;
      /**
       * Nobody else writes this table (the embedded store holds a process lock), so a guard read
       * as absent stays absent, a journal found at the start of a batch belongs to a dead run, and
       * items and guards can go in batches of 25 instead of one conditional write each. @default false
       */
      singleWriter?: boolean;
      /**
       * Several writers share the table (the ingest Lambda, a CLI on --table): each batch is written
       * under the table's writer lease (`withWriterLease`), and while a writer holds it, it writes
       * like the single writer. Without it, writers claim events and merge items one conditional
       * write at a time. @default false
       */
      writerLease?: boolean;
      /** How long `withWriterLease` waits for another writer's lease. @default 20 s (a third of the Lambda's timeout) */
      leaseWaitMs?: number;
      /**
       * Starts a full garbage collection, for a process whose heap is its own (the CLI's): called
       * when the last write-out of a stage has written its items and let them go, before the guards
       * and the journals' deletion. The items were most of the heap, and the deletion was where a
       * run peaked (until the embedded store stopped reading each journal chunk back before
       * deleting it: local/embedded-store, BatchWriteItem).
       */
      collectGarbage?: () => Promise<void>;
    },
  ) {
    // a copy: the document client sets convertTopLevelContainer on the options it is given
    this.doc = DynamoDBDocumentClient.from(deps.client, { marshallOptions: { ...MARSHALLING } });
  }

  get tableName(): string {
    return this.deps.tableName;
  }

  /** Nobody else writes now: the embedded store's process lock, or the writer lease held. */
  private get serialized(): boolean {
    return this.deps.singleWriter === true || this.lease !== undefined;
  }

  /** The writer lease this store holds, by its own clock. */
  private lease: { holder: string; renewedAt: number } | undefined;

  /**
   * Runs `write` holding the table's writer lease (a no-op for the single writer and for stores
   * without `writerLease`), and releases it after, whatever `write` did. The lease is per batch,
   * not per run: a long CLI run lets the live ingest in between its batches.
   *
   * Why a writer that holds it can write without conditions: a lease is taken by a conditional put
   * (free, or expired by the taker's clock), lasts WRITER_LEASE_SECONDS, and its holder sends each
   * write request only within WRITER_LEASE_WRITE_SECONDS of taking or renewing it (checked just
   * before the request, by wall clock, so a process suspended or frozen in between stops). The ingest
   * Lambda cannot outlive a lease it took (its timeout is shorter); a CLI process stopped between
   * that check and its request reaching DynamoDB for longer than the margin is the one case this
   * does not cover (docs/RELIABILITY.md).
   */
  async withWriterLease<T>(write: () => Promise<T>): Promise<T> {
    if (this.serialized || !this.deps.writerLease || this.lease !== undefined) return write();
    await this.acquireLease();
    try {
      return await write();
    } finally {
      await this.releaseLease();
    }
  }

  private async acquireLease(): Promise<void> {
    const holder = newBatchId(new Date());
    const waitUntil = Date.now() + (this.deps.leaseWaitMs ?? 20_000);
    for (let attempt = 0; ; attempt += 1) {
      const at = Date.now();
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { pk: WRITER_LEASE_PK, sk: WRITER_LEASE_SK, holder, takenAt: new Date(at).toISOString(), expiresAtMs: at + WRITER_LEASE_SECONDS * 1000 },
            ConditionExpression: 'attribute_not_exists(pk) OR expiresAtMs < :now',
            ExpressionAttributeValues: { ':now': at },
          }),
        );
        this.lease = { holder, renewedAt: at };
        return;
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
      }
      // Held: wait with reads (a failed conditional put is a billed write), until it is free or expired.
      for (;;) {
        if (Date.now() >= waitUntil) {
          throw new StoreError(`table ${this.tableName} is being written by another writer (its writer lease was not free within ${Math.round((this.deps.leaseWaitMs ?? 20_000) / 1000)} s): retry later`);
        }
        await backoff(Math.min(attempt + 1, 5));
        attempt += 1;
        const { Item } = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key(WRITER_LEASE_PK, WRITER_LEASE_SK), ConsistentRead: true }));
        if (Item === undefined || Number(Item['expiresAtMs']) < Date.now()) break;
      }
    }
  }

  /** Deletes the lease if it is still ours; one that ran out was maybe taken over, and is left alone. */
  private async releaseLease(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    if (lease === undefined) return;
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: key(WRITER_LEASE_PK, WRITER_LEASE_SK),
          ConditionExpression: 'holder = :me',
          ExpressionAttributeValues: { ':me': lease.holder },
        }),
      );
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
    }
  }

  /**
   * Before each write request under a lease: renews it past half of its write window, and refuses
   * to write once the window is over (the lease may be someone else's by then).
   */
  private async checkLease(): Promise<void> {
    const lease = this.lease;
    if (lease === undefined) return;
    const elapsed = Date.now() - lease.renewedAt;
    if (elapsed < 0 || elapsed >= WRITER_LEASE_WRITE_SECONDS * 1000) {
      this.lease = undefined;
      throw new StoreError(`the writer lease on ${this.tableName} ran out before the batch was written (${Math.round(elapsed / 1000)} s): the next batch finishes it`);
    }
    if (elapsed < (WRITER_LEASE_WRITE_SECONDS * 1000) / 2) return;
    const at = Date.now();
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: WRITER_LEASE_PK, sk: WRITER_LEASE_SK, holder: lease.holder, takenAt: new Date(at).toISOString(), expiresAtMs: at + WRITER_LEASE_SECONDS * 1000 },
          ConditionExpression: 'holder = :me',
          ExpressionAttributeValues: { ':me': lease.holder },
        }),
      );
      lease.renewedAt = at;
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
      this.lease = undefined;
      throw new StoreError(`the writer lease on ${this.tableName} was taken over before the batch was written: the next batch finishes it`, { cause: e });
    }
  }

  /** With a writer lease, a batch written without it would race the holders' unconditional writes. */
  private assertBatchWriter(): void {
    if (this.deps.writerLease && !this.serialized) throw new StoreError('a batch on a table with a writer lease must run inside withWriterLease');
  }

  /** A write request of the batch path: checked against the lease first when one is held. */
  private async write<T = unknown>(command: PutCommand | UpdateCommand | BatchWriteCommand | BatchWriteItemCommand): Promise<T> {
    await this.checkLease();
    // the document client's commands marshal their items; the client's own take them marshalled
    if (command instanceof BatchWriteItemCommand) return (await this.deps.client.send(command)) as T;
    return (await this.doc.send(command as PutCommand)) as T;
  }

  /**
   * Merge writes outside a batch (alerts of a placement, backfill's coverage): under a lease of
   * their own when the store has one, so they never race a lease holder's unconditional writes.
   */
  private leased<T>(write: () => Promise<T>): Promise<T> {
    return this.deps.writerLease && !this.serialized ? this.withWriterLease(write) : write();
  }

  /** Nobody else writes the table while this store is open: what a run read stays true unless it writes it. */
  get singleWriter(): boolean {
    return this.deps.singleWriter === true;
  }

  /** Creates the table if it is missing (embedded store); a deployed table is CDK's to create. */
  async ensureTable(): Promise<void> {
    try {
      await this.deps.client.send(new DescribeTableCommand({ TableName: this.tableName }));
      return;
    } catch (e) {
      if (!(e instanceof ResourceNotFoundException)) throw e;
    }
    await this.deps.client.send(
      new CreateTableCommand({
        TableName: this.tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: TABLE_SCHEMA.partitionKey, AttributeType: 'S' },
          { AttributeName: TABLE_SCHEMA.sortKey, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE_SCHEMA.sortKey, KeyType: 'RANGE' },
        ],
      }),
    );
    // A new table answers "not found" until it is ACTIVE, on DynamoDB and dynalite alike.
    for (let waited = 0; ; waited += 50) {
      const { Table } = await this.deps.client.send(new DescribeTableCommand({ TableName: this.tableName }));
      if (Table?.TableStatus === 'ACTIVE') return;
      if (waited > 60_000) throw new StoreError(`table ${this.tableName} did not become ACTIVE within 60 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Fails with a message that says what to do when the table is not there. */
  async assertTable(region: string | undefined): Promise<void> {
    try {
      await this.deps.client.send(new DescribeTableCommand({ TableName: this.tableName }));
    } catch (e) {
      if (e instanceof ResourceNotFoundException) {
        throw new StoreError(
          `table ${this.tableName} does not exist${region ? ` in ${region}` : ''}: deploy the stack (npx cdk deploy) or pass the right --table and --table-region`,
          { cause: e },
        );
      }
      throw e;
    }
  }

  /*
   * The write path. A batch is claim → commit → apply → complete, and `recover` finishes what a
   * killed writer left. No transactions: the journal head (`JOURNAL`, `B#<batch>`) is the one item
   * whose state decides a batch, and every other write is either inert until it is committed
   * (claims, journal chunks) or idempotent once it is (items tagged with the batch, guard unions,
   * conditional alert puts, deletes).
   *
   * Single writer (the embedded store holds a process lock): nothing runs concurrently, so a
   * claim is a read, the journal head is written plainly after its chunks, items and guards go by
   * BatchWriteItem, and `recover` at the start of every batch finishes any journal it finds.
   *
   * Several writers (Lambda invocations, a CLI on --table): SQS delivers at least once and
   * backfill overlaps live ingestion, so two batches may hold the same eventID at once.
   *
   *   writer A                                   writer B (same eventID e)
   *   read guards: e unknown                     read guards: e unknown
   *   head B#A state=open (intent, hours)
   *   shard S#0001: pending[A] += e  (version v → v+1, conditional)
   *                                              head B#B state=open
   *                                              shard S#0001: pending[B] += e  (version v: FAILS)
   *                                              re-read: e pending by A, A open and young
   *                                                → e in doubt: not counted, message retried
   *   head B#A: open → committed (conditional)   ← commit point
   *   items: merge + tag A (conditional each)
   *   shard: pending[A] → ids                    (retry, later) re-read: e counted → replay
   *   delete head, chunks
   *
   * Why it is exact:
   * - Claims: every claim is a conditional write of the hour's first non-full shard, and a shard
   *   is only written to once every shard before it is marked `full` (a flag never cleared). So a
   *   successful claim write happened on a state in which no other shard of the hour could take
   *   new claims, and the claimer had read them all: no eventID is pending or counted twice.
   * - Commit vs give-up: a batch counts iff its head moves open → committed; a writer that finds
   *   another's claim with a head older than the lease (JOURNAL_LEASE_SECONDS, above the Lambda
   *   timeout) moves it open → aborted instead. Both are conditional on `state = open`: exactly
   *   one wins. A committed batch is rolled forward by anyone; an aborted one's claims are dead.
   *   A pending claim whose head is gone is dead too: heads go only after their claims resolved,
   *   and a claim written later (a writer slower than the lease) belongs to a batch that can no
   *   longer commit.
   * - A claim held by a young open batch is neither counted nor a replay: `inDoubt`. The SQS
   *   message is returned and redelivered after the visibility timeout (> the lease), when the
   *   batch is committed (replay) or dead (claimed again, counted once).
   * - Roll-forward by two writers at once (a slow batch past its lease, or two recoveries) is
   *   harmless: an item tagged with the batch is skipped (`tagsToKeep`), guards are
   *   unions, alerts are conditional puts, deletes are idempotent.
   */

  async recover(now: Date): Promise<Alert[]> {
    this.assertBatchWriter();
    // Nothing to finish: no other writer, and every journal of this one is deleted. Reading the
    // journal partition before every batch (the stage's chunks, when batches wrote their own
    // journals: megabytes) cost ~3 s of a 50 s run.
    if (this.deps.singleWriter === true && this.journalsKnown && this.journalWritesOpen === 0 && this.chunkCounts.size === 0) return [];
    this.journalsKnown = false;
    const alerts = await this.recoverJournals(now);
    this.journalWritesOpen = 0;
    this.journalsKnown = true;
    return alerts;
  }

  /** Counts a journal write while it runs; one that throws stays counted (see `journalsKnown`). */
  private async journalWrite(write: () => Promise<void>): Promise<void> {
    this.journalWritesOpen += 1;
    await write();
    this.journalWritesOpen -= 1;
  }

  private async recoverJournals(now: Date): Promise<Alert[]> {
    const keys = await this.query({ pk: JOURNAL_PK, projection: true });
    const heads = new Map<string, EvidenceItem>();
    for (const k of keys) if (k.sk.startsWith('B#')) heads.set(k.sk.slice(2), k);
    const alerts: Alert[] = [];
    const stale = (batch: string) => this.serialized || now.getTime() - batchTime(batch) >= JOURNAL_LEASE_SECONDS * 1000;
    const staged = new Set(this.stage?.batches.map((j) => j.batch) ?? []);
    for (const batch of [...heads.keys()].sort()) {
      if (!stale(batch) || staged.has(batch)) continue;
      const head = await this.getHead(batch);
      if (head === undefined) continue;
      // A journal of a kind a newer version writes: finishing it as a batch's would misread it.
      if (head['kind'] !== undefined && head['kind'] !== 'stage') {
        throw new StoreError(
          `the store holds an unfinished journal (batch ${batch}) of a kind this cutover-watch does not know (${String(head['kind'])}): ` +
            'a newer version wrote it and was stopped before finishing; run that version once (it finishes the journal), then this one',
        );
      }
      if (head.state === 'committed') alerts.push(...(await this.rollForward(head)));
      else await this.giveUp(head);
    }
    // Chunks whose head is gone: a commit that failed before its head, or a delete cut short.
    const orphans = keys.filter((k) => k.sk.startsWith('C#') && !heads.has(chunkBatch(k.sk)) && stale(chunkBatch(k.sk)));
    await this.batchWrite(orphans.map((k) => ({ DeleteRequest: { Key: key(k.pk, k.sk) } })));
    // Journals rolled forward into a stage are written out now: a recovery finishes before the batch after it.
    if (this.stage && this.stage.batches.some((j) => !staged.has(j.batch))) await this.writeStaged();
    return alerts;
  }

  async claimEvents(events: readonly GuardedEvent[], now: Date): Promise<Claim> {
    this.assertBatchWriter();
    const claim: Claim = { batch: newBatchId(now), fresh: new Set(), inDoubt: new Set() };
    const byHour = new Map<string, string[]>();
    for (const e of events) {
      const hour = guardHour(e.eventTime);
      const ids = byHour.get(hour) ?? [];
      ids.push(e.eventId);
      byHour.set(hour, ids);
    }
    const shards = await this.readGuards([...byHour.keys()]);
    // A cheap read first: on replay nearly every id is known and nothing is written.
    const candidates = new Map<string, string[]>();
    for (const [hour, ids] of byHour) {
      const { counted } = indexShards(shards.get(hour) ?? []);
      // Pending ids stay candidates: whether their holder still counts is decided per hour below.
      // Ids of staged batches are counted too, though not in the shards yet.
      const staged = this.stage?.ids.get(hour);
      const open = ids.filter((id) => !counted.has(id) && staged?.has(id) !== true);
      if (open.length > 0) candidates.set(hour, open);
    }
    // Stores written before the journal kept one guard item per event: those still count.
    const legacy = new Set(
      candidates.size > 0 && (await this.mayHoldLegacyGuards(now))
        ? (await this.batchGet([...candidates.values()].flat().map((id) => key(legacyEventGuardPk(id), 'EVENT')))).map((i) => i.pk.slice('EVENT#'.length))
        : [],
    );
    for (const [hour, ids] of candidates) {
      const open = ids.filter((id) => !legacy.has(id));
      if (open.length > 0) candidates.set(hour, open);
      else candidates.delete(hour);
    }
    if (this.serialized) {
      // Nobody else writes: whatever is not counted is ours, and a claim left by a dead batch is dead.
      for (const [hour, ids] of candidates) for (const id of ids) claim.fresh.add(guardKey(hour, id));
      faultPoint('after-claim');
      return claim;
    }
    if (candidates.size === 0) return claim;
    await this.write(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: JOURNAL_PK, sk: `B#${claim.batch}`, batch: claim.batch, state: 'open', at: now.toISOString(), hours: [...candidates.keys()] },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    const statuses = new Map<string, Promise<BatchState>>();
    await mapLimit([...candidates], WRITE_CONCURRENCY, async ([hour, ids]) => {
      await this.claimHour(claim, hour, ids, shards.get(hour) ?? [], now, statuses);
    });
    faultPoint('after-claim');
    return claim;
  }

  /**
   * Whether per-event guards of a pre-journal writer may be in the table, asked once per store. A
   * table with no scope item has never counted an event (every counted event writes its scope), so
   * it cannot hold such a guard: the first claim in it writes the format marker, and from then on
   * no claim reads a guard per event (on a fleet, those reads were most of a run's requests).
   */
  private async mayHoldLegacyGuards(now: Date): Promise<boolean> {
    this.legacyGuards ??= (async () => {
      const marker = key(GUARD_FORMAT_PK, GUARD_FORMAT_SK);
      const { Item } = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: marker, ConsistentRead: true }));
      if (Item !== undefined) return false;
      if (await this.tableHoldsAny(SCOPES_PK)) return true;
      await this.write(new PutCommand({ TableName: this.tableName, Item: { ...marker, type: 'format', legacyGuards: false, at: now.toISOString() } }));
      return false;
    })().catch((error: unknown) => {
      this.legacyGuards = undefined;
      throw error;
    });
    return this.legacyGuards;
  }

  private legacyGuards: Promise<boolean> | undefined;

  /** Claims `ids` of one hour for the batch, conditional on the shard it writes (see above). */
  private async claimHour(
    claim: Claim,
    hour: string,
    ids: readonly string[],
    initial: GuardShard[],
    now: Date,
    statuses: Map<string, Promise<BatchState>>,
  ): Promise<void> {
    let shards = initial;
    for (let attempt = 0; ; attempt += 1) {
      const { counted, pending } = indexShards(shards);
      const others = new Set([...pending.values()].filter((b) => b !== claim.batch));
      const state = new Map<string, BatchState>();
      for (const b of others) {
        if (!statuses.has(b)) statuses.set(b, this.batchState(b, now));
        state.set(b, await (statuses.get(b) as Promise<BatchState>));
      }
      const take: string[] = [];
      const mine: string[] = [];
      const doubt: string[] = [];
      for (const id of ids) {
        if (counted.has(id)) continue;
        const holder = pending.get(id);
        if (holder === claim.batch) mine.push(id);
        else if (holder === undefined || state.get(holder) === 'dead') take.push(id);
        else if (state.get(holder) === 'open') doubt.push(id);
        // committed: counted as soon as its holder (or a recovery) completes it
      }
      const dead = [...others].filter((b) => state.get(b) === 'dead');
      try {
        await this.writeGuards(hour, shards, { drop: dead, pending: { batch: claim.batch, ids: take } }, now);
        for (const id of [...mine, ...take]) claim.fresh.add(guardKey(hour, id));
        for (const id of doubt) claim.inDoubt.add(guardKey(hour, id));
        return;
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
        if (attempt + 1 >= MAX_CONFLICT_RETRIES) throw new StoreError(`guards of hour ${hour} kept changing under ${MAX_CONFLICT_RETRIES} attempts to claim events`);
        await backoff(attempt + 1);
        shards = await this.queryShards(hour);
      }
    }
  }

  /** Whether another batch's claims count: by its journal head, giving it up past the lease. */
  private async batchState(batch: string, now: Date): Promise<BatchState> {
    const head = await this.getHead(batch);
    if (head === undefined || head.state === 'aborted') return 'dead';
    if (head.state === 'committed') return 'committed';
    if (now.getTime() - batchTime(batch) < JOURNAL_LEASE_SECONDS * 1000) return 'open';
    return (await this.abort(batch)) ? 'dead' : 'committed';
  }

  /** open → aborted, conditional: false when the batch committed first. */
  private async abort(batch: string): Promise<boolean> {
    try {
      await this.write(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key(JOURNAL_PK, `B#${batch}`),
          UpdateExpression: 'SET #s = :aborted',
          ConditionExpression: '#s = :open',
          ExpressionAttributeNames: { '#s': 'state' },
          ExpressionAttributeValues: { ':aborted': 'aborted', ':open': 'open' },
        }),
      );
      return true;
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
      return (await this.getHead(batch))?.state !== 'committed';
    }
  }

  async commit(journal: BatchJournal): Promise<void> {
    await this.journalWrite(() => this.commitJournal(journal));
  }

  private async commitJournal(journal: BatchJournal): Promise<void> {
    // Staged, a batch's journal would be written and deleted unread: nothing of the batch is in the
    // table before the stage's own journal (writeStagedOut), which holds all it would.
    if (this.stage) return;
    // Compressed: a fleet batch's journal is megabytes of JSON that repeats its keys (about 12x
    // smaller at level 1), written and deleted once per batch; DynamoDB bills a write per KB.
    // Deflated on libuv's pool (the main thread reads the next batch meanwhile, ingest-pipeline),
    // and a delta at a time: whole, the JSON of a batch of 20,000 namespaces' keys and its bytes
    // were ~40 MB per batch that only a full collection frees.
    const data = await gzipPieces(journalPieces(journal), 1);
    const chunks = await this.writeJournal(journal.batch, journal.at, data, Object.keys(journal.guards), this.serialized);
    if (this.serialized) {
      this.chunkCounts.set(journal.batch, chunks);
      faultPoint('after-journal');
      return;
    }
    // Several writers: committed only over this batch's open head (another may have given it up).
    const head = committedHead(journal.batch, journal.at, chunks, Object.keys(journal.guards));
    try {
      await this.write(
        new PutCommand({
          TableName: this.tableName,
          Item: head,
          ConditionExpression: '#s = :open',
          ExpressionAttributeNames: { '#s': 'state' },
          ExpressionAttributeValues: { ':open': 'open' },
        }),
      );
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
      throw new StoreError(`batch ${journal.batch} was given up by another writer (its claims were older than ${JOURNAL_LEASE_SECONDS} s) before it could commit: retry it`, { cause: e });
    }
    this.chunkCounts.set(journal.batch, chunks);
    faultPoint('after-journal');
  }

  /**
   * A journal's chunks, and with `committed` its head (state committed) after them: in one request
   * when they fit, which cut short leaves a head without all its chunks, and recovery drops that as
   * never committed (true: nothing else of the journal is written before this returns). Without
   * `committed` the caller writes the head. Returns the number of chunks.
   */
  private async writeJournal(batch: string, at: string, data: Buffer, hours: string[], committed: boolean): Promise<number> {
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < data.length; i += JOURNAL_CHUNK_BYTES) chunks.push(data.subarray(i, i + JOURNAL_CHUNK_BYTES));
    const puts = chunks.map((gz, n) => ({ PutRequest: { Item: chunkItem(batch, n, gz) } }));
    const head = committedHead(batch, at, chunks.length, hours);
    if (committed && puts.length < BATCH_WRITE_LIMIT) {
      await this.batchWrite([...puts, { PutRequest: { Item: head } }]);
      return chunks.length;
    }
    // Chunks first: they are inert until the head says committed.
    await this.batchWrite(puts);
    if (committed) await this.batchWrite([{ PutRequest: { Item: head } }]);
    return chunks.length;
  }

  async complete(journal: BatchJournal): Promise<void> {
    await this.journalWrite(() => this.completeJournal(journal));
  }

  private async completeJournal(journal: BatchJournal): Promise<void> {
    const stage = this.stage;
    if (stage) {
      // Staged: its items are merged in memory, and its guards wait for the write-out (with the
      // journal it was rolled forward from, when a recovery staged it).
      stage.batches.push({ batch: journal.batch, at: journal.at, written: this.chunkCounts.get(journal.batch) });
      this.chunkCounts.delete(journal.batch);
      for (const [hour, ids] of Object.entries(journal.guards)) {
        let staged = stage.ids.get(hour);
        if (staged === undefined) stage.ids.set(hour, (staged = new EventIdSet()));
        for (const id of ids) staged.add(id);
      }
      stage.since ??= Date.now();
      if (stageFull(stage)) await this.writeStaged();
      return;
    }
    await this.markCounted(journal.batch, journal.guards, new Date(journal.at));
    faultPoint('after-guards');
    await this.deleteJournal(journal.batch, this.chunkCounts.get(journal.batch));
    this.chunkCounts.delete(journal.batch);
  }

  async abandon(batch: string): Promise<void> {
    await this.journalWrite(() => this.abandonBatch(batch));
  }

  private async abandonBatch(batch: string): Promise<void> {
    const head = await this.getHead(batch);
    // A commit whose answer was lost may have landed: then the batch is finished, not dropped.
    if (head?.state === 'committed') {
      await this.rollForward(head);
      return;
    }
    if (head !== undefined) await this.giveUp(head);
    else await this.deleteJournal(batch, undefined);
  }

  /** Records the journal's alerts, writes its items and guards, deletes it: all idempotent. */
  private async rollForward(head: EvidenceItem): Promise<Alert[]> {
    const batch = String(head['batch']);
    const chunks = (await this.query({ pk: JOURNAL_PK, prefix: `C#${batch}#` })).sort((a, b) => (a.sk < b.sk ? -1 : 1));
    if (chunks.length !== Number(head['chunks'])) {
      // Another writer completed it and is deleting it.
      if ((await this.getHead(batch)) === undefined) return [];
      // One writer writes a head with its chunks in one request and deletes them in one: a head
      // left without them is a commit cut short (nothing else written) or a delete cut short
      // (everything else written). Either way there is nothing to finish.
      if (this.serialized) {
        await this.deleteJournal(batch, undefined);
        return [];
      }
      throw new StoreError(`journal of batch ${batch} has ${chunks.length} of its ${String(head['chunks'])} chunks`);
    }
    if (head['kind'] === 'stage') {
      await this.rollForwardStage(batch, String(head['at']), chunks);
      return [];
    }
    const body = JSON.parse(journalText(chunks)) as Pick<BatchJournal, 'deltas' | 'alerts' | 'guards'>;
    const journal: BatchJournal = { batch, at: String(head['at']), ...body };
    const alerts = journal.alerts.length > 0 ? await this.recordAlerts(journal.alerts) : [];
    const result = await this.apply(journal.deltas.map((item) => ({ item, batch })));
    if (result.failed.length > 0) {
      throw new StoreError(`could not finish batch ${batch} from its journal: ${String(result.failed[0]!.error)}`, { cause: result.failed[0]!.error });
    }
    this.chunkCounts.set(batch, chunks.length);
    await this.complete(journal);
    return alerts;
  }

  /**
   * Finishes a stage's write-out from its journal: its items put as they are (the one writer wrote
   * nothing since: the next batch, or the next run, recovers first), its ids counted, the journal
   * deleted. Puts and the guards' union are idempotent, so a recovery cut short is simply done again.
   */
  private async rollForwardStage(batch: string, at: string, chunks: readonly EvidenceItem[]): Promise<void> {
    const body = JSON.parse(journalText(chunks)) as { items: (EvidenceItem | { wire: Record<string, unknown> })[]; guards: Record<string, string[]> };
    const plain: EvidenceItem[] = [];
    const wire: Record<string, unknown>[] = [];
    for (const item of body.items) {
      if ('wire' in item && !('pk' in item)) wire.push(wireItem(item.wire));
      else plain.push(item as EvidenceItem);
    }
    await this.batchWrite(plain.map((item) => ({ PutRequest: { Item: item } })));
    await this.batchWrite(wire.map((item) => ({ PutRequest: { Item: item } })), true);
    await this.markCounted('', body.guards, new Date(at));
    await this.deleteJournal(batch, chunks.length);
  }

  /** An uncommitted batch: abort it (conditionally), drop its claims, delete its journal. */
  private async giveUp(head: EvidenceItem): Promise<void> {
    const batch = String(head['batch']);
    if (head['state'] === 'open' && !this.serialized && !(await this.abort(batch))) {
      const committed = await this.getHead(batch);
      if (committed) await this.rollForward(committed);
      return;
    }
    const hours = (head['hours'] as string[] | undefined) ?? [];
    const shards = await this.readGuards(hours);
    for (const hour of hours) await this.updateGuards(hour, shards.get(hour) ?? [], { drop: [batch] });
    await this.deleteJournal(batch, undefined);
  }

  private async deleteJournal(batch: string, chunks: number | undefined): Promise<void> {
    const keys =
      chunks === undefined
        ? (await this.query({ pk: JOURNAL_PK, prefix: `C#${batch}#`, projection: true })).map((k) => k.sk)
        : Array.from({ length: chunks }, (_, n) => chunkSk(batch, n));
    const deletes = keys.map((sk) => ({ DeleteRequest: { Key: key(JOURNAL_PK, sk) } }));
    const head = { DeleteRequest: { Key: key(JOURNAL_PK, `B#${batch}`) } };
    if (this.serialized && deletes.length < BATCH_WRITE_LIMIT) {
      await this.batchWrite([head, ...deletes]);
      return;
    }
    // Head first: another writer could not roll forward a head without its chunks; chunks without a head are swept.
    await this.batchWrite([head]);
    await this.batchWrite(deletes);
  }

  private async getHead(batch: string): Promise<EvidenceItem | undefined> {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key(JOURNAL_PK, `B#${batch}`), ConsistentRead: true }));
    return Item as EvidenceItem | undefined;
  }

  /** The batch's ids become counted in their hours' shards (its pending claims, or added). */
  private async markCounted(batch: string, guards: Record<string, string[]>, now: Date): Promise<void> {
    const hours = Object.keys(guards);
    const shards = await this.readGuards(hours);
    if (this.serialized) {
      // Claims found here belong to dead batches (this process is the only writer): dropped.
      const puts = hours.flatMap((hour) => {
        const found = shards.get(hour) ?? [];
        const drop = [...new Set(found.flatMap((s) => Object.keys(s.pending ?? {})))];
        return planGuards(hour, found, { drop, counted: guards[hour] ?? [] }, now);
      });
      await this.batchWrite(puts.map((item) => ({ PutRequest: { Item: item } })));
      return;
    }
    await mapLimit(hours, WRITE_CONCURRENCY, (hour) => this.updateGuards(hour, shards.get(hour) ?? [], { settle: batch, counted: guards[hour] ?? [] }, now));
  }

  /** Applies a guard change to one hour, re-reading and re-planning on a conflicting write. */
  private async updateGuards(hour: string, initial: GuardShard[], change: GuardChange, now = new Date()): Promise<void> {
    let shards = initial;
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.writeGuards(hour, shards, change, now);
        return;
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
        if (attempt + 1 >= MAX_CONFLICT_RETRIES) throw new StoreError(`guards of hour ${hour} kept changing under ${MAX_CONFLICT_RETRIES} attempts to update them`);
        await backoff(attempt + 1);
        shards = await this.queryShards(hour);
      }
    }
  }

  /** Writes the shards a change touches, in shard order (a shard is marked full before the next is written). */
  private async writeGuards(hour: string, shards: GuardShard[], change: GuardChange, now: Date): Promise<void> {
    for (const item of planGuards(hour, shards, change, now)) {
      const version = (shards.find((s) => s.sk === item.sk)?.version as number | undefined) ?? 0;
      const isNew = !shards.some((s) => s.sk === item.sk);
      await this.write(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ...(this.serialized
            ? {}
            : isNew
              ? { ConditionExpression: 'attribute_not_exists(pk)' }
              : { ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': version } }),
        }),
      );
    }
  }

  /** Each hour's shards: the first by BatchGet, the rest by a query when the first is full. */
  private async readGuards(hours: readonly string[]): Promise<Map<string, GuardShard[]>> {
    const out = new Map<string, GuardShard[]>(hours.map((h) => [h, []]));
    const full: string[] = [];
    for (const item of (await this.batchGet(hours.map((h) => key(guardPk(h), guardShardSk(1))))) as unknown as GuardShard[]) {
      const hour = item.pk.slice('EVENTS#'.length);
      if (item.full) full.push(hour);
      else out.set(hour, [item]);
    }
    await mapLimit(full, WRITE_CONCURRENCY, async (hour) => {
      out.set(hour, await this.queryShards(hour));
    });
    return out;
  }

  private async queryShards(hour: string): Promise<GuardShard[]> {
    return ((await this.query({ pk: guardPk(hour), prefix: 'S#' })) as unknown as GuardShard[]).sort((a, b) => (a.sk < b.sk ? -1 : 1));
  }

  /**
   * Read, merge, write back. Each item carries the tags of the batches merged into it recently,
   * so a batch rolled forward twice (its writer and a recovery) is merged once. One writer: the
   * merged items go by BatchWriteItem. Several: a put per item under an optimistic lock on
   * `version` (min/max of timestamps cannot be expressed in an UpdateExpression).
   */
  async apply(unpacked: readonly EvidenceDelta[]): Promise<ApplyResult> {
    const deltas = packDays(unpacked);
    if (this.stage) return this.applyStaged(this.stage, deltas);
    const current = new Map<string, EvidenceItem>();
    for (const item of await this.batchGet(deltas.map((d) => key(d.item.pk, d.item.sk)))) {
      current.set(itemKey(item), item);
    }
    const result: ApplyResult = { written: 0, unchanged: 0, failed: [] };
    // made at the first failure: which given deltas each packed one holds
    let packedFrom: Map<string, EvidenceItem[]> | undefined;
    const failed = (delta: EvidenceDelta, error: unknown) => {
      if (delta.item.type !== (DAYS_TYPE as string)) result.failed.push({ item: delta.item, error });
      else for (const item of (packedFrom ??= daysPackedFrom(unpacked)).get(itemKey(delta.item)) ?? []) result.failed.push({ item, error });
    };
    if (this.serialized) {
      const keep = this.tagsToKeep();
      const puts: { delta: EvidenceDelta; item: EvidenceItem }[] = [];
      for (const delta of deltas) {
        const stored = current.get(itemKey(delta.item));
        const next = merged(stored, delta, keep);
        if (next === undefined) result.unchanged += 1;
        else puts.push({ delta, item: next });
      }
      const groups = inGroups(puts, BATCH_WRITE_LIMIT);
      for (const [g, group] of groups.entries()) {
        try {
          await this.batchWrite(group.map((p) => ({ PutRequest: { Item: p.item } })));
          result.written += group.length;
        } catch (error) {
          for (const p of group) failed(p.delta, error);
        }
        if (g === Math.floor(groups.length / 2)) faultPoint('mid-apply');
      }
      faultPoint('after-apply');
      return result;
    }
    let done = 0;
    const keep = this.tagsToKeep();
    await mapLimit(deltas, WRITE_CONCURRENCY, async (delta) => {
      try {
        const wrote = await this.mergeOne(delta, current.get(itemKey(delta.item)), keep);
        if (wrote) result.written += 1;
        else result.unchanged += 1;
      } catch (error) {
        failed(delta, error);
      }
      done += 1;
      if (done === Math.ceil(deltas.length / 2)) faultPoint('mid-apply');
    });
    faultPoint('after-apply');
    return result;
  }

  /*
   * Write-behind for the single writer (`analyze`, `backfill` on the embedded store). At fleet
   * scale a batch touches thousands of keys, and most keys again in the next batch: written per
   * batch, a run's writes are keys × batches. Staged, a batch's merged items stay in memory and
   * nothing of it is written; when the stage is full (batches, items, events or age: StageLimits),
   * its journal (every changed item as it will be written, and the staged ids) is committed, then
   * the items and guards are written, so a key is written once per stage, not once per batch.
   *
   * Why it stays exact: killed before the stage's journal, nothing of the stage is in the table,
   * and the files of its events are not recorded as read, so the next run counts them (once: none
   * is guarded). Killed after it, the next run's `recover` puts the journal's items as they are
   * (`rollForwardStage`: nothing else wrote since, so each item is as before the stage or as the
   * journal has it) and marks the ids counted. A batch journal of an earlier version rolled forward
   * into the stage is deleted with the stage's; the items carry its tag (`tagsToKeep`), so a kill
   * in between merges it once. Meanwhile this writer reads its own writes: claims treat the staged
   * ids as counted, and every read of an item (batch gets, queries: the detection state, snapshots)
   * sees the staged version. Readers in other processes see the table as of the last write-out, as
   * they would see a batch in flight.
   */

  /**
   * Stages this single writer's item, guard and journal writes until `writeStaged` or the stage is
   * full. Returns false (and stages nothing) for a store with other writers.
   */
  stageWrites(limits: Partial<StageLimits> = {}): boolean {
    if (!this.singleWriter) return false;
    const all = { ...DEFAULT_STAGE_LIMITS, ...limits };
    this.stage ??= emptyStage({ ...all, maxBatches: Math.min(all.maxBatches, TAG_LIMIT) });
    return true;
  }

  /** Events of the staged batches: counted in memory, their items and guards not written yet. */
  get stagedEvents(): number {
    return this.stage === undefined ? 0 : stagedIds(this.stage);
  }

  /** Batches merged into the stage and not written out yet: 0 when everything counted is in the table. */
  get stagedBatches(): number {
    return this.stage?.batches.length ?? 0;
  }

  /**
   * Stages whose write-out failed (after its journal, the journal stays committed for a recovery). What a caller
   * records about the events of a lost stage (coverage, files read, checkpoints) must wait for a rerun.
   */
  get lostStages(): number {
    return this.lostStageCount;
  }

  /**
   * Writes what is staged: the stage's journal (its commit point), every changed item once, the
   * guards of every staged batch, then the journal's deletion. A failure leaves the journal
   * committed for the next recovery (the next batch's), and the stage empty (what this writer knew
   * is read again from the table).
   */
  async writeStaged(): Promise<void> {
    await this.journalWrite(() => this.writeStagedOut(false));
  }

  /** `last`: the stage ends with this write-out, and its items go once written. */
  private async writeStagedOut(last: boolean): Promise<void> {
    const stage = this.stage;
    if (stage === undefined || (stage.batches.length === 0 && stage.known.changedCount === 0)) return;
    const batches = stage.batches;
    // Written without the tags of the staged batches: they made a roll-forward of each batch's
    // journal skip the items it had reached, and a staged batch has no journal now (this stage's
    // covers it). Only a journal of an earlier version rolled into the stage is applied by itself
    // again after a kill (before this one), so its tag stays. Untagged, a `wide` store is 13 %
    // smaller and `readiness` reads it ~18 % faster.
    const durable = batches.filter((b) => b.written !== undefined).map((b) => ({ batch: b.batch, chunks: b.written as number }));
    const durableTags = new Set(durable.map((b) => b.batch));
    // let go once written, when the stage ends (the guards and the journal's deletion come after)
    let changes: StagedChanges | undefined = stage.known.changed((tag) => durableTags.has(tag));
    const count = changes.length;
    const at = batches.at(-1)?.at ?? new Date().toISOString();
    const journal = newBatchId(new Date(at));
    try {
      const chunks = await this.commitStage(journal, at, changes, stage.ids);
      faultPoint('after-journal');
      // each group unpacked as its request is made
      const groups = Array.from({ length: Math.ceil(count / BATCH_WRITE_LIMIT) }, (_, n) => n * BATCH_WRITE_LIMIT);
      const write = (from: number) => {
        const all = changes as StagedChanges;
        const group = [];
        for (let i = from; i < Math.min(from + BATCH_WRITE_LIMIT, count); i += 1) group.push({ PutRequest: { Item: all.marshalled(i) } });
        return this.batchWrite(group, true);
      };
      // Several batches in flight: one at a time, the end of a fleet run waited ~9 s on 1,400 round
      // trips. Any order is safe: the journal holds every item as written.
      const half = Math.floor(groups.length / 2) + 1;
      await mapLimit(groups.slice(0, half), ITEM_WRITE_CONCURRENCY, write);
      if (groups.length > 0) faultPoint('mid-apply');
      await mapLimit(groups.slice(half), ITEM_WRITE_CONCURRENCY, write);
      stage.known.clearChanged();
      if (last) {
        const held = stage.known.size;
        changes = undefined;
        stage.known.clear();
        if (held >= stage.limits.collectAfterItems) await this.deps.collectGarbage?.();
      }
      faultPoint('after-apply');
      // every staged batch's ids, by hour, in the order they were counted
      const guards: Record<string, string[]> = {};
      for (const [hour, ids] of stage.ids) guards[hour] = [...ids];
      await this.markCounted('', guards, new Date(at));
      stage.ids.clear();
      faultPoint('after-guards');
      // Heads first: a head whose chunks are gone is finished; chunks without a head are swept.
      const written = [...durable, { batch: journal, chunks }];
      await this.batchWrite(written.map((j) => ({ DeleteRequest: { Key: key(JOURNAL_PK, `B#${j.batch}`) } })));
      const chunkKeys = written.flatMap((j) => Array.from({ length: j.chunks }, (_, n) => chunkSk(j.batch, n)));
      await this.batchWrite(chunkKeys.map((sk) => ({ DeleteRequest: { Key: key(JOURNAL_PK, sk) } })));
    } catch (error) {
      // what was written of it is in the table, not in the new stage: that one reads every key
      this.stage = { ...emptyStage(stage.limits), holdsAllEvidence: false };
      this.lostStageCount += 1;
      throw error;
    }
    stage.batches = [];
    stage.since = null;
    if (stage.known.size > stage.limits.maxKnown) {
      stage.known.clear();
      // what this writer wrote is in the table now, not in the stage
      stage.holdsAllEvidence = false;
    }
  }

  /**
   * The commit point of a write-out: its journal, the items as they are about to be written and the
   * staged ids. Nothing else writes this table (one writer), so a recovery puts them as they are
   * (`rollForwardStage`). Its own frame, so that the compressed journal is let go before the items
   * are written. Returns the number of chunks.
   */
  private async commitStage(journal: string, at: string, changes: StagedChanges, ids: Map<string, EventIdSet>): Promise<number> {
    // Each chunk written as soon as it is made, one request at a time (its megabytes in one request
    // were ~100 MB more at the run's peak, the store's thread parsing it), while the rest is made:
    // the fleet preset's journal (5.3 MB, 18 chunks) in 0.62–0.74 s against 0.74–0.89 when written
    // after the whole was made. Chunks first: they are inert until the head says committed.
    let n = 0;
    const chunks = await gzipPiecesInChunks(stageJournalPieces(changes, ids), 1, JOURNAL_CHUNK_BYTES, (gz) =>
      this.batchWrite([{ PutRequest: { Item: chunkItem(journal, n++, gz) } }]),
    );
    await this.batchWrite([{ PutRequest: { Item: committedHead(journal, at, chunks, [...ids.keys()], 'stage') } }]);
    return chunks;
  }

  /**
   * A staged batch's deltas less those that would change nothing the stage holds (EvidencePort).
   * The stage is exact (nobody else writes) and holds every batch committed before this one merged
   * (a batch's apply finishes, or the next `recover` rolls it in, before the next batch's claim).
   * Only types without counts are looked at: a count always changes its item.
   */
  withoutNoOps(deltas: EvidenceDelta[]): EvidenceDelta[] {
    const stage = this.stage;
    if (stage === undefined) return deltas;
    return deltas.filter((delta) => {
      if (!MAY_CHANGE_NOTHING.has(delta.item.type)) return true;
      // a copy of the staged item, merged into and dropped: whether the merge would change it
      const held = stage.known.get(delta.item.pk, delta.item.sk);
      return held === undefined || mergeChangesInto(held, withoutBookkeeping(delta.item), sameValue);
    });
  }

  /** Writes what is staged and stops staging. */
  async endStaging(): Promise<void> {
    try {
      await this.journalWrite(() => this.writeStagedOut(true));
    } finally {
      this.stage = undefined;
    }
  }

  /**
   * A batch's merge into the stage: only items this writer has not seen yet are read, and none while
   * the stage holds every evidence item there is. A first run into a store read every key it met,
   * and every read came back empty: ~35,000 keys on the fleet preset, ~167,000 at 20,000 namespaces.
   */
  private async applyStaged(stage: Stage, deltas: readonly EvidenceDelta[]): Promise<ApplyResult> {
    if (!(await this.holdsAll(stage))) {
      const unseen = deltas.filter((d) => !stage.known.has(d.item.pk, d.item.sk)).map((d) => key(d.item.pk, d.item.sk));
      for (const item of await this.batchGet(unseen)) stage.known.put(item, false);
    }
    const result: ApplyResult = { written: 0, unchanged: 0, failed: [] };
    const keep = this.tagsToKeep();
    for (const delta of deltas) {
      // a copy of the staged item, merged where it is and held again if it changed
      const stored = stage.known.get(delta.item.pk, delta.item.sk);
      let next: EvidenceItem | undefined;
      if (stored !== undefined && delta.batch !== undefined) {
        next = mergedInPlace(stored, delta as EvidenceDelta & { batch: string }, keep, stage.tagSets) ? stored : undefined;
      } else {
        next = merged(stored, delta, keep);
        const tags = next?.[TAGS] as string[] | undefined;
        if (next !== undefined && tags !== undefined) next[TAGS] = stage.tagSets.shared(tags) as string[];
      }
      if (next === undefined) {
        result.unchanged += 1;
        continue;
      }
      stage.known.put(next, true);
      result.written += 1;
    }
    return result;
  }

  /**
   * Whether the table holds any item a delta may merge into: scopes and what they hold (`SCOPES`,
   * `SCOPE#…`), and the detections' state (`ROLE#…`, `SPIKE#…`; an event that no scope can place may
   * still leave those). A scan that stops at the first page holding one: a store with evidence
   * usually has one in its first page, and one without is read once (its inventory, little else).
   */
  /**
   * Whether the stage holds every evidence item there is (`Stage.holdsAllEvidence`), asked of the
   * table at the stage's first read or merge: from then on nothing but the stage writes evidence.
   */
  private async holdsAll(stage: Stage): Promise<boolean> {
    stage.holdsAllEvidence ??= !(await this.holdsEvidence());
    return stage.holdsAllEvidence;
  }

  private async holdsEvidence(): Promise<boolean> {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new ScanCommand({
          TableName: this.tableName,
          ProjectionExpression: 'pk',
          FilterExpression: EVIDENCE_PK_PREFIXES.map((_, i) => `begins_with(pk, :p${i})`).join(' OR '),
          ExpressionAttributeValues: Object.fromEntries(EVIDENCE_PK_PREFIXES.map((prefix, i) => [`:p${i}`, prefix])),
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      if ((page.Items?.length ?? 0) > 0) return true;
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return false;
  }

  /**
   * Which of an item's batch tags stay when a batch writes it. A tag lets a journal applied again
   * skip the items it already reached, so it must last while its journal can be applied again.
   * A writer that writes alone (the single writer, or the holder of the writer lease) finishes every
   * journal it finds before its own batch (`recover`), and a journal it cannot finish holds back
   * every later batch: so while it writes, only the journal it applies and its staged ones can be
   * applied again, and the other tags are of finished journals. Dropping them keeps the live
   * ingest's service-account items, rewritten every five-minute batch, at one tag instead of an
   * hour's twelve (~250 bytes: the second WRU of most of their writes, docs/deploy.md §7). Writers
   * without the lease keep an hour's (TAG_HORIZON_MS): another may be rolling a journal forward.
   */
  private tagsToKeep(): (tag: string, batch: string) => boolean {
    if (!this.serialized) return (tag, batch) => batchTime(tag) > batchTime(batch) - TAG_HORIZON_MS;
    const staged = new Set(this.stage?.batches.map((j) => j.batch) ?? []);
    return (tag) => staged.has(tag);
  }

  private async mergeOne(delta: EvidenceDelta, existing: EvidenceItem | undefined, keep: (tag: string, batch: string) => boolean): Promise<boolean> {
    let stored = existing;
    for (let attempt = 0; attempt < MAX_CONFLICT_RETRIES; attempt += 1) {
      const next = merged(stored, delta, keep);
      if (next === undefined) return false;
      const version = typeof stored?.['version'] === 'number' ? stored['version'] : 0;
      try {
        await this.write(
          new PutCommand({
            TableName: this.tableName,
            Item: next,
            ...(stored === undefined
              ? { ConditionExpression: 'attribute_not_exists(pk)' }
              : { ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': version } }),
          }),
        );
        return true;
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
        // Another writer merged first: back off (jittered, so racing writers spread out) and re-read.
        await backoff(attempt + 1);
        const fresh = await this.doc.send(
          new GetCommand({ TableName: this.tableName, Key: key(delta.item.pk, delta.item.sk), ConsistentRead: true }),
        );
        stored = fresh.Item as EvidenceItem | undefined;
      }
    }
    throw new StoreError(`item ${delta.item.pk} ${delta.item.sk} kept changing under ${MAX_CONFLICT_RETRIES} attempts to merge into it`);
  }

  /**
   * What a readiness run needs: every scope's current evidence, daily fetch and node-role counts
   * from `fromDay`, and the per-namespace daily counts only when an as-of in the past needs them.
   */
  async snapshot(options: { fromDay: string; namespaceDays: boolean }): Promise<EvidenceSnapshot> {
    const reads = await this.snapshotReads(options.fromDay);
    if (options.namespaceDays) await this.readNamespaceDays(reads);
    return snapshotOf(reads, options);
  }

  /**
   * A snapshot's reads without the per-namespace daily counts (the bulk of a large store), which
   * `readNamespaceDays` adds only if a caller needs them: one read of the store serves a readiness
   * run that finds out it needs them, and the report beside it (`snapshotOf` cuts each view).
   */
  async snapshotReads(fromDay: string): Promise<SnapshotReads> {
    // Coverage first: a writer records it only once the events it covers are stored, so evidence
    // read after it holds at least those events, and silence it proves is real silence even while
    // a writer runs (reading evidence first could pair it with coverage of events not seen).
    const [inventory, coverage] = await Promise.all([this.loadInventory(), this.coverageDays()]);
    const strings = new StringPool();
    const read = (q: { pk: string; prefix?: string; from?: string; to?: string }) => this.query(q, (item) => keptForSnapshot(item, strings));
    const scopes = await read({ pk: SCOPES_PK });
    const queries = scopes.map((scope) => {
      const pk = scopePk(scope.sk);
      switch (scope['kind']) {
        case 'cluster':
          return [{ pk, prefix: 'SA#' }, { pk, prefix: 'FETCH#' }, { pk, from: `CDAY#${fromDay}`, to: 'CDAY#~' }];
        case 'issuer':
          return [{ pk, prefix: 'SA#' }];
        case 'role':
          return [{ pk, prefix: 'UNTAGGED' }];
        case 'noderole':
          return [{ pk, prefix: 'CALL#' }, { pk, prefix: 'CLUSTERS' }, { pk, from: `NDAY#${fromDay}`, to: 'NDAY#~' }];
        default:
          return [];
      }
    });
    const results = await mapLimit(queries.flat(), SNAPSHOT_READ_CONCURRENCY, read);
    let next = 0;
    const perScope = scopes.map((scope, i): ScopeReads => ({ scope, items: results.slice(next, (next += queries[i]!.length)).flat(), days: null }));
    return { fromDay, scopes: perScope, inventory, coverage, strings };
  }

  /** Adds the per-namespace daily counts of the clusters and issuers to `reads` (once). */
  async readNamespaceDays(reads: SnapshotReads): Promise<void> {
    await mapLimit(
      reads.scopes,
      SNAPSHOT_READ_CONCURRENCY / 2,
      async (s) => {
        if (s.days !== null || (s.scope['kind'] !== 'cluster' && s.scope['kind'] !== 'issuer')) return;
        const pk = scopePk(s.scope.sk);
        const kept = (item: EvidenceItem) => keptForSnapshot(item, reads.strings);
        const [legacy, packed] = await Promise.all([this.query({ pk, prefix: 'DAY#' }, kept), this.query({ pk, prefix: 'DAYS#' }, kept)]);
        s.days = dayItems(legacy, packed);
      },
    );
  }

  /** Service-account and daily items of one namespace in the given scopes: the evidence timeline. */
  async namespaceEvidence(scopes: readonly string[], namespace: string): Promise<EvidenceItem[]> {
    const reads = scopes.map(async (scope) => {
      const [accounts, legacy, packed] = await Promise.all([
        this.query({ pk: scopePk(scope), prefix: `SA#${namespace}#` }),
        this.query({ pk: scopePk(scope), prefix: `DAY#${namespace}#` }),
        this.query({ pk: scopePk(scope), prefix: `DAYS#${namespace}#` }),
      ]);
      return [...accounts, ...dayItems(legacy, packed)];
    });
    return (await Promise.all(reads)).flat().map(untagged);
  }

  async scopes(): Promise<EvidenceItem[]> {
    return (await this.query({ pk: SCOPES_PK })).map(untagged);
  }

  async loadInventory(): Promise<Inventory> {
    const items = await this.query({ pk: INVENTORY_PK });
    const strings = new StringPool();
    return mergeInventories(items.map((item) => withSharedStrings(JSON.parse(String(item['data'])) as Inventory, strings)));
  }

  /** Stores inventory facts merged into what is there; returns the merged whole. */
  async saveInventory(next: Inventory): Promise<Inventory> {
    const merged = mergeInventory(await this.loadInventory(), next);
    const puts = [
      ...merged.clusters.map((c) => ({ sk: `CLUSTER#${c.arn}`, part: { ...emptyInventory(), clusters: [c] } })),
      ...merged.associations.map((a) => ({
        sk: `ASSOC#${a.clusterArn ?? a.cluster}#${a.namespace}#${a.serviceAccount}`,
        part: { ...emptyInventory(), associations: [a] },
      })),
      ...merged.nodegroups.map((n) => ({ sk: `NODEGROUP#${n.cluster}#${n.nodegroup}`, part: { ...emptyInventory(), nodegroups: [n] } })),
      // The preflight's facts (add-ons, IAM roles and managed policies): one item each, documents included.
      ...(merged.addons ?? []).map((a) => ({ sk: `ADDON#${a.clusterArn ?? a.cluster}#${a.addonName}`, part: { ...emptyInventory(), addons: [a] } })),
      ...(merged.roles ?? []).map((r) => ({ sk: `ROLE#${r.arn}`, part: { ...emptyInventory(), roles: [r] } })),
      ...(merged.policies ?? []).map((p) => ({ sk: `POLICY#${p.arn ?? `name:${p.name}`}`, part: { ...emptyInventory(), policies: [p] } })),
    ];
    await this.batchWrite(puts.map(({ sk, part }) => ({ PutRequest: { Item: { pk: INVENTORY_PK, sk, data: JSON.stringify(part) } } })));
    return merged;
  }

  /** What the detections must know before a batch: one BatchGet for keyed state, a query per namespace. */
  async detectionState(needs: DetectionNeeds, inventory: Inventory): Promise<DetectionState> {
    const keyed = await this.batchGet([
      ...needs.roles.map((r) => key(`ROLE#${r}`, 'ROLE')),
      ...needs.roleNamespaces.map((p) => key(`ROLE#${p.roleArn}`, `NS#${p.namespace}`)),
      ...needs.spikes.map((w) => key(`SPIKE#${w.key}`, `W#${w.window}`)),
      ...needs.nodeRoles.map((r) => key(scopePk(`noderole:${r}`), 'CLUSTERS')),
    ]);
    const state: DetectionState = {
      roleFirstSeen: new Map(),
      roleNamespaces: new Set(),
      spikeCounts: new Map(),
      namespaces: new Map(),
      nodeRoleClusters: new Map(),
      inventory,
    };
    for (const item of keyed) {
      if (item.type === 'role') state.roleFirstSeen.set(String(item['roleArn']), String(item['firstSeen']));
      else if (item.type === 'role-ns') state.roleNamespaces.add(roleNamespaceKeys.of(String(item['roleArn']), String(item['namespace'])));
      else if (item.type === 'spike') state.spikeCounts.set(`${item['key']}|${item['window']}`, Number(item['count']));
    }
    for (const role of needs.nodeRoles) {
      const observed = keyed.find((i) => i.type === 'node-clusters' && i['nodeRoleArn'] === role);
      const names = [
        ...inventory.nodegroups.filter((n) => n.nodeRoleArn === role).map((n) => n.cluster),
        ...((observed?.['clusterArns'] as string[] | undefined) ?? []).map((arn) => arn.slice(arn.lastIndexOf('/') + 1)),
      ];
      if (names.length > 0) state.nodeRoleClusters.set(role, [...new Set(names)].sort());
    }
    // A namespace's state is its service accounts' first Pod Identity and last IRSA, in each scope
    // it may be recorded in. A batch at fleet scale needs thousands of namespaces: a scope many of
    // them need is read whole (one paged query) rather than a query each; either way only the two
    // fields judged are read, and a bounded number of requests is in flight.
    const wanted = new Map<string, Set<string>>();
    for (const { namespace, scopes } of needs.namespaces) {
      for (const scope of scopes) {
        const set = wanted.get(scope) ?? new Set<string>();
        set.add(namespace);
        wanted.set(scope, set);
      }
    }
    const found = new Map<string, NamespaceState>();
    const fold = (scope: string, items: readonly EvidenceItem[], only: ReadonlySet<string>) => {
      for (const item of items) {
        const namespace = item.sk.slice(3, item.sk.indexOf('#', 3));
        if (!only.has(namespace)) continue;
        const key = `${scope}\u0000${namespace}`;
        const ns = found.get(key) ?? { firstPodIdentity: null, lastIrsa: null };
        const first = item['piFirstOk'];
        const last = item['irsaLastAttempt'];
        if (typeof first === 'string' && (ns.firstPodIdentity === null || first < ns.firstPodIdentity)) ns.firstPodIdentity = first;
        if (typeof last === 'string' && (ns.lastIrsa === null || last > ns.lastIrsa)) ns.lastIrsa = last;
        found.set(key, ns);
      }
    };
    const reads: (() => Promise<void>)[] = [];
    for (const [scope, namespaces] of wanted) {
      const pk = scopePk(scope);
      if (namespaces.size >= SCOPE_READ_NAMESPACES) {
        reads.push(async () => {
          await this.queryPages({ pk, prefix: 'SA#', fields: NAMESPACE_STATE_FIELDS }, (page) => fold(scope, page, namespaces));
        });
      } else {
        for (const namespace of namespaces) {
          reads.push(async () => fold(scope, await this.query({ pk, prefix: `SA#${namespace}#`, fields: NAMESPACE_STATE_FIELDS }), namespaces));
        }
      }
    }
    await mapLimit(reads, READ_CONCURRENCY, (read) => read());
    for (const { place, namespace, scopes } of needs.namespaces) {
      const ns: NamespaceState = { firstPodIdentity: null, lastIrsa: null };
      for (const scope of scopes) {
        const part = found.get(`${scope}\u0000${namespace}`);
        if (part === undefined) continue;
        if (part.firstPodIdentity !== null && (ns.firstPodIdentity === null || part.firstPodIdentity < ns.firstPodIdentity)) ns.firstPodIdentity = part.firstPodIdentity;
        if (part.lastIrsa !== null && (ns.lastIrsa === null || part.lastIrsa > ns.lastIrsa)) ns.lastIrsa = part.lastIrsa;
      }
      state.namespaces.set(placeNamespaceKeys.of(place, namespace), ns);
    }
    return state;
  }

  /**
   * Records alerts once: the item key is the alert's (detection, key, window) id, written with
   * `attribute_not_exists`, so a replay or a retried batch finds it there and raises nothing new.
   */
  async recordAlerts(alerts: readonly Alert[]): Promise<Alert[]> {
    return this.leased(() => this.recordAlertsNow(alerts));
  }

  private async recordAlertsNow(alerts: readonly Alert[]): Promise<Alert[]> {
    const fresh: Alert[] = [];
    if (this.serialized) {
      // Nobody else records alerts: what is not there now is new, and can go 25 to a request.
      const known = new Set((await this.batchGet(alerts.map((a) => key(alertsPk(a), a.id)))).map((i) => i.sk));
      fresh.push(...new Map(alerts.filter((a) => !known.has(a.id)).map((a) => [a.id, a])).values());
      // owed before it exists: a kill in between leaves a note whose alert is not there, dropped by `undeliveredAlerts`
      if (this.alertOutbox) await this.batchWrite(fresh.map((alert) => ({ PutRequest: { Item: owedItem(alert) } })));
      await this.batchWrite(fresh.map((alert) => ({ PutRequest: { Item: { pk: alertsPk(alert), sk: alert.id, type: 'alert', ...alert } } })));
      if (fresh.length > 0) faultPoint('after-alerts');
      return byFirstEvent(fresh);
    }
    await mapLimit(alerts, WRITE_CONCURRENCY, async (alert) => {
      try {
        await this.write(
          new PutCommand({
            TableName: this.tableName,
            Item: { pk: alertsPk(alert), sk: alert.id, type: 'alert', ...alert },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
        fresh.push(alert);
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
      }
    });
    return byFirstEvent(fresh);
  }

  /**
   * For a caller that delivers alerts itself (the CLI: the terminal, alerts.jsonl, SNS, Slack), as
   * the deployed pipeline's table stream does: each alert this store records for the first time is
   * owed (`OUTBOX`, written before the alert) until the caller says it was delivered. A run killed
   * in between leaves it owed, and the next run delivers it (`undeliveredAlerts`). Only for a writer
   * that records alerts alone (the only writer, or under the writer lease): a note is the alert's,
   * and a writer racing another for the same alert could delete the other's.
   */
  useAlertOutbox(): void {
    if (this.deps.singleWriter !== true && this.deps.writerLease !== true) throw new StoreError('the alert outbox needs the only writer or the writer lease');
    this.alertOutbox = true;
  }

  /** The alerts a run recorded and did not live to deliver, oldest first; notes of alerts never recorded are dropped. */
  async undeliveredAlerts(): Promise<Alert[]> {
    const owed = await this.query({ pk: OUTBOX_PK });
    if (owed.length === 0) return [];
    const found = await this.batchGet(owed.map((o) => key(String(o['alertPk']), o.sk)));
    const recorded = new Set(found.map((a) => a.sk));
    // Killed between the note and its alert: whichever run records the alert delivers it.
    const orphans = owed.filter((o) => !recorded.has(o.sk));
    if (orphans.length > 0) await this.leased(() => this.batchWrite(orphans.map((o) => ({ DeleteRequest: { Key: key(OUTBOX_PK, o.sk) } }))));
    return byFirstEvent(found.map(alertOf));
  }

  /** These alerts reached every sink (or the failures were reported): no longer owed. */
  async alertsDelivered(ids: readonly string[]): Promise<void> {
    if (!this.alertOutbox || ids.length === 0) return;
    await this.leased(() => this.batchWrite([...new Set(ids)].map((id) => ({ DeleteRequest: { Key: key(OUTBOX_PK, id) } }))));
  }

  /**
   * Small bookkeeping items outside the evidence (backfill checkpoints, the last report's summary):
   * plain get/put/delete on a key the caller owns. Keys must not start with `SCOPE#`, `SCOPES`,
   * `INVENTORY`, `EVENT#`, `EVENTS#`, `JOURNAL`, `ROLE#`, `SPIKE#`, `ALERTS#` or `OUTBOX`.
   */
  async getMeta(pk: string, sk: string): Promise<Record<string, unknown> | undefined> {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key(pk, sk), ConsistentRead: true }));
    return Item;
  }

  async putMeta(item: { pk: string; sk: string; [field: string]: unknown }): Promise<void> {
    await this.write(new PutCommand({ TableName: this.tableName, Item: item }));
  }

  async deleteMeta(pk: string, sk: string): Promise<void> {
    await this.batchWrite([{ DeleteRequest: { Key: key(pk, sk) } }]);
  }

  async queryMeta(pk: string, prefix?: string): Promise<Record<string, unknown>[]> {
    return this.query(prefix === undefined ? { pk } : { pk, prefix });
  }

  /**
   * Coverage: per (account, region, day) string sets grown with `ADD`, which is atomic, idempotent
   * and commutative, so replays, overlapping sources and concurrent writers need no read and no lock.
   * The marks of log files and digests (`readFiles`, `listedFiles`, `digests`, `previousDigests`)
   * are kept compacted instead (`compactMarks`: what matched goes), so that an item stays small
   * where a real trail delivers ~300 files a day: read, merged and written whole, by the only writer
   * in its read-modify-write, by several writers under a check on a `fileMarks` counter that every
   * such write moves on, so that no writer's marks are lost between its read and its write.
   */
  async recordCoverage(days: readonly CoverageDay[]): Promise<void> {
    await this.leased(() => this.recordCoverageNow(days));
  }

  private async recordCoverageNow(days: readonly CoverageDay[]): Promise<void> {
    // Read first: a replay adds nothing and then writes nothing; one writer writes the unions 25
    // days to a request instead of an UpdateItem each.
    const stored = new Map(
      (await this.batchGet(days.map((d) => key(COVERAGE_PK, coverageSk(d.account, d.region, d.day))))).map((i) => [i.sk, i as Record<string, unknown>]),
    );
    const news = days.filter((d) => {
      const item = stored.get(coverageSk(d.account, d.region, d.day));
      return !sameSets(coverageSets(item, d), coverageSets(item));
    });
    if (this.serialized) {
      await this.batchWrite(
        news.map((d) => {
          const sk = coverageSk(d.account, d.region, d.day);
          const item = stored.get(sk) ?? {};
          // every set written anew: one compacted away must not stay from the item as read
          const others = Object.fromEntries(Object.entries(item).filter(([field]) => !(COVERAGE_SETS as readonly string[]).includes(field)));
          return { PutRequest: { Item: { ...others, pk: COVERAGE_PK, sk, account: d.account, region: d.region, day: d.day, ...nonEmptySets(coverageSets(item, d)) } } };
        }),
      );
      return;
    }
    await mapLimit(news, WRITE_CONCURRENCY, async (d) => {
      const item = stored.get(coverageSk(d.account, d.region, d.day));
      if (FILE_MARK_SETS.some((field) => (d[field] ?? []).length > 0)) return this.addFileMarks(d, item);
      const present = COVERAGE_SETS.map((field) => [field, d[field] ?? []] as const).filter(([, values]) => values.length > 0);
      if (present.length === 0) return;
      await this.write(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key(COVERAGE_PK, coverageSk(d.account, d.region, d.day)),
          UpdateExpression: `SET account = :account, #region = :region, #day = :day ADD ${present.map(([f]) => `${f} :${f}`).join(', ')}`,
          ExpressionAttributeNames: { '#region': 'region', '#day': 'day' },
          ExpressionAttributeValues: {
            ':account': d.account,
            ':region': d.region,
            ':day': d.day,
            ...Object.fromEntries(present.map(([f, values]) => [`:${f}`, new Set(values)])),
          },
        }),
      );
    });
  }

  /**
   * A day's coverage with marks, one of several writers: the hours added, the marks set compacted
   * from the item as read and the new ones, if its `fileMarks` is still what was read; else read
   * again and retried.
   */
  private async addFileMarks(d: CoverageDay, item: Record<string, unknown> | undefined): Promise<void> {
    const itemKey = key(COVERAGE_PK, coverageSk(d.account, d.region, d.day));
    for (let attempt = 1; ; attempt += 1) {
      const marks = typeof item?.['fileMarks'] === 'number' ? item['fileMarks'] : 0;
      const next = coverageSets(item, d);
      const kept = FILE_MARK_SETS.filter((field) => next[field].length > 0);
      const dropped = FILE_MARK_SETS.filter((field) => next[field].length === 0 && item?.[field] !== undefined);
      const added = COVERAGE_SETS.filter((field) => !(FILE_MARK_SETS as readonly string[]).includes(field) && (d[field] ?? []).length > 0);
      try {
        await this.write(
          new UpdateCommand({
            TableName: this.tableName,
            Key: itemKey,
            UpdateExpression:
              `SET account = :account, #region = :region, #day = :day, fileMarks = :next${kept.map((f) => `, ${f} = :${f}`).join('')}` +
              `${added.length > 0 ? ` ADD ${added.map((f) => `${f} :${f}`).join(', ')}` : ''}${dropped.length > 0 ? ` REMOVE ${dropped.join(', ')}` : ''}`,
            ConditionExpression: marks === 0 ? 'attribute_not_exists(fileMarks)' : 'fileMarks = :marks',
            ExpressionAttributeNames: { '#region': 'region', '#day': 'day' },
            ExpressionAttributeValues: {
              ':account': d.account,
              ':region': d.region,
              ':day': d.day,
              ':next': marks + 1,
              ...(marks === 0 ? {} : { ':marks': marks }),
              ...Object.fromEntries(kept.map((f) => [`:${f}`, new Set(next[f])])),
              ...Object.fromEntries(added.map((f) => [`:${f}`, new Set(d[f])])),
            },
          }),
        );
        return;
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException) || attempt >= FILE_MARK_ATTEMPTS) throw e;
        // another writer's marks came in first: each round one of the writers racing wins
        await backoff(Math.min(attempt, 4));
        item = (await this.batchGet([itemKey]))[0] as Record<string, unknown> | undefined;
      }
    }
  }

  /**
   * Every stored coverage day (one partition: accounts × regions × days), its marks given as what
   * coverage needs of them (`derivedFromMarks`: the listed files not read, the digests missing).
   */
  async coverageDays(): Promise<CoverageDay[]> {
    const items = await this.query({ pk: COVERAGE_PK, fields: ['account', 'region', 'day', ...COVERAGE_SETS] });
    return items.map((i) => {
      const { unreadFiles, missingDigests } = derivedFromMarks(Object.fromEntries(FILE_MARK_SETS.map((field) => [field, stringList(i[field])])));
      return {
        account: String(i['account']),
        region: String(i['region']),
        day: String(i['day']),
        fileHours: stringList(i['fileHours']),
        liveHours: stringList(i['liveHours']),
        slices: stringList(i['slices']),
        ...(unreadFiles.length === 0 ? {} : { unreadFiles }),
        ...(missingDigests.length === 0 ? {} : { missingDigests }),
      };
    });
  }

  /**
   * IRSA events whose issuer the inventory does not map yet, one item each under their issuer
   * (`UNPLACED#<issuer>`, sorted by event time): what the placement detections need once it does.
   * Keyed by event id, so a replayed batch parks nothing twice.
   */
  async parkUnplaced(events: readonly IdentityEvent[]): Promise<void> {
    await this.batchWrite(
      events.map((e) => ({
        PutRequest: {
          Item: { pk: unplacedPk(e.oidcIssuer ?? '?'), sk: `${e.eventTime}#${e.eventId}`, type: 'unplaced', event: JSON.stringify(e), expiresAt: guardExpiry(e) },
        },
      })),
    );
  }

  /** The parked events of one issuer, oldest first. */
  async unplacedEvents(issuer: string): Promise<{ sk: string; event: IdentityEvent }[]> {
    const items = await this.query({ pk: unplacedPk(issuer) });
    return items.map((i) => ({ sk: i.sk, event: JSON.parse(String(i['event'])) as IdentityEvent }));
  }

  async dropUnplaced(issuer: string, sks: readonly string[]): Promise<void> {
    await this.batchWrite(sks.map((sk) => ({ DeleteRequest: { Key: key(unplacedPk(issuer), sk) } })));
  }

  /** Alerts whose last event is at or after `since`, by last event, oldest first. */
  async listAlerts(since: Date, until: Date): Promise<Alert[]> {
    const months: string[] = [];
    for (let d = new Date(Date.UTC(since.getUTCFullYear(), since.getUTCMonth(), 1)); d <= until; d.setUTCMonth(d.getUTCMonth() + 1)) {
      months.push(d.toISOString().slice(0, 7));
    }
    const items = (await Promise.all(months.map((m) => this.query({ pk: `ALERTS#${m}` })))).flat();
    return items
      .map(alertOf)
      .filter((a) => a.lastEventTime >= since.toISOString())
      .sort((a, b) => (a.lastEventTime < b.lastEventTime ? -1 : a.lastEventTime > b.lastEventTime ? 1 : a.id < b.id ? -1 : 1));
  }

  /** `projection`: keys only; `fields`: keys and these attributes. */
  private async query(
    q: { pk: string; prefix?: string; from?: string; to?: string; projection?: boolean; fields?: readonly string[] },
    kept: (item: EvidenceItem) => EvidenceItem = (item) => item,
  ): Promise<EvidenceItem[]> {
    const items: EvidenceItem[] = [];
    const overlaid = await this.queryPages(q, (page) => {
      for (const item of page) items.push(kept(item));
    });
    // With staged items after the pages, back to the table's order.
    if (overlaid) items.sort((a, b) => (a.sk < b.sk ? -1 : a.sk > b.sk ? 1 : 0));
    return items;
  }

  /**
   * A query's pages, each handed over as it arrives: what is kept of them is the caller's to bound.
   * True when staged items came last, after the table's pages (out of the table's order).
   */
  private async queryPages(
    q: { pk: string; prefix?: string; from?: string; to?: string; projection?: boolean; fields?: readonly string[] },
    onPage: (items: EvidenceItem[]) => void,
  ): Promise<boolean> {
    const input: QueryCommandInput = {
      TableName: this.tableName,
      ...(q.projection
        ? { ProjectionExpression: 'pk, sk' }
        : q.fields
          ? // each field by a placeholder: `region` and `day` are among DynamoDB's reserved words
            { ProjectionExpression: ['pk', 'sk', ...q.fields.map((_, i) => `#f${i}`)].join(', '), ExpressionAttributeNames: Object.fromEntries(q.fields.map((f, i) => [`#f${i}`, f])) }
          : {}),
      KeyConditionExpression:
        q.prefix !== undefined ? 'pk = :pk AND begins_with(sk, :p)' : q.from !== undefined ? 'pk = :pk AND sk BETWEEN :from AND :to' : 'pk = :pk',
      ExpressionAttributeValues: {
        ':pk': q.pk,
        ...(q.prefix !== undefined ? { ':p': q.prefix } : {}),
        ...(q.from !== undefined ? { ':from': q.from, ':to': q.to } : {}),
      },
    };
    const stage = this.stage;
    const wanted = (sk: string) => (q.prefix !== undefined ? sk.startsWith(q.prefix) : q.from !== undefined ? sk >= q.from && sk <= (q.to as string) : true);
    const project = (item: EvidenceItem): EvidenceItem =>
      q.projection
        ? ({ pk: item.pk, sk: item.sk } as EvidenceItem)
        : q.fields
          ? projected(item, q.fields)
          : item;
    if (stage !== undefined && isEvidencePk(q.pk) && (await this.holdsAll(stage))) {
      // The table holds no evidence item the stage lacks: a first run into a store asked it for
      // thousands of namespaces' state, every answer empty (~1 s of the store's thread at 20,000).
      onPage(stage.known.allIn(q.pk, wanted).sort((x, y) => (x.sk < y.sk ? -1 : 1)).map(project));
      return false;
    }
    // Items staged and not written yet replace the table's and come after its pages.
    const staged =
      stage?.known.changedIn(q.pk, wanted) ?? [];
    const overlaid = new Set(staged.map((item) => item.sk));
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
      const items = (page.Items ?? []) as EvidenceItem[];
      onPage(overlaid.size === 0 ? items : items.filter((i) => !overlaid.has(i.sk)));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    if (staged.length === 0) return false;
    onPage(staged.sort((x, y) => (x.sk < y.sk ? -1 : 1)).map(project));
    return true;
  }

  private async batchGet(keys: { pk: string; sk: string }[]): Promise<EvidenceItem[]> {
    const all = eachOnce(keys);
    const stage = this.stage;
    // asked here too, so that a batch's first reads (its detections', before its first merge) know
    if (stage !== undefined && all.some((k) => isEvidencePk(k.pk))) await this.holdsAll(stage);
    const { fromStage, unique } = stage === undefined ? { fromStage: [], unique: all } : splitByStage(all, stage);
    const pages = inGroups(unique, BATCH_GET_LIMIT);
    // Several requests in flight: one after the other, a fleet run waited ~4 s on 600 round trips.
    const found = await mapLimit(pages, READ_CONCURRENCY, async (keys) => {
      const got: EvidenceItem[] = [];
      let pending: Record<string, unknown>[] | undefined = keys;
      for (let attempt = 0; pending && pending.length > 0; attempt += 1) {
        if (attempt > 0) await backoff(attempt);
        if (attempt > 10) throw new StoreError(`BatchGetItem left ${pending.length} keys unprocessed after ${attempt} attempts`);
        const page = await this.doc.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } } }),
        );
        got.push(...((page.Responses?.[this.tableName] ?? []) as EvidenceItem[]));
        // Unprocessed keys are normal under throttling: retry them, never drop them.
        pending = page.UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[] | undefined;
      }
      return got;
    });
    return [...found.flat(), ...fromStage];
  }

  /**
   * BatchWriteItem, unprocessed requests sent again. `marshalled`: the requests' items are already
   * DynamoDB's wire values (a write-out's: `StagedChanges.marshalled`), sent as they are.
   *
   * `inFlight` groups of 25 at a time, for requests of small items in thousands (the files a run
   * read: one round trip after the other, ~0.5 s of a fleet run's end). One at a time by default:
   * a guard shard or a journal chunk is hundreds of KB, and several such requests at once made the
   * peak of a run at 20,000 namespaces (WRITE_OUT_CONCURRENCY). No caller needs one group before
   * another: where order matters (a journal's chunks before its head) it makes two calls, and a call
   * returns once every group is written or, all of them settled, with the first failure.
   */
  private async batchWrite(requests: Record<string, unknown>[], marshalled = false, inFlight = 1): Promise<void> {
    await mapLimit(inGroups(requests, BATCH_WRITE_LIMIT), inFlight, async (group) => {
      let pending: Record<string, unknown>[] | undefined = group;
      for (let attempt = 0; pending && pending.length > 0; attempt += 1) {
        if (attempt > 0) await backoff(attempt);
        if (attempt > 10) throw new StoreError(`BatchWriteItem left ${pending.length} requests unprocessed after ${attempt} attempts`);
        const input = { RequestItems: { [this.tableName]: pending } };
        const page = await this.write<{ UnprocessedItems?: Record<string, Record<string, unknown>[]> }>(marshalled ? new BatchWriteItemCommand(input as never) : new BatchWriteCommand(input));
        pending = page.UnprocessedItems?.[this.tableName] as Record<string, unknown>[] | undefined;
      }
    });
  }

  /** S3 log objects of one bucket read before, under a key prefix: key → the ETag read (`analyze s3://`). */
  async sourcesRead(bucket: string, prefix: string): Promise<Map<string, string>> {
    const items = await this.query(prefix === '' ? { pk: sourcesPk(bucket) } : { pk: sourcesPk(bucket), prefix });
    return new Map(items.map((i) => [i.sk, String(i['etag'])]));
  }

  /** Records S3 log objects as read, once their events are stored: a rerun skips them while their ETag is unchanged. */
  async recordSourcesRead(bucket: string, objects: readonly { key: string; etag: string; size: number }[], at: Date): Promise<void> {
    await this.batchWrite(
      objects.map((o) => ({ PutRequest: { Item: { pk: sourcesPk(bucket), sk: o.key, type: 'source', etag: o.etag, size: o.size, readAt: at.toISOString() } } })),
      false,
      WRITE_OUT_CONCURRENCY,
    );
  }

  /** Whether any local file was recorded as read (`recordFilesRead`): if none was, no file can be skipped. */
  async holdsFilesRead(): Promise<boolean> {
    return this.tableHoldsAny(FILES_READ_PK);
  }

  /** Whether the table (not the stage) holds any item in this partition: one item read, its keys only. */
  private async tableHoldsAny(pk: string): Promise<boolean> {
    const page = await this.doc.send(
      new QueryCommand({ TableName: this.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk }, ProjectionExpression: 'pk, sk', Limit: 1, ConsistentRead: true }),
    );
    return (page.Items?.length ?? 0) > 0;
  }

  /** Which of these local files' content hashes (sha256, hex) were read before (`analyze` of files). */
  async filesRead(hashes: readonly string[]): Promise<Set<string>> {
    if (hashes.length === 0) return new Set();
    const items = await this.batchGet(hashes.map((hash) => ({ pk: FILES_READ_PK, sk: hash })));
    return new Set(items.map((i) => i.sk));
  }

  /** Records local files as read, by content hash, once their events are stored: a rerun skips them. */
  async recordFilesRead(files: readonly { hash: string; size: number; name: string }[], at: Date): Promise<void> {
    // One item per hash: the same content twice in one run is one request, not a duplicate key in a batch.
    const unique = [...new Map(files.map((f) => [f.hash, f])).values()];
    await this.batchWrite(
      unique.map((f) => ({ PutRequest: { Item: { pk: FILES_READ_PK, sk: f.hash, type: 'source', size: f.size, name: f.name, readAt: at.toISOString() } } })),
      false,
      WRITE_OUT_CONCURRENCY,
    );
  }
}

/** One scope's items as `snapshotReads` read them (`keptForSnapshot`); `days`: its per-namespace daily counts, once read. */
export interface ScopeReads {
  scope: EvidenceItem;
  items: EvidenceItem[];
  days: EvidenceItem[] | null;
}

export interface SnapshotReads {
  /** The earliest day of daily fetch and node-role counts read. */
  fromDay: string;
  scopes: ScopeReads[];
  inventory: Inventory;
  coverage: CoverageDay[];
  /** The one copy of the strings the items repeat (their partition, scope, cluster…). */
  strings: StringPool;
}

/**
 * Queries of a snapshot in flight at once. The store answers one at a time; more only hold more
 * pages in memory on both sides: at 20,000 namespaces, all of a snapshot's queries at once (45)
 * held up to 57 MB of pages in transit.
 */
const SNAPSHOT_READ_CONCURRENCY = 4;

/**
 * An item as a snapshot keeps it: without the tags of the batches merged into it (a writer's
 * bookkeeping, no evidence), its recurring strings shared. At 20,000 namespaces the snapshot's items
 * took 106 MB of heap as read, 53 MB kept this way: each page's strings are new copies of the
 * partition key, scope, cluster ARN… of every item.
 */
function keptForSnapshot(item: EvidenceItem, strings: StringPool): EvidenceItem {
  return strings.share(untagged(item), RECURRING_ITEM_FIELDS);
}

/**
 * The snapshot `snapshot(options)` would have read, cut from reads made from an earlier or the
 * same day: the same items in the same order (readiness output follows it).
 */
export function snapshotOf(reads: SnapshotReads, options: { fromDay: string; namespaceDays: boolean }): EvidenceSnapshot {
  if (options.fromDay < reads.fromDay) throw new StoreError(`the snapshot was read from ${reads.fromDay}, not from ${options.fromDay}`);
  if (options.namespaceDays && reads.scopes.some((s) => s.days === null && (s.scope['kind'] === 'cluster' || s.scope['kind'] === 'issuer'))) {
    throw new StoreError('the per-namespace daily counts were not read');
  }
  const dayFrom = { cday: `CDAY#${options.fromDay}`, nday: `NDAY#${options.fromDay}` };
  const inRange = (item: EvidenceItem) =>
    item.sk.startsWith('CDAY#') ? item.sk >= dayFrom.cday : item.sk.startsWith('NDAY#') ? item.sk >= dayFrom.nday : true;
  const items: EvidenceItem[] = reads.scopes.map((s) => s.scope);
  for (const s of reads.scopes) {
    for (const item of s.items) if (options.fromDay === reads.fromDay || inRange(item)) items.push(item);
    if (options.namespaceDays && s.days !== null) for (const item of s.days) items.push(item);
  }
  return { items, inventory: reads.inventory, coverage: reads.coverage };
}

const key = (pk: string, sk: string) => ({ pk, sk });
const unplacedPk = (issuer: string) => `UNPLACED#${issuer}`;
/** Parked events outlive LookupEvents' 90 days, like replay guards, then DynamoDB's TTL drops them. */
const guardExpiry = (e: IdentityEvent) => Math.floor(Date.parse(e.eventTime) / 1000) + EVENT_GUARD_TTL_DAYS * 86_400;

/** When a stage is written out: whichever limit is reached first, checked after each batch. */
export interface StageLimits {
  /** Staged batches (at most TAG_LIMIT: an item keeps a tag per staged batch). */
  maxBatches: number;
  /** Changed items held: memory grows with them (packed, ~0.25 KB each with their keys). */
  maxItems: number;
  /** Staged eventIDs (the claims' view of what is counted). */
  maxEvents: number;
  /** Since the first staged batch: how stale the table may look to other readers (and how much a kill makes the next run read again). */
  maxAgeMs: number;
  /** Items remembered across write-outs (read or written, unchanged since): past it, forgotten. */
  maxKnown: number;
  /** Items the stage must have held for its end to be worth a full collection (`collectGarbage`). */
  collectAfterItems: number;
}

/**
 * A run of up to 64 batches of 20,000 events, 800,000 changed items, 1,200,000 events, or 10
 * minutes. The fleet preset (240,677 events, ~34,000 items) fits in one stage, and so do 20,000
 * namespaces (~110,000 items), 40,000 (497,159 events, ~220,000 items) and 80,000 (992,885 events,
 * ~510,000 items in 50 batches). Until 2026-12-05 a stage held at most 32 batches (half the tags
 * an item keeps: a batch's own journal, rolled forward after a kill, skipped the items carrying its
 * tag) and 400,000 items: 80,000 namespaces made two stages, 139.3 s, 25.63 write requests per 1,000
 * events, 676 MB; one stage since the stage has a journal of its own (writeStagedOut), 134.6 s,
 * 17.99, 636 MB (`--preset widest`, by hand). At 40,000 namespaces 16
 * journals and 400,000 events made two stages, each writing most items: 123.0 and 122.8 s, 12,886
 * write requests (25.9 per 1,000 events), peaks 975 and 1,000 MB; 32 and 800,000 make one: 108.9
 * and 110.7 s, 8,915 (17.9), 949 and 934 MB, the verdicts identical. A staged item cost ~0.9 KB of heap as
 * an object (the stage's retained size over its items at 20,000 namespaces; packed since, ~0.25 KB
 * with its keys): these limits bounded the stage's items near 360 MB (and its eventIDs near 60
 * MB), where 100,000 and 200,000 items bounded them near 90. They were those, and at 20,000 and
 * 40,000 namespaces the stages that spilled cost more than they saved: measured on the same
 * inputs, 100,000/200,000 gave
 * 75–87 s and 260 s, 25.7 and 50.6 write requests per 1,000 events, peaks 727–750 MB and 1,039 MB;
 * these give 59 s and 166 s, 18.0 and 25.9, 732 and 1,081 MB. A spilled stage writes items out to
 * write them again in its next stage, and forgets them to read them again; that traffic holds memory
 * too (30,000/30,000 at 20,000 namespaces: 188 s, 944 MB).
 */
export const DEFAULT_STAGE_LIMITS: StageLimits = { maxBatches: 64, maxItems: 800_000, maxEvents: 1_200_000, maxAgeMs: 10 * 60_000, maxKnown: 800_000, collectAfterItems: 20_000 };

interface Stage {
  limits: StageLimits;
  /** Items as this writer last read or merged them (exact: nobody else writes). */
  known: StagedItems;
  /**
   * True while `known` holds every evidence item of the table: the table held none at the stage's
   * first merge (nothing but the stage writes evidence while it stages), and whatever this writer has
   * written since is still in `known` (not forgotten past `maxKnown`, not written by a lost stage).
   * An item it does not hold is then not there: nothing is read. Undefined until that first merge
   * asks the table.
   *
   * A first run killed mid-write-out leaves items, and the stage's journal, still committed: the
   * next run finds the items (so it reads), and rolls the journal forward.
   */
  holdsAllEvidence?: boolean;
  /**
   * Staged batches, in commit order: their guards wait for the write-out, and so does the deletion
   * of the journal of one a recovery rolled forward into the stage (`written`: its chunks).
   */
  batches: { batch: string; at: string; written: number | undefined }[];
  /**
   * Their eventIDs by guard hour (core/ingest `guardHour`), in the order the batches counted them:
   * counted, not in the guard shards yet (the write-out writes them from here). Held as 16 bytes a
   * UUID (EventIdSet), not as the journals' strings in a `Set`: ~450,000 ids at 40,000 namespaces.
   */
  ids: Map<string, EventIdSet>;
  /** Date.now() when the first batch was staged. */
  since: number | null;
  /**
   * One frozen array per set of batch tags the stage's items carry: a few thousand sets among
   * 220,000 items at 40,000 namespaces, where an array each was ~17 MB (`TagSets`).
   */
  tagSets: TagSets;
}

// batchGet's loops, functions of their own: inline in the async function, V8 compiled it for each
// loop (on-stack replacement) and again after, every other batch of a fleet run (10–11 compiles).

/** The keys, each once (BatchGetItem refuses a request with duplicates), by partition then sort key: a string joining the two per key was most of batchGet's time at 40,000 namespaces. */
function eachOnce(keys: readonly { pk: string; sk: string }[]): { pk: string; sk: string }[] {
  const met = new PairSet();
  const all: { pk: string; sk: string }[] = [];
  for (const k of keys) if (met.add(k.pk, k.sk)) all.push(k);
  return all;
}

/**
 * The items the stage answers, and the keys the table must. An item the stage holds is as the table
 * has it, or newer (this only writer's staged change): it is not read again. While the stage holds
 * every evidence item there is, an evidence item it does not hold is not in the table either: a
 * first run asks the table for none of them.
 */
function splitByStage(keys: readonly { pk: string; sk: string }[], stage: Stage): { fromStage: EvidenceItem[]; unique: { pk: string; sk: string }[] } {
  const fromStage: EvidenceItem[] = [];
  const unique: { pk: string; sk: string }[] = [];
  for (const k of keys) {
    const held = stage.known.get(k.pk, k.sk);
    if (held !== undefined) fromStage.push(held);
    else if (stage.holdsAllEvidence !== true || !isEvidencePk(k.pk)) unique.push(k);
  }
  return { fromStage, unique };
}

const emptyStage = (limits: StageLimits): Stage => ({
  limits,
  known: new StagedItems(),
  batches: [],
  ids: new Map(),
  since: null,
  tagSets: new TagSets(),
});

/**
 * The stage's items by partition, then sort key, each packed into one string (core/packed-item),
 * and which of them changed since the last write-out (the mark each packed item carries: the
 * write-out generation it changed in). Readers and merges get a new object each (`get`), and
 * a changed item is held again (`put`).
 *
 * Packed because the stage holds every item a run touched until its write-out, and as objects they
 * were most of analyze's memory at fleet scale: 219,532 items at 40,000 namespaces, ~550 bytes of
 * heap for a service account's item and ~120 MB in all; packed, 83 one-byte characters on average
 * (the recurring strings held once in the packer's pool). Keyed by both keys in turn, not by one
 * string joining them (a second string per item, which V8 flattens when it hashes it); a partition
 * of a few items in a flat array, not a map (`Partition`).
 */
class StagedItems {
  private byPk = new Map<string, Partition>();
  private packer = new ItemPacker(PACKED_POOL_FIELDS);
  /** The mark of an item changed since the last write-out; 0 is never one. */
  private generation = 1;
  private count = 0;
  private changedItems = 0;

  /** Items held, changed or not. */
  get size(): number {
    return this.count;
  }

  get changedCount(): number {
    return this.changedItems;
  }

  /** A copy of the item held under these keys, the caller's to change. */
  get(pk: string, sk: string): EvidenceItem | undefined {
    const partition = this.byPk.get(pk);
    const held = partition === undefined ? undefined : heldIn(partition, sk);
    return held === undefined ? undefined : this.unpacked(pk, sk, held);
  }

  has(pk: string, sk: string): boolean {
    const partition = this.byPk.get(pk);
    return partition !== undefined && heldIn(partition, sk) !== undefined;
  }

  /**
   * Holds `item` (packed: later changes to the object are not the stage's) in place of the one held
   * under its keys, changed if `changed` or if the one it replaces was: a changed item is written at
   * the next write-out, and reads see it over the table's.
   */
  put(item: EvidenceItem, changed: boolean): void {
    let partition = this.byPk.get(item.pk);
    if (partition === undefined) this.byPk.set(item.pk, (partition = []));
    const before = heldIn(partition, item.sk);
    const wasChanged = before !== undefined && markOf(before) === this.generation;
    if (before === undefined) this.count += 1;
    if (changed && !wasChanged) this.changedItems += 1;
    const mark = changed || wasChanged ? this.generation : 0;
    // an item the packing cannot hold whole (a nested map…) is kept as a copy of the object
    const held = this.packer.pack(item, mark) ?? new UnpackedItem({ ...item }, mark);
    if (before !== undefined) setHeld(partition, item.sk, held);
    // a new key is kept flat (kept as first given)
    else if (!Array.isArray(partition)) partition.set(flatString(item.sk), held);
    else if (partition.length < 2 * SMALL_PARTITION_ITEMS) partition.push(flatString(item.sk), held);
    else this.byPk.set(item.pk, new Map([...pairsOf(partition), [flatString(item.sk), held]]));
  }

  /** Copies of every item held in one partition, changed or not, whose sort keys `wanted` takes. */
  allIn(pk: string, wanted: (sk: string) => boolean): EvidenceItem[] {
    return this.copiesIn(pk, (sk) => wanted(sk));
  }

  /** Copies of the changed items of one partition whose sort keys `wanted` takes. */
  changedIn(pk: string, wanted: (sk: string) => boolean): EvidenceItem[] {
    return this.copiesIn(pk, (sk, held) => markOf(held) === this.generation && wanted(sk));
  }

  private copiesIn(pk: string, take: (sk: string, held: Held) => boolean): EvidenceItem[] {
    const out: EvidenceItem[] = [];
    const partition = this.byPk.get(pk);
    if (partition === undefined) return out;
    for (const [sk, held] of pairsOf(partition)) if (take(sk, held)) out.push(this.unpacked(pk, sk, held));
    return out;
  }

  /**
   * The items changed since the last write-out, as they are written: with only the batch tags
   * `keepTag` keeps (a staged item carries a tag per batch merged into it; see writeStagedOut).
   * Marshalled (or unpacked) a few at a time: a write-out that unpacked them all at once would hold
   * them all as objects again.
   */
  changed(keepTag: (tag: string) => boolean): StagedChanges {
    const pks: string[] = [];
    const sks: string[] = [];
    const packed: (string | UnpackedItem)[] = [];
    for (const [pk, partition] of this.byPk) {
      for (const [sk, held] of pairsOf(partition)) {
        if (markOf(held) !== this.generation) continue;
        pks.push(pk);
        sks.push(sk);
        packed.push(held);
      }
    }
    return {
      length: packed.length,
      marshalled: (i) => tagsKeptInWire(this.marshalled(pks[i] as string, sks[i] as string, packed[i] as string | UnpackedItem), keepTag),
      plain: (i) => (typeof packed[i] === 'string' ? tagsKept(this.packer.unpack(pks[i] as string, sks[i] as string, packed[i] as string), keepTag) : undefined),
    };
  }

  /** After a write-out: every item held is as the table has it. */
  clearChanged(): void {
    this.changedItems = 0;
    this.generation += 1;
  }

  clear(): void {
    this.byPk = new Map();
    this.packer = new ItemPacker(PACKED_POOL_FIELDS);
    this.generation = 1;
    this.count = 0;
    this.changedItems = 0;
  }

  private unpacked(pk: string, sk: string, held: string | UnpackedItem): EvidenceItem {
    return typeof held === 'string' ? this.packer.unpack(pk, sk, held) : { ...held.item };
  }

  /** The item as the document client would marshal it (packed-item `unpackAttributes`, else `marshall`). */
  private marshalled(pk: string, sk: string, held: string | UnpackedItem): Record<string, unknown> {
    return (typeof held === 'string' ? this.packer.unpackAttributes(pk, sk, held) : null) ?? marshall(this.unpacked(pk, sk, held), MARSHALLING);
  }
}

/** `item` with only the batch tags `keep` keeps, and none of the attribute when it keeps none. */
function tagsKept(item: EvidenceItem, keep: (tag: string) => boolean): EvidenceItem {
  const tags = item[TAGS];
  if (!Array.isArray(tags)) return item;
  const kept = (tags as unknown[]).filter((t): t is string => typeof t === 'string' && keep(t));
  if (kept.length === 0) delete item[TAGS];
  else item[TAGS] = kept;
  return item;
}

/** `tagsKept` of an item as DynamoDB's wire values (the tags a list of strings). */
function tagsKeptInWire(item: Record<string, unknown>, keep: (tag: string) => boolean): Record<string, unknown> {
  const list = (item[TAGS] as { L?: { S?: string }[] } | undefined)?.L;
  if (!Array.isArray(list)) return item;
  const kept = list.filter((t) => typeof t.S === 'string' && keep(t.S));
  if (kept.length === 0) delete item[TAGS];
  else item[TAGS] = { L: kept };
  return item;
}

/** A staged item as held: packed, or the object the packing could not hold. */
type Held = string | UnpackedItem;

/**
 * A partition's items by sort key: up to SMALL_PARTITION_ITEMS in one flat array of sort keys and
 * items in turn, more in a map. At 40,000 namespaces 45,635 of the stage's 51,044 partitions hold
 * two items (a role and its namespace) and 5,339 one (a spike window): a map each was ~180 bytes,
 * an array of four ~80.
 */
type Partition = Map<string, Held> | (string | Held)[];
const SMALL_PARTITION_ITEMS = 4;

function heldIn(partition: Partition, sk: string): Held | undefined {
  if (!Array.isArray(partition)) return partition.get(sk);
  for (let i = 0; i < partition.length; i += 2) if (partition[i] === sk) return partition[i + 1];
  return undefined;
}

/** Replaces the item held under `sk` (which the partition holds). */
function setHeld(partition: Partition, sk: string, held: Held): void {
  if (!Array.isArray(partition)) partition.set(sk, held);
  else for (let i = 0; i < partition.length; i += 2) if (partition[i] === sk) partition[i + 1] = held;
}

function* pairsOf(partition: Partition): Iterable<[string, Held]> {
  if (!Array.isArray(partition)) yield* partition;
  else for (let i = 0; i < partition.length; i += 2) yield [partition[i] as string, partition[i + 1] as Held];
}

/** A write-out's changed items, by number. */
interface StagedChanges {
  length: number;
  /** Item `index` as DynamoDB's wire values, for a BatchWriteItem request. */
  marshalled(index: number): Record<string, unknown>;
  /** Item `index` as an object, when it was packed (only strings, numbers, booleans, null and string arrays: JSON is exact); else undefined. */
  plain(index: number): EvidenceItem | undefined;
}

/** How the document client marshals items, and the write-out too (`marshall` of a whole item: the item's attributes, not a map of them). */
const MARSHALLING: Readonly<marshallOptions> = Object.freeze({ removeUndefinedValues: true });

/** A staged item the packing could not hold, as an object, with its mark. */
class UnpackedItem {
  constructor(
    readonly item: EvidenceItem,
    readonly mark: number,
  ) {}
}

const markOf = (held: string | UnpackedItem): number => (typeof held === 'string' ? packedMark(held) : held.mark);

/** The strings a staged item holds that recur from item to item, held once by the stage's packer. */
const PACKED_POOL_FIELDS: ReadonlySet<string> = new Set(RECURRING_ITEM_FIELDS);

/**
 * The stage's batch tag arrays, one frozen array per set: an item merged with a batch gets the
 * array its tags lead to, found by the array it had (every item with the same tags has the same
 * one) or, the first time, by their text.
 */
class TagSets {
  private readonly byText = new Map<string, readonly string[]>();
  /** Where an array leads when a batch is merged, for the batch and the tags kept at the time. */
  private next = new Map<readonly string[], readonly string[]>();
  private nextFor: { batch: string; keep: (tag: string, batch: string) => boolean } | undefined;

  /** The tags `merged` gives an item that had `tags` and merged `batch`, as the stage's one array of them. */
  after(tags: readonly string[], batch: string, keep: (tag: string, batch: string) => boolean): readonly string[] {
    if (this.nextFor?.batch !== batch || this.nextFor.keep !== keep) {
      this.next = new Map();
      this.nextFor = { batch, keep };
    }
    let out = this.next.get(tags);
    if (out === undefined) {
      out = this.shared(tagsAfter(tags, batch, keep));
      this.next.set(tags, out);
    }
    return out;
  }

  /** The stage's array with these tags. */
  shared(tags: readonly string[]): readonly string[] {
    const text = tags.join(' ');
    let out = this.byText.get(text);
    if (out === undefined) {
      out = Object.freeze([...tags]);
      this.byText.set(text, out);
    }
    return out;
  }
}

/** The stage's counted eventIDs (a few hundred hours' sets: summed when asked, not kept in step). */
function stagedIds(stage: Stage): number {
  let n = 0;
  for (const ids of stage.ids.values()) n += ids.size;
  return n;
}

function stageFull(stage: Stage): boolean {
  const { limits } = stage;
  return (
    stage.batches.length >= limits.maxBatches ||
    stage.known.changedCount >= limits.maxItems ||
    stagedIds(stage) >= limits.maxEvents ||
    (stage.since !== null && Date.now() - stage.since >= limits.maxAgeMs)
  );
}

/** The attribute holding the batches recently merged into an item. */
const TAGS = 'batches';
/**
 * Writers without the lease keep tags this long after the batch that writes them (`tagsToKeep`):
 * a journal is rolled forward by the first batch that starts more than the lease after it, so well
 * within this; at most TAG_LIMIT.
 */
const TAG_HORIZON_MS = 3_600_000;
const TAG_LIMIT = 64;
/**
 * Bytes of the compressed journal per chunk: a Binary attribute well under DynamoDB's 400 KB item
 * size, which counts attribute names and values (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items).
 */
const JOURNAL_CHUNK_BYTES = 300_000;

/** A journal's JSON from its chunks in order: gzip bytes (`gz`), or text (`data`) as journals were written before. */
function journalText(chunks: readonly EvidenceItem[]): string {
  const bytes: unknown[] = chunks.map((c) => (c as Record<string, unknown>)['gz']);
  if (bytes.every((b): b is Uint8Array => b instanceof Uint8Array)) return gunzipSync(Buffer.concat(bytes)).toString('utf8');
  return chunks.map((c) => String(c['data'])).join('');
}

type BatchState = 'open' | 'committed' | 'dead';

interface GuardShard {
  pk: string;
  sk: string;
  expiresAt?: number;
  ids?: string[];
  /** eventIDs claimed by batches not completed yet, by batch */
  pending?: Record<string, string[]>;
  /** Sticky: set when the shard reaches GUARD_SHARD_IDS; new ids go to a later shard. */
  full?: boolean;
  version?: number;
}

interface GuardChange {
  /** Batches whose pending claims are dead. */
  drop?: string[];
  /** New pending claims of a batch. */
  pending?: { batch: string; ids: string[] };
  /** The batch whose pending claims become counted. */
  settle?: string;
  /** Ids counted by now, whether claimed before or not (single writer, roll-forward). */
  counted?: string[];
}

function indexShards(shards: readonly GuardShard[]): { counted: Set<string>; pending: Map<string, string> } {
  const counted = new Set<string>();
  const pending = new Map<string, string>();
  for (const s of shards) {
    for (const id of s.ids ?? []) counted.add(id);
    for (const [batch, ids] of Object.entries(s.pending ?? {})) for (const id of ids) pending.set(id, batch);
  }
  return { counted, pending };
}

/** The shards a change rewrites, in shard order; new ids go to the first shards not full. */
function planGuards(hour: string, shards: readonly GuardShard[], change: GuardChange, now: Date): GuardShard[] {
  const next = [...shards]
    .sort((a, b) => (a.sk < b.sk ? -1 : 1))
    .map((s) => ({ ...s, ids: [...(s.ids ?? [])], pending: { ...(s.pending ?? {}) } }));
  const changed = new Set<number>();
  next.forEach((s, i) => {
    for (const b of change.drop ?? []) {
      if (s.pending[b]) {
        delete s.pending[b];
        changed.add(i);
      }
    }
    const settled = change.settle === undefined ? undefined : s.pending[change.settle];
    if (change.settle !== undefined && settled) {
      s.ids.push(...settled);
      delete s.pending[change.settle];
      changed.add(i);
    }
  });
  const size = (s: (typeof next)[number]) => s.ids.length + Object.values(s.pending).reduce((n, ids) => n + ids.length, 0);
  const place = (ids: readonly string[], put: (s: (typeof next)[number], ids: string[]) => void) => {
    let rest = [...ids];
    for (let i = 0; rest.length > 0; i += 1) {
      if (i === next.length) next.push({ pk: guardPk(hour), sk: guardShardSk(i + 1), ids: [], pending: {} });
      const s = next[i]!;
      if (s.full) continue;
      const take = rest.slice(0, Math.max(0, GUARD_SHARD_IDS - size(s)));
      rest = rest.slice(take.length);
      if (take.length > 0) {
        put(s, take);
        changed.add(i);
      }
      if (size(s) >= GUARD_SHARD_IDS) {
        s.full = true;
        changed.add(i);
      }
    }
  };
  const counted = new Set(next.flatMap((s) => s.ids));
  place([...new Set(change.counted ?? [])].filter((id) => !counted.has(id)), (s, ids) => s.ids.push(...ids));
  const claim = change.pending;
  if (claim) place(claim.ids, (s, ids) => (s.pending[claim.batch] = [...(s.pending[claim.batch] ?? []), ...ids]));
  const expiresAt = Math.floor(now.getTime() / 1000) + EVENT_GUARD_TTL_DAYS * 86_400;
  return [...changed]
    .sort((a, b) => a - b)
    .map((i) => {
      const s = next[i]!;
      const item: GuardShard = { pk: s.pk, sk: s.sk, ids: s.ids, expiresAt, version: (s.version ?? 0) + 1 };
      if (s.full) item.full = true;
      if (Object.keys(s.pending).length > 0) item.pending = s.pending;
      return item;
    });
}

/**
 * The item after merging the delta, or undefined when nothing would change (or it is merged
 * already); tagged with the delta's batch, keeping the stored tags `keep` says (`tagsToKeep`).
 */
function merged(stored: EvidenceItem | undefined, delta: EvidenceDelta, keep: (tag: string, batch: string) => boolean): EvidenceItem | undefined {
  const tags = (stored?.[TAGS] as string[] | undefined) ?? [];
  if (delta.batch !== undefined && tags.includes(delta.batch)) return undefined;
  // Null and absent mean the same (sameContent, the readers); stored without nulls, an item has
  // one form whichever batches built it, so the same events give the same items.
  const combined = delta.item.type === (DAYS_TYPE as string) ? mergeDays(stored, delta.item) : mergeItems(stored, delta.item);
  const out = {} as EvidenceItem;
  for (const field in combined) {
    const value = combined[field];
    if (value !== null) out[field] = value;
  }
  if (stored !== undefined && sameContent(stored, out)) return undefined;
  const version = typeof stored?.['version'] === 'number' ? stored['version'] : 0;
  out['version'] = version + 1;
  const batch = delta.batch;
  if (batch === undefined) return out;
  out[TAGS] = tagsAfter(tags, batch, keep);
  return out;
}

/** An item's tags once `batch` is merged into it: those `keep` keeps, then the batch, at most TAG_LIMIT. */
function tagsAfter(tags: readonly string[], batch: string, keep: (tag: string, batch: string) => boolean): string[] {
  return [...tags.filter((t) => t !== batch && keep(t, batch)), batch].slice(-TAG_LIMIT);
}

/**
 * `merged(stored, delta, keep)` made in `stored` (the stage's copy of its item): false where `merged`
 * gives undefined (`stored` then as it was); otherwise true, its version and tags moved as `merged`
 * moves them.
 */
function mergedInPlace(stored: EvidenceItem, delta: EvidenceDelta & { batch: string }, keep: (tag: string, batch: string) => boolean, tagSets: TagSets): boolean {
  const tags = (stored[TAGS] as string[] | undefined) ?? [];
  const batch = delta.batch;
  if (tags.includes(batch)) return false;
  const item = withoutBookkeeping(delta.item);
  if (!(item.type === (DAYS_TYPE as string) ? mergeDaysInto(stored, item) : mergeChangesInto(stored, item, sameValue))) return false;
  stored['version'] = (typeof stored['version'] === 'number' ? stored['version'] : 0) + 1;
  stored[TAGS] = tagSets.after(tags, batch, keep) as string[];
  return true;
}

/** A delta's item without what `merged` sets itself (a delta never carries them; sameContent ignores them). */
function withoutBookkeeping(item: EvidenceItem): EvidenceItem {
  if (!('version' in item) && !(TAGS in item)) return item;
  const { version: _v, [TAGS]: _t, ...rest } = item;
  return rest as EvidenceItem;
}

/** A coverage item's sets as stored, with a day's new values merged in (the marks compacted). */
function coverageSets(item: Record<string, unknown> | undefined, add?: CoverageDay): Record<(typeof COVERAGE_SETS)[number], string[]> {
  const merged = Object.fromEntries(COVERAGE_SETS.map((field) => [field, [...new Set([...stringList(item?.[field]), ...(add?.[field] ?? [])])].sort()])) as Record<(typeof COVERAGE_SETS)[number], string[]>;
  return { ...merged, ...compactMarks(merged) };
}

function sameSets(a: Record<string, string[]>, b: Record<string, string[]>): boolean {
  return Object.keys(a).every((field) => a[field]!.length === b[field]?.length && a[field]!.every((v, i) => v === b[field]![i]));
}

/** The sets that hold something, as string sets (DynamoDB has no empty set). */
function nonEmptySets(sets: Record<string, string[]>): Record<string, Set<string>> {
  return Object.fromEntries(Object.entries(sets).filter(([, v]) => v.length > 0).map(([field, v]) => [field, new Set(v)]));
}

/** A string set as the document client reads it (a Set), or a list. */
function stringList(value: unknown): string[] {
  return value instanceof Set ? [...(value as Set<string>)] : Array.isArray(value) ? (value as string[]) : [];
}

/** A staged item as a query projecting `fields` returns it: its keys and those of the fields it holds. */
function projected(item: EvidenceItem, fields: readonly string[]): EvidenceItem {
  const out = { pk: item.pk, sk: item.sk } as EvidenceItem;
  for (const field of fields) if (Object.hasOwn(item, field)) out[field] = item[field];
  return out;
}

function untagged(item: EvidenceItem): EvidenceItem {
  if (!(TAGS in item)) return item;
  const { [TAGS]: _t, ...rest } = item;
  return rest as EvidenceItem;
}

/** Sortable by time (base-36 milliseconds), unique by 40 random bits. */
function newBatchId(now: Date): string {
  return `${now.getTime().toString(36).padStart(9, '0')}-${randomBytes(5).toString('hex')}`;
}
const batchTime = (batch: string): number => Number.parseInt(batch.slice(0, batch.indexOf('-')), 36);
const chunkSk = (batch: string, n: number) => `C#${batch}#${String(n).padStart(4, '0')}`;
/** A journal's chunk `n`, as both journals write it (a batch's, `writeJournal`; a stage's, `commitStage`). */
const chunkItem = (batch: string, n: number, gz: Uint8Array) => ({ pk: JOURNAL_PK, sk: chunkSk(batch, n), gz });
const chunkBatch = (sk: string) => sk.slice(2, sk.lastIndexOf('#'));
/** A journal's head once committed: what a recovery rolls forward (`kind: stage`, a write-out's). */
const committedHead = (batch: string, at: string, chunks: number, hours: string[], kind?: 'stage') => ({
  pk: JOURNAL_PK,
  sk: `B#${batch}`,
  batch,
  state: 'committed',
  at,
  chunks,
  hours,
  ...(kind === undefined ? {} : { kind }),
});

/** An alert as stored, without the table's bookkeeping. */
const alertOf = ({ pk: _pk, sk: _sk, type: _type, version: _version, ...alert }: EvidenceItem): Alert => alert as unknown as Alert;
const byFirstEvent = (alerts: Alert[]): Alert[] => alerts.sort((a, b) => (a.firstEventTime < b.firstEventTime ? -1 : a.firstEventTime > b.firstEventTime ? 1 : 0));
/** An alert owed to the CLI's sinks (`useAlertOutbox`): where to find it. */
const owedItem = (alert: Alert) => ({ pk: OUTBOX_PK, sk: alert.id, alertPk: alertsPk(alert) });
/**
 * Alerts live in a partition per month of their window (windows start with a date; `first-seen`
 * takes its first event's, which every replay of that event shares): the month is part of the
 * dedup key, so it must not depend on which batch saw the alert first.
 */
const alertsPk = (alert: Alert) => `ALERTS#${(/^\d{4}-\d{2}/.test(alert.window) ? alert.window : alert.firstEventTime).slice(0, 7)}`;
const itemKey = (item: { pk: string; sk: string }) => `${item.pk}\u0000${item.sk}`;
/**
 * The partitions a delta merges into (`SCOPES` and `SCOPE#…`, `ROLE#…`, `SPIKE#…`): what
 * `holdsEvidence` scans for, and what the stage holds whole while `holdsAllEvidence`.
 */
const EVIDENCE_PK_PREFIXES = ['SCOPE', 'ROLE#', 'SPIKE#'] as const;
const isEvidencePk = (pk: string): boolean => EVIDENCE_PK_PREFIXES.some((prefix) => pk.startsWith(prefix));

/**
 * The same item but for its version and batch tags: null and absent alike, maps in any key order
 * (a month's days come back from DynamoDB in any order). Compared in place, not serialized: a
 * merge nearly always changes its item, and the first field that differs answers.
 */
function sameContent(a: EvidenceItem, b: EvidenceItem): boolean {
  return sameMap(a, b, true);
}

function sameMap(a: Record<string, unknown>, b: Record<string, unknown>, item: boolean): boolean {
  let fields = 0;
  for (const k in a) {
    const v = a[k];
    if (v === undefined || v === null || (item && (k === 'version' || k === TAGS))) continue;
    if (!sameValue(v, b[k])) return false;
    fields += 1;
  }
  for (const k in b) {
    const v = b[k];
    if (v !== undefined && v !== null && !(item && (k === 'version' || k === TAGS))) fields -= 1;
  }
  return fields === 0;
}

function sameValue(x: unknown, y: unknown): boolean {
  if (x === y) return true;
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
  if (Array.isArray(x)) return Array.isArray(y) && x.length === y.length && x.every((v, i) => sameValue(v, y[i]));
  return !Array.isArray(y) && sameMap(x as Record<string, unknown>, y as Record<string, unknown>, false);
}

/*
 * A namespace's daily counts, packed per month. The core folds one `DAY#<ns>#<day>` item per
 * namespace and day (core/evidence `dayItem`); at fleet scale those are most of the items a run
 * writes (5,000 namespaces × 30 days, a couple of events each), and DynamoDB bills a write per item
 * (BatchWriteItem takes 25). Here they are stored as one `DAYS#<ns>#<yyyy-mm>` item per namespace
 * and month, and expanded back into the same `DAY#` items on every read, so nothing above this
 * adapter sees the packing. A month's item stays under 1 KB, one write unit like the day item it
 * replaces (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html).
 *
 * The month's counts are one string attribute, `counts`: `dd:irsaOk.irsaFailed.piOk.piFailed` per
 * day, in day order, space-separated (`03:2.0.0.0 05:0.0.1.0`). They were a map of a list of four
 * numbers per day: ~150 attribute values per item, each marshalled by the SDK, validated and sized
 * by the store, most of the values a fleet run wrote. Months written that way (`d`) are read
 * still, and written in the string form when they next change. `DAY#` items of stores written
 * before the packing are read too, and summed with the packed counts.
 */
const DAYS_TYPE = 'days';
const DAY_COUNTS = ['irsaOk', 'irsaFailed', 'piOk', 'piFailed'] as const;
const daysSk = (namespace: string, month: string) => `DAYS#${namespace}#${month}`;
/** The sort key of the month a day item is packed into (`packDays`). */
const daysSkOf = (day: EvidenceItem) => daysSk(String(day['namespace']), String(day['day']).slice(0, 7));

/** A packed month's counts by day of month (`counts`, or the older map `d`). */
function monthCounts(item: EvidenceItem): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const counts = item['counts'];
  if (typeof counts === 'string') {
    for (const day of counts.split(' ')) {
      if (day === '') continue;
      const colon = day.indexOf(':');
      out.set(day.slice(0, colon), day.slice(colon + 1).split('.').map(countOf));
    }
    return out;
  }
  const d = (item['d'] ?? {}) as unknown as Record<string, number[]>;
  for (const dd of Object.keys(d)) out.set(dd, (d[dd] ?? []).map(Number));
  return out;
}

/**
 * A count read from text, as a small integer where it is one: V8 gives a number parsed from a string
 * as a boxed double, and an object whose field first held one keeps every later value boxed too (16
 * bytes each: two per daily item, ~9 MB of a report's heap at 40,000 namespaces).
 */
function countOf(text: string): number {
  const n = Number(text);
  return Number.isInteger(n) && n > 0 && n < 2 ** 30 ? n | 0 : Object.is(n, 0) ? 0 : n;
}

/** A day's counts added into a month's (`monthCounts`). */
function addDay(days: Map<string, number[]>, dd: string, counts: number[]): void {
  const sum = days.get(dd);
  days.set(dd, sum === undefined ? counts : DAY_COUNTS.map((_, i) => (sum[i] ?? 0) + (counts[i] ?? 0)));
}

/** `counts` for days in any order: sorted, so equal counts are equal strings. */
function countsText(days: Map<string, number[]>): string {
  return [...days.keys()]
    .sort()
    .map((dd) => `${dd}:${DAY_COUNTS.map((_, i) => (days.get(dd) as number[])[i] ?? 0).join('.')}`)
    .join(' ');
}

/** Day deltas of the same namespace and month become one packed delta; every other delta is kept. */
function packDays(deltas: readonly EvidenceDelta[]): EvidenceDelta[] {
  const out: EvidenceDelta[] = [];
  // A month's days are summed here and written out as its `counts` once, at the end: merging each
  // day into the month's string (parsed and written again each time) was quadratic in its days.
  const packed = new Map<string, { delta: EvidenceDelta; days: Map<string, number[]> }>();
  for (const delta of deltas) {
    const item = delta.item;
    if (item.type !== 'day') {
      out.push(delta);
      continue;
    }
    const day = String(item['day']);
    const namespace = String(item['namespace']);
    const month = day.slice(0, 7);
    const dd = day.slice(8, 10);
    const counts = DAY_COUNTS.map((f) => Number(item[f] ?? 0));
    const sk = daysSkOf(item);
    const k = itemKey({ pk: item.pk, sk });
    const prior = packed.get(k);
    if (prior === undefined) {
      const one = { pk: item.pk, sk, type: DAYS_TYPE, scope: item['scope'], namespace, month } as unknown as EvidenceItem;
      const first: EvidenceDelta = { item: one, batch: delta.batch };
      packed.set(k, { delta: first, days: new Map([[dd, counts]]) });
      out.push(first);
    } else addDay(prior.days, dd, counts);
  }
  for (const { delta, days } of packed.values()) delta.item['counts'] = countsText(days);
  return out;
}

/** The day deltas of `deltas` (as given to `apply`) by the key of the month `packDays` packs them into: for a write that failed. */
function daysPackedFrom(deltas: readonly EvidenceDelta[]): Map<string, EvidenceItem[]> {
  const days = deltas.map((d) => d.item).filter((item) => item.type === 'day');
  return groupedBy(days, (item) => itemKey({ pk: item.pk, sk: daysSkOf(item) }));
}

/** Sums two packed months day by day (days in order, so equal counts are equal items). */
function mergeDays(a: EvidenceItem | undefined, b: EvidenceItem): EvidenceItem {
  if (a === undefined) return b;
  const textA = a['counts'];
  const textB = b['counts'];
  const counts = (typeof textA === 'string' && typeof textB === 'string' ? mergeCountsText(textA, textB) : null) ?? summedCounts(a, b);
  // The older map form goes: the month is written in the string form from now on.
  const { d: _a, ...olderA } = a;
  const { d: _b, ...olderB } = b;
  return { ...olderA, ...olderB, counts } as EvidenceItem;
}

/** `mergeDays(a, b)` made in `a` itself (mergedInPlace): whether it changed anything. */
function mergeDaysInto(a: EvidenceItem, b: EvidenceItem): boolean {
  const next = mergeDays(a, b);
  let changed = false;
  for (const field in next) if (setChanged(a, field, next[field], sameValue)) changed = true;
  for (const field in a) {
    if (field in next || field === 'version' || field === TAGS) continue;
    // the older map form (`d`), which the month leaves once it is written as text
    if (a[field] !== undefined && a[field] !== null) changed = true;
    delete a[field];
  }
  return changed;
}

/** Two months' counts summed by parsing them, whatever their forms (mergeCountsText takes the store's own). */
function summedCounts(a: EvidenceItem, b: EvidenceItem): string {
  const days = monthCounts(a);
  for (const [dd, counts] of monthCounts(b)) addDay(days, dd, counts);
  return countsText(days);
}

/** The `DAY#` items a packed month stands for, as the core wrote them (a mechanism's counts only on days it had events). */
function unpackDays(item: EvidenceItem): EvidenceItem[] {
  const days = monthCounts(item);
  const month = String(item['month']);
  const namespace = String(item['namespace']);
  return [...days.keys()]
    .sort()
    .map((dd) => {
      const [irsaOk = 0, irsaFailed = 0, piOk = 0, piFailed = 0] = days.get(dd) as number[];
      const day = dayNames.string(`${month}-${dd}`);
      return {
        pk: item.pk,
        // flat: a report holds ~280,000 of these keys at 40,000 namespaces
        sk: flatString(`DAY#${namespace}#${day}`),
        type: 'day',
        scope: item['scope'] as string,
        namespace,
        day,
        ...(irsaOk + irsaFailed > 0 ? { irsaOk, irsaFailed } : {}),
        ...(piOk + piFailed > 0 ? { piOk, piFailed } : {}),
      } as EvidenceItem;
    });
}

/**
 * Days' names, one copy each: a report's window unpacks every namespace's days (~280,000 daily
 * items at 40,000 namespaces), and each made its own copy of one of 30 names.
 */
const dayNames = new StringPool(4096);

/**
 * An inventory part (one item's) with its recurring strings shared: each part is parsed on its own,
 * so at 40,000 namespaces the 33,671 associations each held their own copies of their cluster's name
 * and ARN, their role's ARN and their namespace's name (~4 MB, for as long as a command runs).
 */
function withSharedStrings(part: Inventory, strings: StringPool): Inventory {
  for (const a of part.associations ?? []) strings.share(a, SHARED_ASSOCIATION_FIELDS);
  for (const n of part.nodegroups ?? []) strings.share(n, SHARED_NODEGROUP_FIELDS);
  return part;
}
const SHARED_ASSOCIATION_FIELDS = ['cluster', 'clusterArn', 'namespace', 'serviceAccount', 'roleArn', 'targetRoleArn', 'createdAt'];
const SHARED_NODEGROUP_FIELDS = ['cluster', 'nodeRoleArn'];

/** Daily items read the old way (`DAY#`) and packed (`DAYS#`), as `DAY#` items in key order. */
function dayItems(legacy: readonly EvidenceItem[], packed: readonly EvidenceItem[]): EvidenceItem[] {
  const byKey = new Map<string, EvidenceItem>();
  for (const item of legacy) byKey.set(itemKey(item), untagged(item));
  for (const item of packed.flatMap(unpackDays)) {
    const k = itemKey(item);
    const prior = byKey.get(k);
    // Null and absent mean the same: the merged day keeps the form of one written whole.
    byKey.set(k, prior === undefined ? item : (Object.fromEntries(Object.entries(mergeItems(prior, item)).filter(([, v]) => v !== null)) as EvidenceItem));
  }
  return [...byKey.values()].sort((a, b) => (a.sk < b.sk ? -1 : a.sk > b.sk ? 1 : 0));
}

/**
 * A stage's journal, an item at a time (read back by `rollForwardStage`): `{ stage: true, items,
 * guards }`, each item as it is written, as JSON, or, one the stage could not pack (it may hold
 * sets or binary another writer left), as `{ wire }`: its wire values, binary as `{ base64 }`.
 */
function* stageJournalPieces(changes: StagedChanges, ids: ReadonlyMap<string, Iterable<string>>): Generator<string> {
  yield '{"stage":true,"items":[';
  for (let i = 0; i < changes.length; i += 1) {
    const plain = changes.plain(i);
    const text = plain !== undefined ? JSON.stringify(plain) : `{"wire":${JSON.stringify(changes.marshalled(i), binaryAsBase64)}}`;
    yield i === 0 ? text : `,${text}`;
  }
  yield '],"guards":{';
  let first = true;
  for (const [hour, hourIds] of ids) {
    yield `${first ? '' : ','}${JSON.stringify(hour)}:${JSON.stringify([...hourIds])}`;
    first = false;
  }
  yield '}}';
}

/** JSON.stringify's replacer for binary: the value as it was (a Buffer's `toJSON` has run by then), as `{ base64 }`. */
function binaryAsBase64(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  return raw instanceof Uint8Array ? { base64: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') } : value;
}

/** A stage journal's `{ wire }` item as DynamoDB's wire values again (`stageJournalPieces`). */
function wireItem(wire: Record<string, unknown>): Record<string, unknown> {
  const revive = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(revive);
    if (v === null || typeof v !== 'object') return v;
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === 'base64' && typeof o['base64'] === 'string') return Buffer.from(o['base64'], 'base64');
    return Object.fromEntries(keys.map((k) => [k, revive(o[k])]));
  };
  return revive(wire) as Record<string, unknown>;
}

/** `JSON.stringify({ deltas, alerts, guards })` of a journal, a delta at a time (read back by `journalText`). */
function* journalPieces(journal: BatchJournal): Generator<string> {
  yield '{"deltas":[';
  for (let n = 0; n < journal.deltas.length; n += 1) yield `${n === 0 ? '' : ','}${JSON.stringify(journal.deltas[n])}`;
  yield `],"alerts":${JSON.stringify(journal.alerts)},"guards":${JSON.stringify(journal.guards)}}`;
}

/** `items` in consecutive groups of `size` (the last one shorter): a batch request's worth each. */
function inGroups<T>(items: readonly T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, g) => items.slice(g * size, (g + 1) * size));
}

/** Full jitter, 50 ms base, 5 s cap (AWS Architecture Blog, "Exponential Backoff And Jitter"). */
function backoff(attempt: number): Promise<void> {
  const ceiling = Math.min(5000, 50 * 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}

import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
  type GetQueryResultsCommandOutput,
} from '@aws-sdk/client-athena';
import type { Alert } from '../core/alert';
import { CoverageAccumulator, DELIVERY_LAG_MS } from '../core/coverage';
import type { InputItem } from '../core/envelopes';
import type { Policy } from '../core/policy';
import { athenaCreateTable, athenaSliceQuery, rebuildRecord, type TrailPredicateConfig } from '../core/trail-sql';
import { abortableSleep, BACKFILL_PK } from './cloudtrail-backfill';
import type { DynamoEvidenceStore } from './dynamo-evidence-store';
import { AwsFatalError, backoffMs, isThrottling, problemReason, rethrowFatal, SDK_MAX_ATTEMPTS } from './aws-calls';
import { ingestUnits, type AnalyzeSummary, type Rejection } from './ingest-pipeline';

/**
 * History from where an organization already keeps it: Athena over the trail's S3 logs, or
 * CloudTrail Lake (./lake-backfill.ts). One query per UTC day, its WHERE clause generated from the
 * rule patterns (core/trail-sql.ts), its result pages streamed through the same normalizer,
 * detections and store as `analyze` (ingestUnits), each day checkpointed in the store once its
 * events are stored. The same eventIDs count once whichever way they came (docs/architecture.md §3).
 *
 * Days, not LookupEvents' adaptive slices (cloudtrail-backfill.ts): a query engine has no page
 * budget to keep a slice under, and a day is the trail's date folder, so Athena reads each folder
 * once. A day read after it ended (plus the delivery lag) is done for good; today is read again by
 * the next run.
 *
 * Cost: both engines bill the bytes a query scans, $5 per TB (Athena: https://aws.amazon.com/athena/pricing/
 * "$5.00 per TB of data scanned", rounded up to the megabyte with a 10 MB minimum per query; DDL
 * statements such as CREATE TABLE are free. CloudTrail Lake: https://aws.amazon.com/cloudtrail/pricing/
 * "$0.005 per GB of data scanned").
 */

export const USD_PER_TB_SCANNED = 5;
const MB = 1_048_576;
const DAY = 86_400_000;

/** Athena's billing of one query: bytes rounded up to the MB, at least 10 MB (Athena pricing page). */
export function athenaBilledBytes(scanned: number): number {
  return Math.max(10 * MB, Math.ceil(scanned / MB) * MB);
}

export function costUsd(billedBytes: number): number {
  return (billedBytes / 1e12) * USD_PER_TB_SCANNED;
}

// ---------------------------------------------------------------------------------------------
// Query engines

export type ResultRow = Readonly<Record<string, string | null>>;

export interface QueryRun {
  id: string;
  /** What the engine says the query scanned. */
  scannedBytes: number;
  /** What it bills for it. */
  billedBytes: number;
}

/** A statement that ended FAILED, CANCELLED or TIMED_OUT: that slice fails, the run goes on. */
export class QueryFailedError extends Error {
  constructor(
    message: string,
    readonly state: string,
    readonly queryId: string,
  ) {
    super(message);
    this.name = 'QueryFailedError';
  }
}

export interface TrailQueryEngine {
  /** For messages: `Athena`, `CloudTrail Lake`. */
  readonly label: string;
  /** Starts a statement and polls it to the end; throws QueryFailedError unless it succeeded. */
  run(sql: string, signal?: AbortSignal): Promise<QueryRun>;
  /** The result's rows, a page at a time, in the query's order. */
  pages(queryId: string, signal?: AbortSignal): AsyncGenerator<ResultRow[]>;
  /** Best effort: a query the run no longer needs. */
  cancel(queryId: string): Promise<void>;
}

export interface PollOptions {
  sleep?: (ms: number) => Promise<void>;
  /** Our own retries of a throttled call once the SDK's are spent. @default 8 */
  throttleRetries?: number;
  /** First wait between status polls; doubles up to `maxPollMs`. @default 500 */
  pollMs?: number;
  /** @default 5000 */
  maxPollMs?: number;
}

/** A call retried with backoff while throttled; fatal errors (credentials, endpoint) become AwsFatalError, a denial names the permission. */
export async function throttled<T>(call: () => Promise<T>, what: { service: string; operation: string; region: string }, options: PollOptions, signal?: AbortSignal): Promise<T> {
  const sleep = options.sleep ?? abortableSleep(signal);
  const retries = options.throttleRetries ?? 8;
  for (let attempt = 0; ; attempt += 1) {
    signal?.throwIfAborted();
    try {
      return await call();
    } catch (e) {
      rethrowFatal(e, what.service, what.region);
      if (isDenied(e)) throw new AwsFatalError(`${what.region}: ${problemReason(e, what.operation, what.service)}`, { cause: e });
      if (!isThrottling(e) || attempt >= retries) throw e;
      await sleep(backoffMs(attempt));
    }
  }
}

function isDenied(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } } | null;
  return !!err && (/AccessDenied|UnauthorizedOperation|Forbidden/i.test(err.name ?? '') || err.$metadata?.httpStatusCode === 403);
}

/** An Athena client for the CLI: default credential chain, adaptive retry. */
export function athenaClient(region: string): AthenaClient {
  return new AthenaClient({ region, maxAttempts: SDK_MAX_ATTEMPTS, retryMode: 'adaptive' });
}

export interface AthenaEngineOptions extends PollOptions {
  client: AthenaClient;
  region: string;
  /** @default 'primary' */
  workgroup?: string;
  database: string;
  /** s3://… for results; optional when the workgroup sets one. */
  outputLocation?: string;
}

/**
 * Athena: StartQueryExecution, GetQueryExecution until SUCCEEDED (QUEUED and RUNNING before it;
 * FAILED or CANCELLED end it), GetQueryResults pages of up to 1,000 rows whose first row, on the
 * first page of a SELECT, is the column names (Athena API reference, GetQueryResults).
 */
export function athenaEngine(options: AthenaEngineOptions): TrailQueryEngine {
  const { client, region } = options;
  const call = <T>(operation: string, fn: () => Promise<T>, signal?: AbortSignal) => throttled(fn, { service: 'athena', operation, region }, options, signal);
  return {
    label: 'Athena',
    async run(sql, signal) {
      const started = await call(
        'StartQueryExecution',
        () =>
          client.send(
            new StartQueryExecutionCommand({
              QueryString: sql,
              QueryExecutionContext: { Database: options.database },
              WorkGroup: options.workgroup ?? 'primary',
              ...(options.outputLocation ? { ResultConfiguration: { OutputLocation: options.outputLocation } } : {}),
            }),
          ),
        signal,
      );
      const id = started.QueryExecutionId;
      if (!id) throw new Error('Athena StartQueryExecution returned no QueryExecutionId');
      const sleep = options.sleep ?? abortableSleep(signal);
      // Stopped while it runs: cancel it, or it runs (and bills) on.
      const onAbort = () => void client.send(new StopQueryExecutionCommand({ QueryExecutionId: id })).catch(() => undefined);
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        for (let wait = options.pollMs ?? 500; ; wait = Math.min(wait * 2, options.maxPollMs ?? 5000)) {
          const out = await call('GetQueryExecution', () => client.send(new GetQueryExecutionCommand({ QueryExecutionId: id })), signal);
          const status = out.QueryExecution?.Status;
          const state = status?.State;
          const scanned = out.QueryExecution?.Statistics?.DataScannedInBytes ?? 0;
          if (state === 'SUCCEEDED') {
            const ddl = out.QueryExecution?.StatementType === 'DDL';
            return { id, scannedBytes: scanned, billedBytes: ddl ? 0 : athenaBilledBytes(scanned) };
          }
          if (state === 'FAILED' || state === 'CANCELLED') {
            const reason = status?.AthenaError?.ErrorMessage ?? status?.StateChangeReason ?? 'no reason given';
            throw new QueryFailedError(`Athena query ${id} ${state}: ${oneLine(reason)}`, state, id);
          }
          if (state !== 'QUEUED' && state !== 'RUNNING') throw new Error(`Athena query ${id}: unexpected state ${String(state)}`);
          await sleep(wait);
        }
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    },
    async *pages(id, signal) {
      let token: string | undefined;
      let columns: string[] | null = null;
      let first = true;
      do {
        const out: GetQueryResultsCommandOutput = await call(
          'GetQueryResults',
          () => client.send(new GetQueryResultsCommand({ QueryExecutionId: id, MaxResults: 1000, ...(token ? { NextToken: token } : {}) })),
          signal,
        );
        columns ??= (out.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []).map((c) => c.Name ?? '');
        let rows = out.ResultSet?.Rows ?? [];
        if (first) rows = rows.slice(1);
        first = false;
        yield rows.map((row) => {
          const values: Record<string, string | null> = {};
          (row.Data ?? []).forEach((datum, i) => {
            values[columns![i] ?? `_${i}`] = datum.VarCharValue ?? null;
          });
          return values;
        });
        token = out.NextToken || undefined;
      } while (token);
    },
    async cancel(id) {
      await client.send(new StopQueryExecutionCommand({ QueryExecutionId: id })).catch(() => undefined);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Sources: what a day's query is, and what its rows mean

export interface TrailSlice {
  /** `YYYY-MM-DD` (UTC). */
  day: string;
  start: number;
  end: number;
}

export interface SliceRows {
  items: InputItem[];
  /** Hours of this slice that had records, per account and region (only a source that can prove it). */
  coverage: CoverageAccumulator | null;
}

export interface TrailSource {
  kind: 'athena' | 'lake';
  /** Names the source in checkpoints (`<kind>#<id>#<day>`) and messages. */
  id: string;
  engine: TrailQueryEngine;
  /** Statements run once before any slice (Athena: CREATE TABLE IF NOT EXISTS). */
  setup: string[];
  sliceSql(slice: TrailSlice, predicate: TrailPredicateConfig): string;
  /** Turns a page of rows into items (and coverage); `rowNumber` counts rows from 1 over the slice. */
  readRows(rows: readonly ResultRow[], unit: string, firstRow: number, coverage: CoverageAccumulator | null): InputItem[];
  /** Whether the hours with records prove coverage (`files` rule); see docs/athena.md. */
  provesCoverage: boolean;
}

export interface AthenaSourceOptions {
  engine: TrailQueryEngine;
  database: string;
  /** From parseTrailLocation. */
  location: string;
  table: string;
  accounts: readonly string[];
  regions: readonly string[];
}

/** Athena over the trail's S3 logs: the day's date folder of every account and region asked for. */
export function athenaSource(options: AthenaSourceOptions): TrailSource {
  const spec = { database: options.database, table: options.table, location: options.location };
  return {
    kind: 'athena',
    id: options.location,
    engine: options.engine,
    setup: [athenaCreateTable(spec)],
    sliceSql: (slice, predicate) => athenaSliceQuery({ ...spec, accounts: options.accounts, regions: options.regions, day: slice.day, predicate }),
    readRows: (rows, unit, firstRow, coverage) => {
      const items: InputItem[] = [];
      rows.forEach((row, i) => {
        const where = `row ${firstRow + i}`;
        const account = row['record_account'];
        const region = row['record_region'];
        const hour = row['record_hour'];
        // Every row, kept or not, says its hour had records (the files rule: any record, in scope or not).
        if (coverage && account && region && hour && /^\d{4}-\d{2}-\d{2}T\d{2}$/.test(hour)) coverage.addFileRecord(account, region, `${hour}:00:00Z`);
        if (row['eventid'] === null || row['eventid'] === undefined) return;
        const rebuilt = rebuildRecord(row);
        items.push('record' in rebuilt ? { type: 'record', file: unit, where, record: rebuilt.record } : { type: 'problem', file: unit, where, reason: rebuilt.problem });
      });
      return items;
    },
    provesCoverage: true,
  };
}

// ---------------------------------------------------------------------------------------------
// The run

export interface TrailCheckpoint {
  pk: typeof BACKFILL_PK;
  /** `<kind>#<source id>#<YYYY-MM-DD>` */
  sk: string;
  kind: 'athena' | 'lake';
  source: string;
  day: string;
  /** Read after the day (and the delivery lag) ended: the next run skips it. */
  complete: boolean;
  records: number;
  scannedBytes: number;
  queryId: string;
  updatedAt: string;
}

export type SliceStatus = 'pending' | 'skipped' | 'stored' | 'failed' | 'stopped';

export interface SliceProgress {
  day: string;
  status: SliceStatus;
  /** Records the query returned (kept by the rules). */
  records: number;
  scannedBytes: number;
  billedBytes: number;
  queryId: string | null;
  note: string | null;
}

export interface TrailBackfillOptions {
  store: DynamoEvidenceStore;
  source: TrailSource;
  /** Days before today (UTC) to read, today included: days + 1 slices. */
  days: number;
  now: () => Date;
  /** Forget this source's checkpoints first. */
  restart?: boolean;
  /** The caller ran `source.setup` already (the CLI does, before opening the store). */
  setupDone?: boolean;
  policy?: Policy;
  /** @default true */
  detect?: boolean;
  nodeRolePatterns?: string[];
  onAlerts?(alerts: Alert[]): Promise<void>;
  onRejection?(rejection: Rejection): void;
  onProgress?(slice: SliceProgress): void;
  signal?: AbortSignal;
  /** Queries started ahead of the one being stored. @default 2 */
  lookahead?: number;
  /** @default 5000 */
  batchSize?: number;
  /** @default 30 s */
  storeEveryMs?: number;
}

export interface TrailBackfillResult {
  summary: AnalyzeSummary;
  slices: SliceProgress[];
  scannedBytes: number;
  billedBytes: number;
  costUsd: number;
  stopped: boolean;
}

export const MAX_TRAIL_DAYS = 3650;

/** The days to read, oldest first: `days` before today and today (UTC). */
export function trailSlices(now: Date, days: number): TrailSlice[] {
  if (!Number.isInteger(days) || days < 1 || days > MAX_TRAIL_DAYS) throw new RangeError(`days must be 1 to ${MAX_TRAIL_DAYS}, got ${days}`);
  const today = Math.floor(now.getTime() / DAY) * DAY;
  const slices: TrailSlice[] = [];
  for (let start = today - days * DAY; start <= today; start += DAY) slices.push({ day: new Date(start).toISOString().slice(0, 10), start, end: start + DAY });
  return slices;
}

/** The predicate's node roles: the patterns, and every role the store knows (inventory node groups, roles seen fetching Pod Identity). */
export async function predicateConfig(store: DynamoEvidenceStore, options: { policy?: Policy; nodeRolePatterns?: string[] }): Promise<TrailPredicateConfig> {
  const inventory = await store.loadInventory();
  const observed = (await store.scopes()).filter((s) => s['kind'] === 'noderole').map((s) => String(s['name']));
  return {
    nodeRoleArns: [...new Set([...inventory.nodegroups.map((n) => n.nodeRoleArn), ...observed])].sort(),
    nodeRolePatterns: options.nodeRolePatterns ?? options.policy?.nodeRoleFallthrough.nodeRolePatterns,
    expectedNodeCalls: options.policy?.nodeRoleFallthrough.expectedCalls,
  };
}

export const checkpointPrefix = (source: Pick<TrailSource, 'kind' | 'id'>): string => `${source.kind}#${source.id}#`;

/**
 * Reads the days not read completely before, oldest first, through the ingest; checkpoints each
 * day (and records its coverage, for a source that proves it) once its events are stored.
 */
export async function runTrailBackfill(options: TrailBackfillOptions): Promise<TrailBackfillResult> {
  const { store, source } = options;
  const slices = trailSlices(options.now(), options.days);
  const stopRequested = () => options.signal?.aborted === true;
  const report = (p: SliceProgress) => options.onProgress?.({ ...p });

  if (!options.setupDone) for (const sql of source.setup) await source.engine.run(sql, options.signal);

  const prefix = checkpointPrefix(source);
  const stored = (await store.queryMeta(BACKFILL_PK, prefix)) as unknown as TrailCheckpoint[];
  if (options.restart) for (const c of stored) await store.deleteMeta(BACKFILL_PK, c.sk);
  const complete = new Set(options.restart ? [] : stored.filter((c) => c.complete).map((c) => c.day));
  const progress = new Map<string, SliceProgress>(
    slices.map((s) => [
      s.day,
      { day: s.day, status: complete.has(s.day) ? 'skipped' : 'pending', records: 0, scannedBytes: 0, billedBytes: 0, queryId: null, note: complete.has(s.day) ? 'read before' : null },
    ]),
  );
  for (const p of progress.values()) if (p.status === 'skipped') report(p);
  const pending = slices.filter((s) => !complete.has(s.day));
  const predicate = await predicateConfig(store, options);

  // Queries run ahead of the slice being stored; one not reached when the run stops is cancelled.
  const lookahead = Math.max(0, options.lookahead ?? 2);
  const runs = new Map<string, Promise<QueryRun>>();
  const start = (index: number) => {
    const slice = pending[index];
    if (!slice || runs.has(slice.day) || stopRequested()) return;
    const run = source.engine.run(source.sliceSql(slice, predicate), options.signal);
    run.catch(() => undefined);
    runs.set(slice.day, run);
  };

  const coverageOf = new Map<string, CoverageAccumulator>();
  const unitDay = new Map<string, string>();
  const units = (async function* () {
    for (let index = 0; index < pending.length; index += 1) {
      if (stopRequested()) return;
      for (let ahead = index; ahead <= index + lookahead; ahead += 1) start(ahead);
      const slice = pending[index]!;
      const p = progress.get(slice.day)!;
      let run: QueryRun;
      try {
          run = await runs.get(slice.day)!;
        } catch (e) {
          if (stopRequested()) return;
          if (!(e instanceof QueryFailedError)) throw e;
          p.status = 'failed';
          p.queryId = e.queryId;
          p.note = e.message;
          report(p);
          continue;
        }
        p.queryId = run.id;
        p.scannedBytes = run.scannedBytes;
        p.billedBytes = run.billedBytes;
        const name = `${source.engine.label} ${source.id} ${slice.day}`;
        const coverage = source.provesCoverage ? new CoverageAccumulator() : null;
        if (coverage) coverageOf.set(name, coverage);
        unitDay.set(name, slice.day);
        // Streamed a page at a time (a day of a large fleet does not fit in memory), in the query's
        // time order (ORDER BY), which the detections need (cloudtrail-backfill.ts, "Order").
        const engine = source.engine;
        const items = (async function* () {
          let rows = 0;
          for await (const page of engine.pages(run.id, options.signal)) {
            const chunk = source.readRows(page, name, rows + 1, coverage);
            rows += page.length;
            p.records += chunk.filter((i) => i.type === 'record').length;
            yield chunk;
          }
        })();
        yield { name, items };
      }
    })();

    let summary: AnalyzeSummary;
    try {
      summary = await ingestUnits(units, {
        store,
        policy: options.policy,
        detect: options.detect,
        nodeRolePatterns: options.nodeRolePatterns,
        now: options.now,
        batchSize: options.batchSize ?? 5_000,
        flushAfterMs: options.storeEveryMs ?? 30_000,
        onAlerts: options.onAlerts,
        onRejection: options.onRejection,
        onStored: async (units) => {
          for (const { name, stored: ok } of units) {
            const day = unitDay.get(name);
            if (!day) continue;
            const p = progress.get(day)!;
            if (!ok) {
              p.status = 'failed';
              p.note = `events of ${day} could not be stored; it is read again by the next run`;
              report(p);
              continue;
            }
            const coverage = coverageOf.get(name);
            if (coverage && coverage.size > 0) await store.recordCoverage(coverage.days());
            coverageOf.delete(name);
            const slice = slices.find((s) => s.day === day)!;
            const checkpoint: TrailCheckpoint = {
              pk: BACKFILL_PK,
              sk: `${prefix}${day}`,
              kind: source.kind,
              source: source.id,
              day,
              complete: options.now().getTime() >= slice.end + DELIVERY_LAG_MS,
              records: p.records,
              scannedBytes: p.scannedBytes,
              queryId: p.queryId ?? '',
              updatedAt: options.now().toISOString(),
            };
            await store.putMeta({ ...checkpoint });
            p.status = 'stored';
            if (!checkpoint.complete) p.note = 'today: read again by the next run';
            report(p);
          }
        },
      });
    } finally {
      // Queries started ahead and never read: stop paying for them.
      for (const [day, run] of runs) {
        if (progress.get(day)?.status !== 'pending') continue;
        void run.then((r) => source.engine.cancel(r.id), () => undefined);
      }
    }

    const stopped = stopRequested() && [...progress.values()].some((p) => p.status === 'pending');
    for (const p of progress.values()) {
      if (p.status === 'pending' && stopped) {
        p.status = 'stopped';
        report(p);
      }
    }
    const list = slices.map((s) => ({ ...progress.get(s.day)! }));
    const scannedBytes = list.reduce((n, p) => n + p.scannedBytes, 0);
    const billedBytes = list.reduce((n, p) => n + p.billedBytes, 0);
    return { summary, slices: list, scannedBytes, billedBytes, costUsd: costUsd(billedBytes), stopped };
  }

  function oneLine(text: string): string {
    return text.replace(/\s+/g, ' ').trim().slice(0, 500);
  }

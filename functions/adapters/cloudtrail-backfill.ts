import { CloudTrailClient, LookupEventsCommand, type LookupEventsCommandOutput } from '@aws-sdk/client-cloudtrail';
import type { Alert } from '../core/alert';
import { CoverageAccumulator, DELIVERY_LAG_MS, type Interval } from '../core/coverage';
import { extractRecords, type InputItem } from '../core/envelopes';
import type { Policy } from '../core/policy';
import { ingestUnits, type AnalyzeSummary, type RecordUnit, type Rejection } from './ingest-pipeline';
import type { DynamoEvidenceStore } from './dynamo-evidence-store';
import { AwsFatalError, backoffMs, isThrottling, problemReason, rethrowFatal, SDK_MAX_ATTEMPTS } from './aws-calls';
import { LOOKUP_DAYS } from '../core/aws-names';

/**
 * Backfill from CloudTrail event history (LookupEvents): the last 1–90 days of the three calls
 * that tell how workloads get credentials, through the same normalizer, detections and store as
 * `analyze`.
 *
 * LookupEvents facts (CloudTrail API reference, LookupEvents): management events of one region, the
 * last 90 days; one lookup attribute per call ("Currently the list can contain only one item");
 * at most 50 events per call; NextToken must be passed with the same parameters; "The rate of
 * lookup requests is limited to two per second, per account, per Region. If this limit is
 * exceeded, a throttling error occurs."; the events list "is sorted by time. The most recent event
 * is listed first." StartTime and EndTime are both inclusive ("after or at", "before or at").
 *
 * Order. The detections fold state across batches and expect time order (core/detections.ts), as
 * analyze gives them by reading log files chronologically. Storing LookupEvents pages as they come
 * (newest first) raised 7 false irsa-regression alerts on the sample fleet and missed its planted
 * first-seen alert. So each region's window is walked oldest first in slices; a slice's pages (all
 * three event names) are fetched, sorted by eventTime and stored as one unit, then checkpointed.
 * A slice holds at most `maxSlicePages` pages: a denser one is dropped and fetched again at half
 * the span (spans grow again while slices stay light). The checkpoint is therefore a time (`through`)
 * rather than a NextToken: a stopped run loses at most the slice in flight, and resumes after the
 * last stored one.
 *
 * Volume: `AssumeRole` matches every AssumeRole in the account and region (cross-account roles, SSO,
 * automation), of which the normalizer keeps only the Pod Identity ones (pods.eks.amazonaws.com) and
 * node-role calls. At 2 calls/s × 50 events one region yields at most 100 events/s; an account with
 * millions of AssumeRole a day is better served by `analyze` over the trail's S3 logs.
 */

export const BACKFILL_EVENT_NAMES = ['AssumeRoleForPodIdentity', 'AssumeRole', 'AssumeRoleWithWebIdentity'] as const;
export type BackfillEventName = (typeof BACKFILL_EVENT_NAMES)[number];

/** LookupEvents limits (CloudTrail API reference): 50 events per call, 2 calls/s per account and region (and LOOKUP_DAYS of history). */
export const LOOKUP_MAX_RESULTS = 50;
export const LOOKUP_PER_SECOND = 2;

export const BACKFILL_PK = 'BACKFILL';

/**
 * Events per store batch: a batch writes its journal, items, guards and checkpoints once, so
 * LookupEvents' 50-event pages cost writes per key, not per page. At 2 calls/s per region this is
 * about a minute of fetching, which `storeEveryMs` bounds anyway.
 */
export const DEFAULT_BACKFILL_BATCH = 5_000;
export const checkpointSk = (region: string, eventName: string): string => `${region}#${eventName}`;

const DAY = 86_400_000;

/** A CloudTrail client for the CLI and the Lambda: default credential chain, adaptive retry. */
export function cloudTrailClient(region: string): CloudTrailClient {
  return new CloudTrailClient({ region, maxAttempts: SDK_MAX_ATTEMPTS, retryMode: 'adaptive' });
}

// ---------------------------------------------------------------------------------------------
// Rate limit

/**
 * Token bucket: `perSecond` tokens a second, at most `burst` saved up (default 1: calls evenly
 * spaced, 500 ms apart at 2/s). Callers queue in order. One per account and region.
 */
export class RateLimiter {
  private readonly perSecond: number;
  private readonly burst: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private tokens: number;
  private last: number | null = null;
  private queue: Promise<void> = Promise.resolve();

  constructor(opts: { perSecond: number; burst?: number; now?: () => number; sleep?: (ms: number) => Promise<void> }) {
    if (!(opts.perSecond > 0)) throw new RangeError('RateLimiter: perSecond must be positive');
    this.perSecond = opts.perSecond;
    this.burst = Math.max(1, opts.burst ?? 1);
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.tokens = this.burst;
  }

  take(): Promise<void> {
    const turn = this.queue.then(async () => {
      this.refill();
      if (this.tokens < 1) {
        await this.sleep(Math.ceil(((1 - this.tokens) * 1000) / this.perSecond));
        this.refill();
      }
      this.tokens -= 1;
    });
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private refill(): void {
    const now = this.now();
    if (this.last !== null) this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
  }
}

// ---------------------------------------------------------------------------------------------
// Pages

export interface BackfillPage {
  /** `LookupEvents <region> <eventName> page <n>`: the `file` of its items, in rejections. */
  name: string;
  items: InputItem[];
  eventName: string;
  region: string;
  /** The token of the next page; null on the last. */
  nextToken: string | null;
  /** The oldest EventTime on the page (ISO), null when it is empty. */
  oldest: string | null;
}

export interface LookupPagesOptions {
  client: CloudTrailClient;
  region: string;
  eventName: string;
  start: Date;
  end: Date;
  nextToken?: string;
  limiter: RateLimiter;
  /** Drop events at `end` exactly: the next slice, which starts there, reads them. @default false */
  excludeEnd?: boolean;
  /** Number of the first page, for names. @default 1 */
  firstPage?: number;
  /** Our own retries of a throttled call once the SDK's are spent. @default 8 */
  throttleRetries?: number;
  sleep?: (ms: number) => Promise<void>;
  signal?: AbortSignal;
}

/**
 * Every page of one event name's history in [start, end], newest first (LookupEvents' order). Each
 * call waits for the region's limiter; a throttled call is retried with backoff. Every event's
 * `CloudTrailEvent` goes through `extractRecords`, so a bad string becomes a problem item.
 */
export async function* lookupPages(options: LookupPagesOptions): AsyncGenerator<BackfillPage> {
  const { client, region, eventName, limiter } = options;
  const sleep = options.sleep ?? abortableSleep(options.signal);
  const retries = options.throttleRetries ?? 8;
  const endMs = options.end.getTime();
  let token: string | undefined = options.nextToken;
  let number = options.firstPage ?? 1;
  do {
    let out: LookupEventsCommandOutput | undefined;
    for (let attempt = 0; out === undefined; attempt += 1) {
      await limiter.take();
      options.signal?.throwIfAborted();
      try {
        out = await client.send(
          new LookupEventsCommand({
            LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: eventName }],
            StartTime: options.start,
            EndTime: options.end,
            MaxResults: LOOKUP_MAX_RESULTS,
            ...(token ? { NextToken: token } : {}),
          }),
          options.signal ? { abortSignal: options.signal } : {},
        );
      } catch (e) {
        rethrowFatal(e, 'cloudtrail', region);
        if (!isThrottling(e) || attempt >= retries) throw e;
        await sleep(backoffMs(attempt));
      }
    }
    const name = `LookupEvents ${region} ${eventName} page ${number}`;
    const items: InputItem[] = [];
    let oldest: number | null = null;
    (out.Events ?? []).forEach((event, i) => {
      const at = event.EventTime?.getTime();
      if (at !== undefined && (oldest === null || at < oldest)) oldest = at;
      if (options.excludeEnd && at !== undefined && at >= endMs) return;
      const where = `event ${i + 1}`;
      // Without its CloudTrailEvent string the summary fields would be taken for a record.
      if (typeof event.CloudTrailEvent !== 'string') items.push({ type: 'problem', file: name, where, reason: 'LookupEvents event has no CloudTrailEvent string' });
      else for (const item of extractRecords(event, name, where)) items.push(item);
    });
    token = out.NextToken || undefined;
    yield { name, items, eventName, region, nextToken: token ?? null, oldest: oldest === null ? null : new Date(oldest).toISOString() };
    number += 1;
  } while (token);
}

/**
 * One cheap call before anything is stored: expired credentials, a region that does not resolve
 * or a missing cloudtrail:LookupEvents permission stop the run here, as an AwsFatalError.
 */
export async function checkLookupAccess(client: CloudTrailClient, region: string, limiter: RateLimiter, now: Date): Promise<void> {
  await limiter.take();
  try {
    await client.send(
      new LookupEventsCommand({
        LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: BACKFILL_EVENT_NAMES[0] }],
        StartTime: new Date(now.getTime() - 3_600_000),
        EndTime: now,
        MaxResults: 1,
      }),
    );
  } catch (e) {
    rethrowFatal(e, 'cloudtrail', region);
    if (isThrottling(e)) return;
    throw new AwsFatalError(`${region}: ${problemReason(e, 'LookupEvents', 'cloudtrail')}`, { cause: e });
  }
}

// ---------------------------------------------------------------------------------------------
// Runs with checkpoints

/** The bookkeeping item of one region and event name (DynamoEvidenceStore meta item). */
export interface BackfillCheckpoint {
  pk: typeof BACKFILL_PK;
  /** `<region>#<eventName>` */
  sk: string;
  region: string;
  eventName: string;
  days: number;
  /** The window, ISO: `end` is when the run that began it started. */
  start: string;
  end: string;
  /** Every event of [start, through) is stored. */
  through: string;
  /** LookupEvents calls and records stored, over all runs of this window. */
  pages: number;
  records: number;
  done: boolean;
  /** The slice span to go on with. */
  sliceMs: number;
  updatedAt: string;
}

export type RegionStatus = 'pending' | 'running' | 'done' | 'skipped' | 'stopped' | 'failed';

export interface RegionProgress {
  region: string;
  status: RegionStatus;
  start: string;
  end: string;
  /** Stored up to here (ISO). */
  through: string;
  /** Share of the window stored, 0–1. */
  fraction: number;
  /** This run: LookupEvents calls (dropped dense slices included), records stored, slices stored. */
  pages: number;
  records: number;
  slices: number;
  /** Whether this run resumed a checkpointed window. */
  resumed: boolean;
  note: string | null;
}

export interface BackfillOptions {
  store: DynamoEvidenceStore;
  clientFor: (region: string) => CloudTrailClient;
  regions: string[];
  /** 1–90. */
  days: number;
  now: () => Date;
  /** Forget the checkpoints of these regions first. */
  restart?: boolean;
  /**
   * Whose checkpoints these are when one store backfills several accounts (the account id): each
   * account's window of a region is its own. @default the credentials' one account (unscoped keys)
   */
  checkpointScope?: string;
  policy?: Policy;
  /** @default true */
  detect?: boolean;
  nodeRolePatterns?: string[];
  onAlerts?(alerts: Alert[]): Promise<void>;
  onRejection?(rejection: Rejection): void;
  /** After each stored slice, and when a region's status changes. */
  onProgress?(progress: RegionProgress): void;
  /** Stop after the slices read so far are stored and checkpointed. */
  signal?: AbortSignal;
  /** Events stored together (the slices they came from are checkpointed once stored). @default DEFAULT_BACKFILL_BATCH */
  batchSize?: number;
  /** Store what is read at least this often, so a stop or a crash loses little fetching. @default 30 s */
  storeEveryMs?: number;
  /** @default a RateLimiter of 2/s per region */
  limiterFor?: (region: string) => RateLimiter;
  sleep?: (ms: number) => Promise<void>;
  throttleRetries?: number;
  /** Pages one slice may hold before it is fetched again at half the span. @default 60 */
  maxSlicePages?: number;
  /** @default 6 hours */
  initialSliceMs?: number;
  /** Below this a slice is never split, however dense. @default 1 minute */
  minSliceMs?: number;
}

export interface BackfillResult {
  summary: AnalyzeSummary;
  regions: RegionProgress[];
  /** The signal stopped the run; the checkpoints say where to resume. */
  stopped: boolean;
}

interface Slice {
  region: string;
  start: number;
  end: number;
  spanMs: number;
  pages: Map<string, number>;
  records: Map<string, number>;
  unit: RecordUnit;
}

interface RegionRun {
  region: string;
  days: number;
  start: number;
  end: number;
  through: Map<string, number>;
  totals: Map<string, { pages: number; records: number }>;
  sliceMs: number;
  progress: RegionProgress;
  /** Accounts whose events this region's LookupEvents returned: the credential's account. */
  accounts: Set<string>;
  /** Slices stored before any event named the account: their coverage is recorded once one does. */
  uncredited: Interval[];
}

export async function runBackfill(options: BackfillOptions): Promise<BackfillResult> {
  if (!Number.isInteger(options.days) || options.days < 1 || options.days > LOOKUP_DAYS) {
    throw new RangeError(`CloudTrail LookupEvents keeps ${LOOKUP_DAYS} days: days must be 1 to ${LOOKUP_DAYS}, got ${options.days}`);
  }
  const internal = new AbortController();
  const stopRequested = () => options.signal?.aborted === true;
  const onAbort = () => internal.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const runs = await Promise.all(options.regions.map((region) => planRegion(options, region)));
  const report = (run: RegionRun) => options.onProgress?.({ ...run.progress });
  for (const run of runs) report(run);

  const inFlight = new Map<string, Slice>();
  let checkpoints: Promise<void> = Promise.resolve();
  const generators = runs
    .filter((run) => run.progress.status === 'pending')
    .map((run) => regionSlices(run, options, internal.signal, () => run.progress.status !== 'running'));

  const units = (async function* (): AsyncGenerator<RecordUnit> {
    for await (const slice of merge(generators, () => checkpoints, stopRequested)) {
      // A region whose slice could not be stored goes no further: its prefetched slice is dropped.
      if (runs.find((r) => r.region === slice.region)?.progress.status === 'failed') continue;
      inFlight.set(slice.unit.name, slice);
      yield slice.unit;
    }
    await checkpoints;
  })();

  let summary: AnalyzeSummary;
  try {
    summary = await ingestUnits(units, {
      store: options.store,
      policy: options.policy,
      detect: options.detect,
      nodeRolePatterns: options.nodeRolePatterns,
      now: options.now,
      // Slices are stored together, a batch at a time or every half minute, and checkpointed once
      // stored: a slice's worth of writes (journal, items, guards, checkpoints) per batch, not per slice.
      batchSize: options.batchSize ?? DEFAULT_BACKFILL_BATCH,
      flushAfterMs: options.storeEveryMs ?? 30_000,
      onAlerts: options.onAlerts,
      onRejection: options.onRejection,
      onStored: async (stored) => {
        const advanced = new Set<RegionRun>();
        for (const { name, stored: ok } of stored) {
          const slice = inFlight.get(name);
          inFlight.delete(name);
          if (!slice) continue;
          const run = runs.find((r) => r.region === slice.region)!;
          // Its checkpoint must not move past events that were not stored, nor past a slice that failed.
          if (run.progress.status === 'failed') continue;
          if (!ok) {
            run.progress.status = 'failed';
            run.progress.note = `events of ${iso(slice.start)}..${iso(slice.end)} could not be stored; the checkpoint stays at ${run.progress.through}`;
            report(run);
            continue;
          }
          advance(run, slice, options.now().getTime());
          advanced.add(run);
        }
        for (const run of advanced) {
          checkpoints = checkpoints.then(() => checkpoint(options, run)).then(() => report(run));
          // Awaited before the next slice and at the end; if the ingest fails first, nobody awaits it.
          checkpoints.catch(() => undefined);
        }
        await checkpoints;
      },
    });
    await checkpoints;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    internal.abort();
  }

  // Asked to stop, and something is left: a stop after the last slice changes nothing.
  const stopped = stopRequested() && runs.some((r) => r.progress.status === 'running' || r.progress.status === 'pending');
  for (const run of runs) {
    if (run.progress.status === 'running' || run.progress.status === 'pending') {
      run.progress.status = stopped ? 'stopped' : 'done';
      report(run);
    }
  }
  return { summary, regions: runs.map((r) => ({ ...r.progress })), stopped };
}

/** Reads the region's checkpoints: resume the same window, skip a finished one, or start anew. */
async function planRegion(options: BackfillOptions, region: string): Promise<RegionRun> {
  const now = options.now().getTime();
  const stored = (await options.store.queryMeta(BACKFILL_PK, `${scopedRegion(options, region)}#`)) as unknown as BackfillCheckpoint[];
  const mine = stored.filter((c) => (BACKFILL_EVENT_NAMES as readonly string[]).includes(c.eventName));
  if (options.restart) {
    for (const c of stored) await options.store.deleteMeta(BACKFILL_PK, c.sk);
  }
  const first = mine[0];
  const same =
    !options.restart &&
    first !== undefined &&
    mine.length === BACKFILL_EVENT_NAMES.length &&
    mine.every((c) => c.days === options.days && c.start === first.start && c.end === first.end);

  let note: string | null = null;
  if (!options.restart && first !== undefined && !same && mine.some((c) => !c.done)) {
    note = `discarded an unfinished ${first.days}-day backfill (${first.start.slice(0, 16)}..${first.end.slice(0, 16)}) to start a ${options.days}-day one`;
  }
  const start = same ? Date.parse(first.start) : roundSecond(now - options.days * DAY);
  const end = same ? Date.parse(first.end) : roundSecond(now);
  const through = new Map<string, number>(BACKFILL_EVENT_NAMES.map((n) => [n, start]));
  const totals = new Map<string, { pages: number; records: number }>(BACKFILL_EVENT_NAMES.map((n) => [n, { pages: 0, records: 0 }]));
  if (same) {
    for (const c of mine) {
      through.set(c.eventName, Date.parse(c.through));
      totals.set(c.eventName, { pages: c.pages, records: c.records });
    }
  }
  const cursor = Math.min(...through.values());
  const allDone = same && mine.every((c) => c.done);
  return {
    region,
    accounts: new Set(),
    uncredited: [],
    days: options.days,
    start,
    end,
    through,
    totals,
    sliceMs: same ? Math.max(...mine.map((c) => c.sliceMs ?? 0)) || (options.initialSliceMs ?? 6 * 3_600_000) : (options.initialSliceMs ?? 6 * 3_600_000),
    progress: {
      region,
      status: allDone ? 'skipped' : 'pending',
      start: iso(start),
      end: iso(end),
      through: iso(allDone ? end : cursor),
      fraction: allDone ? 1 : (cursor - start) / Math.max(1, end - start),
      pages: 0,
      records: 0,
      slices: 0,
      resumed: same && !allDone,
      note: allDone ? `already backfilled ${options.days} days up to ${iso(end).slice(0, 16)} (--restart to look them up again)` : note,
    },
  };
}

/**
 * A region's slices, oldest first. Each holds every page of the three event names in [start, end),
 * sorted by eventTime. A slice of more than `maxSlicePages` pages is fetched again at half the span.
 */
async function* regionSlices(run: RegionRun, options: BackfillOptions, signal: AbortSignal, halted: () => boolean): AsyncGenerator<Slice> {
  const client = options.clientFor(run.region);
  const limiter = options.limiterFor?.(run.region) ?? new RateLimiter({ perSecond: LOOKUP_PER_SECOND });
  const maxPages = options.maxSlicePages ?? 60;
  const minSpan = options.minSliceMs ?? 60_000;
  const pageNumbers = new Map([...run.totals].map(([n, t]) => [n, t.pages + 1]));
  let span = Math.max(minSpan, run.sliceMs);
  let cursor = Math.min(...run.through.values());
  run.progress.status = 'running';

  while (cursor < run.end && !halted()) {
    const end = Math.min(cursor + span, run.end);
    const final = end >= run.end;
    const pages = new Map<string, number>();
    const records = new Map<string, number>();
    const items: InputItem[] = [];
    let fetched = 0;
    let dense = false;
    for (const eventName of BACKFILL_EVENT_NAMES) {
      const from = Math.max(cursor, run.through.get(eventName) ?? cursor);
      if (from >= end) continue;
      const lookups = lookupPages({
        client,
        region: run.region,
        eventName,
        start: new Date(from),
        end: new Date(end),
        limiter,
        excludeEnd: !final,
        firstPage: pageNumbers.get(eventName) ?? 1,
        throttleRetries: options.throttleRetries,
        sleep: options.sleep,
        signal,
      });
      for await (const page of lookups) {
        fetched += 1;
        run.progress.pages += 1;
        pages.set(eventName, (pages.get(eventName) ?? 0) + 1);
        records.set(eventName, (records.get(eventName) ?? 0) + page.items.filter((i) => i.type === 'record').length);
        for (const item of page.items) items.push(item);
        if (fetched > maxPages && span > minSpan) {
          dense = true;
          break;
        }
      }
      if (dense) break;
    }
    if (dense) {
      span = Math.max(minSpan, Math.floor(span / 2));
      continue;
    }
    for (const [eventName, n] of pages) pageNumbers.set(eventName, (pageNumbers.get(eventName) ?? 1) + n);
    items.sort(byEventTime);
    const name = `LookupEvents ${run.region} ${iso(cursor)}..${iso(end)}`;
    for (const item of items) {
      const account = item.type === 'record' ? accountOf(item.record) : null;
      if (account) run.accounts.add(account);
    }
    yield {
      region: run.region,
      start: cursor,
      end,
      spanMs: span,
      pages,
      records,
      unit: { name, items: fromArray(items) },
    };
    cursor = end;
    // Light slices let the span grow: an empty region costs a few calls per event name, not one a slice.
    if (fetched <= maxPages / 4) span = Math.min(span * 2, Math.max(minSpan, run.end - run.start));
  }
}

/** A stored slice moves its region's totals and `through` (in memory; `checkpoint` saves them). */
function advance(run: RegionRun, slice: Slice, nowMs: number): void {
  for (const eventName of BACKFILL_EVENT_NAMES) {
    const totals = run.totals.get(eventName)!;
    totals.pages += slice.pages.get(eventName) ?? 0;
    totals.records += slice.records.get(eventName) ?? 0;
    run.through.set(eventName, Math.max(run.through.get(eventName) ?? run.start, slice.end));
  }
  // Up to the delivery lag before now: events of the last minutes may not be searchable yet.
  const end = Math.min(slice.end, nowMs - DELIVERY_LAG_MS);
  if (end > slice.start) run.uncredited.push([slice.start, end]);
  run.sliceMs = slice.spanMs;
  run.progress.slices += 1;
  run.progress.records += [...slice.records.values()].reduce((a, b) => a + b, 0);
  run.progress.through = iso(slice.end);
  run.progress.fraction = (slice.end - run.start) / Math.max(1, run.end - run.start);
  if (slice.end >= run.end) run.progress.status = 'done';
}

/** `111122223333/us-east-1` with a scope: no key of one account is a prefix of another's, nor of an unscoped one. */
function scopedRegion(options: BackfillOptions, region: string): string {
  return options.checkpointScope === undefined ? region : `${options.checkpointScope}/${region}`;
}

/** Saves a region's checkpoints and the coverage of the slices stored since the last one. */
async function checkpoint(options: BackfillOptions, run: RegionRun): Promise<void> {
  const updatedAt = options.now().toISOString();
  const done = run.progress.status === 'done';
  for (const eventName of BACKFILL_EVENT_NAMES) {
    const totals = run.totals.get(eventName)!;
    const item: BackfillCheckpoint = {
      pk: BACKFILL_PK,
      sk: checkpointSk(scopedRegion(options, run.region), eventName),
      region: run.region,
      eventName,
      days: run.days,
      start: iso(run.start),
      end: iso(run.end),
      through: iso(run.through.get(eventName)!),
      pages: totals.pages,
      records: totals.records,
      done,
      sliceMs: run.sliceMs,
      updatedAt,
    };
    await options.store.putMeta({ ...item });
  }
  await recordSliceCoverage(options, run);
}

/**
 * Slices of all regions as they are fetched (regions have separate rate limits, so they are read
 * in parallel; each region fetches its next slice while the current one is stored). Before handing
 * out the next slice it waits for the previous one's checkpoint, and stops when asked to.
 */
async function* merge<T>(sources: AsyncGenerator<T>[], settled: () => Promise<void>, stop: () => boolean): AsyncGenerator<T> {
  type Outcome = { index: number; result?: IteratorResult<T>; error?: unknown };
  const pending = new Map<number, Promise<Outcome>>();
  const pull = (index: number) => {
    const next = sources[index]!.next().then(
      (result): Outcome => ({ index, result }),
      (error: unknown): Outcome => ({ index, error }),
    );
    pending.set(index, next);
  };
  sources.forEach((_, index) => pull(index));
  while (pending.size > 0) {
    await settled();
    if (stop()) return;
    const outcome = await Promise.race(pending.values());
    pending.delete(outcome.index);
    if (outcome.error !== undefined) {
      if (stop()) return;
      throw outcome.error;
    }
    if (outcome.result!.done) continue;
    pull(outcome.index);
    yield outcome.result!.value;
  }
}

function byEventTime(a: InputItem, b: InputItem): number {
  const key = (item: InputItem) => {
    if (item.type !== 'record' || typeof item.record !== 'object' || item.record === null) return '';
    const r = item.record as Record<string, unknown>;
    return `${typeof r['eventTime'] === 'string' ? r['eventTime'] : ''}\u0000${typeof r['eventID'] === 'string' ? r['eventID'] : ''}`;
  };
  const ka = key(a);
  const kb = key(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

async function* fromArray<T>(items: readonly T[]): AsyncGenerator<T> {
  yield* items;
}

/** A sleep the signal ends early (rejecting with its reason); shared with the Athena and Lake backfills. */
export function abortableSleep(signal: AbortSignal | undefined): (ms: number) => Promise<void> {
  return (ms) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
}

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const roundSecond = (ms: number) => Math.floor(ms / 1000) * 1000;

/**
 * A stored slice is complete CloudTrail of the identity event names for its account and region,
 * up to the delivery lag before now (events of the last minutes may not be searchable yet).
 * LookupEvents returns the credential's account only; its id comes from the events themselves,
 * else from the inventory when one account has clusters in the region.
 */
async function recordSliceCoverage(options: BackfillOptions, run: RegionRun): Promise<void> {
  if (run.uncredited.length === 0) return;
  let accounts = [...run.accounts];
  if (accounts.length === 0) {
    const inventory = await options.store.loadInventory();
    accounts = [...new Set(inventory.clusters.filter((c) => c.region === run.region && c.account).map((c) => c.account!))];
    if (accounts.length !== 1) return;
  }
  const coverage = new CoverageAccumulator();
  for (const account of accounts) for (const [start, stop] of run.uncredited) coverage.addSlice(account, run.region, start, stop);
  run.uncredited = [];
  await options.store.recordCoverage(coverage.days());
}

function accountOf(record: unknown): string | null {
  if (typeof record !== 'object' || record === null) return null;
  const r = record as Record<string, unknown>;
  const identity = r['userIdentity'] as Record<string, unknown> | undefined;
  const account = r['recipientAccountId'] ?? identity?.['accountId'];
  return typeof account === 'string' && account.length > 0 ? account : null;
}

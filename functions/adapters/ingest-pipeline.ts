import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { DEFAULT_READ_LIMITS, listInputFiles, readFilesAhead, STDIN, startedNow, type InputFiles, type ReadOptions } from './cloudtrail-files';
import { DetectionStateCache } from './detection-state-cache';
import { collectGarbageNow } from './collect-garbage';
import { releaseSkimmedBytes } from './small-file-thread';
import { mapLimit } from './map-limit';
import type { DynamoEvidenceStore, StageLimits } from './dynamo-evidence-store';
import type { Alert, Detection } from '../core/alert';
import { CoverageAccumulator, fileRecordHour, placeKey, type FileRecordHour } from '../core/coverage';
import { neverReadTokens } from '../core/coverage-marks';
import { digestPlace, logFileName } from '../core/cloudtrail-digest';
import { readDigests, type DigestsRead } from './cloudtrail-digests';
import type { InputItem } from '../core/envelopes';
import type { Inventory } from '../core/inventory';
import type { Policy } from '../core/policy';
import { EVENT_KINDS, RECURRING_EVENT_FIELDS, type EventKind, type IdentityEvent, type Outcome, type SkipReason } from '../core/identity-event';
import { ingestBatch, type DetectionOptions } from '../core/ingest';
import { normalizeRecord, type EventTimeWindow, type NormalizeOptions } from '../core/normalize';
import { DEFAULT_NODE_ROLE_PATTERNS, nodeRoleMatcher, type NodeRoleMatcher } from '../core/node-roles';
import { expandRaw, OutOfScopeMemo, prefilterCovers, type RawRecord } from '../core/record-prefilter';
import { eventsHold, NONE, normalizingOf, rawRecordAt, SKIM_FIELDS_PER_RECORD, type SkimmedRecords } from '../core/record-skim';
import { EventColumnsReader } from '../core/event-columns';
import { cloudTrailEnvelope, matchesAnyRule, rulePatterns } from '../core/rule-patterns';
import { StringPool } from '../core/string-pool';

/** One problem the user must hear about: a file that could not be read or a record that was rejected. */
export interface Rejection {
  file: string;
  where: string | null;
  /** The record's field at fault, when a record (not a whole file) was rejected. */
  field?: string | null;
  reason: string;
}

export interface AnalyzeSummary {
  files: number;
  records: number;
  inScope: number;
  skipped: Record<SkipReason, number>;
  rejected: number;
  byKind: Record<EventKind, number>;
  byOutcome: Record<Outcome, number>;
  replayed: number;
  /** Files not read because an earlier run read them whole and stored their events (same content). */
  skippedFiles: number;
  itemsWritten: number;
  /** Alerts raised for the first time by this run, by detection. */
  alertsByDetection: Partial<Record<Detection, number>>;
  /** Events whose evidence could not be stored (after the store's own retries). */
  notStored: number;
  storeErrors: string[];
  seconds: number;
  /**
   * CloudTrail digest files read with the log files (and left out as read before), and the log
   * files those read list; the CLI adds how many listed files no run has read as listed, in the
   * whole store, and of those how many were read with other bytes. Absent when none was found.
   */
  digests?: { files: number; skipped: number; logFilesListed: number; logFilesUnread?: number; logFilesAltered?: number; digestsMissing?: number };
}

export interface AnalyzeOptions {
  paths: string[];
  store: DynamoEvidenceStore;
  /** Node role lists, and the detections' thresholds. */
  policy?: Policy;
  /** Run the detections (needs `policy`). @default true */
  detect?: boolean;
  /** Replaces the policy's node role patterns (the CLI's --node-role). */
  nodeRolePatterns?: string[];
  /** Node role ARNs known besides the inventory's node groups and the roles seen fetching (the deployment's `nodeRoleArns`). */
  nodeRoleArns?: readonly string[];
  /** Events per store batch (one journal each, or one stage's), so a run writes per batch, not per event; the Lambda's SQS batch plays the same role. @default 20000 */
  batchSize?: number;
  /**
   * The only writer of its store folds several batches in memory and writes each changed item once
   * per stage (DynamoEvidenceStore.stageWrites); these bound a stage. @default DEFAULT_STAGE_LIMITS
   */
  stageLimits?: Partial<StageLimits>;
  now: () => Date;
  /** Which eventTimes are plausible; the upper bound follows `now`. @default DEFAULT_EVENT_TIME_WINDOW */
  eventTimeWindow?: Partial<EventTimeWindow>;
  /**
   * Record the files this run reads whole and stores, by content (sha256 of their bytes), and skip
   * those an earlier run recorded (the CLI's analyze; stdin is always read). @default false
   */
  skipFilesRead?: boolean;
  /** With `skipFilesRead`: read the files recorded before too (and record them again). */
  reread?: boolean;
  /** Folders not read when met inside a folder given (the local store's own: cloudtrail-files `listInputFiles`). */
  skipFolders?: readonly string[];
  /** `paths` listed already, `skipFolders` skipped (the CLI lists them while the store opens). @default listed here */
  listed?: Promise<InputFiles>;
  /** What '-' reads. @default process.stdin */
  stdin?: Readable;
  onFiles?(total: number): void;
  onFileDone?(file: string, done: number, recordsSoFar: number): void;
  onRejection?(rejection: Rejection): void;
  /**
   * At the end of a unit, store what is pending once this long has passed since the last store
   * (0: after every unit). A caller that checkpoints units (backfill slices) bounds what a stop
   * leaves unstored without paying a batch's writes per unit. @default Infinity: batches span files
   */
  flushAfterMs?: number;
  /**
   * Called after each store with the units read completely since the one before, in order,
   * whether every one of their events is stored (a checkpoint may move past them only then), and
   * whether, besides, the unit had no problem of any kind (read whole: a rerun need not read it).
   */
  onStored?(units: { name: string; stored: boolean; whole: boolean }[]): Promise<void>;
  /** Called with each batch's new alerts, as soon as they are recorded. */
  onAlerts?(alerts: Alert[]): Promise<void>;
  /**
   * Which log files to mark read, for CloudTrail's digests to be checked against: those of these
   * places (`account/region`), with the SHA-256 of their bytes as read (cloudtrail-files
   * ReadOptions `contents`), asked once the unit is read. Absent: no file is marked (`readMarks`).
   */
  readMarks?: { places: ReadonlySet<string>; contentOf(unit: string): string | undefined };
  /**
   * Called before the staged evidence of this many events is written out at the end of the run:
   * at fleet scale that takes a while after the last file is read.
   */
  onWritingOut?(events: number): void;
}

/** A named piece of input (a log file, a LookupEvents page) and the records in it, one by one or in chunks. */
export interface RecordUnit {
  name: string;
  items: AsyncIterable<InputItem | readonly (InputItem | RawRecord | SkimmedRecords)[]>;
}

export type IngestOptions = Omit<AnalyzeOptions, 'paths' | 'stdin' | 'onFiles' | 'skipFilesRead' | 'reread' | 'skipFolders'>;

/**
 * Files → records → IdentityEvents → evidence, in batches. A bad file or record is reported and
 * the rest of the run goes on; nothing is dropped without being counted.
 */
export async function analyzePaths(options: AnalyzeOptions): Promise<AnalyzeSummary> {
  const listed = await (options.listed ?? listInputFiles(options.paths, { skipFolders: options.skipFolders }));
  let files = chronological(listed.files);
  let ingestOptions: IngestOptions = options;
  let skippedFiles: number | undefined;
  /** How the reading hashes the files it reads (ReadOptions `digests`), when nothing is to be skipped. */
  let digests: ReadOptions['digests'];
  if (options.skipFilesRead) {
    const hashes = new Map<string, { hash: string; size: number }>();
    /** Hashes a regular file under the reader's cap (a device or a pipe is neither hashed nor skipped nor recorded). */
    const hashIfFile = async (file: string) => {
      try {
        if (file === STDIN) return;
        const info = await stat(file);
        if (!info.isFile() || info.size > DEFAULT_READ_LIMITS.maxFileBytes) return;
        hashes.set(file, await hashFile(file, info.size));
      } catch {
        // Left to the reader, which reports why the file cannot be read (and it is not recorded).
      }
    };
    if (options.reread || !(await options.store.holdsFilesRead())) {
      // Nothing to skip (no file recorded as read, or --reread): each file is hashed as it is read,
      // by the reading thread from the very bytes it read (on the main thread, stat, open, read and
      // hash were ~1.1 s of a fleet run's 5,040 files); a file read another way is hashed first.
      digests = { digested: (file, digest) => hashes.set(file, digest), digestFirst: hashIfFile };
      skippedFiles = 0;
    } else {
      // Hashed before reading, to skip those read before: a file changed after its hash is read
      // again by the next run (its events are replays). Several at a time: a trail is thousands of
      // small files, and one after the other the run waited on each open and read.
      await mapLimit(files, HASH_CONCURRENCY, hashIfFile);
      const before = await options.store.filesRead([...new Set([...hashes.values()].map((h) => h.hash))]);
      skippedFiles = files.filter((file) => before.has(hashes.get(file)?.hash ?? '')).length;
      files = files.filter((file) => !before.has(hashes.get(file)?.hash ?? ''));
    }
    ingestOptions = {
      ...options,
      // After the store, never before: a stop between the two only reads the file again.
      onStored: async (stored) => {
        const readWhole = stored.flatMap((u) => {
          const hashed = u.whole ? hashes.get(u.name) : undefined;
          return hashed ? [{ ...hashed, name: u.name }] : [];
        });
        if (readWhole.length > 0) await options.store.recordFilesRead(readWhole, options.now());
        await options.onStored?.(stored);
      },
    };
  }
  const toRead = new Set(files);
  const digestFiles = listed.digests.length === 0 ? null : await recordDigests(await localDigestFiles(listed.digests, options), listed.files.filter((file) => !toRead.has(file)), options);
  const marks = await readMarksOf(options.store, listed.digests);
  if (marks !== null) ingestOptions = { ...ingestOptions, readMarks: marks.readMarks };
  options.onFiles?.(files.length);
  // Reading starts now, while the run loads the inventory and recovers the store (seconds at fleet scale).
  // The reading thread normalizes the identity calls with the clock the ingest reads (their events hold if it reads no earlier: record-skim `eventsHold`).
  const normalizing = () => normalizingOf({ now: options.now(), eventTimeWindow: options.eventTimeWindow });
  const units = startedNow(
    readFilesAhead(files, {
      stdin: options.stdin,
      raw: true,
      skim: true,
      normalizing,
      ...(digests === undefined ? {} : { digests }),
      ...(marks === null ? {} : { contents: marks.keep }),
    }),
  ).iteration;
  // A run that fails before its first unit (the store) stops the reading it started.
  const summary = await ingestUnits(units, ingestOptions, [...listed.problems, ...(digestFiles?.problems ?? [])]).finally(() => units.return(undefined));
  if (skippedFiles !== undefined) summary.skippedFiles = skippedFiles;
  if (digestFiles !== null) summary.digests = { files: digestFiles.read.length, skipped: digestFiles.skipped, logFilesListed: digestFiles.listed };
  return summary;
}

/**
 * The places (`account/region`) whose log files a run marks read, hashed: those of the run's
 * digests, and those where the store's digests list a file not read as listed (so that the
 * original read alone closes its hole, and a filtered copy read again does not). Null when there
 * are none: the run hashes nothing (~1.5 s of a reading thread on the fleet preset's 2.9 GB) and
 * marks nothing (a place without digests would keep its marks for ever: nothing matches them).
 */
export async function placesToMark(store: Pick<DynamoEvidenceStore, 'coverageDays'>, digests: readonly string[]): Promise<Set<string> | null> {
  const places = new Set<string>();
  for (const name of digests) {
    const place = digestPlace(name);
    if (place !== null) places.add(placeKey(place.account, place.region));
  }
  for (const d of await store.coverageDays()) if ((d.unreadFiles?.length ?? 0) > 0) places.add(placeKey(d.account, d.region));
  return places.size === 0 ? null : places;
}

/**
 * What a run that marks files read needs (`placesToMark`), or null: the read marks `ingestUnits`
 * takes, and `keep`, which the reading gives each file's content hash (cloudtrail-files
 * `contents`); a hash is held until its unit asks for it.
 */
export async function readMarksOf(
  store: Pick<DynamoEvidenceStore, 'coverageDays'>,
  digests: readonly string[],
): Promise<{ readMarks: NonNullable<AnalyzeOptions['readMarks']>; keep(file: string, sha256: string): void } | null> {
  const places = await placesToMark(store, digests);
  if (places === null) return null;
  const hashes = new Map<string, string>();
  return {
    readMarks: {
      places,
      contentOf: (unit) => {
        const sha256 = hashes.get(unit);
        hashes.delete(unit);
        return sha256;
      },
    },
    keep: (file, sha256) => void hashes.set(file, sha256),
  };
}

/** The digest files of a run: those to read, and how to record them read once their lists are stored. */
export interface DigestFiles {
  /** To read: those an earlier run read (the same content or ETag) left out. */
  names: readonly string[];
  /** Left out as read before: their lists are in the store. */
  skipped: number;
  bytesOf(name: string): Promise<Buffer>;
  /** Records these digests as read, so later runs skip them (absent: nothing recorded). */
  recordRead?(names: readonly string[]): Promise<void>;
}

/**
 * Reads the digests and records what they list, before any log file is read: a list only takes
 * proof away, so it may land first (a run stopped after it leaves holes, never a proof). Then the
 * digests are recorded as read: a trail's year is 8,760 digests per account and region, not to be
 * read by every run. `skippedLogFiles`: log files not read again because an earlier run read them
 * whole; those a digest lists and no mark says read are marked now, as a run before digests were
 * read did not mark them (it marked their hours only), so a store from then is not left with holes
 * that no run would fill. Only those: every replay marking every file would double the marks.
 */
export async function recordDigests(digests: DigestFiles, skippedLogFiles: readonly string[], options: Pick<AnalyzeOptions, 'store'>): Promise<DigestsRead & { skipped: number }> {
  const read = await readDigests(digests.names, (name) => digests.bytesOf(name));
  if (read.coverage.size > 0) await options.store.withWriterLease(() => options.store.recordCoverage(read.coverage.days()));
  if (skippedLogFiles.length > 0) {
    const neverRead = neverReadTokens(await options.store.coverageDays());
    const marks = new CoverageAccumulator();
    for (const file of skippedLogFiles) {
      const name = logFileName(file);
      if (name !== null && neverRead.has(name.token)) marks.addReadFile(name);
    }
    if (marks.size > 0) await options.store.withWriterLease(() => options.store.recordCoverage(marks.days()));
  }
  if (read.read.length > 0) await digests.recordRead?.(read.read);
  return { ...read, skipped: digests.skipped };
}

/**
 * Local digest files: each hashed (sha256 of its bytes, as a log file is recorded), those an
 * earlier run recorded left out unless `reread`; recorded by the same hash once read. Without
 * `skipFilesRead` (a caller that records no file), every one is read and none recorded.
 */
export async function localDigestFiles(names: readonly string[], options: Pick<AnalyzeOptions, 'store' | 'skipFilesRead' | 'reread' | 'now'>): Promise<DigestFiles> {
  const bytesOf = (name: string) => readFile(name);
  if (!options.skipFilesRead) return { names, skipped: 0, bytesOf };
  const hashes = new Map<string, { hash: string; size: number }>();
  await mapLimit(names, HASH_CONCURRENCY, async (name) => {
    try {
      hashes.set(name, await hashFile(name, (await stat(name)).size));
    } catch {
      // Left to the reading, which says why the file cannot be read (and it is not recorded).
    }
  });
  const before = options.reread ? new Set<string>() : await options.store.filesRead([...new Set([...hashes.values()].map((h) => h.hash))]);
  const toRead = names.filter((name) => !before.has(hashes.get(name)?.hash ?? ''));
  return {
    names: toRead,
    skipped: names.length - toRead.length,
    bytesOf,
    recordRead: async (read) => {
      const files = read.flatMap((name) => {
        const hashed = hashes.get(name);
        return hashed === undefined ? [] : [{ ...hashed, name }];
      });
      if (files.length > 0) await options.store.recordFilesRead(files, options.now());
    },
  };
}

/**
 * A full collection when a batch goes to the store, once this many events were read since the last
 * one: the batch read before it is garbage then, and what is live is at its least. V8 left to
 * itself let the main heap grow to 260–290 MB committed around ~100 MB live while reading the
 * fleet preset; collected at each batch (20,000 events), 210–230 MB, and analyze's peak 609–620 →
 * 504–520 MB with no change in its time (two runs each). Not per batch whatever its size: a run of
 * tiny batches (tests, --batch-size 10) would collect a heap hundreds of times.
 */
const COLLECT_EVERY_EVENTS = 10_000;

/** Files hashed at once before a run: enough to keep the disk and the thread pool busy, few enough to bound memory. */
const HASH_CONCURRENCY = 8;
/** Up to this size a file is hashed from one read; above it, in a stream (memory stays bounded). */
const HASH_WHOLE_BYTES = 8 * 1024 * 1024;

/** The sha256 of a file's bytes as stored (compressed or not). */
async function hashFile(file: string, statSize: number): Promise<{ hash: string; size: number }> {
  if (statSize <= HASH_WHOLE_BYTES) {
    const bytes = await readFile(file);
    return { hash: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
  }
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { hash: hash.digest('hex'), size };
}

/**
 * Any source of records (log files, CloudTrail LookupEvents pages) through the same normalizer,
 * detections and store. `problems` are counted as rejections before the first unit.
 */
export async function ingestUnits(
  units: AsyncIterable<RecordUnit>,
  options: IngestOptions,
  problems: readonly Extract<InputItem, { type: 'problem' }>[] = [],
): Promise<AnalyzeSummary> {
  const started = process.hrtime.bigint();
  const summary = emptySummary();
  for (const problem of problems) reject(problem);

  // Node roles: the patterns, the inventory's node groups, and every role seen fetching Pod Identity.
  // All read at the first unit (`prepareReading`): a run with nothing to read reads none of it.
  let inventory!: Inventory;
  const knownNodeRoles = new Set<string>();
  const nodeRoleConfig = () => ({
    patterns: options.nodeRolePatterns ?? options.policy?.nodeRoleFallthrough.nodeRolePatterns,
    expectedCalls: options.policy?.nodeRoleFallthrough.expectedCalls,
    roleArns: knownNodeRoles,
  });
  let matcher!: NodeRoleMatcher;
  let rules!: ReturnType<typeof rulePatterns>;
  /** Whether a raw record's skeleton can decide the rules (core/record-prefilter); when not, every record is parsed. */
  let prefilter: OutOfScopeMemo | null = null;
  /** The matcher, the rules and the prefilter on the node roles known now (they grow as Pod Identity fetches name more). */
  const buildRules = () => {
    matcher = nodeRoleMatcher(nodeRoleConfig());
    // The deployed rules' patterns, built the same way: a record no rule would deliver is not read here either.
    rules = rulePatterns({ nodeRoleArns: [...knownNodeRoles], nodeRolePatterns: nodeRoleConfig().patterns ?? DEFAULT_NODE_ROLE_PATTERNS });
    prefilter = prefilterCovers(rules) ? new OutOfScopeMemo(rules) : null;
  };
  let cache: DetectionStateCache | null = null;
  let detection: DetectionOptions | undefined;
  let prepared = false;
  /**
   * Reads the inventory and the node roles seen before, and builds the rules and detections on
   * them, once, before the first unit's records are decided. A replay whose files were all read
   * before has no unit: at 20,000 namespaces that took 1.36–1.61 s down to 1.03–1.09 s.
   */
  const prepareReading = async () => {
    if (prepared) return;
    prepared = true;
    inventory = await options.store.loadInventory();
    const observed = (await options.store.scopes()).filter((s) => s['kind'] === 'noderole').map((s) => String(s['name']));
    for (const arn of [...(options.nodeRoleArns ?? []), ...inventory.nodegroups.map((n) => n.nodeRoleArn), ...observed]) knownNodeRoles.add(arn);
    buildRules();
    // The only writer can keep what the detections remember from one batch to the next instead of reading it again.
    cache = options.policy && options.detect !== false && options.store.singleWriter ? new DetectionStateCache(options.store) : null;
    detection = options.policy && options.detect !== false ? { policy: options.policy, inventory, port: cache ?? options.store } : undefined;
  };

  const batchSize = options.batchSize ?? 20_000;
  let batch: IdentityEvent[] = [];
  const recurring = new StringPool();
  /**
   * Units read completely whose events are in `batch` (or in batches flushed since `firstFlush`),
   * with their coverage. Coverage says no record of its hours is missing from the store, so a
   * unit's is recorded only once every event it read is stored or committed: not when some could
   * not be (another writer holds them uncommitted, or a write failed), which the run reports and a
   * rerun records.
   */
  let unitsRead: UnitRead[] = [];
  /**
   * A batch is stored while the next is read (its store work is mostly waiting on the store's
   * thread): at most one flush runs, and the next starts once it has settled. Flushes are numbered
   * in order; a unit's events went to the flushes from its `firstFlush` to the one that takes it.
   */
  let flushing: Promise<void> | null = null;
  let flushesStarted = 0;
  const failedFlushes: number[] = [];
  let lastFlush = Date.now();
  /**
   * What a flush proved waits here until the events it read are in the table: at once for a store
   * that writes every batch, after the write-out of the stage holding them for a staged one.
   * Coverage, a file recorded as read and a backfill checkpoint each say "these events are in the
   * table"; written at the commit of a staged batch, a reader (or a run after a lost write-out)
   * would pair them with evidence that lacks the staged events: a READY that is not.
   */
  let awaiting: Awaiting = { coverage: new CoverageAccumulator(), units: [] };
  let lostStagesAtStart = 0;
  let eventsSinceCollection = 0;
  /** Starts storing the batch read so far, once the flush before it has settled (rethrowing its error). */
  const flush = async () => {
    await settled();
    const events = batch;
    batch = [];
    const units = unitsRead;
    unitsRead = [];
    eventsSinceCollection += events.length;
    if (eventsSinceCollection >= COLLECT_EVERY_EVENTS) {
      eventsSinceCollection = 0;
      // Started, not awaited: it runs on this thread before long, while the store's thread works.
      void collectGarbageNow();
    }
    const running = store(events, units, flushesStarted++);
    // Rethrown where it is awaited (settled); until then it must not count as unhandled.
    running.catch(() => undefined);
    flushing = running;
  };
  const settled = async () => {
    const running = flushing;
    flushing = null;
    if (running !== null) await running;
  };
  const store = async (events: IdentityEvent[], units: UnitRead[], number: number) => {
    // One writer lease per batch (a table shared with the live ingest), not per run.
    const written = await options.store.withWriterLease(async () => {
      if ((await flushEvents(events)) > 0) failedFlushes.push(number);
      for (const unit of units) {
        // Flushes settle in order: every one that holds some of this unit's events has.
        const stored = !failedFlushes.some((n) => n >= unit.firstFlush && n <= number);
        if (stored && !unit.broken) awaiting.coverage.addAll(unit.coverage);
        awaiting.units.push({ name: unit.name, stored, whole: stored && !unit.broken && !unit.rejected });
      }
      const ready = takeWrittenOut();
      if (ready !== null && ready.coverage.size > 0) await options.store.recordCoverage(ready.coverage.days());
      return ready;
    });
    lastFlush = Date.now();
    if (written !== null && written.units.length > 0) await options.onStored?.(written.units);
  };
  /** What awaits a write-out, once everything committed is in the table (null while some is staged). */
  const takeWrittenOut = (): Awaiting | null => {
    if ((options.store.lostStages ?? 0) !== lostStagesAtStart) {
      // A write-out failed: its items wait for a recovery of its journal, or were never committed,
      // so nothing awaiting is proven; a rerun reads those units again (replays, or counted anew).
      const lost = { coverage: new CoverageAccumulator(), units: awaiting.units.map((u) => ({ ...u, stored: false, whole: false })) };
      awaiting = { coverage: new CoverageAccumulator(), units: [] };
      return lost;
    }
    if ((options.store.stagedBatches ?? 0) > 0) return null;
    const written = awaiting;
    awaiting = { coverage: new CoverageAccumulator(), units: [] };
    return written;
  };
  const flushEvents = async (events: IdentityEvent[]): Promise<number> => {
    if (events.length === 0) return 0;
    const result = await ingestBatch(events, options.store, options.now(), detection);
    cache?.observe(events, inventory);
    await deliver(result.alerts);
    summary.replayed += result.replayed;
    summary.itemsWritten += result.itemsWritten;
    summary.notStored += result.failedEventIds.length;
    for (const error of result.errors) summary.storeErrors.push(error instanceof Error ? error.message : String(error));
    return result.failedEventIds.length;
  };

  // One writer: batches are staged, and each changed item is written once per stage, not per batch.
  // A run that throws before a write-out loses that stage's counts, not its events: none of them is
  // in the table or guarded, and their files are not recorded as read, so the next run counts them.
  // (Stores built for tests may have no stage: they write per batch.)
  const staged = options.store.stageWrites?.(options.stageLimits) === true;
  lostStagesAtStart = options.store.lostStages ?? 0;
  // A run killed mid-write-out left the stage's journal, which only a batch's recovery finishes: a
  // rerun that reads nothing new (its files recorded as read) finishes it here.
  if (staged) await deliver(await options.store.recover(options.now()));
  // The reading loop's functions, made once for the run, not once a file: made in the loop, each
  // file's closures were optimized anew (`decideSkimmed` compiled 11 times in a fleet run, ~0.4 s of
  // the optimizing compiler's work, with no deoptimization of its own). What is a file's own comes
  // as arguments.

  /** Counts an event and adds it to the batch (its recurring strings pooled when `share`): whether the batch is full. */
  const took = (event: IdentityEvent, share: boolean): boolean => {
    summary.inScope += 1;
    summary.byKind[event.kind] += 1;
    summary.byOutcome[event.outcome] += 1;
    if (event.kind === 'pod-identity-fetch' && event.nodeRoleArn && !knownNodeRoles.has(event.nodeRoleArn)) {
      knownNodeRoles.add(event.nodeRoleArn);
      buildRules();
    }
    batch.push(share ? recurring.share(event, RECURRING_EVENT_FIELDS) : event);
    return batch.length >= batchSize;
  };
  /**
   * The unit's items, its raw records decided first (core/record-prefilter): one the rules leave
   * out of scope is counted here from its skeleton, as the parsed record would be below; any
   * other is parsed and handed on. Lazy, so each raw record meets the rules as they are when it
   * is reached (they grow as node roles are seen).
   */
  function* decide(entries: readonly (InputItem | RawRecord | SkimmedRecords)[], unitCoverage: CoverageAccumulator, normalizeOptions: NormalizeOptions): Generator<InputItem | MatchedRecord | NormalizedRecord> {
    for (const entry of entries) {
      if (entry.type === 'skimmed') yield* decideSkimmed(entry, unitCoverage, normalizeOptions);
      else if (entry.type !== 'raw') yield entry;
      else if (prefilter !== null && entry.skeleton !== null && prefilter.outOfScope(entry.skeleton)) {
        summary.records += 1;
        noteCoverage(unitCoverage, entry.skeleton);
        summary.skipped['out-of-scope'] += 1;
      } else yield* expandRaw(entry);
    }
  }
  /**
   * `decide` for a file the reading thread skimmed (core/record-skim): the same verdicts, per key,
   * and the same coverage, each hour of the file noted once. A record whose key says a rule
   * matches it comes as `matched`, its hour noted here: matching the rules again on the parsed
   * record, and reading its hour from it, were ~0.7 s of the main thread on the fleet preset.
   * One the reading thread normalized comes as its event (`normalized`), when that event is
   * what this thread would make of it (record-skim `eventsHold`).
   */
  function* decideSkimmed(skimmed: SkimmedRecords, unitCoverage: CoverageAccumulator, normalizeOptions: NormalizeOptions): Generator<InputItem | MatchedRecord | NormalizedRecord> {
    const { records, dictionary, hours } = skimmed;
    const events = skimmed.events !== undefined && skimmed.events !== null && eventsHold(skimmed.events.normalizing, normalizeOptions) ? skimmed.events : null;
    const reader = events === null ? null : new EventColumnsReader(events, (value) => recurring.string(value));
    const noted = new Uint8Array(hours.length);
    /** The coverage of the record at `at`: its hour, each hour of the file once. */
    const noteHourOf = (at: number) => {
      const hour = records[at + 3] as number;
      if (hour !== NONE && noted[hour] === 0) {
        noted[hour] = 1;
        unitCoverage.addFileRecord(...(hours[hour] as FileRecordHour));
      }
    };
    for (let i = 0, at = 0; at < records.length; i++, at += SKIM_FIELDS_PER_RECORD) {
      const key = records[at + 2] as number;
      if (prefilter !== null && key !== NONE && prefilter.outOfScopeKey(dictionary, key)) {
        summary.records += 1;
        noteHourOf(at);
        summary.skipped['out-of-scope'] += 1;
      } else if (records[at] === NONE) {
        // Left out by the reading thread as out of scope for any rules, yet these rules may want
        // it: cannot happen with rules rulePatterns builds. Said, never guessed: the file is not
        // proven read, so a rerun reads it again.
        yield { type: 'problem', file: skimmed.file, where: `record ${i + 1}`, reason: 'internal error (please report it): the reading thread left out a record these rules may want; the file is not counted as read' };
      } else if (prefilter !== null && key !== NONE && prefilter.matchesKey(dictionary, key)) {
        // In scope by its key: its hour noted as above, and no rule matched again on the record.
        noteHourOf(at);
        const event = events === null ? NONE : (events.of[i] as number);
        if (event !== NONE) yield { type: 'normalized', event: (reader as EventColumnsReader).eventAt(event) };
        else for (const item of expandRaw(rawRecordAt(skimmed, i))) yield item.type === 'record' ? { ...item, type: 'matched' } : item;
      } else yield* expandRaw(rawRecordAt(skimmed, i));
    }
    // Asked for more, the caller is done with every record read from these bytes: they are
    // freed on the reading thread, soon, not at this thread's next full collection.
    releaseSkimmedBytes(skimmed.bytes);
  }

  let done = 0;
  try {
    for await (const unit of units) {
      await prepareReading();
      summary.files += 1;
      const unitCoverage = new CoverageAccumulator();
      /** A file that could not be read whole (truncated, over a cap, not JSON past a point) proves no hour complete. */
      let unitBroken = false;
      /** A rejected record is no reason to doubt the hours, but its file is read (and the record reported) again. */
      let unitRejected = false;
      /** Events of this unit may go to a batch flushed mid-unit, and to every one after it until the unit is read. */
      const firstFlush = flushesStarted;
      const normalizeOptions = { now: options.now(), eventTimeWindow: options.eventTimeWindow };
      for await (const got of unit.items) {
        for (const item of decide(isChunk(got) ? got : [got], unitCoverage, normalizeOptions)) {
          if (item.type === 'problem') {
            unitBroken = true;
            reject(item);
            continue;
          }
          summary.records += 1;
          if (item.type === 'normalized') {
            // its strings already the pool's (EventColumnsReader)
            if (took(item.event, false)) await flush();
            continue;
          }
          if (item.type === 'record') {
            if (LOG_FILE_RECORD.test(item.where) && isRecord(item.record)) noteCoverage(unitCoverage, item.record);
            if (isRecord(item.record) && !matchesAnyRule(cloudTrailEnvelope(item.record), rules) && hasSource(item.record)) {
              summary.skipped['out-of-scope'] += 1;
              continue;
            }
          }
          const result = normalizeRecord(item.record, matcher, normalizeOptions);
          if (result.status === 'skipped') summary.skipped[result.reason] += 1;
          else if (result.status === 'rejected') {
            unitRejected = true;
            reject({ file: item.file, where: item.where, field: result.field, reason: result.detail });
          } else if (took(result.event, true)) await flush();
        }
      }
      // A log file a digest lists is no longer missing once read whole (its coverage is kept only
      // then). Marked only in a run that checks files against digests (it hashes them): a store
      // without digests keeps no marks (~300 a day on a real trail); a file read before digests
      // came is marked when a run skips it (recordDigests).
      const marks = options.readMarks;
      const logFile = marks === undefined ? null : logFileName(unit.name);
      const content = marks?.contentOf(unit.name);
      if (logFile !== null && marks?.places.has(placeKey(logFile.account, logFile.region)) === true) unitCoverage.addReadFile(logFile, content);
      // Coverage claims the unit's hours are complete: it is stored only after the unit's events are.
      unitsRead.push({ name: unit.name, firstFlush, coverage: unitCoverage, broken: unitBroken, rejected: unitRejected });
      if (Date.now() - lastFlush >= (options.flushAfterMs ?? Infinity)) {
        await flush();
        await settled();
        // A caller that checkpoints units bounds what a stop leaves to redo: the stage goes out too.
        if (staged) await writeOut(false);
      }
      done += 1;
      options.onFileDone?.(unit.name, done, summary.records);
    }
  } catch (error) {
    // A flush still running finishes (its batch is committed or not, as after a kill) before the error goes up.
    await settled().catch(() => undefined);
    throw error;
  }
  await flush();
  await settled();
  if (staged) await writeOut(true);
  summary.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return summary;

  async function deliver(alerts: Alert[]) {
    for (const alert of alerts) summary.alertsByDetection[alert.detection] = (summary.alertsByDetection[alert.detection] ?? 0) + 1;
    if (alerts.length > 0) await options.onAlerts?.(alerts);
  }

  /**
   * Writes the stage out (and, at the end of the run, stops staging), then records what waited for
   * it. A failure once the stage's journal is committed leaves the rest to the next recovery; one
   * before leaves nothing of the stage in the table, and its files unrecorded: read again next run.
   */
  async function writeOut(end: boolean) {
    const waiting = options.store.stagedEvents;
    if (end && waiting > 0) {
      options.onWritingOut?.(waiting);
      // The reading's garbage goes before the write-out adds its own: the run's peak was there.
      await collectGarbageNow();
    }
    try {
      await (end ? options.store.endStaging() : options.store.writeStaged());
    } catch (error) {
      summary.notStored += waiting;
      summary.storeErrors.push(`${error instanceof Error ? error.message : String(error)} (${waiting} events not written yet: the next run finishes the write-out from its journal, or reads their files again)`);
    }
    const written = takeWrittenOut();
    if (written === null) return;
    if (written.coverage.size > 0) await options.store.withWriterLease(() => options.store.recordCoverage(written.coverage.days()));
    if (written.units.length > 0) await options.onStored?.(written.units);
  }

  function reject(problem: Extract<InputItem, { type: 'problem' }> | Rejection) {
    summary.rejected += 1;
    options.onRejection?.({ file: problem.file, where: problem.where ?? null, field: 'field' in problem ? (problem.field ?? null) : null, reason: problem.reason });
  }
}

/** A trail's record that the rules held when it was reached match (its key said so), its coverage noted: `decideSkimmed`. */
interface MatchedRecord {
  type: 'matched';
  file: string;
  where: string;
  record: unknown;
}

/** A record the reading thread normalized (record-skim `SkimEvents`), its coverage noted: `decideSkimmed`. */
interface NormalizedRecord {
  type: 'normalized';
  event: IdentityEvent;
}

/** A unit read to its end, waiting for the flush that takes its last events (see `unitsRead` in ingestUnits). */
interface UnitRead {
  name: string;
  /** The first flush that may hold its events. */
  firstFlush: number;
  coverage: CoverageAccumulator;
  /** Not read whole (truncated, over a cap, not JSON past a point): it proves no hour complete. */
  broken: boolean;
  /** A record was rejected: no reason to doubt its hours, but it is read (and the record reported) again. */
  rejected: boolean;
}

/** What a flush proved, waiting for its events to be in the table (see `awaiting` in ingestUnits). */
interface Awaiting {
  coverage: CoverageAccumulator;
  units: { name: string; stored: boolean; whole: boolean }[];
}

/** A summary with nothing counted yet; callers that add runs together start from it too. */
export function emptySummary(): AnalyzeSummary {
  return {
    files: 0,
    records: 0,
    inScope: 0,
    skipped: { 'out-of-scope': 0, 'non-eks-web-identity': 0, 'expected-node-traffic': 0 },
    rejected: 0,
    byKind: Object.fromEntries(EVENT_KINDS.map((k) => [k, 0])) as Record<EventKind, number>,
    byOutcome: { success: 0, denied: 0, 'invalid-token': 0, error: 0 },
    replayed: 0,
    skippedFiles: 0,
    itemsWritten: 0,
    alertsByDetection: {},
    notStored: 0,
    storeErrors: [],
    seconds: 0,
  };
}

/**
 * CloudTrail names each log file after its delivery time (`…_20261122T1405Z_….json.gz`). Reading in
 * that order across accounts and regions, not per folder, lets the detections see a cluster's
 * history in order even when its IRSA calls are logged in us-east-1 (global STS endpoint).
 */
export function chronological(files: readonly string[]): string[] {
  const stamp = (file: string) => /_(\d{8}T\d{4}Z)_[^/]*$/.exec(file)?.[1] ?? '';
  return files
    .map((file, index) => ({ file, index, stamp: stamp(file) }))
    .sort((a, b) => (a.stamp < b.stamp ? -1 : a.stamp > b.stamp ? 1 : a.index - b.index))
    .map((f) => f.file);
}

/**
 * A record of a trail's log file (`{"Records": [...]}` at the top of a document): such files hold
 * every record of their account, region and minutes, so their hours count as coverage. LookupEvents
 * output, EventBridge and SQS envelopes hold only what was selected and prove nothing about the rest.
 */
const LOG_FILE_RECORD = /^record \d+$/;

function noteCoverage(coverage: CoverageAccumulator, record: Record<string, unknown>): void {
  const hour = fileRecordHour(record);
  if (hour !== null) coverage.addFileRecord(...hour);
}

const isChunk = (got: InputItem | readonly (InputItem | RawRecord | SkimmedRecords)[]): got is readonly (InputItem | RawRecord | SkimmedRecords)[] => Array.isArray(got);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A record without eventSource/eventName goes on to the normalizer, which rejects it naming the field. */
function hasSource(record: Record<string, unknown>): boolean {
  return typeof record['eventSource'] === 'string' && typeof record['eventName'] === 'string';
}

/**
 * Coverage: for which time ranges the store holds *complete* CloudTrail of an account and region.
 *
 * "No IRSA assume in 14 days" is only true if every record of those 14 days was read for the
 * account and region where the assumes would be recorded. Absence of evidence is evidence only
 * where coverage says so; everywhere else the honest verdict is UNKNOWN.
 *
 * Three sources, each telling what it can prove:
 *
 * | source     | what is recorded                              | what it proves                                  |
 * |------------|-----------------------------------------------|--------------------------------------------------|
 * | `files`    | the UTC hours that had records in a trail's   | the hours between the first and last of a run of |
 * |            | log files (any record, in scope or not)       | such hours; the run's first and last hours may   |
 * |            |                                               | be partial, so they prove nothing               |
 * | `backfill` | each LookupEvents slice `[start, end)`        | exactly that range (LookupEvents is complete)    |
 * | `live`     | the hours in which the deployed ingest        | continuous coverage while the gaps between them  |
 * |            | received identity events (a heartbeat)        | stay within `liveGapHours` (the same threshold   |
 * |            |                                               | the no-events alarm uses)                        |
 *
 * A trail that logs a region has records every hour (nodes call EC2, ECR and the EKS agent
 * continuously), so an hour with none inside a run is a hole: logs not synced, a prefix not
 * copied. A file lost from an hour that has others is seen only through CloudTrail's digest files
 * (core/cloudtrail-digest): a log file they list that no run read whole takes the hours of its
 * events out of what `files` proves. Coverage is stored as set unions (DynamoDB `ADD` on string sets), so recording it is
 * idempotent under replay and commutative across sources and writers.
 */

import type { DigestName, ListedLogFile, LogFileName } from './cloudtrail-digest';
import { derivedFromMarks, describeUnread, FILE_MARK_SETS, missingOf, unreadOf, type MissingDigest, type UnreadLogFile } from './coverage-marks';
import { gapsIn, mergeIntervals, subtractIntervals, type Interval } from './intervals';

export { gapsIn, mergeIntervals, type Interval };
import { isoTime as iso } from './iso-time';

export type CoverageSource = 'files' | 'backfill' | 'live';
export const COVERAGE_SOURCES: readonly CoverageSource[] = ['files', 'backfill', 'live'];

/**
 * One (account, region, UTC day) of coverage: as a run collects it (with the marks of log files and
 * digests, core/coverage-marks), and as a store gives it back (with what the marks say instead).
 * Hours are `HH`; slices `start/end` ISO.
 */
export interface CoverageDay {
  account: string;
  region: string;
  /** `YYYY-MM-DD` */
  day: string;
  fileHours: string[];
  liveHours: string[];
  slices: string[];
  /**
   * Log files of this place delivered this day (by their name's time) that were read whole, as
   * `<YYYYMMDDTHHmmZ>_<unique>` (core/cloudtrail-digest), with ` <sha256>` of the bytes read when
   * the run hashed them (it does when it has digests): what a digest's list is checked against.
   */
  readFiles?: string[];
  /** Log files CloudTrail's digests list for this place and day, as `<token> <oldest event> <newest event> <sha256 or ->`. */
  listedFiles?: string[];
  /** From a store: the listed files not read, as listed, ` altered` after those read only with other bytes (`derivedFromMarks`). */
  unreadFiles?: string[];
  /** CloudTrail digests read whose end is this day, as `<trail>@<end>` (core/cloudtrail-digest `DigestName`). */
  digests?: string[];
  /** Digests those read name as the one before them (`previousDigestS3Object`), under the day of their own end. */
  previousDigests?: string[];
  /** From a store: digests named and not read, gaps in the chain whose hours of deliveries nothing lists (`derivedFromMarks`). */
  missingDigests?: string[];
}

/** The string sets of a coverage item: each grown by union (the marks compacted: coverage-marks). */
export const COVERAGE_SETS = ['fileHours', 'liveHours', 'slices', ...FILE_MARK_SETS] as const;

export interface CoverageRules {
  /** Live heartbeats further apart than this leave a gap between them. @default 6 */
  liveGapHours: number;
}

export const DEFAULT_COVERAGE_RULES: CoverageRules = { liveGapHours: 6 };

/**
 * Delivery lag: CloudTrail delivers log files "within an average of about 5 minutes of an API
 * call" and does not guarantee it (AWS CloudTrail User Guide, "How CloudTrail works"); EventBridge
 * receives management events on a best-effort basis. A verdict's window ends this long before its
 * as-of, so the last minutes, which may not have arrived yet, are not counted as silence.
 */
export const DELIVERY_LAG_MS = 3_600_000;


/** The ingest's metric of identity events per `region` dimension: the heartbeat the no-events alarms watch. */
export const IDENTITY_EVENTS_BY_REGION = 'IdentityEventsByRegion';
/** The trail fold's metric of log objects read per `region` dimension: its heartbeat, for the same alarms. */
export const TRAIL_OBJECTS_BY_REGION = 'TrailObjectsByRegion';
/** The trail fold's metric of in-scope events per `kind` dimension, for the dashboard (the live ingest's `Events` has kind and outcome). */
export const TRAIL_EVENTS_BY_KIND = 'TrailEventsByKind';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const placeKey = (account: string, region: string): string => `${account}/${region}`;

/**
 * What an account id and a region may look like to count as coverage: the rules the normalizer
 * applies to an event's (core/normalize.ts). Coverage reads every record of a log file, in scope or
 * not, before any of them is validated; a record naming an account of 3,000 characters would make
 * a sort key past DynamoDB's 1,024 bytes and fail the run's coverage write. Such a record proves
 * nothing and is left out; the rest of its file still counts.
 */
const COVERAGE_ACCOUNT = /^[A-Za-z0-9_-]{1,32}$/;
const COVERAGE_REGION = /^[a-z0-9-]{1,32}$/;
/**
 * A UTC hour that exists: `2026-11-19T47` would be read as hour 47 of the 19th, two days later,
 * and records so dated could prove hours whose logs were never read. Not checked: Feb 30 (read as
 * March 2) and far-future hours, which lie after any as-of and so prove nothing a verdict uses.
 */
const COVERAGE_HOUR = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3])/;

/** What a trail log file's record says of its hour: account, region, eventTime (addFileRecord's arguments). */
export type FileRecordHour = readonly [account: string | null, region: string | null, eventTime: string];

/**
 * The hour a record of a trail's log file proves to have had records, in or out of scope: read
 * from the record or from its skeleton (core/record-prefilter keeps these fields). Null without
 * an eventTime.
 */
export function fileRecordHour(record: Record<string, unknown>): FileRecordHour | null {
  const time = record['eventTime'];
  if (typeof time !== 'string') return null;
  const identity = record['userIdentity'] as Record<string, unknown> | undefined;
  const account = record['recipientAccountId'] ?? identity?.['accountId'];
  const region = record['awsRegion'];
  return [typeof account === 'string' ? account : null, typeof region === 'string' ? region : null, time];
}

/** Collects coverage while records are read; `days()` gives the items to store. */
export class CoverageAccumulator {
  private readonly byDay = new Map<string, { account: string; region: string; day: string } & Record<(typeof COVERAGE_SETS)[number], Set<string>>>();

  /** A record from a trail's log file (in scope or not): its hour had records. */
  addFileRecord(account: string | null, region: string | null, eventTime: string): void {
    this.addHour('fileHours', account, region, eventTime);
  }

  /** An identity event the deployed ingest received: the pipeline was alive in its hour. */
  addLiveEvent(account: string | null, region: string | null, eventTime: string): void {
    this.addHour('liveHours', account, region, eventTime);
  }

  /**
   * A log file, by its name, read whole and its events stored, with the SHA-256 of its bytes
   * (uncompressed) when they were hashed: it is no longer missing from a digest's list, if the
   * bytes are those listed.
   */
  addReadFile(file: LogFileName, sha256?: string): void {
    this.entry(file.account, file.region, file.day).readFiles.add(sha256 === undefined ? file.token : `${file.token} ${sha256}`);
  }

  /** A log file a CloudTrail digest lists: until it is read, the hours of its events are not proven by files. */
  addListedFile(file: ListedLogFile): void {
    this.entry(file.account, file.region, file.day).listedFiles.add(`${file.token} ${iso(file.oldest)} ${iso(file.newest)} ${file.sha256 ?? '-'}`);
  }

  /** A digest read, and the one before it that it names: a digest named and never read is a gap in the chain. */
  addDigest(digest: DigestName, previous: DigestName | null): void {
    this.entry(digest.account, digest.region, digest.day).digests.add(digest.token);
    if (previous !== null) this.entry(previous.account, previous.region, previous.day).previousDigests.add(previous.token);
  }

  /** A LookupEvents slice read completely; split at UTC days so each day's item holds its part. */
  addSlice(account: string, region: string, start: number, end: number): void {
    for (let from = start; from < end; ) {
      const dayEnd = Math.floor(from / DAY) * DAY + DAY;
      const to = Math.min(end, dayEnd);
      this.entry(account, region, isoDay(from)).slices.add(`${iso(from)}/${iso(to)}`);
      from = to;
    }
  }

  /** Adds what another accumulator collected (a unit's coverage once its events are stored). */
  addAll(other: CoverageAccumulator): void {
    for (const d of other.days()) {
      const e = this.entry(d.account, d.region, d.day);
      for (const h of d.fileHours) e.fileHours.add(h);
      for (const h of d.liveHours) e.liveHours.add(h);
      for (const s of d.slices) e.slices.add(s);
      for (const f of d.readFiles ?? []) e.readFiles.add(f);
      for (const f of d.listedFiles ?? []) e.listedFiles.add(f);
      for (const f of d.digests ?? []) e.digests.add(f);
      for (const f of d.previousDigests ?? []) e.previousDigests.add(f);
    }
  }

  get size(): number {
    return this.byDay.size;
  }

  days(): CoverageDay[] {
    return [...this.byDay.values()].map((e) => ({
      account: e.account,
      region: e.region,
      day: e.day,
      fileHours: [...e.fileHours].sort(),
      liveHours: [...e.liveHours].sort(),
      slices: [...e.slices].sort(),
      // only where there are some: items of trails without file names or digests stay as they were
      ...(e.readFiles.size > 0 ? { readFiles: [...e.readFiles].sort() } : {}),
      ...(e.listedFiles.size > 0 ? { listedFiles: [...e.listedFiles].sort() } : {}),
      ...(e.digests.size > 0 ? { digests: [...e.digests].sort() } : {}),
      ...(e.previousDigests.size > 0 ? { previousDigests: [...e.previousDigests].sort() } : {}),
    }));
  }

  private addHour(field: 'fileHours' | 'liveHours', account: string | null, region: string | null, eventTime: string): void {
    if (!account || !region || !COVERAGE_ACCOUNT.test(account) || !COVERAGE_REGION.test(region) || !COVERAGE_HOUR.test(eventTime)) return;
    this.entry(account, region, eventTime.slice(0, 10))[field].add(eventTime.slice(11, 13));
  }

  private entry(account: string, region: string, day: string) {
    const key = `${account}|${region}|${day}`;
    let e = this.byDay.get(key);
    if (!e) {
      e = { account, region, day, fileHours: new Set(), liveHours: new Set(), slices: new Set(), readFiles: new Set(), listedFiles: new Set(), digests: new Set(), previousDigests: new Set() };
      this.byDay.set(key, e);
    }
    return e;
  }
}

/** What is known of one account and region: the ranges proven complete, and by which sources. */
export interface PlaceCoverage {
  account: string;
  region: string;
  /** Merged, sorted, non-overlapping `[start, end)` ranges, epoch ms. */
  intervals: Interval[];
  sources: CoverageSource[];
  /** Log files CloudTrail's digests list here that were not read, oldest events first: their hours are not proven by files. */
  unread: UnreadLogFile[];
  /** Digests named by the next one and not read, oldest first: the hours of their deliveries are not proven by files either. */
  missingDigests: MissingDigest[];
}

/** Stored days → per (account, region) proven ranges, by the table at the top of this file. */
export function placeCoverage(days: readonly CoverageDay[], rules: CoverageRules = DEFAULT_COVERAGE_RULES): Map<string, PlaceCoverage> {
  const byPlace = new Map<
    string,
    {
      account: string;
      region: string;
      fileHours: number[];
      liveHours: number[];
      slices: Interval[];
      sources: Set<CoverageSource>;
      marks: Record<(typeof FILE_MARK_SETS)[number], string[]>;
      unreadFiles: string[];
      missingDigests: string[];
    }
  >();
  for (const d of days) {
    const key = placeKey(d.account, d.region);
    let p = byPlace.get(key);
    if (!p) {
      p = { account: d.account, region: d.region, fileHours: [], liveHours: [], slices: [], sources: new Set(), marks: { readFiles: [], listedFiles: [], digests: [], previousDigests: [] }, unreadFiles: [], missingDigests: [] };
      byPlace.set(key, p);
    }
    // Marks as collected (a run's, a test's) are matched here; a store hands over what it derived
    // from them (`unreadFiles`).
    for (const field of FILE_MARK_SETS) for (const mark of d[field] ?? []) p.marks[field].push(mark);
    for (const f of d.unreadFiles ?? []) p.unreadFiles.push(f);
    for (const f of d.missingDigests ?? []) p.missingDigests.push(f);
    const dayStart = Date.parse(`${d.day}T00:00:00Z`);
    if (Number.isNaN(dayStart)) continue;
    for (const h of d.fileHours) p.fileHours.push(dayStart + Number(h) * HOUR);
    for (const h of d.liveHours) p.liveHours.push(dayStart + Number(h) * HOUR);
    for (const s of d.slices) {
      const [a, b] = s.split('/').map((t) => Date.parse(t ?? ''));
      if (a !== undefined && b !== undefined && !Number.isNaN(a) && !Number.isNaN(b) && b > a) p.slices.push([a, b]);
    }
    if (d.fileHours.length > 0) p.sources.add('files');
    if (d.liveHours.length > 0) p.sources.add('live');
    if (d.slices.length > 0) p.sources.add('backfill');
  }
  const out = new Map<string, PlaceCoverage>();
  for (const [key, p] of byPlace) {
    const derived = derivedFromMarks(p.marks);
    const unread = unreadOf(p.account, p.region, [...p.unreadFiles, ...derived.unreadFiles]);
    const missingDigests = missingOf(p.account, p.region, [...p.missingDigests, ...derived.missingDigests]);
    // A file missing from a digest's list, or a digest missing from the chain, unproves hours as
    // files proved them; a LookupEvents slice or a live heartbeat does not rest on the files, and stands.
    const fromFiles = subtractIntervals(
      runsOf(p.fileHours, HOUR, HOUR).map(([s, e]) => [s + HOUR, e - HOUR] as const),
      mergeIntervals([...unread.map((u) => u.hours), ...missingDigests.map((m) => m.hours)]),
    );
    const proven: Interval[] = [...fromFiles, ...runsOf(p.liveHours, rules.liveGapHours * HOUR + HOUR, HOUR), ...p.slices];
    out.set(key, {
      account: p.account,
      region: p.region,
      intervals: mergeIntervals(proven.filter(([s, e]) => e > s)),
      sources: COVERAGE_SOURCES.filter((s) => p.sources.has(s)),
      unread,
      missingDigests,
    });
  }
  return out;
}

/** The digest-listed files not read whose hours meet `[from, to)`: what a hole there is made of. */
export function unreadWithin(place: PlaceCoverage | undefined, from: number, to: number): UnreadLogFile[] {
  return (place?.unread ?? []).filter(({ hours: [s, e] }) => s < to && e > from);
}

/** The digests missing from the chain whose hours meet `[from, to)`. */
export function missingDigestsWithin(place: PlaceCoverage | undefined, from: number, to: number): MissingDigest[] {
  return (place?.missingDigests ?? []).filter(({ hours: [s, e] }) => s < to && e > from);
}

/** What digests say a hole in `[from, to)` of this place is made of, for its reason ('' when they say nothing). */
export function describeHoleCause(place: PlaceCoverage | undefined, from: number, to: number): string {
  return describeUnread(unreadWithin(place, from, to), missingDigestsWithin(place, from, to));
}

/**
 * Runs of hour starts no further apart than `maxStep`, as `[first, last + width)`: the ranges a
 * source's marks span without a hole.
 */
function runsOf(hours: number[], maxStep: number, width: number): Interval[] {
  const sorted = [...new Set(hours)].sort((a, b) => a - b);
  const runs: Interval[] = [];
  let start: number | null = null;
  let last = 0;
  for (const h of sorted) {
    if (start === null) start = h;
    else if (h - last > maxStep) {
      runs.push([start, last + width]);
      start = h;
    }
    last = h;
  }
  if (start !== null) runs.push([start, last + width]);
  return runs;
}

/** The end of the newest proven range at or before `asOf`: evidence is complete up to here. */
export function coveredThrough(place: PlaceCoverage | undefined, asOf: number): number | null {
  if (!place) return null;
  let through: number | null = null;
  for (const [s, e] of place.intervals) if (s < asOf) through = Math.min(e, asOf);
  return through;
}

/** Per account/region, for people: covered from/through, the holes in between, the sources. */
export interface CoverageSummary {
  account: string;
  region: string;
  from: string | null;
  through: string | null;
  gaps: { from: string; to: string }[];
  sources: CoverageSource[];
  /** Log files CloudTrail's digests list that were not read, whose events lie within `[since, asOf]`: the holes they leave are among `gaps`. */
  unreadLogFiles: string[];
  /** Digests missing from the chain, whose hours lie within `[since, asOf]`: their holes are among `gaps` too. */
  missingDigests: string[];
}

/** Coverage as shown: holes within `[since, asOf]` only (older history does not decide verdicts). */
export function summarizeCoverage(places: Map<string, PlaceCoverage>, options: { asOf: number; since?: number }): CoverageSummary[] {
  const out: CoverageSummary[] = [];
  for (const p of places.values()) {
    const visible = p.intervals.filter(([s]) => s < options.asOf);
    const first = visible[0];
    const through = coveredThrough(p, options.asOf);
    const from = first ? Math.max(first[0], options.since ?? first[0]) : null;
    const gaps = from !== null && through !== null ? gapsIn(visible, from, through) : [];
    out.push({
      account: p.account,
      region: p.region,
      from: first ? iso(first[0]) : null,
      through: through === null ? null : iso(through),
      gaps: gaps.map(([s, e]) => ({ from: iso(s), to: iso(e) })),
      sources: p.sources,
      unreadLogFiles: unreadWithin(p, options.since ?? Number.MIN_SAFE_INTEGER, options.asOf).map((f) => f.name),
      missingDigests: missingDigestsWithin(p, options.since ?? Number.MIN_SAFE_INTEGER, options.asOf).map((d) => d.name),
    });
  }
  return out.sort((a, b) => (a.account + a.region < b.account + b.region ? -1 : 1));
}

/** `2026-11-03 04:00..2026-11-05 11:00`, for reasons. */
export function describeGap([s, e]: Interval): string {
  const fmt = (t: number) => iso(t).slice(0, 16).replace('T', ' ');
  return `${fmt(s)}..${fmt(e)} UTC`;
}

const isoDay = (t: number): string => new Date(t).toISOString().slice(0, 10);

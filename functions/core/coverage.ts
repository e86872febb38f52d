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

import { digestNameOf, logFileNameOf, type DigestName, type ListedLogFile, type LogFileName } from './cloudtrail-digest';
import { isoTime as iso } from './iso-time';

export type CoverageSource = 'files' | 'backfill' | 'live';
export const COVERAGE_SOURCES: readonly CoverageSource[] = ['files', 'backfill', 'live'];

/** One (account, region, UTC day) of coverage, as stored. Hours are `HH`; slices `start/end` ISO. */
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
   * Absent in items written before digests were read: none.
   */
  readFiles?: string[];
  /** Log files CloudTrail's digests list for this place and day, as `<token> <oldest event> <newest event> <sha256 or ->`. */
  listedFiles?: string[];
  /**
   * The listed files not read, as listed, ` altered` after those read only with other bytes:
   * derived by the store from the two sets each time it writes them (`unreadListed`), so that
   * readers load this, not two sets of ~300 names a day.
   */
  unreadFiles?: string[];
  /** CloudTrail digests read whose end is this day, as `<trail>@<end>` (core/cloudtrail-digest `DigestName`). */
  digests?: string[];
  /** Digests those read name as the one before them (`previousDigestS3Object`), under the day of their own end. */
  previousDigests?: string[];
  /** Named and not read: a gap in the chain, whose hour of deliveries nothing lists (derived as `unreadFiles` is). */
  missingDigests?: string[];
}

/** The string sets of a coverage item: each grown by union, never shrunk. */
export const COVERAGE_SETS = ['fileHours', 'liveHours', 'slices', 'readFiles', 'listedFiles', 'digests', 'previousDigests'] as const;
/** The sets of marks of log files and digests: a coverage item's largest part, which readers do not load (they load what is derived from them). */
export const FILE_MARK_SETS = ['readFiles', 'listedFiles', 'digests', 'previousDigests'] as const;

/** The log files (their tokens) the days' digests list that no mark says were read at all (not those read with other bytes). */
export function neverReadTokens(days: readonly CoverageDay[]): Set<string> {
  const tokens = new Set<string>();
  for (const d of days) for (const entry of d.unreadFiles ?? []) if (!entry.endsWith(' altered')) tokens.add(entry.slice(0, entry.indexOf(' ')));
  return tokens;
}

/**
 * A day's marks with what has matched taken out: a listed file read as listed takes its entry and
 * its read marks with it, a digest named by the next one takes both marks. What stays is what
 * matters later: listed files not read (or read with other bytes, their marks kept beside them),
 * files read whose digest has not come yet (the trail fold reads each hour's files before the
 * digest that lists them), the newest digest of each chain, and digests named and not read. So an
 * item stays small (a real trail delivers ~300 files a day per account and region), and
 * `derivedFromMarks` gives the same of it as of every mark ever written. A listing read again
 * after its files were matched (a digest read again: `--reread`, or after a run stopped before it
 * recorded the digest read) finds no read mark: its files are holes until a run reads or skips them
 * (`recordDigests` marks skipped files a listing names): the safe direction.
 */
export function compactMarks(marks: Partial<Record<(typeof FILE_MARK_SETS)[number], Iterable<string>>>): Record<(typeof FILE_MARK_SETS)[number], string[]> {
  const unread = new Set(unreadListed(marks.listedFiles ?? [], marks.readFiles ?? []).map((entry) => entry.replace(/ altered$/, '')));
  const matched = new Set<string>();
  for (const entry of new Set(marks.listedFiles ?? [])) if (!unread.has(entry)) matched.add(tokenOf(entry));
  const digests = new Set(marks.digests ?? []);
  const previous = new Set(marks.previousDigests ?? []);
  const sorted = (values: Iterable<string>) => [...new Set(values)].sort();
  return {
    listedFiles: sorted([...(marks.listedFiles ?? [])].filter((entry) => !matched.has(tokenOf(entry)))),
    readFiles: sorted([...(marks.readFiles ?? [])].filter((mark) => !matched.has(tokenOf(mark)))),
    digests: sorted([...digests].filter((d) => !previous.has(d))),
    previousDigests: sorted([...previous].filter((d) => !digests.has(d))),
  };
}

function tokenOf(mark: string): string {
  const space = mark.indexOf(' ');
  return space === -1 ? mark : mark.slice(0, space);
}

/** What readers need of a day's marks: the listed files not read as listed, and the digests missing from the chain. */
export function derivedFromMarks(marks: Partial<Record<(typeof FILE_MARK_SETS)[number], Iterable<string>>>): { unreadFiles: string[]; missingDigests: string[] } {
  const read = new Set(marks.digests ?? []);
  return {
    unreadFiles: unreadListed(marks.listedFiles ?? [], marks.readFiles ?? []),
    missingDigests: [...new Set([...(marks.previousDigests ?? [])].filter((d) => !read.has(d)))].sort(),
  };
}

/**
 * The listed entries whose file was not read, or read only with bytes other than those listed
 * (then ` altered` follows): a file's marks (listed and read) are kept under the same day, that of
 * its name, so one item's sets decide it. A read mark without a hash (a run that had neither a
 * digest nor an unread file to check against does not hash) counts as read, its content not
 * checked, unless the file was also read with other bytes than listed: a filtered copy read again
 * without its digests does not close its own hole.
 */
export function unreadListed(listed: Iterable<string>, read: Iterable<string>): string[] {
  const reads = new Map<string, { hashes: Set<string>; unhashed: boolean }>();
  for (const mark of read) {
    const [token, sha256] = mark.split(' ') as [string, string | undefined];
    const marks = reads.get(token) ?? { hashes: new Set<string>(), unhashed: false };
    if (sha256 === undefined) marks.unhashed = true;
    else marks.hashes.add(sha256);
    reads.set(token, marks);
  }
  const unread = new Set<string>();
  for (const entry of listed) {
    const [token, , , sha256 = '-'] = entry.split(' ') as [string, string, string, string | undefined];
    const marks = reads.get(token);
    if (marks === undefined) unread.add(entry);
    else if (sha256 !== '-' && marks.hashes.size > 0 && !marks.hashes.has(sha256)) unread.add(`${entry} altered`);
  }
  return [...unread].sort();
}

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

export type Interval = readonly [start: number, end: number];

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

/** A gap in a chain of digests: the digest's name, and the hours whose files it would have listed. */
export interface MissingDigest {
  name: string;
  /**
   * Its hour of deliveries and the hour before (a file's events come minutes before it is
   * delivered, seldom more): what no digest lists while it is missing.
   */
  hours: Interval;
}

/** A log file a digest lists and no run read whole with the bytes listed: its name, and the hours its events span. */
export interface UnreadLogFile {
  name: string;
  /** The hours of its events, `[first hour, last hour + 1 h)`. */
  hours: Interval;
  /** Read, but its bytes are not those the digest lists: a filtered or changed copy. */
  altered: boolean;
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

/** Missing digests (`<trail>@<end>`) as gaps, a digest once, oldest first. */
function missingOf(account: string, region: string, tokens: readonly string[]): MissingDigest[] {
  const gaps: MissingDigest[] = [];
  for (const token of new Set(tokens)) {
    const end = Date.parse(token.slice(token.lastIndexOf('@') + 1));
    if (Number.isNaN(end)) continue;
    gaps.push({ name: digestNameOf(account, region, token), hours: [Math.floor(end / HOUR) * HOUR - 2 * HOUR, Math.ceil(end / HOUR) * HOUR] });
  }
  return gaps.sort((a, b) => a.hours[0] - b.hours[0] || (a.name < b.name ? -1 : 1));
}

/** Unread entries (`unreadListed`) as files, each with the hours its events span; a file once. */
function unreadOf(account: string, region: string, entries: readonly string[]): UnreadLogFile[] {
  const unread = new Map<string, UnreadLogFile>();
  for (const entry of entries) {
    const [token = '', oldest, newest, , altered] = entry.split(' ');
    if (unread.has(token)) continue;
    let from = Date.parse(oldest ?? '');
    let to = Date.parse(newest ?? '');
    if (Number.isNaN(from) || Number.isNaN(to) || to < from) {
      // Not as addListedFile writes it (another version, a hand edit): its span unknown, the day of
      // its name and the one before are not proven by files (never a span guessed short).
      const day = Date.parse(`${token.slice(0, 4)}-${token.slice(4, 6)}-${token.slice(6, 8)}T00:00:00Z`);
      if (Number.isNaN(day)) continue;
      [from, to] = [day - DAY, day + DAY - HOUR];
    }
    unread.set(token, { name: logFileNameOf(account, region, token), hours: [Math.floor(from / HOUR) * HOUR, Math.floor(to / HOUR) * HOUR + HOUR], altered: altered === 'altered' });
  }
  return [...unread.values()].sort((a, b) => a.hours[0] - b.hours[0] || (a.name < b.name ? -1 : 1));
}

/** The parts of `intervals` (sorted, disjoint) outside every one of `removed` (sorted, disjoint). */
export function subtractIntervals(intervals: readonly Interval[], removed: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  for (const [s, e] of intervals) {
    let cursor = s;
    for (const [rs, re] of removed) {
      if (re <= cursor) continue;
      if (rs >= e) break;
      if (rs > cursor) out.push([cursor, rs]);
      cursor = Math.max(cursor, re);
      if (cursor >= e) break;
    }
    if (cursor < e) out.push([cursor, e]);
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
 * `; CloudTrail's digest files list 2 log files there that were not read: NAME, NAME`, and apart
 * those read with other bytes and the digests missing from the chain, or '' (for a hole's reason).
 */
export function describeUnread(files: readonly UnreadLogFile[], digests: readonly MissingDigest[] = []): string {
  const missing = files.filter((f) => !f.altered);
  const altered = files.filter((f) => f.altered);
  const names = (some: readonly UnreadLogFile[]) => {
    const shown = some.slice(0, 3).map((f) => f.name);
    return `${shown.join(', ')}${some.length > shown.length ? ` and ${some.length - shown.length} more (\`cutover-watch coverage --json\` lists them)` : ''}`;
  };
  const count = (n: number) => (n === 1 ? 'a log file' : `${n} log files`);
  const shownDigests = digests.slice(0, 3).map((d) => d.name);
  return (
    (digests.length === 0
      ? ''
      : `; the chain of CloudTrail's digest files misses ${digests.length === 1 ? 'one' : digests.length} there (${shownDigests.join(', ')}${digests.length > shownDigests.length ? `, and ${digests.length - shownDigests.length} more` : ''}): ` +
        'the log files of those hours cannot be checked, copy CloudTrail-Digest/ of those days') +
    (missing.length === 0 ? '' : `; CloudTrail's digest files list ${count(missing.length)} there that ${missing.length === 1 ? 'was' : 'were'} not read: ${names(missing)}`) +
    (altered.length === 0
      ? ''
      : `; ${count(altered.length)} read there ${altered.length === 1 ? 'is' : 'are'} not what CloudTrail's digest lists (other bytes: a filtered or changed copy), read the original: ${names(altered)}`)
  );
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

export function mergeIntervals(intervals: readonly Interval[]): Interval[] {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

/** The parts of `[from, to)` that no interval covers. */
export function gapsIn(intervals: readonly Interval[], from: number, to: number): Interval[] {
  const gaps: Interval[] = [];
  let cursor = from;
  for (const [s, e] of intervals) {
    if (e <= cursor) continue;
    if (s >= to) break;
    if (s > cursor) gaps.push([cursor, Math.min(s, to)]);
    cursor = Math.max(cursor, e);
    if (cursor >= to) break;
  }
  if (cursor < to) gaps.push([cursor, to]);
  return gaps;
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

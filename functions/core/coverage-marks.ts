/**
 * The marks CloudTrail's digests are checked with (core/cloudtrail-digest), kept per account,
 * region and day with coverage (core/coverage): the log files a digest lists, those a run read
 * (with the SHA-256 of their bytes), the digests read and the ones they name. Pure: what a store
 * writes (`compactMarks`), what it gives readers (`derivedFromMarks`), and what that says.
 */
import { digestNameOf, logFileNameOf } from './cloudtrail-digest';
import type { Interval } from './intervals';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The sets of marks of log files and digests in a coverage item, kept compacted (`compactMarks`). */
export const FILE_MARK_SETS = ['readFiles', 'listedFiles', 'digests', 'previousDigests'] as const;
export type FileMarkSet = (typeof FILE_MARK_SETS)[number];

/** The log files (their tokens) the days' digests list that no mark says were read at all (not those read with other bytes). */
export function neverReadTokens(days: readonly { unreadFiles?: readonly string[] }[]): Set<string> {
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
export function compactMarks(marks: Partial<Record<FileMarkSet, Iterable<string>>>): Record<FileMarkSet, string[]> {
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
export function derivedFromMarks(marks: Partial<Record<FileMarkSet, Iterable<string>>>): { unreadFiles: string[]; missingDigests: string[] } {
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

/** Missing digests (`<trail>@<end>`) as gaps, a digest once, oldest first. */
export function missingOf(account: string, region: string, tokens: readonly string[]): MissingDigest[] {
  const gaps: MissingDigest[] = [];
  for (const token of new Set(tokens)) {
    const end = Date.parse(token.slice(token.lastIndexOf('@') + 1));
    if (Number.isNaN(end)) continue;
    gaps.push({ name: digestNameOf(account, region, token), hours: [Math.floor(end / HOUR) * HOUR - 2 * HOUR, Math.ceil(end / HOUR) * HOUR] });
  }
  return gaps.sort((a, b) => a.hours[0] - b.hours[0] || (a.name < b.name ? -1 : 1));
}

/** Unread entries (`unreadListed`) as files, each with the hours its events span; a file once. */
export function unreadOf(account: string, region: string, entries: readonly string[]): UnreadLogFile[] {
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

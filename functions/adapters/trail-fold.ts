/**
 * Evidence from the trail's own log objects, on a schedule (the `trail-fold` function): each run
 * lists the day folders CloudTrail writes (`<prefix><account>/CloudTrail/<region>/YYYY/MM/DD/`) of
 * today and the `lookbackDays` before it, and reads the objects no run has read through the same
 * code as `cutover-watch analyze s3://` (s3-logs `analyzeSources`): the same parser, detections,
 * replay guards and checkpoints (an object read whole is recorded with its ETag and skipped after).
 *
 * Why beside, or instead of, the EventBridge rules:
 * - EventBridge receives CloudTrail's events best effort: "in some rare cases an event might not be
 *   delivered" (EventBridge User Guide, "Event delivery from AWS services"; CloudTrail is listed
 *   best effort). A live heartbeat cannot show one lost event; the trail's objects are CloudTrail's
 *   record, and an hour read from them is `files` coverage (core/coverage.ts).
 * - Cost: the live path sends every identity event through SQS and writes each key it touches once
 *   per five-minute batch; a run here writes each key once per run (docs/deploy.md §7).
 *
 * A run stops taking new objects at `deadline` (the function's time): what it did not reach is
 * read by the next run. Day folders without objects yet (today's first minutes, a region the trail
 * does not log) are no error: they are left out of the run.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { analyzeSources, listS3Folders, listS3Logs, type AnalyzeSourcesOptions, type ListOptions, type S3Listing, type SourcesSummary } from './s3-logs';
import type { S3Location } from '../core/s3-names';
import { mapLimit } from './map-limit';

export interface TrailLocation {
  bucket: string;
  /** The key prefix above the account folders: `AWSLogs/`, or `AWSLogs/o-a1b2c3d4e5/` for an organization trail. */
  prefix: string;
}

export interface TrailFoldOptions extends Omit<AnalyzeSourcesOptions, 'paths' | 'listings' | 'client'> {
  client: S3Client;
  trail: TrailLocation;
  /** Accounts whose folders are read; empty: every 12-digit account folder under the prefix. */
  accounts: readonly string[];
  regions: readonly string[];
  /** Days before today (UTC) listed too (at least 1: just after midnight, today's folders are empty): late deliveries, and runs that failed. */
  lookbackDays: number;
  /** Epoch ms after which no new object is taken. */
  deadline: number;
}

export interface TrailFoldSummary extends SourcesSummary {
  /** The day folders listed (those with log objects and those without). */
  folders: number;
  /** Log objects read by this run, by the region in their key: the heartbeat the no-objects alarms watch. */
  objectsByRegion: Record<string, number>;
}

/** The trail's location names nothing to read: a configuration to fix, not a moment to wait out. */
export class TrailFoldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrailFoldError';
  }
}

/** Why a run stopped before the end when its time was up: not an error, the next run goes on. */
export const OUT_OF_TIME = "the run's time is up; the next run reads the rest";

export async function foldTrail(options: TrailFoldOptions): Promise<TrailFoldSummary> {
  const now = options.now();
  const where = `s3://${options.trail.bucket}/${options.trail.prefix}`;
  const accounts = options.accounts.length > 0 ? [...options.accounts] : await accountFolders(options.client, options.trail);
  if (accounts.length === 0) throw new TrailFoldError(`no account folder (12 digits) under ${where}: check the prefix (AWSLogs/, or AWSLogs/o-…/ for an organization trail)`);
  const folders = trailDayFolders(options.trail, accounts, options.regions, now, options.lookbackDays);
  const listings = await listDayFolders(options.client, options.trail.bucket, folders);
  // A trail writes a region's objects every few minutes: none at all in these days means the
  // prefix, the accounts or the regions name nothing it writes, or it stopped. Succeeding quietly
  // would read nothing for ever.
  if (listings.length === 0) {
    throw new TrailFoldError(
      `no CloudTrail log object under ${where} for accounts ${accounts.join(', ')} in ${options.regions.join(', ')} since ${isoDay(now.getTime() - options.lookbackDays * DAY)}: check the prefix, the accounts and that the trail logs these regions`,
    );
  }
  const objectsByRegion: Record<string, number> = {};
  const summary = await analyzeSources({
    ...options,
    paths: [],
    listings,
    client: options.client,
    stopReading: () => (Date.now() >= options.deadline ? OUT_OF_TIME : null),
    onFileDone: (name, done, records) => {
      const region = regionOfKey(name);
      if (region !== null) objectsByRegion[region] = (objectsByRegion[region] ?? 0) + 1;
      options.onFileDone?.(name, done, records);
    },
  });
  return { ...summary, folders: folders.length, objectsByRegion };
}

/** The day folders of each account and region, today (UTC) and `lookbackDays` before, oldest first. */
export function trailDayFolders(trail: TrailLocation, accounts: readonly string[], regions: readonly string[], now: Date, lookbackDays: number): string[] {
  const folders: string[] = [];
  for (let back = lookbackDays; back >= 0; back -= 1) {
    const day = isoDay(now.getTime() - back * DAY).replaceAll('-', '/');
    for (const account of accounts) for (const region of regions) folders.push(`${trail.prefix}${account}/CloudTrail/${region}/${day}/`);
  }
  return folders;
}

const DAY = 86_400_000;
const LISTINGS_IN_FLIGHT = 8;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** `…/CloudTrail/<region>/YYYY/MM/DD/…`: the region a log object's key names, or null. */
export function regionOfKey(key: string): string | null {
  return /\/CloudTrail\/([a-z0-9-]+)\/\d{4}\/\d{2}\/\d{2}\//.exec(key)?.[1] ?? null;
}

/** The account folders under the trail's prefix. */
async function accountFolders(client: S3Client, trail: TrailLocation, options?: ListOptions): Promise<string[]> {
  return (await listS3Folders(client, s3Location(trail.bucket, trail.prefix), options)).filter((f) => /^\d{12}$/.test(f));
}

/**
 * The listings of the day folders that hold log objects, a few listings at a time: an
 * organization's accounts × regions × days are many small ones.
 */
export async function listDayFolders(client: S3Client, bucket: string, folders: readonly string[], options?: ListOptions): Promise<S3Listing[]> {
  const listed = await mapLimit(folders, LISTINGS_IN_FLIGHT, async (folder) => {
    const logs = await listS3Logs(client, s3Location(bucket, folder), options);
    if (logs.objects.length === 0) return logs;
    // The same day's digests (`…/CloudTrail-Digest/<region>/YYYY/MM/DD/`): the lists of what was
    // delivered, so an object deleted from the day is a hole (core/cloudtrail-digest).
    const digests = await listS3Logs(client, s3Location(bucket, folder.replace(/\/CloudTrail\/([a-z0-9-]+\/\d{4}\/\d{2}\/\d{2}\/)$/, '/CloudTrail-Digest/$1')), options);
    return { ...logs, digests: digests.digests, pages: logs.pages + digests.pages };
  });
  return listed.filter((listing) => listing.objects.length > 0);
}

const s3Location = (bucket: string, prefix: string): S3Location => ({ bucket, prefix, url: `s3://${bucket}/${prefix}` });

/**
 * Where in CloudTrail's layout an S3 prefix stands: at the trail's root (`…AWSLogs/` or
 * `…AWSLogs/o-…/`), at an account, at its `CloudTrail/` folder, or at a region. Null elsewhere
 * (a day folder, a prefix cut inside a name).
 */
export function trailPlace(prefix: string): { root: string; account: string | null; region: string | null } | null {
  const match = /^((?:[^/]+\/)*?AWSLogs\/(?:o-[a-z0-9]{10,32}\/)?)(?:(\d{12})\/(?:CloudTrail\/(?:([a-z0-9-]+)\/)?)?)?$/.exec(prefix);
  return match ? { root: match[1]!, account: match[2] ?? null, region: match[3] ?? null } : null;
}

/**
 * The day folders from `since` (a UTC day) through `now`'s under an S3 location in CloudTrail's
 * layout, the accounts and regions it leaves open found by listing (`analyze s3://… --since`):
 * every object of those days, without listing the years before them. Null when the location is
 * not at a trail's root, an account, its `CloudTrail/` folder or a region.
 */
export async function dayFoldersSince(client: S3Client, bucket: string, prefix: string, since: Date, now: Date, options?: ListOptions): Promise<string[] | null> {
  const place = trailPlace(prefix);
  if (place === null) return null;
  const accounts = place.account !== null ? [place.account] : await accountFolders(client, { bucket, prefix: place.root }, options);
  const days = Math.max(0, Math.floor(now.getTime() / DAY) - Math.floor(since.getTime() / DAY));
  // An organization's accounts: their region folders listed a few at a time, as the day folders are.
  const perAccount = await mapLimit(accounts, LISTINGS_IN_FLIGHT, async (account) => {
    const regions = place.region !== null ? [place.region] : (await listS3Folders(client, s3Location(bucket, `${place.root}${account}/CloudTrail/`), options)).filter((r) => /^[a-z0-9-]+$/.test(r));
    return trailDayFolders({ bucket, prefix: place.root }, [account], regions, now, days);
  });
  return perAccount.flat();
}

/**
 * CloudTrail's digest files: which log files a trail delivered, so a copy that lost one shows it.
 *
 * Coverage from log files (core/coverage.ts) counts an hour as read when any of its records was.
 * CloudTrail delivers an account and region's records in several files an hour, so a copy missing
 * one of them (a filtered `aws s3 cp`, an object deleted) shows no hole. With log file integrity
 * validation on, the trail also writes a digest file every hour beside the logs:
 *
 *   `<prefix>AWSLogs/[<org id>/]<account>/CloudTrail-Digest/<region>/YYYY/MM/DD/`
 *   `<account>_CloudTrail-Digest_<region>_<trail>_<region>_<end>.json.gz` (`_backfill` for late files)
 *
 * Each lists the log files delivered in its hour, with the time of each one's oldest and newest
 * event (AWS CloudTrail User Guide, "CloudTrail digest file structure"):
 *
 *   { "awsAccountId", "digestStartTime", "digestEndTime", "oldestEventTime", "newestEventTime",
 *     "logFiles": [{ "s3Bucket", "s3Object", "hashValue", "hashAlgorithm", "oldestEventTime", "newestEventTime" }], … }
 *
 * A listed file that was not read leaves its events' hours unproven, whatever else was read of
 * them, and so does one read whose bytes are not those listed (`hashValue`, the SHA-256 of the
 * uncompressed file): a copy filtered to some events (a SIEM's, without read-only calls such as
 * every AssumeRoleWithWebIdentity) keeps the names and the hours, not the content. The digests'
 * own signatures (RSA, with keys from CloudTrail's ListPublicKeys) need AWS and are left to `aws
 * cloudtrail validate-logs`: whoever can rewrite the logs can rewrite an unsigned list too.
 */

/** A log file by the name CloudTrail gives it: `<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz`. */
export interface LogFileName {
  account: string;
  region: string;
  /** `YYYY-MM-DD` of its delivery: the coverage day its mark is kept under. */
  day: string;
  /** `<YYYYMMDDTHHmmZ>_<unique>`: the name without what the coverage item's key already says. */
  token: string;
}

/** A log file a digest lists, with the span of its events (what is unproven while it is not read). */
export interface ListedLogFile extends LogFileName {
  oldest: number;
  newest: number;
  /** The SHA-256 of its uncompressed bytes, hex, as the digest gives it (null: another algorithm, or none). */
  sha256: string | null;
}

/**
 * A digest file by its name: `<account>_CloudTrail-Digest_<region>_<trail>_<region>_<YYYYMMDDTHHmmssZ>.json.gz`.
 * Each names the one before it (`previousDigestS3Object`): a chain per trail, account and region.
 */
export interface DigestName {
  account: string;
  region: string;
  /** `YYYY-MM-DD` of its end: the coverage day its mark is kept under. */
  day: string;
  /** `<trail>@<end, ISO>`: the digest in its chain (the hour of deliveries it lists ends at its end). */
  token: string;
}

/** What one digest file says, or why it says nothing usable. */
export type DigestReading = { ok: true; listed: ListedLogFile[]; previous: DigestName | null } | { ok: false; field: string | null; reason: string };

// The account folder is 12 digits; the unique part is what S3 keys of CloudTrail carry (16
// characters today, not promised: any run of letters and digits).
const LOG_FILE_NAME = /^(\d{12})_CloudTrail_([a-z0-9-]{1,32})_((\d{4})(\d{2})(\d{2})T\d{4}Z_[A-Za-z0-9]{1,64})\.json(?:\.gz)?$/;
/** A digest file's name (a key's last segment), its account and region: never read as a log file. */
export const DIGEST_FILE_NAME = /^(\d{12})_CloudTrail-Digest_([a-z0-9-]{1,32})_.+\.json(?:\.gz)?$/;
// Trail names are letters, digits, `.`, `_` and `-`; a backfill digest (late files, `_backfill`) is outside the chain.
const CHAIN_DIGEST_NAME = /^(\d{12})_CloudTrail-Digest_([a-z0-9-]{1,32})_([A-Za-z0-9._-]{1,128})_\2_(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z\.json(?:\.gz)?$/;

/** A path's or an S3 key's last segment: the name CloudTrail gave the file. */
function baseName(pathOrKey: string): string {
  return pathOrKey.slice(Math.max(pathOrKey.lastIndexOf('/'), pathOrKey.lastIndexOf('\\')) + 1);
}

/** The account and region of a digest file by its name (a path or an S3 key), or null for any other name. */
export function digestPlace(pathOrKey: string): { account: string; region: string } | null {
  const m = DIGEST_FILE_NAME.exec(baseName(pathOrKey));
  return m === null ? null : { account: m[1]!, region: m[2]! };
}

/** The digest a path or an S3 key names, in its chain; null for any other name and for a backfill digest. */
export function digestName(pathOrKey: string): DigestName | null {
  const m = CHAIN_DIGEST_NAME.exec(baseName(pathOrKey));
  if (m === null) return null;
  const [, account, region, trail, year, month, day, hour, minute, second] = m as unknown as string[];
  const end = `${year}-${month}-${day}T${hour}:${minute}:${second}Z`;
  if (Number.isNaN(Date.parse(end))) return null;
  return { account: account!, region: region!, day: `${year}-${month}-${day}`, token: `${trail}@${end}` };
}

/** A missing digest's name back from its coverage mark, for messages. */
export function digestNameOf(account: string, region: string, token: string): string {
  const at = token.lastIndexOf('@');
  return `${account}_CloudTrail-Digest_${region}_${token.slice(0, at)}_${region}_${token.slice(at + 1).replace(/[-:]/g, '')}.json.gz`;
}

/** The log file a path or an S3 key names, or null for any other name (a renamed copy is not recognised). */
export function logFileName(pathOrKey: string): LogFileName | null {
  const m = LOG_FILE_NAME.exec(baseName(pathOrKey));
  if (m === null) return null;
  const [, account, region, token, year, month, day] = m as unknown as [string, string, string, string, string, string, string];
  return { account, region, day: `${year}-${month}-${day}`, token };
}

/** The name back from a coverage item's parts, for messages: what the user looks for in the bucket. */
export function logFileNameOf(account: string, region: string, token: string): string {
  return `${account}_CloudTrail_${region}_${token}.json.gz`;
}

/**
 * The log files a parsed digest document lists. Each is placed by its own name (account and region
 * as the records in it are kept); its event span is its own `oldestEventTime`/`newestEventTime`,
 * else the digest's. A listed object whose name is not a log file's, or whose span cannot be read,
 * makes the digest unusable as a whole: half a list would prove the other half's hours.
 */
export function readDigest(document: unknown): DigestReading {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return { ok: false, field: null, reason: 'not a JSON object' };
  const digest = document as Record<string, unknown>;
  const logFiles = digest['logFiles'];
  if (!Array.isArray(logFiles)) return { ok: false, field: 'logFiles', reason: 'missing or not a list: not a CloudTrail digest file' };
  const digestOldest = timeOf(digest['oldestEventTime']);
  const digestNewest = timeOf(digest['newestEventTime']);
  const listed: ListedLogFile[] = [];
  for (const [i, entry] of logFiles.entries()) {
    const field = `logFiles[${i}]`;
    if (typeof entry !== 'object' || entry === null) return { ok: false, field, reason: 'not an object' };
    const object = (entry as Record<string, unknown>)['s3Object'];
    if (typeof object !== 'string') return { ok: false, field: `${field}.s3Object`, reason: 'missing or not a string' };
    const name = logFileName(object);
    if (name === null) return { ok: false, field: `${field}.s3Object`, reason: `"${object.slice(0, 200)}" is not a CloudTrail log file's name` };
    const oldest = timeOf((entry as Record<string, unknown>)['oldestEventTime']) ?? digestOldest;
    const newest = timeOf((entry as Record<string, unknown>)['newestEventTime']) ?? digestNewest;
    if (oldest === null || newest === null || newest < oldest) return { ok: false, field: `${field}.oldestEventTime`, reason: 'no readable span of event times (oldestEventTime..newestEventTime)' };
    const hash = (entry as Record<string, unknown>)['hashValue'];
    const algorithm = (entry as Record<string, unknown>)['hashAlgorithm'];
    const sha256 = algorithm === 'SHA-256' && typeof hash === 'string' && /^[0-9a-f]{64}$/i.test(hash) ? hash.toLowerCase() : null;
    listed.push({ ...name, oldest, newest, sha256 });
  }
  const previous = digest['previousDigestS3Object'];
  return { ok: true, listed, previous: typeof previous === 'string' ? digestName(previous) : null };
}

function timeOf(value: unknown): number | null {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)) return null;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : t;
}

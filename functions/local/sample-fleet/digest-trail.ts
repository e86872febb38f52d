/**
 * A small trail in CloudTrail's S3 layout with its digest files, for the tests of the digest check
 * and for `samples/` (scripts/make-samples.ts): log files named as CloudTrail names them, digests
 * in the shape of AWS's "CloudTrail digest file structure", a chain per account and region.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

const HOUR = 3_600_000;
const pad = (n: number) => String(n).padStart(2, '0');

export interface SmallTrail {
  account: string;
  region: string;
  /** Epoch ms of the first hour. */
  from: number;
  hours: number;
}

/**
 * A trail's log files in CloudTrail's S3 layout under `root`: two files an hour (delivered at :20
 * and :50, each holding records of its half hour), named as CloudTrail names them. Returns the
 * paths, oldest first.
 */
export async function writeSmallTrail(root: string, trail: SmallTrail): Promise<string[]> {
  const files: string[] = [];
  for (let h = 0; h < trail.hours; h++) {
    for (const half of [0, 1]) {
      const start = trail.from + h * HOUR + half * HOUR / 2;
      const delivered = new Date(start + 20 * 60_000);
      const d = delivered;
      const folder = path.join(root, 'AWSLogs', trail.account, 'CloudTrail', trail.region, String(d.getUTCFullYear()), pad(d.getUTCMonth() + 1), pad(d.getUTCDate()));
      const stamp = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}Z`;
      const unique = createHash('sha256').update(`${trail.account}${trail.region}${start}`).digest('hex').slice(0, 16);
      const file = path.join(folder, `${trail.account}_CloudTrail_${trail.region}_${stamp}_${unique}.json.gz`);
      const records = [0, 10, 20].map((minute) => ({
        eventVersion: '1.08',
        eventSource: 'ec2.amazonaws.com',
        eventName: 'DescribeInstances',
        eventID: `${unique}-${minute}`,
        eventTime: new Date(start + minute * 60_000).toISOString().replace('.000Z', 'Z'),
        awsRegion: trail.region,
        recipientAccountId: trail.account,
        userIdentity: { type: 'AssumedRole', accountId: trail.account },
      }));
      await mkdir(folder, { recursive: true });
      await writeFile(file, gzipSync(JSON.stringify({ Records: records })));
      files.push(file);
    }
  }
  return files;
}

/**
 * The digest files CloudTrail would write for the log files under `root` (one per account, region
 * and hour of delivery, in `CloudTrail-Digest/`). Returns their paths.
 */
export async function writeDigestFiles(root: string, trailName = 'management-events'): Promise<string[]> {
  const byHour = new Map<string, { key: string; content: Buffer }[]>();
  for (const file of await logFilesUnder(root)) {
    const group = /^(\d{12}_CloudTrail_[a-z0-9-]+_\d{8}T\d{2})/.exec(path.basename(file))![1]!;
    byHour.set(group, [...(byHour.get(group) ?? []), { key: path.relative(root, file).split(path.sep).join('/'), content: gunzipSync(await readFile(file)) }]);
  }
  const written: string[] = [];
  // each account and region's digests a chain, oldest first: each names the one before
  const previous = new Map<string, string>();
  for (const [hour, files] of [...byHour].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const place = hour.slice(0, hour.indexOf('_CloudTrail_')) + hour.slice(hour.indexOf('_CloudTrail_') + 11, hour.lastIndexOf('_'));
    const { key, body } = digestFile(files, trailName, [], previous.get(place) ?? null);
    previous.set(place, key);
    const file = path.join(root, ...key.split('/'));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, body);
    written.push(file);
  }
  return written;
}

/**
 * The digest CloudTrail would deliver after the hour these log files (S3 keys and uncompressed
 * bytes, one account, region and hour of delivery) were delivered in, and its key, in the shape
 * of AWS's "CloudTrail digest file structure". The signature fields are placeholders: nothing here
 * checks them. `lost` keys are listed too, as files CloudTrail delivered that a copy lacks;
 * `previousKey` is the digest before it in the chain.
 */
export function digestFile(
  files: readonly { key: string; content: Buffer }[],
  trailName = 'management-events',
  lost: readonly { key: string; oldest: string; newest: string }[] = [],
  previousKey: string | null = null,
): { key: string; body: Buffer } {
  const first = path.posix.basename(files[0]!.key);
  const [, account, region, y, mo, d, h] = /^(\d{12})_CloudTrail_([a-z0-9-]+)_(\d{4})(\d{2})(\d{2})T(\d{2})/.exec(first)! as unknown as string[];
  const prefix = files[0]!.key.slice(0, files[0]!.key.indexOf(`${account}/CloudTrail/`));
  const end = Date.parse(`${y}-${mo}-${d}T${h}:00:00Z`) + HOUR;
  const iso = (t: number) => new Date(t).toISOString().replace('.000Z', 'Z');
  const key = `${prefix}${account}/CloudTrail-Digest/${region}/${y}/${mo}/${d}/${account}_CloudTrail-Digest_${region}_${trailName}_${region}_${iso(end).replace(/[-:]/g, '')}.json.gz`;
  const entries = [
    ...files.map(({ key: object, content }) => {
      const times = (JSON.parse(content.toString('utf8')) as { Records: { eventTime: string }[] }).Records.map((r) => r.eventTime).sort();
      return { s3Bucket: 'trail-bucket', s3Object: object, hashValue: createHash('sha256').update(content).digest('hex'), hashAlgorithm: 'SHA-256', oldestEventTime: times[0], newestEventTime: times[times.length - 1] };
    }),
    ...lost.map(({ key: object, oldest, newest }) => ({ s3Bucket: 'trail-bucket', s3Object: object, hashValue: '00'.repeat(32), hashAlgorithm: 'SHA-256', oldestEventTime: oldest, newestEventTime: newest })),
  ];
  const times = entries.flatMap((e) => [e.oldestEventTime!, e.newestEventTime!]).sort();
  const document = {
    awsAccountId: account,
    digestStartTime: iso(end - HOUR),
    digestEndTime: iso(end),
    digestS3Bucket: 'trail-bucket',
    digestS3Object: key,
    digestPublicKeyFingerprint: '00000000000000000000000000000000',
    digestSignatureAlgorithm: 'SHA256withRSA',
    newestEventTime: times[times.length - 1],
    oldestEventTime: times[0],
    previousDigestS3Bucket: previousKey === null ? null : 'trail-bucket',
    previousDigestS3Object: previousKey,
    previousDigestHashValue: null,
    previousDigestHashAlgorithm: null,
    previousDigestSignature: null,
    logFiles: entries,
  };
  return { key, body: gzipSync(JSON.stringify(document)) };
}

async function logFilesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'CloudTrail-Digest') out.push(...(await logFilesUnder(full)));
    else if (entry.isFile() && /_CloudTrail_.*\.json\.gz$/.test(entry.name)) out.push(full);
  }
  return out.sort();
}

/** The account, region and first hour of `samples/lost-log-file`. */
export const LOST_LOG_FILE_SAMPLE = { account: '111122223333', region: 'eu-west-1', from: Date.parse('2026-11-17T00:00:00Z'), hours: 6 } as const;

/**
 * `samples/lost-log-file`: six hours of a trail, two log files an hour, their digests, and the
 * first file of the fourth hour removed, as a copy that lost it would be: every hour still has
 * records. Returns the lost file's name.
 */
export async function writeLostLogFileSample(root: string): Promise<string> {
  const files = await writeSmallTrail(root, LOST_LOG_FILE_SAMPLE);
  await writeDigestFiles(root);
  const lost = files[6]!;
  await rm(lost);
  return path.basename(lost);
}

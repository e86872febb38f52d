import { runInProcess, spawnCli, type Run } from '../support/spawn-cli';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSampleFleet } from '../../functions/local/sample-fleet';
import { DEMO_END } from '../support/demo';
import { digestFile } from '../../functions/local/sample-fleet/digest-trail';
import { LoopbackS3 } from '../support/loopback-s3';

// `analyze s3://` end to end: the built CLI, the real S3 client (default credential chain,
// AWS_ENDPOINT_URL_S3, path-style requests to an IP endpoint, its own retries, XML parsing), against
// a loopback server that answers ListObjectsV2 and GetObject the way S3 does (two keys a page here).
// The first read is the bundle, spawned (what esbuild made of the S3 client is what runs); the rest
// run in this process (`run(argv, io)`, what the bin runs), sparing a node start and a bundle and
// SDK load, about 1.5 s of CPU, per command.

const cli = (args: string[], env: Record<string, string>): Promise<Run> => spawnCli(args, { cwd: work, env });
const inProcess = (args: string[], env: Record<string, string>): Promise<Run> => runInProcess(args, { cwd: work, env });

const PAGE = 2;
const bucket = new LoopbackS3('trail', PAGE);
const { objects, requests, signedRegions, slowDownOnce } = bucket;
let work: string;
let endpoint: string;
let recordCount = 0;
let digestKey: string;
let lostKey: string;
let listedInDigest: number;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'cw-s3-cli-'));
  // The sample fleet's last 6 hours: about 25 log files of two accounts and three regions.
  const end = new Date(DEMO_END);
  // one day of traffic is enough to take six hours from (30, the default, takes 3 s more to make)
  const fleet = generateSampleFleet({ seed: 11, end, days: 1 });
  for (const f of fleet.files) {
    const stamp = /_(\d{8}T\d{2})\d{2}Z_/.exec(f.key)![1]!;
    const hour = Date.parse(`${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:00:00Z`);
    if (hour < end.getTime() - 6 * 3_600_000) continue;
    const body = gzipSync(Buffer.from(JSON.stringify({ Records: f.records })));
    objects.set(f.key, body);
    recordCount += f.records.length;
  }
  // The digest of the last hour's files of one account and region, which lists one more: a file
  // CloudTrail delivered that the bucket no longer holds.
  const hourOf = (key: string) => /_(\d{8}T\d{2})\d{2}Z_/.exec(key)![1]!;
  const east = [...objects.keys()].filter((k) => k.startsWith('AWSLogs/111122223333/CloudTrail/us-east-1/')).sort();
  const lastHour = east.filter((k) => hourOf(k) === hourOf(east[east.length - 1]!));
  lostKey = lastHour[0]!.replace(/_[A-Za-z0-9]+\.json\.gz$/, '_LostObject000001.json.gz');
  const digest = digestFile(
    lastHour.map((key) => ({ key, content: gunzipSync(objects.get(key)!) })),
    'trail',
    [{ key: lostKey, oldest: new Date(end.getTime() - 3_600_000).toISOString(), newest: new Date(end.getTime() - 3_500_000).toISOString() }],
  );
  digestKey = digest.key;
  listedInDigest = lastHour.length + 1;
  slowDownOnce.add([...objects.keys()].sort()[3]!);
  objects.set(digest.key, digest.body);

  endpoint = (await bucket.start()).endpoint;
}, 60_000);

afterAll(async () => {
  await bucket.stop();
  await rm(work, { recursive: true, force: true });
});

/** Credentials from the environment only: no ~/.aws files, no instance metadata. */
const noAwsFiles = { AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials', AWS_CONFIG_FILE: '/nonexistent/config', AWS_EC2_METADATA_DISABLED: 'true', AWS_PROFILE: '' };
const credentials = () => ({ ...noAwsFiles, AWS_ENDPOINT_URL_S3: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' });

describe('cutover-watch analyze s3:// (real S3 client, loopback S3)', () => {
  it('reads every log object and the digest, then skips them all on a rerun', { timeout: 90_000 }, async () => {
    const logCount = objects.size - 1;
    const fromS3 = await cli(['analyze', 's3://trail/AWSLogs/', '--store', 's3-store', '--json', '--no-alerts'], credentials());
    expect(fromS3.stderr).toBe('');
    expect(fromS3.code).toBe(0);
    const s3 = JSON.parse(fromS3.stdout) as Record<string, unknown> & { s3: Record<string, unknown> };
    expect(s3.s3).toEqual({ locations: ['s3://trail/AWSLogs/'], listed: logCount, ignored: 0, skipped: 0, read: logCount, unrecorded: 0, failed: 0, unfetched: 0, notRead: 0, stopped: null });
    // the object the digest lists and the bucket lacks is a hole, named by `coverage`
    expect(s3['digests']).toEqual({ files: 1, skipped: 0, logFilesListed: listedInDigest, logFilesUnread: 1, logFilesAltered: 0, digestsMissing: 0 });
    const coverage = await inProcess(['coverage', '--store', 's3-store', '--json', '--as-of', DEMO_END], credentials());
    expect((JSON.parse(coverage.stdout) as { coverage: { region: string; account: string; unreadLogFiles: string[] }[] }).coverage.filter((c) => c.unreadLogFiles.length > 0)).toEqual([
      expect.objectContaining({ account: '111122223333', region: 'us-east-1', unreadLogFiles: [lostKey.slice(lostKey.lastIndexOf('/') + 1)] }),
    ]);
    // every page listed, the digest fetched once, the throttled object fetched twice
    expect(requests.filter((r) => r.endsWith(' list'))).toHaveLength(Math.ceil(objects.size / PAGE));
    expect(requests.filter((r) => r.includes('CloudTrail-Digest/') && !r.endsWith(' list'))).toEqual([`GET /trail/${digestKey}`]);
    expect(slowDownOnce.size).toBe(0);

    // What analyze of the same files from disk reads is compared in test/unit/s3-logs.test.ts; here, every record.
    expect(s3).toMatchObject({ files: logCount, records: recordCount, rejected: 0, notStored: 0 });

    requests.length = 0;
    const rerun = await inProcess(['analyze', 's3://trail/AWSLogs/', '--store', 's3-store'], credentials());
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain(`  s3: ${logCount} log objects under s3://trail/AWSLogs/: 0 read, ${logCount} skipped (read before; --reread reads them again), 0 failed`);
    // the digest too: its list is in the store
    expect(requests.every((r) => r.endsWith(' list'))).toBe(true);
  });

  it('without credentials says what to set in one line and exits 2', { timeout: 30_000 }, async () => {
    const run = await inProcess(['analyze', 's3://trail/AWSLogs/', '--store', 'no-credentials'], { ...noAwsFiles, AWS_ENDPOINT_URL_S3: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SESSION_TOKEN: '' });
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^cutover-watch: no AWS credentials found \(.*\): set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and run again\n$/);
  });

  it('--region is the region S3 is read in (the table keeps --table-region)', { timeout: 30_000 }, async () => {
    signedRegions.length = 0;
    const run = await inProcess(['analyze', 's3://no-such-trail/', '--region', 'eu-west-2', '--store', 'no-bucket-region'], credentials());
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('cutover-watch: no bucket named no-such-trail (NoSuchBucket: The specified bucket does not exist)\n');
    expect(new Set(signedRegions)).toEqual(new Set(['eu-west-2']));
  });

  it('names a bucket that does not exist, exit 2', { timeout: 30_000 }, async () => {
    const run = await inProcess(['analyze', 's3://no-such-trail/', '--store', 'no-bucket'], credentials());
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('cutover-watch: no bucket named no-such-trail (NoSuchBucket: The specified bucket does not exist)\n');
  });
});

describe('cutover-watch analyze s3:// --since (only the days asked for)', () => {
  it("lists the accounts' and regions' day folders from that day, and reads what they hold", { timeout: 60_000 }, async () => {
    // GIVEN the trail's root, every object of the last six hours on the demo's last day or the one before
    const days = [...new Set([...objects.keys()].filter((k) => !k.includes('Digest')).map((k) => /\/(\d{4}\/\d{2}\/\d{2})\//.exec(k)![1]!))].sort();
    const lastDay = days.at(-1)!;
    // and an object of an older day in the same region folder, which the run must not list
    const any = [...objects.keys()].find((k) => k.includes(`/${lastDay}/`))!;
    const older = any.replace(`/${lastDay}/`, '/2026/10/01/').replace(/_(\d{8})T/, '_20261001T');
    objects.set(older, objects.get(any)!);
    requests.length = 0;

    // WHEN only the last day is asked for
    const run = await inProcess(['analyze', 's3://trail/AWSLogs/', '--since', lastDay.replaceAll('/', '-'), '--store', 'since-store', '--json', '--no-alerts'], credentials());

    // THEN it read exactly that day's log objects, found through the account and region folders
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const read = (JSON.parse(run.stdout) as { s3: { read: number } }).s3.read;
    expect(read).toBe([...objects.keys()].filter((k) => !k.includes('Digest') && k.includes(`/${lastDay}/`)).length);
    expect(requests.some((r) => r.endsWith(' list'))).toBe(true);
    expect(requests.filter((r) => !r.endsWith(' list')).every((r) => r.includes(`/${lastDay}/`))).toBe(true);
    objects.delete(older);
  });

  it('says which paths it can take, and when the days hold nothing', async () => {
    const dayFolder = await inProcess(['analyze', 's3://trail/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/', '--since', '2026-11-01', '--store', 'since-bad'], credentials());
    expect(dayFolder.code).toBe(2);
    expect(dayFolder.stderr).toContain("--since reads CloudTrail's day folders: give an s3:// path at a trail's AWSLogs/ (or AWSLogs/o-…/) folder, an account's or a region's");
    const empty = await inProcess(['analyze', 's3://trail/AWSLogs/', '--since', '2030-01-01', '--store', 'since-empty'], credentials());
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('no CloudTrail log objects under s3://trail/AWSLogs/ since 2030-01-01');
    const local = await inProcess(['analyze', 'logs/', '--since', '14d', '--store', 'since-local'], credentials());
    expect(local.code).toBe(2);
    expect(local.stderr).toContain('--since is for s3:// paths');
  });
});

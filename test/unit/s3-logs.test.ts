import { GetObjectCommand, ListObjectsV2Command, S3Client, type ListObjectsV2CommandInput } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { Command } from 'commander';
import { createHash } from 'node:crypto';
import { access, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseS3Url, S3UrlError } from '../../functions/core/s3-names';
import type { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import { AwsFatalError } from '../../functions/adapters/aws-calls';
import { analyzePaths, type AnalyzeSummary, type Rejection } from '../../functions/adapters/ingest-pipeline';
import { readinessReport } from '../../functions/adapters/readiness-query';
import {
  analyzeSources,
  isS3LogKey,
  listS3Logs,
  type AnalyzeSourcesOptions,
  type S3Listing,
  type SourcesSummary,
} from '../../functions/adapters/s3-logs';
import type { Alert } from '../../functions/core/alert';
import { defaultPolicy } from '../../functions/core/policy';
import { analyzeCommand } from '../../functions/local/cli/commands/analyze';
import { execute } from '../../functions/local/cli/main';
import { digestFile } from '../../functions/local/sample-fleet/digest-trail';
import { embeddedTables } from '../support/embedded-tables';
import { sampleFleet } from '../support/sample-fleets';
import { recordingIo } from '../support/recording-io';

const s3 = mockClient(S3Client);
afterEach(() => s3.reset());
// Unit files share a worker: put the client's real send back for the files after this one.
afterAll(() => s3.restore());

const END = new Date('2026-11-20T00:00:00Z');
const now = () => END;
const noSleep = async () => undefined;

// ---------------------------------------------------------------------------------------------
// A bucket behind the mocked client: ListObjectsV2 pages of `pageSize` keys, GetObject bodies, and
// scripted failures per key.

interface StoredObject {
  body: Buffer;
  etag: string;
}

class FakeBucket {
  readonly objects = new Map<string, StoredObject>();
  /** Errors GetObject throws for a key before it succeeds; `always` never succeeds. */
  readonly failures = new Map<string, { errors: Error[]; always?: boolean }>();
  /** Keys whose next N bodies break off half way (a dropped connection). */
  readonly brokenBodies = new Map<string, number>();
  readonly gets: string[] = [];
  inFlight = 0;
  maxInFlight = 0;

  constructor(
    readonly name: string,
    readonly pageSize = 1000,
  ) {}

  put(key: string, body: Buffer): void {
    this.objects.set(key, { body, etag: `"${createHash('md5').update(body).digest('hex')}"` });
  }

  serve(): void {
    s3.on(ListObjectsV2Command).callsFake((input: ListObjectsV2CommandInput) => {
      if (input.Bucket !== this.name) throw Object.assign(new Error('The specified bucket does not exist'), { name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } });
      const keys = [...this.objects.keys()].filter((k) => k.startsWith(input.Prefix ?? '')).sort();
      const from = input.ContinuationToken ? keys.indexOf(Buffer.from(input.ContinuationToken, 'base64').toString()) + 1 : 0;
      const page = keys.slice(from, from + this.pageSize);
      const truncated = from + this.pageSize < keys.length;
      return {
        Contents: page.map((Key) => ({ Key, ETag: this.objects.get(Key)!.etag, Size: this.objects.get(Key)!.body.length })),
        IsTruncated: truncated,
        ...(truncated ? { NextContinuationToken: Buffer.from(page.at(-1)!).toString('base64') } : {}),
      };
    });
    s3.on(GetObjectCommand).callsFake(async (input: { Bucket: string; Key: string }) => {
      this.gets.push(input.Key);
      this.inFlight += 1;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      try {
        // Let the other calls of the read-ahead start before this one answers.
        await new Promise((resolve) => setImmediate(resolve));
        const failure = this.failures.get(input.Key);
        if (failure && failure.errors.length > 0) {
          const error = failure.always ? failure.errors[0]! : failure.errors.shift()!;
          throw error;
        }
        const object = this.objects.get(input.Key);
        if (!object) throw Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
        const broken = this.brokenBodies.get(input.Key) ?? 0;
        if (broken > 0) this.brokenBodies.set(input.Key, broken - 1);
        const body = broken > 0 ? brokenStream(object.body.subarray(0, object.body.length >> 1)) : Readable.from([object.body]);
        return { Body: body as never, ETag: object.etag, ContentLength: object.body.length };
      } finally {
        this.inFlight -= 1;
      }
    });
  }
}

/** Half a body, then the connection drops. */
function brokenStream(part: Buffer): Readable {
  return Readable.from(
    (async function* () {
      yield part;
      throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    })(),
  );
}

const awsError = (name: string, status: number, message = name) => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });

/** A CloudTrail log file with `n` IRSA assumes of one service account, an hour after `hour`. */
function logFile(hour: string, n: number, tag: string): Buffer {
  const records = Array.from({ length: n }, (_, i) => ({
    eventVersion: '1.08',
    userIdentity: { type: 'WebIdentityUser', principalId: 'arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABCDEF:sts.amazonaws.com:system:serviceaccount:shop:cart', userName: 'system:serviceaccount:shop:cart', identityProvider: 'arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABCDEF' },
    eventTime: `${hour}:${String(10 + i).padStart(2, '0')}:00Z`,
    eventSource: 'sts.amazonaws.com',
    eventName: 'AssumeRoleWithWebIdentity',
    awsRegion: 'us-east-1',
    sourceIPAddress: '10.0.0.1',
    userAgent: 'aws-sdk-go-v2',
    requestParameters: { roleArn: 'arn:aws:iam::111122223333:role/cart', roleSessionName: 'cart-1', durationSeconds: 3600 },
    responseElements: { assumedRoleUser: { arn: 'arn:aws:sts::111122223333:assumed-role/cart/cart-1', assumedRoleId: 'AROAEXAMPLE:cart-1' }, subjectFromWebIdentityToken: 'system:serviceaccount:shop:cart', audience: 'sts.amazonaws.com', provider: 'arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABCDEF' },
    requestID: `req-${tag}-${i}`,
    eventID: `evt-${tag}-${i}`,
    readOnly: true,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: '111122223333',
    eventCategory: 'Management',
  }));
  return gzipSync(Buffer.from(JSON.stringify({ Records: records })));
}

/** `AWSLogs/111122223333/CloudTrail/<region>/2026/11/<dd>/…_<stamp>_<tag>.json.gz` */
const logKey = (region: string, day: string, stamp: string, tag: string) => `AWSLogs/111122223333/CloudTrail/${region}/2026/11/${day}/111122223333_CloudTrail_${region}_202611${day}T${stamp}Z_${tag}.json.gz`;

// ---------------------------------------------------------------------------------------------
// Store

const fixture = embeddedTables('s3-logs');
const freshStore = () => fixture.fresh();

const client = () => new S3Client({ region: 'us-east-1' });

async function run(store: DynamoEvidenceStore, listings: S3Listing[], extra: Partial<AnalyzeSourcesOptions> = {}) {
  const rejections: Rejection[] = [];
  const order: string[] = [];
  const alerts: Alert[] = [];
  const summary = await analyzeSources({
    paths: [],
    listings,
    client: client(),
    store,
    policy: defaultPolicy(),
    now,
    sleep: noSleep,
    onRejection: (r) => rejections.push(r),
    onFileDone: (name) => order.push(name),
    onAlerts: async (a) => void alerts.push(...a),
    ...extra,
  });
  return { summary, rejections, order, alerts };
}

const list = (url: string) => listS3Logs(client(), parseS3Url(url), { sleep: noSleep, region: 'us-east-1' });

// ---------------------------------------------------------------------------------------------

describe('S3 URLs and keys', () => {
  it('takes a bucket and a key prefix, and refuses what is not one, naming it', () => {
    expect(parseS3Url('s3://my-trail/AWSLogs/111122223333/')).toEqual({ bucket: 'my-trail', prefix: 'AWSLogs/111122223333/', url: 's3://my-trail/AWSLogs/111122223333/' });
    expect(parseS3Url('s3://my-trail')).toEqual({ bucket: 'my-trail', prefix: '', url: 's3://my-trail/' });
    expect(() => parseS3Url('s3://My_Trail/x')).toThrow(new S3UrlError('s3://My_Trail/x: "My_Trail" is not an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens): write s3://BUCKET/PREFIX/'));
    expect(() => parseS3Url('s3:///AWSLogs/')).toThrow(S3UrlError);
  });

  it('reads log files, not digests, Insights events, folder markers or other files', () => {
    expect(isS3LogKey(logKey('us-east-1', '19', '0005', 'a'))).toBe(true);
    expect(isS3LogKey('exports/lookup-events.json')).toBe(true);
    expect(isS3LogKey('AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/19/111122223333_CloudTrail-Digest_us-east-1_x_20261119T0005Z.json.gz')).toBe(false);
    expect(isS3LogKey('AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2026/11/19/111122223333_CloudTrail-Insight_us-east-1_20261119T0005Z_a.json.gz')).toBe(false);
    expect(isS3LogKey('flat/111122223333_CloudTrail-Digest_us-east-1_x_20261119T0005Z.json.gz')).toBe(false);
    expect(isS3LogKey('AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/19/')).toBe(false);
    expect(isS3LogKey('AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/19/notes.txt')).toBe(false);
  });
});

describe('listS3Logs', () => {
  it('follows every page (ContinuationToken) and counts what it leaves out', async () => {
    const bucket = new FakeBucket('trail', 2);
    for (const [i, stamp] of ['0005', '0010', '0015', '0020', '0025'].entries()) bucket.put(logKey('us-east-1', '19', stamp, `k${i}`), logFile('2026-11-19T00', 1, `k${i}`));
    bucket.put('AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/19/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20261119T0100Z.json.gz', Buffer.from('{}'));
    bucket.serve();

    const listing = await list('s3://trail/AWSLogs/');

    expect(listing.pages).toBe(3);
    expect(listing.objects.map((o) => o.key)).toEqual([...bucket.objects.keys()].filter(isS3LogKey).sort());
    expect(listing.ignored).toBe(0);
    expect(listing.digests.map((o) => o.key)).toEqual(['AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/19/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20261119T0100Z.json.gz']);
    expect(s3.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input.ContinuationToken === undefined)).toEqual([true, false, false]);
    expect(listing.objects[0]).toMatchObject({ bucket: 'trail', etag: bucket.objects.get(listing.objects[0]!.key)!.etag, url: `s3://trail/${listing.objects[0]!.key}` });
  });

  it('retries a throttled page from its own token, neither losing nor repeating keys', async () => {
    const bucket = new FakeBucket('trail', 1);
    for (const i of [1, 2, 3]) bucket.put(logKey('us-east-1', '19', `000${i}`, `t${i}`), logFile('2026-11-19T00', 1, `t${i}`));
    bucket.serve();
    s3.on(ListObjectsV2Command).rejectsOnce(awsError('SlowDown', 503, 'Please reduce your request rate.')).callsFake((input: ListObjectsV2CommandInput) => {
      // the rest of the calls: as the bucket answers
      const keys = [...bucket.objects.keys()].sort();
      const from = input.ContinuationToken ? keys.indexOf(Buffer.from(input.ContinuationToken, 'base64').toString()) + 1 : 0;
      const truncated = from + 1 < keys.length;
      return { Contents: [{ Key: keys[from], ETag: '"e"', Size: 1 }], IsTruncated: truncated, ...(truncated ? { NextContinuationToken: Buffer.from(keys[from]!).toString('base64') } : {}) };
    });

    const listing = await list('s3://trail/');

    expect(listing.objects).toHaveLength(3);
    expect(new Set(listing.objects.map((o) => o.key)).size).toBe(3);
  });

  it.each([
    [awsError('AccessDenied', 403, 'Access Denied'), 'missing permission s3:ListBucket on s3://trail/AWSLogs/ (AccessDenied: Access Denied)'],
    [awsError('NoSuchBucket', 404, 'The specified bucket does not exist'), 'no bucket named trail (NoSuchBucket: The specified bucket does not exist)'],
    [Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }), 'no AWS credentials found (Could not load credentials from any providers): set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and run again'],
  ])('stops with one line: %s', async (error, line) => {
    s3.on(ListObjectsV2Command).rejects(error);
    await expect(list('s3://trail/AWSLogs/')).rejects.toThrow(new AwsFatalError(line));
  });
});

describe('analyzeSources', () => {
  /** Two regions whose keys sort against their delivery order: us-west-2's 00:05 file comes after us-east-1's 00:20 by key. */
  function twoRegions(): FakeBucket {
    const bucket = new FakeBucket('trail', 3);
    bucket.put(logKey('us-east-1', '19', '0020', 'e2'), logFile('2026-11-19T00', 2, 'e2'));
    bucket.put(logKey('us-east-1', '19', '0010', 'e1'), logFile('2026-11-19T00', 2, 'e1'));
    bucket.put(logKey('us-west-2', '19', '0005', 'w1'), logFile('2026-11-19T00', 2, 'w1'));
    bucket.put(logKey('us-west-2', '19', '0015', 'w2'), logFile('2026-11-19T00', 2, 'w2'));
    bucket.put(logKey('us-east-1', '19', '0030', 'e3'), logFile('2026-11-19T00', 2, 'e3'));
    bucket.serve();
    return bucket;
  }

  it('reads in delivery order across prefixes, several GetObject calls in flight, and records what it read', async () => {
    const bucket = twoRegions();
    const store = await freshStore();

    const { summary, order, rejections } = await run(store, [await list('s3://trail/AWSLogs/')], { concurrency: 3 });

    expect(order.map((u) => /Z_([a-z0-9]+)\.json\.gz$/.exec(u)?.[1])).toEqual(['w1', 'e1', 'w2', 'e2', 'e3']);
    expect(bucket.maxInFlight).toBe(3);
    expect(rejections).toEqual([]);
    expect(summary).toMatchObject({ files: 5, records: 10, inScope: 10, byKind: { irsa: 10 }, rejected: 0, notStored: 0 });
    expect(summary.s3).toEqual({ locations: ['s3://trail/AWSLogs/'], listed: 5, ignored: 0, skipped: 0, read: 5, unrecorded: 0, failed: 0, unfetched: 0, notRead: 0, stopped: null });
    const recorded = await store.sourcesRead('trail', 'AWSLogs/');
    expect([...recorded].sort()).toEqual([...bucket.objects].map(([key, o]) => [key, o.etag]).sort());
  });

  it('skips on a rerun what was read, and reads again an object whose ETag changed: counts stay exact', async () => {
    const bucket = twoRegions();
    const store = await freshStore();
    await run(store, [await list('s3://trail/AWSLogs/')]);
    const evidenceBefore = await readinessReport(store, { asOf: END, soakDays: 14, activeHours: 24 });
    bucket.gets.length = 0;

    const again = await run(store, [await list('s3://trail/AWSLogs/')]);

    expect(bucket.gets).toEqual([]);
    expect(again.summary).toMatchObject({ files: 0, records: 0 });
    expect(again.summary.s3).toMatchObject({ listed: 5, skipped: 5, read: 0 });

    // Same content, new ETag (a re-upload): read again, and every event in it is a replay.
    const changed = logKey('us-west-2', '19', '0015', 'w2');
    bucket.objects.set(changed, { ...bucket.objects.get(changed)!, etag: '"re-uploaded"' });
    const third = await run(store, [await list('s3://trail/AWSLogs/')]);

    expect(bucket.gets).toEqual([changed]);
    expect(third.summary).toMatchObject({ files: 1, records: 2, replayed: 2 });
    expect(third.summary.s3).toMatchObject({ listed: 5, skipped: 4, read: 1 });
    expect((await store.sourcesRead('trail', '')).get(changed)).toBe('"re-uploaded"');
    expect(await readinessReport(store, { asOf: END, soakDays: 14, activeHours: 24 })).toEqual(evidenceBefore);

    const forced = await run(store, [await list('s3://trail/AWSLogs/')], { reread: true });
    expect(forced.summary).toMatchObject({ files: 5, records: 10, replayed: 10, inScope: 10 });
    expect(forced.summary.s3).toMatchObject({ skipped: 0, read: 5 });
  });

  it('retries a throttled GetObject and reads the object', async () => {
    const bucket = twoRegions();
    const key = logKey('us-east-1', '19', '0010', 'e1');
    bucket.failures.set(key, { errors: [awsError('SlowDown', 503, 'Please reduce your request rate.'), awsError('SlowDown', 503, 'Please reduce your request rate.')] });
    const slept: number[] = [];

    const { summary, rejections } = await run(await freshStore(), [await list('s3://trail/')], { sleep: async (ms) => void slept.push(ms) });

    expect(bucket.gets.filter((k) => k === key)).toHaveLength(3);
    expect(slept).toHaveLength(2);
    expect(rejections).toEqual([]);
    expect(summary.s3).toMatchObject({ read: 5, failed: 0 });
  });

  it('reports an object that keeps failing, naming it, reads the rest, and reads it again next run', async () => {
    const bucket = twoRegions();
    const key = logKey('us-west-2', '19', '0015', 'w2');
    bucket.failures.set(key, { errors: [awsError('InternalError', 500, 'We encountered an internal error. Please try again.')], always: true });
    const store = await freshStore();

    const first = await run(store, [await list('s3://trail/')], { objectRetries: 2 });

    expect(first.rejections).toEqual([
      { file: `s3://trail/${key}`, where: null, field: null, reason: 'GetObject still failing after 3 attempts (InternalError: We encountered an internal error. Please try again.): run again to read it' },
    ]);
    expect(first.summary).toMatchObject({ files: 5, records: 8, rejected: 1 });
    expect(first.summary.s3).toMatchObject({ read: 4, failed: 1 });
    expect(bucket.gets.filter((k) => k === key)).toHaveLength(3);

    bucket.failures.clear();
    const second = await run(store, [await list('s3://trail/')]);
    expect(second.order).toEqual([`s3://trail/${key}`]);
    expect(second.summary.s3).toMatchObject({ skipped: 4, read: 1, failed: 0 });
  });

  it.each([
    [awsError('AccessDenied', 403, 'Access Denied'), 'missing permission s3:GetObject (or kms:Decrypt for an SSE-KMS trail) (AccessDenied: Access Denied)'],
    [awsError('AccessDenied', 403, 'User is not authorized to perform: kms:Decrypt'), "missing permission kms:Decrypt on the trail's KMS key (AccessDenied: User is not authorized to perform: kms:Decrypt)"],
    [awsError('InvalidObjectState', 403, 'The operation is not valid for the object\'s storage class'), "archived (S3 Glacier or an archive access tier): restore it, then run again (InvalidObjectState: The operation is not valid for the object's storage class)"],
  ])('says why an object cannot be read, without retrying: %s', async (error, reason) => {
    const bucket = twoRegions();
    const key = logKey('us-east-1', '19', '0030', 'e3');
    bucket.failures.set(key, { errors: [error], always: true });

    const { rejections } = await run(await freshStore(), [await list('s3://trail/')]);

    expect(rejections).toEqual([{ file: `s3://trail/${key}`, where: null, field: null, reason }]);
    expect(bucket.gets.filter((k) => k === key)).toHaveLength(1);
  });

  it('keeps the records before a truncated gzip, rejects the object by name, proves no coverage with it and reads it again next run', async () => {
    const bucket = twoRegions();
    const key = logKey('us-east-1', '19', '0020', 'e2');
    const whole = bucket.objects.get(key)!.body;
    bucket.put(key, whole.subarray(0, whole.length - 20));
    const store = await freshStore();

    const first = await run(store, [await list('s3://trail/')]);

    expect(first.rejections).toHaveLength(1);
    expect(first.rejections[0]).toMatchObject({ file: `s3://trail/${key}`, where: null });
    expect(first.rejections[0]!.reason).toMatch(/^truncated or corrupt gzip/);
    expect(first.summary.s3).toMatchObject({ read: 4, failed: 1 });
    expect((await store.sourcesRead('trail', '')).has(key)).toBe(false);

    const second = await run(store, [await list('s3://trail/')]);
    expect(second.order).toEqual([`s3://trail/${key}`]);
    expect(second.summary.s3).toMatchObject({ skipped: 4, failed: 1 });
  });

  it('reads again a body that broke off while read ahead', async () => {
    const bucket = twoRegions();
    const key = logKey('us-west-2', '19', '0005', 'w1');
    bucket.brokenBodies.set(key, 1);

    const { summary, rejections } = await run(await freshStore(), [await list('s3://trail/')]);

    expect(rejections).toEqual([]);
    expect(bucket.gets.filter((k) => k === key)).toHaveLength(2);
    expect(summary).toMatchObject({ records: 10, inScope: 10 });
    expect(summary.s3).toMatchObject({ read: 5, failed: 0 });
  });

  it('streams objects over the read-ahead size in order; one whose body breaks off is a rejection, read again next run', async () => {
    const bucket = twoRegions();
    const key = logKey('us-east-1', '19', '0020', 'e2');
    bucket.brokenBodies.set(key, 1);
    const store = await freshStore();

    const first = await run(store, [await list('s3://trail/')], { prefetchObjectBytes: 0 });

    expect(first.order.map((u) => /Z_([a-z0-9]+)\.json\.gz$/.exec(u)?.[1])).toEqual(['w1', 'e1', 'w2', 'e2', 'e3']);
    expect(bucket.maxInFlight).toBe(1);
    expect(first.rejections).toEqual([{ file: `s3://trail/${key}`, where: null, field: null, reason: 'read ECONNRESET' }]);
    expect(first.summary).toMatchObject({ records: 8, rejected: 1 });
    expect(first.summary.s3).toMatchObject({ read: 4, failed: 1 });

    const second = await run(store, [await list('s3://trail/')], { prefetchObjectBytes: 0 });
    expect(second.order).toEqual([`s3://trail/${key}`]);
    expect(second.summary).toMatchObject({ records: 2, rejected: 0 });
    expect(second.summary.s3).toMatchObject({ skipped: 4, read: 1, failed: 0 });
  });

  it('stops reading when the credentials expire, keeps what it read and leaves the rest to the next run', async () => {
    const bucket = twoRegions();
    const key = logKey('us-east-1', '19', '0020', 'e2');
    bucket.failures.set(key, { errors: [awsError('ExpiredToken', 400, 'The provided token has expired.')], always: true });
    const store = await freshStore();

    const { summary, order } = await run(store, [await list('s3://trail/')], { concurrency: 1, checkpointObjects: 2 });

    expect(summary.s3).toMatchObject({
      read: 3,
      failed: 1,
      unfetched: 1,
      notRead: 1,
      stopped: 'the AWS credentials have expired (ExpiredToken): refresh them (aws sso login, or new session credentials) and run again',
    });
    expect(order).toHaveLength(4);
    expect([...(await store.sourcesRead('trail', '')).keys()]).toHaveLength(3);
  });
});

describe('analyze of S3 and of the same files on disk', () => {
  // The sample fleet's last two days (about 190 log files of two accounts and three regions, with planted alerts).
  const fleet = sampleFleet({ seed: 7, end: END });
  const since = END.getTime() - 2 * 86_400_000;
  const files = fleet.files.filter((f) => Date.parse(`${/_(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})Z_/.exec(f.key)!.slice(1, 4).join('-')}T00:00:00Z`) >= since);

  it('counts, stores, alerts and covers the same, read in several checkpointed groups', { timeout: 60_000 }, async () => {
    const bucket = new FakeBucket('fleet-trail', 100);
    const logs = path.join(fixture.work, 'fleet-logs');
    for (const f of files) {
      const body = gzipSync(Buffer.from(JSON.stringify({ Records: f.records })));
      bucket.put(f.key, body);
      await mkdir(path.dirname(path.join(logs, f.key)), { recursive: true });
      await writeFile(path.join(logs, f.key), body);
    }
    bucket.serve();

    const fromDisk = await freshStore();
    const diskAlerts: Alert[] = [];
    const disk = await analyzePaths({ paths: [logs], store: fromDisk, policy: defaultPolicy(), now, onAlerts: async (a) => void diskAlerts.push(...a) });
    const fromS3 = await freshStore();
    const remote = await run(fromS3, [await list('s3://fleet-trail/AWSLogs/')], { checkpointObjects: 64 });

    const counts = ({ seconds: _s, itemsWritten: _w, ...rest }: AnalyzeSummary | SourcesSummary) => rest;
    const { s3: s3Part, ...remoteCounts } = remote.summary;
    expect(disk.files).toBe(files.length);
    expect(disk.inScope).toBeGreaterThan(300);
    expect(diskAlerts.length).toBeGreaterThan(0);
    expect(counts(remoteCounts)).toEqual(counts(disk));
    expect(s3Part).toMatchObject({ listed: files.length, read: files.length, failed: 0 });
    expect(remote.alerts.map((a) => a.id).sort()).toEqual(diskAlerts.map((a) => a.id).sort());
    expect(await fromS3.coverageDays()).toEqual(await fromDisk.coverageDays());
    const judge = (store: DynamoEvidenceStore) => readinessReport(store, { asOf: END, soakDays: 14, activeHours: 24 });
    expect(await judge(fromS3)).toEqual(await judge(fromDisk));
  });
});

// ---------------------------------------------------------------------------------------------
// The command, in process, the way main.ts runs it.

async function cli(argv: string[], s3Client: () => Promise<{ client: S3Client; region: string }> = async () => ({ client: client(), region: 'us-east-1' })) {
  const { io, out, err } = recordingIo(fixture.work, now);
  let code = 0;
  const program = new Command('cutover-watch');
  analyzeCommand(program, io, (c) => (code = Math.max(code, c)), { s3Client, sleep: noSleep });
  code = await execute(program, argv, io, () => code);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('cutover-watch analyze s3://', () => {
  it('reads a prefix, says what it read, and on a rerun how many it skipped', async () => {
    const bucket = new FakeBucket('trail', 2);
    const files = [logKey('us-east-1', '19', '0010', 'e1'), logKey('us-east-1', '19', '0020', 'e2')].map((key, i) => ({ key, body: logFile('2026-11-19T00', 2, `e${i + 1}`) }));
    for (const { key, body } of files) bucket.put(key, body);
    const digest = digestFile(files.map(({ key, body }) => ({ key, content: gunzipSync(body) })));
    bucket.put(digest.key, digest.body);
    bucket.serve();

    const first = await cli(['analyze', 's3://trail/AWSLogs/', '--store', 'cli-s3', '--no-alerts']);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(first.out).toContain('analyzed 2 files, 4 records');
    expect(first.out).toContain('  s3: 2 log objects under s3://trail/AWSLogs/: 2 read, 0 skipped (read before; --reread reads them again), 0 failed');
    expect(first.out).toContain('  CloudTrail digests: 1 digest file read, listing 2 log files; every log file the digests list was read');

    const again = await cli(['analyze', 's3://trail/AWSLogs/', '--store', 'cli-s3', '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({ files: 0, records: 0, s3: { listed: 2, ignored: 0, skipped: 2, read: 0, failed: 0 }, digests: { files: 0, skipped: 1, logFilesListed: 0, logFilesUnread: 0 } });
  });

  it('mixes local paths and S3 in one run', async () => {
    const bucket = new FakeBucket('trail');
    bucket.put(logKey('us-east-1', '19', '0010', 'm1'), logFile('2026-11-19T00', 1, 'm1'));
    bucket.serve();
    const local = path.join(fixture.work, 'mixed', logKey('us-west-2', '19', '0005', 'm0'));
    await mkdir(path.dirname(local), { recursive: true });
    await writeFile(local, logFile('2026-11-19T00', 1, 'm0'));

    const run = await cli(['analyze', path.join(fixture.work, 'mixed'), 's3://trail/', '--store', 'cli-mixed', '--json', '--no-alerts']);

    expect(run.code).toBe(0);
    expect(JSON.parse(run.out)).toMatchObject({ files: 2, records: 2, inScope: 2, s3: { listed: 1, read: 1 } });
  });

  it('without credentials says what to set, in one line, exit 2, and creates no store', async () => {
    s3.on(ListObjectsV2Command).rejects(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }));

    const run = await cli(['analyze', 's3://trail/AWSLogs/', '--store', 'never-made']);

    expect(run.code).toBe(2);
    expect(run.err).toBe('cutover-watch: no AWS credentials found (Could not load credentials from any providers): set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and run again');
    await expect(access(path.join(fixture.work, 'never-made'))).rejects.toThrow(/ENOENT/);
  });

  it('refuses a bad bucket name before any call, and says an empty prefix has no logs (exit 2)', async () => {
    const bad = await cli(['analyze', 's3://Not_A_Bucket/x', '--store', 'never-made']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('"Not_A_Bucket" is not an S3 bucket name');
    expect(s3.calls()).toHaveLength(0);

    new FakeBucket('trail').serve();
    const empty = await cli(['analyze', 's3://trail/AWSLogs/', '--store', 'cli-empty']);
    expect(empty.code).toBe(2);
    expect(empty.err).toContain('s3://trail/AWSLogs/: no CloudTrail log objects (.json.gz, .json) under s3://trail/AWSLogs/');
  });

  it('documents s3:// paths, --reread and the permissions in --help', async () => {
    const help = await cli(['analyze', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain("s3://BUCKET/PREFIX/ reads a trail's S3 objects");
    expect(help.out).toContain('--reread');
    // commander wraps help text to the terminal's width: compare with the line breaks taken out
    expect(help.out.replace(/\s+/g, ' ')).toContain('s3:ListBucket on the bucket (for the prefix), s3:GetObject on the objects');
  });
});

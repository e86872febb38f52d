import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import { foldTrail, TrailFoldError, trailPlace } from '../../functions/adapters/trail-fold';
import { LoopbackS3 } from '../support/loopback-s3';

// The trail fold's listing through the real S3 client (its XML, paging with a continuation token,
// `Delimiter=/` as common prefixes) against a loopback bucket of one key a page.
const bucket = new LoopbackS3('org-trail', 1);
let client: S3Client;

beforeAll(async () => {
  await bucket.start();
  client = new S3Client({ endpoint: bucket.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  // Three accounts' folders with a log object of 2026-10-01 each, and folders that are not accounts
  for (const account of ['111122223333', '444455556666', '777788889999']) {
    bucket.objects.set(`AWSLogs/o-a1b2c3d4e5/${account}/CloudTrail/us-east-1/2026/10/01/${account}_CloudTrail_us-east-1_20261001T0000Z_x.json.gz`, Buffer.from('x'));
  }
  bucket.objects.set('AWSLogs/o-a1b2c3d4e5/not-an-account/readme.txt', Buffer.from('x'));
  bucket.objects.set('AWSLogs/o-a1b2c3d4e5/readme.txt', Buffer.from('x'));
});
afterAll(async () => {
  client.destroy();
  await bucket.stop();
});

const fold = (prefix: string, now: string) =>
  foldTrail({
    client,
    // never reached: every case here stops at the listing
    store: {} as DynamoEvidenceStore,
    trail: { bucket: 'org-trail', prefix },
    accounts: [],
    regions: ['us-east-1', 'eu-west-1'],
    lookbackDays: 2,
    deadline: Date.now() + 60_000,
    now: () => new Date(now),
  });

describe('the trail fold finding its folders', () => {
  it('finds every account folder page by page, and says when their days hold no log object', async () => {
    // WHEN a run on 2026-12-04 lists 2026-12-02..04, where nothing was written
    const run = fold('AWSLogs/o-a1b2c3d4e5/', '2026-12-04T10:00:00Z');

    // THEN it fails naming the accounts it found (all three, across pages of one key) and the days
    await expect(run).rejects.toThrow(TrailFoldError);
    await expect(fold('AWSLogs/o-a1b2c3d4e5/', '2026-12-04T10:00:00Z')).rejects.toThrow(
      'no CloudTrail log object under s3://org-trail/AWSLogs/o-a1b2c3d4e5/ for accounts 111122223333, 444455556666, 777788889999 in us-east-1, eu-west-1 since 2026-12-02',
    );
    expect(bucket.requests.filter((r) => r.endsWith(' list')).length).toBeGreaterThan(5);
  });

  it('fails naming the prefix when no account folder is under it', async () => {
    await expect(fold('AWSLogs/', '2026-12-04T10:00:00Z')).rejects.toThrow(/no account folder \(12 digits\) under s3:\/\/org-trail\/AWSLogs\/: check the prefix/);
  });
});

describe('trailPlace', () => {
  it("tells where a prefix stands in CloudTrail's layout, and null elsewhere", () => {
    expect(trailPlace('AWSLogs/')).toEqual({ root: 'AWSLogs/', account: null, region: null });
    expect(trailPlace('team-a/AWSLogs/o-a1b2c3d4e5/')).toEqual({ root: 'team-a/AWSLogs/o-a1b2c3d4e5/', account: null, region: null });
    expect(trailPlace('AWSLogs/111122223333/')).toEqual({ root: 'AWSLogs/', account: '111122223333', region: null });
    expect(trailPlace('AWSLogs/111122223333/CloudTrail/')).toEqual({ root: 'AWSLogs/', account: '111122223333', region: null });
    expect(trailPlace('AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail/eu-west-1/')).toEqual({ root: 'AWSLogs/o-a1b2c3d4e5/', account: '111122223333', region: 'eu-west-1' });
    for (const elsewhere of ['', 'AWSLogs', 'AWSLogs/1111', 'AWSLogs/111122223333/CloudTrail/eu-west-1/2026/', 'AWSLogs/111122223333/CloudTrail-Digest/', 'logs/']) {
      expect(trailPlace(elsewhere), elsewhere).toBeNull();
    }
  });
});

import { GetObjectCommand, ListObjectsV2Command, S3Client, type ListObjectsV2CommandInput } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import { analyzePaths } from '../../functions/adapters/ingest-pipeline';
import { readinessReport } from '../../functions/adapters/readiness-query';
import { analyzeSources, listS3Logs } from '../../functions/adapters/s3-logs';
import { regionOfKey, trailDayFolders } from '../../functions/adapters/trail-fold';
import { placeCoverage } from '../../functions/core/coverage';
import { defaultPolicy } from '../../functions/core/policy';
import { readInventoryFiles } from '../../functions/local/cli/commands/inventory';
import { startEmbeddedStore, type EmbeddedStore } from '../../functions/local/embedded-store';
import { generateSampleFleet, writeSampleFleet } from '../../functions/local/sample-fleet';
import { digestFile } from '../../functions/local/sample-fleet/digest-trail';
import { handlerEnvironment } from '../support/handler-environment';
import { storedEvidence } from '../support/stored-evidence';

// The scheduled trail fold on a real DynamoDB API (dynalite), the trail's bucket faked at the S3
// client: a day and a half of the sample fleet's log objects in CloudTrail's layout.

const NOW = new Date();
const BUCKET = 'org-trail';
let dir: string;
let embedded: EmbeddedStore;
let logDir: string;
let inventoryFiles: string[];
/** The bucket: key → body, as CloudTrail wrote it (gzip). */
const objects = new Map<string, Buffer>();
/** The object the digest lists and the bucket lacks. */
let lost: string;
const s3 = mockClient(S3Client);
const gets: string[] = [];
/** What the bucket answers every call of that kind with instead, while set. */
const denied: { list?: Error; get?: Error } = {};
const accessDenied = (message: string) => Object.assign(new Error(message), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cw-trail-fold-'));
  embedded = await startEmbeddedStore(path.join(dir, 'store'), { openToAnyClient: true });
  // metrics on (dev mode turns them off): printed to the console as EMF, where the tests read them
  handlerEnvironment(embedded.endpoint, { TRAIL_BUCKET: BUCKET, TRAIL_PREFIX: 'AWSLogs/', TRAIL_REGIONS: 'us-east-1,eu-west-1,us-west-2', TRAIL_LOOKBACK_DAYS: '2', POWERTOOLS_METRICS_DISABLED: 'false' });
  const written = await writeSampleFleet(path.join(dir, 'fleet'), generateSampleFleet({ seed: 7, end: NOW, days: 1 }));
  logDir = written.logDir;
  inventoryFiles = (await readdir(written.inventoryDir)).map((f) => path.join(written.inventoryDir, f));
  for (const file of await readdir(logDir, { recursive: true })) {
    if (file.endsWith('.json.gz')) objects.set(`AWSLogs/${file.split(path.sep).join('/').replace(/^.*?AWSLogs\//, '')}`, await readFile(path.join(logDir, file)));
  }
  // One hour's digest of 111122223333's us-east-1 objects, beside them in the bucket and in the
  // folder analyze reads, which lists one more: an object CloudTrail delivered that the bucket lost.
  const hourOf = (key: string) => /_(\d{8}T\d{2})\d{2}Z_/.exec(key)![1]!;
  const east = [...objects.keys()].filter((k) => k.startsWith('AWSLogs/111122223333/CloudTrail/us-east-1/') && !hourOf(k).endsWith('T23')).sort();
  const inHour = east.filter((k) => hourOf(k) === hourOf(east[0]!));
  lost = east[0]!.replace(/_[A-Za-z0-9]+\.json\.gz$/, '_LostObject000001.json.gz');
  const start = Date.parse(`${hourOf(lost).replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})$/, '$1-$2-$3T$4')}:00:00Z`);
  const digest = digestFile(
    inHour.map((key) => ({ key, content: gunzipSync(objects.get(key)!) })),
    'org-trail',
    [{ key: lost, oldest: new Date(start + 60_000).toISOString(), newest: new Date(start + 120_000).toISOString() }],
  );
  objects.set(digest.key, digest.body);
  await mkdir(path.dirname(path.join(logDir, digest.key)), { recursive: true });
  await writeFile(path.join(logDir, digest.key), digest.body);
  s3.on(ListObjectsV2Command).callsFake((input: ListObjectsV2CommandInput) => {
    if (denied.list) throw denied.list;
    const prefix = input.Prefix ?? '';
    const keys = [...objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    if (input.Delimiter === '/') {
      const folders = [...new Set(keys.map((k) => k.slice(0, k.indexOf('/', prefix.length) + 1)))];
      return { CommonPrefixes: folders.map((Prefix) => ({ Prefix })), IsTruncated: false };
    }
    return { Contents: keys.map((Key) => ({ Key, ETag: etag(objects.get(Key)!), Size: objects.get(Key)!.length })), IsTruncated: false };
  });
  s3.on(GetObjectCommand).callsFake((input: { Key: string }) => {
    gets.push(input.Key);
    if (denied.get) throw denied.get;
    const body = objects.get(input.Key)!;
    return { Body: Readable.from([body]) as never, ETag: etag(body), ContentLength: body.length };
  });
}, 60_000);
afterAll(async () => {
  s3.restore();
  await embedded.close();
  await rm(dir, { recursive: true, force: true });
});

const etag = (body: Buffer) => `"${createHash('md5').update(body).digest('hex')}"`;
const minutes = (n: number) => ({ getRemainingTimeInMillis: () => n * 60_000 });

async function table(name: string): Promise<DynamoEvidenceStore> {
  const store = new DynamoEvidenceStore({ client: embedded.client, tableName: name, singleWriter: true });
  await store.ensureTable();
  await store.saveInventory(await readInventoryFiles(inventoryFiles));
  return store;
}

/**
 * `analyze` over the fleet's files (the folder, not the bucket: no test changes it) into a table of
 * its own, and its evidence: what a fold that read every object must hold. Made by the first test
 * that asks, whichever runs first, and only read after: each test that built its own repeated the
 * same analysis (~0.4-0.7 s of CPU).
 */
let analyzed: Promise<{ store: DynamoEvidenceStore; evidence: Awaited<ReturnType<typeof storedEvidence>> }> | undefined;
const reference = () =>
  (analyzed ??= (async () => {
    const store = await table('reference');
    await analyzePaths({ paths: [logDir], store, policy: defaultPolicy(), now: () => NOW });
    return { store, evidence: await storedEvidence(store) };
  })());


async function trailFold(tableName: string, env: Record<string, string | undefined> = {}) {
  const saved = { ...process.env };
  Object.assign(process.env, { TABLE_NAME: tableName });
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  vi.resetModules();
  try {
    return (await import('../../functions/handlers/trail-fold')).handler;
  } finally {
    process.env = saved;
  }
}

describe('trail fold handler (scheduled)', () => {
  it("reads the trail's day folders into the table as analyze reads the same files, then only what is new", async () => {
    // GIVEN a table with the inventory, the fold configured for the fleet's two accounts
    const store = await table('fold');
    const handler = await trailFold('fold', { TRAIL_ACCOUNTS: '111122223333,444455556666' });

    // WHEN it runs
    gets.length = 0;
    const logged = vi.mocked(console.log).mock.calls.length;
    await handler({}, minutes(15));

    // THEN its metrics (EMF) give the heartbeat per region and the dashboard's events and alerts
    const emf = vi.mocked(console.log).mock.calls.slice(logged).map(([line]) => String(line)).filter((line) => line.includes('"_aws"')).map((line) => JSON.parse(line) as Record<string, unknown>);
    const metric = (name: string, dimension: string) => emf.filter((m) => name in m).map((m) => [m[dimension], m[name]]);
    expect(metric('TrailObjectsByRegion', 'region').map(([region]) => region).sort()).toEqual(['eu-west-1', 'us-east-1', 'us-west-2']);
    expect(metric('TrailEventsByKind', 'kind')).toEqual(expect.arrayContaining([['irsa', expect.any(Number)], ['pod-identity', expect.any(Number)]]));
    expect(metric('AlertsRaised', 'detection').length).toBeGreaterThan(0);

    // THEN every log object and the digest was read once, and the evidence, coverage and verdicts
    // are those of analyze over the same files
    expect(gets.sort()).toEqual([...objects.keys()].sort());
    const analyze = await reference();
    const items = await storedEvidence(store);
    expect(items.filter((i) => i.type === 'sa').length).toBeGreaterThan(10);
    expect(items).toEqual(analyze.evidence);
    const coverage = await store.coverageDays();
    expect(coverage.some((d) => d.fileHours.length > 0)).toBe(true);
    expect(coverage).toEqual(await analyze.store.coverageDays());
    expect([...placeCoverage(coverage).values()].flatMap((p) => p.unread.map((u) => u.name))).toEqual([lost.slice(lost.lastIndexOf('/') + 1)]);
    const verdicts = async (s: DynamoEvidenceStore) => (await readinessReport(s, { asOf: NOW, soakDays: 14, activeHours: 48 })).namespaces;
    const folded = await verdicts(store);
    expect(folded.length).toBeGreaterThan(5);
    expect(folded).toEqual(await verdicts(analyze.store));

    // WHEN it runs again, and once more after CloudTrail delivered one more object
    gets.length = 0;
    await handler({}, minutes(15));
    expect(gets).toEqual([]);
    const late = [...objects.keys()].find((k) => k.includes('/us-east-1/') && !k.includes('Digest'))!.replace(/_([A-Za-z0-9]+)\.json\.gz$/, '_late0000.json.gz');
    objects.set(late, objects.get([...objects.keys()].find((k) => k.includes('/us-east-1/') && !k.includes('Digest'))!)!);
    await handler({}, minutes(15));

    // THEN the second run read nothing, the third only the new object, whose events (replays of
    // events already counted) changed nothing
    expect(gets).toEqual([late]);
    expect(await storedEvidence(store)).toEqual(analyze.evidence);
    objects.delete(late);
  }, 60_000);

  it('stops taking objects when its time is up, and the next run reads the rest', async () => {
    // GIVEN a fresh table, the accounts found in the bucket (no TRAIL_ACCOUNTS)
    const store = await table('deadline');
    const handler = await trailFold('deadline', { TRAIL_ACCOUNTS: undefined });

    // WHEN it runs with less time left than it keeps for the end of a run
    gets.length = 0;
    await handler({}, minutes(1));

    // THEN it read nothing and did not fail; WHEN it runs with time, THEN it reads every object
    expect(gets).toEqual([]);
    await handler({}, minutes(15));
    expect(new Set(gets)).toEqual(new Set(objects.keys()));
    expect(await storedEvidence(store)).toEqual((await reference()).evidence);
  }, 60_000);
});

describe('trail fold handler after the CLI read some of the trail into the same table', () => {
  it('reads only the objects the CLI did not (analyze s3:// records them as the fold does)', async () => {
    // GIVEN `cutover-watch analyze --table … s3://…/<one day folder>/` run before: the same adapter
    const store = await table('after-cli');
    // the day folder holding the most objects: the fleet ends now, so at any hour one of its two days holds 12 or more
    const folders = new Map<string, number>();
    for (const k of objects.keys()) {
      const dayFolder = k.replace(/[^/]+$/, '');
      if (k.includes('/CloudTrail/us-east-1/')) folders.set(dayFolder, (folders.get(dayFolder) ?? 0) + 1);
    }
    const folder = [...folders].sort((a, b) => b[1] - a[1])[0]![0];
    const listing = await listS3Logs(new S3Client({ region: 'us-east-1' }), { bucket: BUCKET, prefix: folder, url: `s3://${BUCKET}/${folder}` });
    await analyzeSources({ paths: [], listings: [listing], client: new S3Client({ region: 'us-east-1' }), store, policy: defaultPolicy(), now: () => NOW });
    const byCli = new Set(listing.objects.map((o) => o.key));
    expect(byCli.size).toBeGreaterThan(3);

    // WHEN the fold runs
    gets.length = 0;
    await (await trailFold('after-cli', { TRAIL_ACCOUNTS: '111122223333,444455556666' }))({}, minutes(15));

    // THEN it read every other log object (and the digest), none the CLI read
    expect(new Set(gets)).toEqual(new Set([...objects.keys()].filter((k) => !byCli.has(k))));
  }, 60_000);
});

describe('trail fold handler with the deployment\'s node role ARNs', () => {
  it('attributes the calls of a node role no pattern or node group names only when NODE_ROLE_ARNS lists it', async () => {
    // GIVEN one more object: a call of the role custom-nodes, which no default pattern matches
    const role = 'arn:aws:iam::111122223333:role/custom-nodes';
    const fixture = JSON.parse(await readFile(path.join(__dirname, '../fixtures/cloudtrail/node-role-s3-list-buckets-imdsv1.json'), 'utf8')) as Record<string, any>;
    const at = new Date(NOW.getTime() - 3_600_000);
    const record = {
      ...fixture,
      eventTime: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      eventID: '0d6c3b1a-1111-4b6c-95e4-f3d2c1b0a987',
      awsRegion: 'us-east-1',
      recipientAccountId: '111122223333',
      userIdentity: {
        ...fixture['userIdentity'],
        arn: 'arn:aws:sts::111122223333:assumed-role/custom-nodes/i-0abc',
        accountId: '111122223333',
        sessionContext: { ...fixture['userIdentity'].sessionContext, sessionIssuer: { ...fixture['userIdentity'].sessionContext.sessionIssuer, arn: role, accountId: '111122223333', userName: 'custom-nodes' } },
      },
    };
    const key = `AWSLogs/111122223333/CloudTrail/us-east-1/${at.toISOString().slice(0, 10).replaceAll('-', '/')}/111122223333_CloudTrail_us-east-1_${at.toISOString().slice(0, 13).replace(/[-:]/g, '')}00Z_custom.json.gz`;
    objects.set(key, gzipSync(JSON.stringify({ Records: [record] })));
    try {
      const nodeCalls = async (store: DynamoEvidenceStore) => (await storedEvidence(store)).filter((i) => i.type === 'node-call' && JSON.stringify(i).includes('custom-nodes'));
      // WHEN a fold runs without the ARN, and another with it, over the region of that object (the
      // account's other region holds no call of custom-nodes: reading it only doubled each fold)
      const without = await table('roles-without');
      await (await trailFold('roles-without', { TRAIL_ACCOUNTS: '111122223333', TRAIL_REGIONS: 'us-east-1' }))({}, minutes(15));
      const withRole = await table('roles-with');
      await (await trailFold('roles-with', { TRAIL_ACCOUNTS: '111122223333', TRAIL_REGIONS: 'us-east-1', NODE_ROLE_ARNS: role }))({}, minutes(15));

      // THEN only the second holds the call as a node-role call
      expect(await nodeCalls(without)).toEqual([]);
      expect(await nodeCalls(withRole)).toHaveLength(1);
    } finally {
      objects.delete(key);
    }
  }, 60_000);
});

describe('trail fold handler without access', () => {
  it('fails the run naming the missing permission, and records nothing it did not read', async () => {
    const store = await table('denied');
    const handler = await trailFold('denied', { TRAIL_ACCOUNTS: '111122223333' });
    try {
      // WHEN the role may not list the prefix
      denied.list = accessDenied('Access Denied');
      await expect(handler({}, minutes(15))).rejects.toThrow(/s3:ListBucket/);
      // WHEN it may list but not read (a KMS key that does not allow it)
      delete denied.list;
      denied.get = accessDenied('User is not authorized to perform kms:Decrypt');
      await expect(handler({}, minutes(15))).rejects.toThrow(/trail objects could not be fetched .*kms:Decrypt/);
    } finally {
      delete denied.list;
      delete denied.get;
    }
    // WHEN the prefix names no account folder, or the accounts have no object in these days
    await expect((await trailFold('denied', { TRAIL_ACCOUNTS: undefined, TRAIL_PREFIX: 'AWSLogs/o-a1b2c3d4e5/' }))({}, minutes(15))).rejects.toThrow(
      /no account folder \(12 digits\) under s3:\/\/org-trail\/AWSLogs\/o-a1b2c3d4e5\/: check the prefix/,
    );
    await expect((await trailFold('denied', { TRAIL_ACCOUNTS: '999988887777' }))({}, minutes(15))).rejects.toThrow(
      /no CloudTrail log object under s3:\/\/org-trail\/AWSLogs\/ for accounts 999988887777 in us-east-1, eu-west-1, us-west-2 since \d{4}-\d{2}-\d{2}: check the prefix/,
    );

    // THEN no object is recorded as read: the next run (allowed) reads them all
    expect(await store.sourcesRead(BUCKET, 'AWSLogs/')).toEqual(new Map());
    gets.length = 0;
    await handler({}, minutes(15));
    // (the digest too: a digest not read is not recorded either)
    expect(gets.length).toBe([...objects.keys()].filter((k) => k.startsWith('AWSLogs/111122223333/')).length);
  }, 60_000);
});

describe('trail day folders', () => {
  it('lists today and the days before it, every account and region, oldest first', () => {
    expect(trailDayFolders({ bucket: 'b', prefix: 'AWSLogs/o-a1b2c3d4e5/' }, ['111122223333'], ['us-east-1', 'eu-west-1'], new Date('2026-03-01T00:30:00Z'), 1)).toEqual([
      'AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail/us-east-1/2026/02/28/',
      'AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail/eu-west-1/2026/02/28/',
      'AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail/us-east-1/2026/03/01/',
      'AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail/eu-west-1/2026/03/01/',
    ]);
    expect(regionOfKey('s3://b/AWSLogs/1/CloudTrail/ap-south-1/2026/03/01/x.json.gz')).toBe('ap-south-1');
    expect(regionOfKey('s3://b/AWSLogs/1/CloudTrail-Digest/x.json.gz')).toBeNull();
  });
});

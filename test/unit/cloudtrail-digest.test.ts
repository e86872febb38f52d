import { describe, expect, it } from 'vitest';
import { DIGEST_FILE_NAME, digestName, logFileName, readDigest } from '../../functions/core/cloudtrail-digest';
import { placesToMark } from '../../functions/adapters/ingest-pipeline';
import { CoverageAccumulator, describeHoleCause, placeCoverage, type CoverageDay } from '../../functions/core/coverage';
import { describeUnread, unreadListed } from '../../functions/core/coverage-marks';
import { subtractIntervals } from '../../functions/core/intervals';

const LOG_KEY = 'AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail/eu-west-1/2026/11/19/111122223333_CloudTrail_eu-west-1_20261119T0005Z_Abc123Def456Ghi7.json.gz';
const entry = (over: Record<string, unknown> = {}) => ({
  s3Bucket: 'trail-bucket',
  s3Object: LOG_KEY,
  hashValue: 'ab'.repeat(32),
  hashAlgorithm: 'SHA-256',
  oldestEventTime: '2026-11-18T23:55:12Z',
  newestEventTime: '2026-11-19T00:04:40Z',
  ...over,
});
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('CloudTrail digest files', () => {
  it("read a log file's place, delivery day and identity from its name, in a folder or an S3 key", () => {
    expect(logFileName(LOG_KEY)).toEqual({ account: '111122223333', region: 'eu-west-1', day: '2026-11-19', token: '20261119T0005Z_Abc123Def456Ghi7' });
    expect(logFileName('/data/logs/111122223333_CloudTrail_eu-west-1_20261119T0005Z_Abc123Def456Ghi7.json')).toMatchObject({ token: '20261119T0005Z_Abc123Def456Ghi7' });
    // Renamed, a digest, Insights: not a log file by its name
    expect(logFileName('/data/logs/trail-copy.json.gz')).toBeNull();
    expect(logFileName('111122223333_CloudTrail-Digest_eu-west-1_trail_eu-west-1_20261119T010000Z.json.gz')).toBeNull();
    expect(logFileName('111122223333_CloudTrail-Insight_eu-west-1_20261119T0005Z_Abc.json.gz')).toBeNull();
    expect(DIGEST_FILE_NAME.test('111122223333_CloudTrail-Digest_eu-west-1_trail_eu-west-1_20261119T010000Z_backfill.json.gz')).toBe(true);
  });

  it('list each log file with the span of its own events, else the digest’s', () => {
    const read = readDigest({ oldestEventTime: '2026-11-18T23:00:00Z', newestEventTime: '2026-11-19T00:59:00Z', logFiles: [entry(), entry({ oldestEventTime: undefined, newestEventTime: undefined })] });
    expect(read).toEqual({
      ok: true,
      listed: [
        expect.objectContaining({ token: '20261119T0005Z_Abc123Def456Ghi7', oldest: Date.parse('2026-11-18T23:55:12Z'), newest: Date.parse('2026-11-19T00:04:40Z') }),
        expect.objectContaining({ oldest: Date.parse('2026-11-18T23:00:00Z'), newest: Date.parse('2026-11-19T00:59:00Z') }),
      ],
      previous: null,
    });
    // An hour with no log files delivered: a digest with an empty list
    expect(readDigest({ logFiles: [] })).toEqual({ ok: true, listed: [], previous: null });
    // the one before it in the chain, by its key
    expect(readDigest({ logFiles: [], previousDigestS3Object: 'AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2026/11/19/111122223333_CloudTrail-Digest_eu-west-1_org_trail.v2_eu-west-1_20261119T005959Z.json.gz' })).toMatchObject({
      previous: { account: '111122223333', region: 'eu-west-1', day: '2026-11-19', token: 'org_trail.v2@2026-11-19T00:59:59Z' },
    });
  });

  it('are unusable as a whole when any entry cannot be placed, naming the field', () => {
    expect(readDigest([])).toEqual({ ok: false, field: null, reason: 'not a JSON object' });
    expect(readDigest({ Records: [] })).toMatchObject({ ok: false, field: 'logFiles' });
    expect(readDigest({ logFiles: [entry(), entry({ s3Object: 'AWSLogs/renamed.json.gz' })] })).toMatchObject({ ok: false, field: 'logFiles[1].s3Object', reason: expect.stringContaining('AWSLogs/renamed.json.gz') });
    expect(readDigest({ logFiles: [entry({ s3Object: 7 })] })).toMatchObject({ ok: false, field: 'logFiles[0].s3Object' });
    expect(readDigest({ logFiles: [entry({ oldestEventTime: 'yesterday', newestEventTime: 'today' })] })).toMatchObject({ ok: false, field: 'logFiles[0].oldestEventTime' });
    expect(readDigest({ logFiles: [entry({ oldestEventTime: '2026-11-19T02:00:00Z' })] })).toMatchObject({ ok: false, field: 'logFiles[0].oldestEventTime' });
  });

  it("take away files' proof of the hours of a listed file not read, and only that: a LookupEvents slice stands", () => {
    const coverage = new CoverageAccumulator();
    for (let h = 0; h < 24; h++) coverage.addFileRecord('111122223333', 'eu-west-1', `2026-11-19T${String(h).padStart(2, '0')}:10:00Z`);
    const listed = { ...logFileName(LOG_KEY)!, oldest: Date.parse('2026-11-19T05:55:00Z'), newest: Date.parse('2026-11-19T06:10:00Z'), sha256: null };
    coverage.addListedFile(listed);
    const place = placeCoverage(coverage.days()).get('111122223333/eu-west-1')!;
    const day = Date.parse('2026-11-19T00:00:00Z');
    // files prove 01:00..23:00 (a run's first and last hour may be partial); 05:00..07:00 is the unread file's
    expect(place.intervals).toEqual([[day + HOUR, day + 5 * HOUR], [day + 7 * HOUR, day + 23 * HOUR]]);
    expect(place.unread).toEqual([{ name: '111122223333_CloudTrail_eu-west-1_20261119T0005Z_Abc123Def456Ghi7.json.gz', hours: [day + 5 * HOUR, day + 7 * HOUR], altered: false }]);

    coverage.addSlice('111122223333', 'eu-west-1', day + 4 * HOUR, day + 8 * HOUR);
    expect(placeCoverage(coverage.days()).get('111122223333/eu-west-1')!.intervals).toEqual([[day + HOUR, day + 23 * HOUR]]);

    coverage.addReadFile(listed);
    expect(placeCoverage(coverage.days()).get('111122223333/eu-west-1')!.unread).toEqual([]);
  });

  it('take a stored entry whose span cannot be read as unproving the day of its name and the one before', () => {
    const day = { account: '111122223333', region: 'eu-west-1', day: '2026-11-19', fileHours: [], liveHours: [], slices: [], unreadFiles: ['20261119T0005Z_Abc123Def456Ghi7 yesterday today'] };
    expect(placeCoverage([day]).get('111122223333/eu-west-1')!.unread).toEqual([
      { name: '111122223333_CloudTrail_eu-west-1_20261119T0005Z_Abc123Def456Ghi7.json.gz', hours: [Date.parse('2026-11-18T00:00:00Z'), Date.parse('2026-11-20T00:00:00Z')], altered: false },
    ]);
  });

  it('take a digest the next one names and no run read as a gap: the hours it would list are not proven by files', () => {
    const coverage = new CoverageAccumulator();
    for (let h = 0; h < 24; h++) coverage.addFileRecord('111122223333', 'eu-west-1', `2026-11-19T${String(h).padStart(2, '0')}:10:00Z`);
    const digest = (hhmmss: string) => digestName(`111122223333_CloudTrail-Digest_eu-west-1_t_eu-west-1_20261119T${hhmmss}Z.json.gz`)!;
    coverage.addDigest(digest('090012'), digest('080012'));
    coverage.addDigest(digest('110012'), digest('100012'));
    coverage.addDigest(digest('100012'), null);
    expect(digestName('111122223333_CloudTrail-Digest_eu-west-1_t_eu-west-1_20261119T090012Z_backfill.json.gz')).toBeNull();
    const place = placeCoverage(coverage.days()).get('111122223333/eu-west-1')!;
    const day = Date.parse('2026-11-19T00:00:00Z');
    // 08:00:12 missing: its hour of deliveries and the one before, 06:00..09:00
    expect(place.missingDigests).toEqual([{ name: '111122223333_CloudTrail-Digest_eu-west-1_t_eu-west-1_20261119T080012Z.json.gz', hours: [day + 6 * HOUR, day + 9 * HOUR] }]);
    expect(place.intervals).toEqual([[day + HOUR, day + 6 * HOUR], [day + 9 * HOUR, day + 23 * HOUR]]);
    expect(describeHoleCause(place, day, day + DAY)).toContain("the chain of CloudTrail's digest files misses one there (111122223333_CloudTrail-Digest_eu-west-1_t_eu-west-1_20261119T080012Z.json.gz)");
  });

  it('subtract intervals', () => {
    expect(subtractIntervals([[0, 10], [20, 30]], [[5, 7], [9, 22], [28, 40]])).toEqual([[0, 5], [7, 9], [22, 28]]);
    expect(subtractIntervals([[0, 10]], [])).toEqual([[0, 10]]);
    expect(subtractIntervals([[0, 10]], [[-5, 15]])).toEqual([]);
  });
});

describe('unreadListed', () => {
  const listed = (token: string, sha256 = '-') => `${token} 2026-11-19T00:00:00Z 2026-11-19T00:04:00Z ${sha256}`;
  it('matches a read mark by name, and by its bytes where both were hashed', () => {
    expect(unreadListed([listed('a'), listed('b', 'h1'), listed('c', 'h1'), listed('d', 'h1')], ['b h1', 'c h2', 'd'])).toEqual([listed('a'), `${listed('c', 'h1')} altered`]);
  });

  it('takes other bytes read over a mark without a hash: a filtered copy read again alone stays a hole', () => {
    expect(unreadListed([listed('c', 'h1')], ['c h2', 'c'])).toEqual([`${listed('c', 'h1')} altered`]);
    expect(unreadListed([listed('c', 'h1')], ['c h2', 'c h1'])).toEqual([]);
  });
});

describe('describeUnread', () => {
  it('names the files not read, and apart those read with other bytes', () => {
    const file = (name: string, altered: boolean) => ({ name, hours: [0, 3_600_000] as const, altered });
    expect(describeUnread([])).toBe('');
    expect(describeUnread([file('a.json.gz', false), file('b.json.gz', true), file('c.json.gz', true)])).toBe(
      "; CloudTrail's digest files list a log file there that was not read: a.json.gz" +
        "; 2 log files read there are not what CloudTrail's digest lists (other bytes: a filtered or changed copy), read the original: b.json.gz, c.json.gz",
    );
  });
});

describe('placesToMark', () => {
  it("is the places of the run's digests and those with a listed file not read in the store, or null", async () => {
    const store = (days: CoverageDay[]) => ({ coverageDays: async () => days });
    const day = (region: string, unreadFiles?: string[]) => ({ account: '111122223333', region, day: '2026-11-19', fileHours: [], liveHours: [], slices: [], ...(unreadFiles ? { unreadFiles } : {}) });
    expect(await placesToMark(store([day('us-east-1')]), [])).toBeNull();
    expect(await placesToMark(store([day('us-east-1', ['20261119T0005Z_A x y -'])]), ['/logs/AWSLogs/444455556666/CloudTrail-Digest/eu-west-1/2026/11/19/444455556666_CloudTrail-Digest_eu-west-1_t_eu-west-1_20261119T010000Z.json.gz', 'notes.json.gz'])).toEqual(
      new Set(['444455556666/eu-west-1', '111122223333/us-east-1']),
    );
  });
});

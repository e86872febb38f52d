/**
 * An hour counts as read when any of its records was, and CloudTrail writes several files an hour:
 * a copy that lost one shows no hole from the records alone. With the trail's digest files (the
 * `CloudTrail-Digest/` folder beside `CloudTrail/`), `analyze` knows every file delivered, and an
 * unread one is a hole naming it, until a run reads it.
 */
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../functions/local/cli/io';
import { run } from '../../functions/local/cli/main';
import { writeDigestFiles, writeSmallTrail } from '../../functions/local/sample-fleet/digest-trail';

const AS_OF = '2026-11-20T00:00:00Z';
const ACCOUNT = '111122223333';
const REGION = 'eu-west-1';
const FROM = Date.parse('2026-11-17T00:00:00Z');

let dir: string;
let logs: string[];

function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => void out.push(l), err: (l) => void err.push(l), stdin: new PassThrough(), progressStream: new PassThrough(), interactive: false, cwd: dir, now: () => new Date(AS_OF) };
  return run(argv, io).then((code) => ({ code, out: out.join('\n'), err: err.join('\n') }));
}

interface Coverage {
  account: string;
  region: string;
  gaps: { from: string; to: string }[];
  unreadLogFiles: string[];
}

async function coverageOf(store: string): Promise<Coverage> {
  const r = await cli(['coverage', '--json', '--store', store, '--as-of', AS_OF]);
  expect(r.code, r.err).toBe(0);
  return (JSON.parse(r.out) as { coverage: Coverage[] }).coverage.find((c) => c.account === ACCOUNT && c.region === REGION)!;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cw-digests-'));
  logs = await writeSmallTrail(path.join(dir, 'trail'), { account: ACCOUNT, region: REGION, from: FROM, hours: 48 });
  await writeDigestFiles(path.join(dir, 'trail'));
  // A copy that lost the first of hour 30's two files (2026-11-18 06:20), digests and all.
  await cp(path.join(dir, 'trail'), path.join(dir, 'lossy'), { recursive: true });
  await rm(path.join(dir, 'lossy', path.relative(path.join(dir, 'trail'), logs[60]!)));
}, 30_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const LOST = () => path.basename(logs[60]!);
const TRAIL_LOGS = (root: string) => path.join(dir, root, 'AWSLogs', ACCOUNT, 'CloudTrail');
const at = (name: string) => path.join(dir, name);

describe('analyze with CloudTrail digest files', () => {
  it('a log file lost from an hour that has another: no hole from the records alone, a hole naming it from the digests', async () => {
    const blind = await cli(['analyze', TRAIL_LOGS('lossy'), '--store', 'blind']);
    expect(blind.code, blind.err).toBe(0);
    expect(await coverageOf('blind')).toMatchObject({ gaps: [], unreadLogFiles: [] });

    const seen = await cli(['analyze', at('lossy'), '--store', 'seen']);
    expect(seen.code, seen.err).toBe(0);
    expect(seen.out).toContain('CloudTrail digests: 48 digest files read, listing 96 log files; 1 the digests list was never read: its hours are holes');
    expect(await coverageOf('seen')).toMatchObject({ gaps: [{ from: '2026-11-18T06:00:00Z', to: '2026-11-18T07:00:00Z' }], unreadLogFiles: [LOST()] });
    // a rerun skips every file and digest, and writes nothing
    const rerun = await cli(['analyze', at('lossy'), '--store', 'seen', '--json']);
    expect(JSON.parse(rerun.out)).toMatchObject({ files: 0, skippedFiles: 95, storeRequests: { writes: 0 } });
    const table = await cli(['coverage', '--store', 'seen', '--as-of', AS_OF]);
    expect(table.out).toContain(`unread log files (CloudTrail's digest files list them, not read, or read with other bytes; their hours are holes until the originals are analyzed):\n  ${ACCOUNT}/${REGION}: ${LOST()}`);

    // The file found and given to a later run: the hole closes.
    await cp(logs[60]!, path.join(dir, 'found.json.gz'));
    await cp(logs[60]!, path.join(dir, LOST()));
    const again = await cli(['analyze', at(LOST()), '--store', 'seen']);
    expect(again.code, again.err).toBe(0);
    expect(await coverageOf('seen')).toMatchObject({ gaps: [], unreadLogFiles: [] });
  });

  it("a copy filtered to some records keeps the names and the hours: its file is a hole too, not what the digest lists", async () => {
    await cp(at('trail'), at('filtered'), { recursive: true });
    // hour 20 of the first day, its first file, without its last record (say, a read-only call)
    const copy = path.join(at('filtered'), path.relative(at('trail'), logs[40]!));
    const { Records } = JSON.parse(gunzipSync(await readFile(copy)).toString('utf8')) as { Records: unknown[] };
    await writeFile(copy, gzipSync(JSON.stringify({ Records: Records.slice(0, -1) })));

    const r = await cli(['analyze', at('filtered'), '--store', 'filtered-store', '--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ digests: { files: 48, logFilesListed: 96, logFilesUnread: 1, logFilesAltered: 1 } });
    expect(await coverageOf('filtered-store')).toMatchObject({ gaps: [{ from: '2026-11-17T20:00:00Z', to: '2026-11-17T21:00:00Z' }], unreadLogFiles: [path.basename(logs[40]!)] });
    // the copy read again alone (no digest in that run) does not close it; the original does
    const again = await cli(['analyze', copy, '--store', 'filtered-store', '--reread']);
    expect(again.code, again.err).toBe(0);
    expect(await coverageOf('filtered-store')).toMatchObject({ unreadLogFiles: [path.basename(logs[40]!)] });
    const original = await cli(['analyze', logs[40]!, '--store', 'filtered-store']);
    expect(original.code, original.err).toBe(0);
    expect(await coverageOf('filtered-store')).toMatchObject({ gaps: [], unreadLogFiles: [] });
  });

  it('a digest missing from the chain leaves the hours it would list a hole, named', async () => {
    await cp(at('trail'), at('gapped'), { recursive: true });
    // the digest of the deliveries of 2026-11-18 09:00..10:00 (its end 10:00)
    const folder = path.join(at('gapped'), 'AWSLogs', ACCOUNT, 'CloudTrail-Digest', REGION, '2026', '11', '18');
    const gone = `${ACCOUNT}_CloudTrail-Digest_${REGION}_management-events_${REGION}_20261118T100000Z.json.gz`;
    await rm(path.join(folder, gone));
    const r = await cli(['analyze', at('gapped'), '--store', 'gapped-store', '--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ digests: { files: 47, logFilesUnread: 0, digestsMissing: 1 } });
    expect(await coverageOf('gapped-store')).toMatchObject({ gaps: [{ from: '2026-11-18T08:00:00Z', to: '2026-11-18T10:00:00Z' }], missingDigests: [gone] });
    // found and analyzed: the chain is whole again
    await cp(path.join(at('trail'), 'AWSLogs', ACCOUNT, 'CloudTrail-Digest', REGION, '2026', '11', '18', gone), path.join(folder, gone));
    expect((await cli(['analyze', at('gapped'), '--store', 'gapped-store'])).code).toBe(0);
    expect(await coverageOf('gapped-store')).toMatchObject({ gaps: [], missingDigests: [] });
  });

  it('a renamed copy of the lost file does not close its hole: a file is known by its name', async () => {
    await cp(path.join(dir, 'lossy'), path.join(dir, 'renamed'), { recursive: true });
    const r = await cli(['analyze', at('renamed'), path.join(dir, 'found.json.gz'), '--store', 'renamed-store']);
    expect(r.code, r.err).toBe(0);
    expect(await coverageOf('renamed-store')).toMatchObject({ unreadLogFiles: [LOST()] });
  });

  it('files an earlier run read by their content, not their name, are not taken for missing when skipped', async () => {
    // As a version before digests were read left a store: each file recorded by its sha256, its
    // hours marked, its name not. Here the first run reads the files under other names.
    await mkdir(at('flat'));
    for (const [i, log] of logs.entries()) await cp(log, path.join(at('flat'), `${String(i).padStart(3, '0')}.json.gz`));
    const first = await cli(['analyze', at('flat'), '--store', 'older']);
    expect(first.code, first.err).toBe(0);
    const second = await cli(['analyze', at('trail'), '--store', 'older']);
    expect(second.code, second.err).toBe(0);
    expect(second.out).toContain('96 files skipped');
    expect(second.out).toContain('CloudTrail digests: 48 digest files read, listing 96 log files; every log file the digests list was read');
    expect(await coverageOf('older')).toMatchObject({ gaps: [], unreadLogFiles: [] });
    // and the digests themselves are not read again (a year is 8,760 of them per account and region)
    const third = await cli(['analyze', at('trail'), '--store', 'older', '--json']);
    expect(third.code, third.err).toBe(0);
    // nor anything written: the files were marked read once
    expect(JSON.parse(third.out)).toMatchObject({ files: 0, skippedFiles: 96, digests: { files: 0, skipped: 48, logFilesListed: 0, logFilesUnread: 0 }, storeRequests: { writes: 0 } });
  });

  it('a digest that cannot be read is a rejection naming its file and field, and the run goes on', async () => {
    await cp(path.join(dir, 'trail'), path.join(dir, 'bad'), { recursive: true });
    const digestFolder = path.join(dir, 'bad', 'AWSLogs', ACCOUNT, 'CloudTrail-Digest', REGION, '2026', '11', '17');
    await writeFile(path.join(digestFolder, `${ACCOUNT}_CloudTrail-Digest_${REGION}_t_${REGION}_20261117T230000Z.json.gz`), 'not gzip, not json');
    await writeFile(path.join(digestFolder, `${ACCOUNT}_CloudTrail-Digest_${REGION}_t_${REGION}_20261117T235900Z.json`), JSON.stringify({ logFiles: [{ s3Object: 'copy.json.gz' }] }));
    const r = await cli(['analyze', at('bad'), '--store', 'bad-store']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('20261117T230000Z.json.gz: CloudTrail digest file not read (not JSON): the log files it lists are not checked');
    expect(r.err).toContain('20261117T235900Z.json: logFiles[0].s3Object: not a usable CloudTrail digest file: "copy.json.gz" is not a CloudTrail log file\'s name');
    expect(r.out).toContain('rejected 2;');
    expect(await coverageOf('bad-store')).toMatchObject({ gaps: [], unreadLogFiles: [] });
  });
});

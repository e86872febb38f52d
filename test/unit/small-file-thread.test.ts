import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSmallFileOnThread, releaseSkimmedBytes, stopSmallFileThreadWhenIdle, type SmallFileCaps } from '../../functions/adapters/small-file-thread';

// What the thread answers for each kind of file; what readRecords makes of the answers (problems
// named by file, the streaming path) is test/unit/cloudtrail-files.test.ts, which reads through it.
const CAPS: SmallFileCaps = { maxSmallBytes: 64 * 1024, maxRecordBytes: 256 * 1024, maxFileBytes: 1024 * 1024, ratioCheckAfterBytes: 16 * 1024, maxInflationRatio: 100 };
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'cutover-watch-small-files-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function put(name: string, content: string | Buffer): Promise<string> {
  const file = path.join(tmp, name);
  await writeFile(file, content);
  return file;
}

describe('a small file read on its own thread', () => {
  it('gives a gzip file inflated and a plain file as it is', async () => {
    const doc = JSON.stringify({ Records: [{ eventID: 'a' }] });
    const gz = await readSmallFileOnThread(await put('a.json.gz', gzipSync(doc)), CAPS);
    const plain = await readSmallFileOnThread(await put('a.json', doc), CAPS);
    expect(gz.kind === 'bytes' && gz.bytes.toString('utf8')).toBe(doc);
    expect(plain.kind === 'bytes' && plain.bytes.toString('utf8')).toBe(doc);
  });

  it('gives a gzip of several members whole, though its trailer gives only the last member’s size', async () => {
    const first = JSON.stringify({ Records: Array.from({ length: 6000 }, (_, i) => ({ eventID: `e${i}` })) }).slice(0, -2);
    const last = ']}';
    expect(first.length).toBeGreaterThan(64 * 1024); // more than the smallest buffer it is inflated into
    const read = await readSmallFileOnThread(await put('members.json.gz', Buffer.concat([gzipSync(first), gzipSync(last)])), CAPS);
    expect(read.kind === 'bytes' && read.bytes.toString('utf8')).toBe(first + last);
  });

  it('gives a tiny file (from Node’s shared buffer pool) intact, and many reads at once each to its own file', async () => {
    const files = await Promise.all(Array.from({ length: 50 }, (_, i) => put(`tiny-${i}.json`, `{"n":${i}}`)));
    const reads = await Promise.all(files.map((f) => readSmallFileOnThread(f, CAPS)));
    expect(reads.map((r) => (r.kind === 'bytes' ? r.bytes.toString('utf8') : r.kind))).toEqual(files.map((_, i) => `{"n":${i}}`));
  });

  it('leaves to the streaming path a file over the small size, gzip inflating past the caps, and a directory', async () => {
    const big = await put('big.json', 'x'.repeat(CAPS.maxSmallBytes + 1));
    const bomb = await put('bomb.json.gz', gzipSync(Buffer.alloc(4 * 1024 * 1024)));
    const dir = path.join(tmp, 'folder.json');
    await mkdir(dir);
    for (const file of [big, bomb, dir]) expect(await readSmallFileOnThread(file, CAPS), file).toEqual({ kind: 'stream' });
  });

  it('says why a file could not be read or inflated', async () => {
    expect(await readSmallFileOnThread(path.join(tmp, 'missing.json'), CAPS)).toMatchObject({ kind: 'fs-error', code: 'ENOENT' });
    const truncated = gzipSync(JSON.stringify({ Records: [] })).subarray(0, 12);
    expect(await readSmallFileOnThread(await put('cut.json.gz', truncated), CAPS)).toEqual({ kind: 'gzip-error', message: 'unexpected end of file' });
  });

  it('stops when idle and starts again on the next read, each thread’s keys in a dictionary of their own', async () => {
    const fileOf = async (name: string, eventName: string) => put(name, JSON.stringify({ Records: [{ eventSource: 'sts.amazonaws.com', eventName }] }));
    // a thread of this test's own (another file in this worker may have skimmed on the one before)
    stopSmallFileThreadWhenIdle();
    const first = await readSmallFileOnThread(await fileOf('first.json', 'GetCallerIdentity'), CAPS, true);
    // a read in flight keeps the thread: stopping then is a no-op, and the read still answers
    const inFlight = readSmallFileOnThread(await fileOf('in-flight.json', 'GetCallerIdentity'), CAPS, true);
    stopSmallFileThreadWhenIdle();
    expect((await inFlight).kind).toBe('bytes');
    stopSmallFileThreadWhenIdle();
    const second = await readSmallFileOnThread(await fileOf('second.json', 'AssumeRole'), CAPS, true);
    // a stopped thread is not a broken one: the new thread skims, it does not answer `unavailable`
    if (first.kind !== 'bytes' || first.skim === null || second.kind !== 'bytes' || second.skim === null) throw new Error(`not skimmed: ${first.kind}, ${second.kind}`);
    // a record's third number is its key (core/record-skim)
    const eventNameOf = (skim: NonNullable<typeof first.skim>) => skim.dictionary.skeletons.get(skim.records[2] as number)?.['eventName'];
    // both threads numbered their first key 0: the first file's key still means its own record
    expect(second.skim.records[2]).toBe(first.skim.records[2]);
    expect([eventNameOf(first.skim), eventNameOf(second.skim)]).toEqual(['GetCallerIdentity', 'AssumeRole']);
  });

  it('takes a skimmed file’s bytes back once read, and goes on reading; a buffer that may be shared is left alone', async () => {
    // 100 IRSA records (over Node's pool size together) and 100 that no rules want: the file comes
    // over as the IRSA records' bytes
    const provider = 'arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF';
    const wanted = Array.from({ length: 100 }, (_, i) => ({ eventSource: 'sts.amazonaws.com', eventName: 'AssumeRoleWithWebIdentity', userIdentity: { identityProvider: provider }, eventID: `${i}` }));
    const noise = Array.from({ length: 100 }, (_, i) => ({ eventSource: 's3.amazonaws.com', eventName: 'GetObject', eventID: `n${i}` }));
    const file = await put('released.json', JSON.stringify({ Records: [...wanted, ...noise] }));
    const kept = wanted.map((r) => JSON.stringify(r)).join('');
    const first = await readSmallFileOnThread(file, CAPS, true);
    if (first.kind !== 'bytes' || first.skim === null) throw new Error(`not skimmed: ${first.kind}`);
    expect(first.bytes.toString('utf8')).toBe(kept);
    expect(first.bytes.length).toBeGreaterThan(Buffer.poolSize);
    releaseSkimmedBytes(first.bytes);
    expect(first.bytes.buffer.byteLength).toBe(0); // detached: its memory went to the thread
    const again = await readSmallFileOnThread(file, CAPS, true);
    expect(again.kind === 'bytes' && again.bytes.toString('utf8')).toBe(kept);
    const pooled = Buffer.from('a small buffer from Node’s shared pool');
    releaseSkimmedBytes(pooled);
    expect(pooled.toString('utf8')).toBe('a small buffer from Node’s shared pool');
  });
});

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_READ_LIMITS, folderIdentity, listInputFiles, mayReadAhead, readAhead, ReadAheadBudget, readFilesAhead, readRecordChunks, readRecords, readRecordsFromStream } from '../../functions/adapters/cloudtrail-files';
import { useSmallFileThread } from '../../functions/adapters/small-file-thread';
import { expandRaw } from '../../functions/core/record-prefilter';
import type { InputItem } from '../../functions/core/envelopes';

let tmp: string;

beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'cutover-watch-files-'));
});

afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function rec(id: string) {
  return { eventVersion: '1.08', eventID: id, eventSource: 'sts.amazonaws.com', eventName: 'AssumeRoleWithWebIdentity' };
}

function logFile(...ids: string[]): string {
  return JSON.stringify({ Records: ids.map(rec) });
}

async function put(rel: string, content: string | Buffer): Promise<string> {
  const full = path.join(tmp, rel);
  await mkdir(path.dirname(full), { recursive: true });
  await writeFile(full, content);
  return full;
}

async function collect(gen: AsyncIterable<InputItem>): Promise<InputItem[]> {
  const items: InputItem[] = [];
  for await (const item of gen) items.push(item);
  return items;
}

async function read(file: string): Promise<InputItem[]> {
  return collect(readRecords(file));
}

function ids(items: InputItem[]): string[] {
  return items.flatMap((i) => (i.type === 'record' ? [(i.record as { eventID: string }).eventID] : []));
}

function problems(items: InputItem[]) {
  return items.filter((i) => i.type === 'problem');
}

const ACCOUNT = '111122223333';
const s3Name = (region: string, stamp: string, kind = 'CloudTrail') => `${ACCOUNT}_${kind}_${region}_${stamp}_abcd1234.json.gz`;

describe('listInputFiles', () => {
  it('finds the log files of a CloudTrail S3 layout, sorted, the digests apart, skipping other files', async () => {
    const base = `AWSLogs/${ACCOUNT}`;
    await put(`${base}/CloudTrail/us-west-2/2024/04/16/${s3Name('us-west-2', '20240416T0925Z')}`, gzipSync(logFile('b')));
    await put(`${base}/CloudTrail/us-west-2/2024/04/16/${s3Name('us-west-2', '20240416T0920Z')}`, gzipSync(logFile('a')));
    await put(`${base}/CloudTrail/eu-west-1/2024/04/15/${s3Name('eu-west-1', '20240415T2355Z')}`, gzipSync(logFile('c')));
    await put(`${base}/CloudTrail-Digest/us-west-2/2024/04/16/${s3Name('us-west-2', '20240416T0920Z', 'CloudTrail-Digest')}`, gzipSync('{}'));
    await put(`${base}/CloudTrail-Insight/us-west-2/2024/04/16/insight.json.gz`, gzipSync(logFile('i')));
    await put(`${base}/CloudTrail/us-west-2/2024/04/16/README.md`, '# notes');
    await put(`${base}/CloudTrail/us-west-2/2024/04/16/partial.json.gz.5fA9c1`, 'partial download');
    await put('AWSLogs/extra.jsonl', '');
    await put('AWSLogs/extra.ndjson.gz', '');
    await put('AWSLogs/upper.JSON', '');

    const root = path.join(tmp, 'AWSLogs');
    const { files, digests, problems } = await listInputFiles([root]);

    const dir = `${root}/${ACCOUNT}/CloudTrail`;
    expect(digests).toEqual([`${root}/${ACCOUNT}/CloudTrail-Digest/us-west-2/2024/04/16/${s3Name('us-west-2', '20240416T0920Z', 'CloudTrail-Digest')}`]);
    expect(files).toEqual([
      `${dir}/eu-west-1/2024/04/15/${s3Name('eu-west-1', '20240415T2355Z')}`,
      `${dir}/us-west-2/2024/04/16/${s3Name('us-west-2', '20240416T0920Z')}`,
      `${dir}/us-west-2/2024/04/16/${s3Name('us-west-2', '20240416T0925Z')}`,
      `${root}/extra.jsonl`,
      `${root}/extra.ndjson.gz`,
      `${root}/upper.JSON`,
    ]);
    expect(problems).toEqual([]);
  });

  it('leaves out the folders it is told to when it meets them below a root (the store), and walks a root inside one', async () => {
    await put('logs/a.json', logFile('a'));
    await put('logs/.cutover-watch/rejects.jsonl', '{"file":"x"}\n');
    await put('logs/.cutover-watch/demo/logs/d.json', logFile('d'));
    await put('logs/sub/b.json', logFile('b'));
    const root = path.join(tmp, 'logs');
    const store = path.join(root, '.cutover-watch');
    await symlink(store, path.join(root, 'sub', 'store-link'));
    expect((await listInputFiles([root], { skipFolders: [store] })).files).toEqual([`${root}/a.json`, `${root}/sub/b.json`]);
    // told by another name of the same folder
    expect((await listInputFiles([root], { skipFolders: [path.join(root, 'sub', 'store-link')] })).files).toEqual([`${root}/a.json`, `${root}/sub/b.json`]);
    // a root inside it is read (the demo's logs), and without the option everything is
    expect((await listInputFiles([path.join(store, 'demo', 'logs')], { skipFolders: [store] })).files).toEqual([`${store}/demo/logs/d.json`]);
    expect((await listInputFiles([root])).files).toEqual([`${store}/demo/logs/d.json`, `${store}/rejects.jsonl`, `${root}/a.json`, `${root}/sub/b.json`]);
  });

  it('knows a folder to leave out by the real path the walk will find it at, before it exists', async () => {
    await put('real/logs/a.json', logFile('a'));
    await symlink(path.join(tmp, 'real'), path.join(tmp, 'link'));
    const real = await realpath(path.join(tmp, 'real'));
    // analyze lists its paths while the store opens: the store's folder may be made during the walk
    expect(await folderIdentity(path.join(tmp, 'link', 'logs', 'store', 'inner'))).toBe(path.join(real, 'logs', 'store', 'inner'));
    expect(await folderIdentity(path.join(tmp, 'link', 'logs'))).toBe(path.join(real, 'logs'));
    await put('real/logs/store/cutover-watch-store.json', '{}');
    const listed = await listInputFiles([path.join(tmp, 'link', 'logs')], { skipFolders: [path.join(tmp, 'link', 'logs', 'store')] });
    expect(listed.files).toEqual([path.join(tmp, 'link', 'logs', 'a.json')]);
  });

  it('names found files under the directory as given, not as resolved', async () => {
    await put('logs/a.json', logFile('a'));
    const prev = process.cwd();
    process.chdir(tmp);
    try {
      expect(await listInputFiles(['logs'])).toEqual({ files: ['logs/a.json'], digests: [], problems: [] });
    } finally {
      process.chdir(prev);
    }
  });

  it('takes a digest file by its S3 name even outside its folder as a digest, not as a log file; below a digest folder, nothing else', async () => {
    await put(`flat/${s3Name('us-west-2', '20240416T0920Z', 'CloudTrail-Digest')}`, gzipSync('{}'));
    await put(`flat/${s3Name('us-west-2', '20240416T0920Z')}`, gzipSync(logFile('a')));
    await put('flat/CloudTrail-Digest/stray.json.gz', gzipSync(logFile('b')));

    const { files, digests } = await listInputFiles([path.join(tmp, 'flat')]);

    expect(files).toEqual([path.join(tmp, 'flat', s3Name('us-west-2', '20240416T0920Z'))]);
    expect(digests).toEqual([path.join(tmp, 'flat', s3Name('us-west-2', '20240416T0920Z', 'CloudTrail-Digest'))]);
    // named on the command line
    expect(await listInputFiles([path.join(tmp, 'flat', s3Name('us-west-2', '20240416T0920Z', 'CloudTrail-Digest'))])).toMatchObject({ files: [], digests });
  });

  it('takes an explicitly named file whatever its extension', async () => {
    const f = await put('export.txt', logFile('a'));

    expect(await listInputFiles([f])).toEqual({ files: [f], digests: [], problems: [] });
  });

  it('reports a directory with no log files', async () => {
    const dir = path.join(tmp, 'empty');
    await mkdir(path.join(dir, 'nested'), { recursive: true });
    await put('empty/notes.txt', 'x');

    const result = await listInputFiles([dir]);

    expect(result.files).toEqual([]);
    expect(result.problems).toEqual([
      { type: 'problem', file: dir, where: null, reason: `no CloudTrail log files (.json, .json.gz, .jsonl) under ${dir}` },
    ]);
  });

  it('reports a path that does not exist and still lists the others', async () => {
    const f = await put('a.json', logFile('a'));
    const missing = path.join(tmp, 'nope');

    const result = await listInputFiles([missing, f]);

    expect(result.files).toEqual([f]);
    expect(result.problems).toEqual([{ type: 'problem', file: missing, where: null, reason: 'no such file or directory' }]);
  });

  it('lists a file once when it is named and also under a named directory, or reached by a symlink', async () => {
    const f = await put('logs/a.json', logFile('a'));
    await symlink(f, path.join(tmp, 'logs', 'b.json'));

    const result = await listInputFiles([path.join(tmp, 'logs'), f, f]);

    expect(result.files).toEqual([f]);
  });

  it('does not report an overlapping directory as empty', async () => {
    const f = await put('logs/2024/a.json', logFile('a'));

    const result = await listInputFiles([path.join(tmp, 'logs'), path.join(tmp, 'logs', '2024')]);

    expect(result).toEqual({ files: [f], digests: [], problems: [] });
  });

  it('terminates on a symlink loop', async () => {
    const f = await put('logs/a/a.json', logFile('a'));
    await symlink(path.join(tmp, 'logs'), path.join(tmp, 'logs', 'a', 'up'));
    await symlink('self', path.join(tmp, 'logs', 'self'));

    const result = await listInputFiles([path.join(tmp, 'logs')]);

    expect(result.files).toEqual([f]);
  });

  it('reports a dangling symlink that looks like a log file', async () => {
    await put('logs/a.json', logFile('a'));
    const dangling = path.join(tmp, 'logs', 'gone.json.gz');
    await symlink(path.join(tmp, 'nowhere'), dangling);

    const result = await listInputFiles([path.join(tmp, 'logs')]);

    expect(result.files).toEqual([path.join(tmp, 'logs', 'a.json')]);
    expect(result.problems).toEqual([{ type: 'problem', file: dangling, where: null, reason: 'no such file or directory' }]);
  });

  it('passes "-" (stdin) through', async () => {
    expect(await listInputFiles(['-'])).toEqual({ files: ['-'], digests: [], problems: [] });
  });

  // Root reads everything regardless of mode bits, so this can only run unprivileged.
  it.skipIf(process.getuid?.() === 0)('reports an unreadable directory', async () => {
    await put('logs/ok/a.json', logFile('a'));
    await put('logs/locked/b.json', logFile('b'));
    const locked = path.join(tmp, 'logs', 'locked');
    await chmod(locked, 0o000);
    try {
      const result = await listInputFiles([path.join(tmp, 'logs')]);

      expect(result.files).toEqual([path.join(tmp, 'logs', 'ok', 'a.json')]);
      expect(result.problems).toEqual([{ type: 'problem', file: locked, where: null, reason: 'permission denied' }]);
    } finally {
      await chmod(locked, 0o755);
    }
  });

  it.skipIf(process.getuid?.() === 0)('reports an unreadable named directory once', async () => {
    const locked = path.join(tmp, 'locked');
    await put('locked/a.json', logFile('a'));
    await chmod(locked, 0o000);
    try {
      expect(await listInputFiles([locked])).toEqual({
        files: [],
        problems: [{ type: 'problem', file: locked, where: null, reason: 'permission denied' }],
      });
    } finally {
      await chmod(locked, 0o755);
    }
  });
});

// Small files are read on a thread of their own (adapters/small-file-thread), or on libuv's pool
// where no thread can be started: both ways, every case.
describe.each([
  ['on the reading thread', true],
  ['on the pool, without the thread', false],
])('reading %s', (_, thread) => {
  beforeAll(() => useSmallFileThread(thread));
  afterAll(() => useSmallFileThread(true));

  describe('the SHA-256 of the bytes inflated (what a CloudTrail digest lists)', () => {
    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
    const hashes = async (f: string, limits?: Partial<typeof DEFAULT_READ_LIMITS>) => {
      const seen: [string, string][] = [];
      for await (const _ of readRecordChunks(f, { raw: true, skim: true, ...(limits ? { limits } : {}), contents: (file, hash) => void seen.push([file, hash]) }));
      return seen;
    };

    it('is given once the file is read whole: read in one piece or streamed, gzip or not', async () => {
      const text = logFile('a', 'b', 'c');
      const gz = await put('a.json.gz', gzipSync(text));
      const plain = await put('b.json', text);
      expect(await hashes(gz)).toEqual([[gz, sha256(text)]]);
      expect(await hashes(plain)).toEqual([[plain, sha256(text)]]);
      // past one record's cap, the file streams
      expect(await hashes(gz, { maxRecordBytes: 64 })).toEqual([[gz, sha256(text)]]);
    });

    it('of an object read from elsewhere (an S3 body), in memory or streamed', async () => {
      const text = logFile('a', 'b');
      for (const source of [() => gzipSync(text), () => Readable.from([gzipSync(text)])]) {
        const seen: string[] = [];
        for await (const _ of readRecordsFromStream('s3://b/k.json.gz', source(), { contents: (hash) => void seen.push(hash) }));
        expect(seen).toEqual([sha256(text)]);
      }
    });

    it('is not given for a file not read whole', async () => {
      const cut = gzipSync(logFile('a', 'b', 'c'));
      const f = await put('cut.json.gz', cut.subarray(0, cut.length - 12));
      expect(await hashes(f)).toEqual([]);
      expect(await hashes(f, { maxRecordBytes: 64 })).toEqual([]);
    });
  });

  describe('readRecords', () => {
    it('reads a CloudTrail log file', async () => {
      const f = await put('a.json', logFile('a', 'b'));

      const items = await read(f);

      expect(items).toEqual([
        { type: 'record', file: f, where: 'record 1', record: rec('a') },
        { type: 'record', file: f, where: 'record 2', record: rec('b') },
      ]);
    });

    it('gunzips a .json.gz log file', async () => {
      const f = await put('a.json.gz', gzipSync(logFile('a', 'b', 'c')));

      expect(ids(await read(f))).toEqual(['a', 'b', 'c']);
    });

    it('detects gzip by its magic bytes, not the extension', async () => {
      const f = await put('downloaded-without-extension', gzipSync(logFile('a')));

      expect(ids(await read(f))).toEqual(['a']);
    });

    it('reads plain JSON named .gz', async () => {
      const f = await put('mislabelled.json.gz', logFile('a'));

      expect(ids(await read(f))).toEqual(['a']);
    });

    it('gives one problem and nothing else for a truncated gzip', async () => {
      const whole = gzipSync(logFile(...Array.from({ length: 200 }, (_, i) => `r${i}`)));
      const f = await put('cut.json.gz', whole.subarray(0, Math.floor(whole.length / 2)));

      const items = await read(f);

      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({ type: 'problem', file: f, where: null });
      expect(items[0]?.type === 'problem' && items[0].reason).toMatch(/^truncated or corrupt gzip \(.+\)$/);
    });

    it('gives one "not JSON" problem for a malformed whole-file JSON document', async () => {
      const f = await put('bad.json', '{"Records": [{"eventID": "a"},, ]}');

      const items = await read(f);

      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({ type: 'problem', file: f, where: null });
      expect(items[0]?.type === 'problem' && items[0].reason).toMatch(/^not JSON: /);
    });

    it('gives one "not JSON" problem, not one per line, for a broken pretty-printed document', async () => {
      const pretty = JSON.stringify({ Records: [{ ...rec('a'), resources: ['arn:aws:iam::1:role/x', 'arn:aws:iam::1:role/y'] }] }, null, 2);
      const f = await put('pretty.json', pretty.replace('"eventVersion"', 'eventVersion'));

      const items = await read(f);

      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({ type: 'problem', where: null });
      expect(items[0]?.type === 'problem' && items[0].reason).toMatch(/^not JSON: /);
    });

    it('gives one "not JSON" problem for binary garbage', async () => {
      const f = await put('garbage.bin', Buffer.from([0x1b, 0x5b, 0x32, 0x4a, 0xff, 0x0a, 0x7b, 0x0a, 0x80, 0x81]));

      const items = await read(f);

      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({ type: 'problem', where: null });
      const reason = items[0]?.type === 'problem' ? items[0].reason : '';
      expect(reason).toMatch(/^not JSON: /);
      // The terminal escape V8 quotes from the input is shown escaped, not emitted raw.
      expect(reason).toContain('\\u001b');
      expect(reason).not.toMatch(/[\u0000-\u001f]/);
    });

    it('reads JSON Lines, reporting a bad line by number and keeping the others', async () => {
      const lines = [
        JSON.stringify(rec('a')),
        '{"eventID": "b", ',
        '',
        JSON.stringify({ 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.sts', detail: rec('c') }),
        JSON.stringify({ Records: [rec('d'), rec('e')] }),
      ];
      const f = await put('events.jsonl', lines.join('\r\n') + '\n');

      const items = await read(f);

      expect(items.map((i) => [i.type, i.where])).toEqual([
        ['record', 'line 1'],
        ['problem', 'line 2'],
        ['record', 'line 4'],
        ['record', 'line 5, record 1'],
        ['record', 'line 5, record 2'],
      ]);
      expect(ids(items)).toEqual(['a', 'c', 'd', 'e']);
      expect(problems(items)[0]).toMatchObject({ file: f, where: 'line 2', reason: expect.stringMatching(/^not JSON: /) });
    });

    it('reports an empty file', async () => {
      const f = await put('empty.json', '');

      expect(await read(f)).toEqual([{ type: 'problem', file: f, where: null, reason: 'empty file' }]);
    });

    it('reports a gzip of nothing as an empty file', async () => {
      const f = await put('empty.json.gz', gzipSync(''));

      expect(await read(f)).toEqual([{ type: 'problem', file: f, where: null, reason: 'empty file' }]);
    });

    it('strips a UTF-8 byte order mark', async () => {
      const f = await put('bom.json', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(logFile('a'))]));

      expect(await read(f)).toEqual([{ type: 'record', file: f, where: 'record 1', record: rec('a') }]);
    });

    it('reports a file that does not exist instead of throwing', async () => {
      const f = path.join(tmp, 'missing.json');

      expect(await read(f)).toEqual([{ type: 'problem', file: f, where: null, reason: 'no such file or directory' }]);
    });

    it('reports a directory passed as a file', async () => {
      expect(await read(tmp)).toEqual([{ type: 'problem', file: tmp, where: null, reason: 'is a directory' }]);
    });

    it.skipIf(process.getuid?.() === 0)('reports an unreadable file', async () => {
      const f = await put('locked.json', logFile('a'));
      await chmod(f, 0o000);

      expect(await read(f)).toEqual([{ type: 'problem', file: f, where: null, reason: 'permission denied' }]);
    });

    it('reads stdin for "-"', async () => {
      const stdin = Readable.from([Buffer.from(gzipSync(logFile('s1', 's2')))]);

      const items = await collect(readRecords('-', { stdin }));

      expect(items.map((i) => [i.file, i.where])).toEqual([
        ['-', 'record 1'],
        ['-', 'record 2'],
      ]);
    });

    // a file past the size parsed whole goes the streaming path: 20 MB proves it as the 50 MB this once was did, in 40% of the time
    it('reads a log file larger than the size parsed whole (16 MB), streamed, to its last record', async () => {
      const count = 75_000;
      const parts: string[] = new Array(count);
      for (let i = 0; i < count; i++) {
        parts[i] = JSON.stringify({
          eventVersion: '1.08',
          eventID: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`,
          eventTime: '2024-04-16T09:20:04Z',
          eventSource: 'sts.amazonaws.com',
          eventName: 'AssumeRoleWithWebIdentity',
          awsRegion: 'us-west-2',
          sourceIPAddress: '192.0.2.10',
          userAgent: 'aws-sdk-go-v2/1.25.0 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64',
        });
      }
      const body = Buffer.from(`{"Records":[${parts.join(',')}]}`);
      expect(body.length).toBeGreaterThan(DEFAULT_READ_LIMITS.maxRecordBytes * 1.2);
      const f = await put('big.json', body);

      let records = 0;
      let others = 0;
      let lastWhere = '';
      for await (const item of readRecords(f)) {
        if (item.type === 'record') records++;
        else others++;
        lastWhere = item.where ?? '';
      }

      expect(others).toBe(0);
      expect(records).toBe(count);
      expect(lastWhere).toBe(`record ${count}`);
    });
  });

  describe('raw reading (readRecordChunks raw, readFilesAhead)', () => {
    it('hands a log file\'s records over unparsed, and they expand to what the parsed reading gives', async () => {
      const small = await put('a.json', logFile('a1', 'a2'));
      const gz = await put('b.json.gz', gzipSync(logFile('b1')));
      // Not a plain log file (a key after Records): read as before, parsed.
      const other = await put('c.json', JSON.stringify({ Records: [rec('c1')], extra: 1 }));
      const broken = await put('d.json', '{"Records":[' + JSON.stringify(rec('d1')) + ',{"eventID":tru}]}');
      for (const file of [small, gz, other, broken]) {
        const raw: InputItem[] = [];
        let unparsed = 0;
        for await (const chunk of readRecordChunks(file, { raw: true })) {
          for (const item of chunk) {
            if (item.type === 'raw') unparsed += 1;
            raw.push(...(item.type === 'raw' ? expandRaw(item) : [item]));
          }
        }
        expect(raw, file).toStrictEqual(await collect(readRecords(file)));
        expect(unparsed, file).toBe(file === small ? 2 : file === gz ? 1 : 0);
      }
    });

    it('reads files one ahead, in order, each unit what readRecordChunks gives; closing stops the one read ahead', async () => {
      const files = await Promise.all(['1', '2', '3'].map((n) => put(`${n}.json`, logFile(`${n}a`, `${n}b`))));
      const units: { name: string; ids: string[] }[] = [];
      for await (const unit of readFilesAhead(files, { raw: true })) {
        const ids: string[] = [];
        for await (const chunk of unit.items) {
          for (const item of chunk) for (const x of item.type === 'raw' ? expandRaw(item) : [item]) ids.push(x.type === 'record' ? String((x.record as { eventID: string }).eventID) : x.reason);
        }
        units.push({ name: unit.name, ids });
      }
      expect(units).toEqual(files.map((name, i) => ({ name, ids: [`${i + 1}a`, `${i + 1}b`] })));

      const first = readFilesAhead(files, { raw: true });
      const got = await first.next();
      expect(got.done).toBe(false);
      // The consumer stops after the first unit: the generator (and the file it read ahead) is closed.
      expect(await first.return(undefined)).toEqual({ done: true, value: undefined });
      expect(await readFilesAhead([], { raw: true }).next()).toEqual({ done: true, value: undefined });
    });

    it('hashes what it reads, when asked: on the thread from the very bytes read, any other way before reading', async () => {
      const small = await put('d1.json.gz', gzipSync(logFile('s1')));
      // past the small-file size: streamed, thread or not
      const largeLog = (prefix: string) => JSON.stringify({ Records: Array.from({ length: 12_000 }, (_, i) => ({ ...rec(`${prefix}${i}`), pad: 'x'.repeat(80) })) });
      const large = await put('d2.json', largeLog('l'));
      const smallBytes = readFileSync(small);
      const calls: string[] = [];
      const digests = {
        digested(file: string, digest: { hash: string; size: number }) {
          calls.push(`digested ${path.basename(file)}`);
          expect(digest).toEqual({ hash: createHash('sha256').update(smallBytes).digest('hex'), size: smallBytes.length });
        },
        async digestFirst(file: string) {
          calls.push(`first ${path.basename(file)}`);
          // changed after its hash and before its reading: read as it is now (a rerun reads it again)
          if (file === large) await put('d2.json', largeLog('changed-'));
        },
      };
      const ids = async (file: string) => {
        const out: string[] = [];
        for await (const chunk of readRecordChunks(file, { raw: true, skim: true, digests })) {
          for (const item of chunk) {
            const items = item.type === 'raw' ? expandRaw(item) : item.type === 'skimmed' ? [] : [item];
            for (const x of items) if (x.type === 'record') out.push(String((x.record as { eventID: string }).eventID));
            if (item.type === 'skimmed') out.push(`skimmed ${item.records.length / 4}`);
          }
        }
        return out;
      };
      expect(await ids(small)).toEqual([thread ? 'skimmed 1' : 's1']);
      const changed = await ids(large);
      expect([changed.length, changed[0]]).toEqual([12_000, 'changed-0']);
      // hashed once, though without the thread its reading on the pool hands it on to the stream
      expect(calls).toEqual(thread ? ['digested d1.json.gz', 'first d2.json'] : ['first d1.json.gz', 'first d2.json']);
    });
  });
});

describe('the read-ahead\'s bounds (mayReadAhead)', () => {
  it('starts a few files before any has finished, then as many as the average file allows', () => {
    /** Files the read-ahead starts, one after the other, with nothing finished or waiting meanwhile. */
    const startable = (finishedFiles: number, finishedBytes: number, bound?: number) => {
      let reading = 0;
      while (reading < 10_000 && mayReadAhead({ reading, waiting: 0, heldBytes: 0, finishedFiles, finishedBytes, ...(bound === undefined ? {} : { bound }) })) reading += 1;
      return reading;
    };
    // nothing to average yet: a few, not every file the run could start at once
    expect(startable(0, 0)).toBe(4);
    // files of ~650 KB kept (half a file's records in scope): about 4 MB of them
    expect(startable(10, 6_500_000)).toBe(7);
    // small skimmed files: as many as 4 MB allows
    expect(startable(10, 580_000)).toBe(73);
    // and with the bound grown, the cap on files in flight
    expect(startable(10, 580_000, 16 * 2 ** 20)).toBe(256);
    // what waits for the caller counts too
    expect(mayReadAhead({ reading: 0, waiting: 0, heldBytes: 4 * 2 ** 20, finishedFiles: 1, finishedBytes: 1 })).toBe(false);
    expect(mayReadAhead({ reading: 0, waiting: 1024, heldBytes: 0, finishedFiles: 1, finishedBytes: 1 })).toBe(false);
  });
});

describe("the read-ahead's bytes bound (ReadAheadBudget)", () => {
  const MiB = 2 ** 20;

  it('doubles, up to 16 MB, each time the caller waits for files that keep little, and comes back down as it finds them read', () => {
    const budget = new ReadAheadBudget();
    expect(budget.bytes).toBe(4 * MiB);
    budget.callerWaited(116 * 1024);
    expect(budget.bytes).toBe(8 * MiB);
    budget.callerWaited(116 * 1024);
    budget.callerWaited(116 * 1024);
    expect(budget.bytes).toBe(16 * MiB);
    for (let i = 0; i < 64; i += 1) budget.callerDidNotWait();
    // a sixty-fourth of the excess a file: about e^-1 of it left after 64
    expect(budget.bytes).toBeGreaterThan(4 * MiB + 4 * MiB);
    expect(budget.bytes).toBeLessThan(4 * MiB + 5 * MiB);
    for (let i = 0; i < 1000; i += 1) budget.callerDidNotWait();
    expect(Math.round(budget.bytes / 1024)).toBe(4 * 1024);
  });

  it('stays at 4 MB where files keep much, waits or not', () => {
    const budget = new ReadAheadBudget();
    for (let i = 0; i < 10; i += 1) budget.callerWaited(650 * 1024);
    expect(budget.bytes).toBe(4 * MiB);
  });

  /**
   * The read-ahead over 400 files, each read finishing when the test says: just as the caller gets
   * to it (the caller waits for every file), or as soon as it is asked for (never). The most files
   * asked for and not yet handed to the caller, when it takes one.
   */
  async function furthestAhead(keptPerFile: number, callerWaits: boolean): Promise<number> {
    const finish = new Map<string, () => void>();
    let asked = 0;
    const read = (file: string) =>
      (async function* () {
        asked += 1;
        if (callerWaits) await new Promise<void>((resolve) => finish.set(file, resolve));
        yield [{ type: 'raw' as const, file, index: 1, bytes: Buffer.alloc(keptPerFile), skeleton: null, depth: 0 as const }];
      })();
    const files = Array.from({ length: 400 }, (_, i) => `f${i}`);
    let furthest = 0;
    let taken = 0;
    for await (const unit of readAhead(files, read)) {
      furthest = Math.max(furthest, asked - taken);
      taken += 1;
      finish.get(unit.name)?.();
      for await (const chunk of unit.items) expect(chunk).toHaveLength(1);
    }
    expect(taken).toBe(400);
    return furthest;
  }

  it('grows in readFilesAhead while the caller waits for files that keep little, and only then', async () => {
    // 100 KB a file: 4 MB is ~40 files, 16 MB ~160 (each file still being read counted at the average)
    const waited = await furthestAhead(100 * 1024, true);
    expect(waited).toBeGreaterThan(150);
    expect(waited).toBeLessThanOrEqual(170);
    // read before the caller gets to them: the caller never waits, the bound stays at 4 MB
    expect(await furthestAhead(100 * 1024, false)).toBeLessThanOrEqual(45);
    // files that keep much (400 KB): it waits, and the bound stays at 4 MB (~10 files)
    expect(await furthestAhead(400 * 1024, true)).toBeLessThanOrEqual(12);
  });
});

import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RejectsFile } from '../../functions/local/rejects-file';

let tmp: string;
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'cw-rejects-'));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const now = () => new Date('2026-11-20T00:00:00Z');
const lines = async (file: string) => (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('RejectsFile', () => {
  it('writes one line per rejection with file, record, field and reason', async () => {
    const rejects = new RejectsFile(path.join(tmp, 'store', 'rejects.jsonl'), now);
    rejects.add({ file: 'a.json', where: 'record 2', field: 'eventID', reason: 'eventID is missing' });
    rejects.add({ file: 'b.json.gz', where: null, reason: 'truncated or corrupt gzip (unexpected end of file)' });
    rejects.flush();

    expect(rejects.count).toBe(2);
    expect(await lines(rejects.file)).toEqual([
      { at: '2026-11-20T00:00:00.000Z', file: 'a.json', where: 'record 2', field: 'eventID', reason: 'eventID is missing' },
      { at: '2026-11-20T00:00:00.000Z', file: 'b.json.gz', where: null, field: null, reason: 'truncated or corrupt gzip (unexpected end of file)' },
    ]);
  });

  it('summarizes consecutive identical rejections in one file as one line with the exact count', async () => {
    const rejects = new RejectsFile(path.join(tmp, 'rejects.jsonl'), now);
    for (let i = 1; i <= 100_000; i++) rejects.add({ file: 'empty.json', where: `record ${i}`, field: 'eventSource', reason: 'eventSource is missing' });
    rejects.add({ file: 'empty.json', where: 'record 100001', field: 'eventTime', reason: 'eventTime is missing' });
    rejects.add({ file: 'other.json', where: 'record 1', field: 'eventSource', reason: 'eventSource is missing' });
    rejects.flush();

    expect(rejects.count).toBe(100_002);
    expect(await lines(rejects.file)).toEqual([
      expect.objectContaining({ file: 'empty.json', where: 'record 1', lastWhere: 'record 100000', count: 100_000, field: 'eventSource' }),
      expect.objectContaining({ file: 'empty.json', where: 'record 100001', field: 'eventTime' }),
      expect.objectContaining({ file: 'other.json', where: 'record 1' }),
    ]);
  });

  it('rotates to rejects.1.jsonl before passing the bound, so the two stay under twice it', async () => {
    const file = path.join(tmp, 'rejects.jsonl');
    await writeFile(file, `${JSON.stringify({ old: true })}\n`);
    const rejects = new RejectsFile(file, now, 4096);
    for (let i = 1; i <= 200; i++) rejects.add({ file: `f${i}.json`, where: 'record 1', field: 'eventID', reason: `reason ${i}` });
    rejects.flush();

    expect(rejects.rotated).toBe(true);
    expect(rejects.rotatedFile).toBe(path.join(tmp, 'rejects.1.jsonl'));
    expect((await stat(file)).size).toBeLessThanOrEqual(4096);
    expect((await stat(rejects.rotatedFile)).size).toBeLessThanOrEqual(4096);
    const last = await lines(file);
    expect(last.at(-1)).toMatchObject({ file: 'f200.json', reason: 'reason 200' });
  });

  it('writes nothing, and creates no file, when nothing was rejected', async () => {
    const rejects = new RejectsFile(path.join(tmp, 'none', 'rejects.jsonl'), now);
    rejects.flush();
    await expect(stat(rejects.file)).rejects.toThrow(/ENOENT/);
  });
});

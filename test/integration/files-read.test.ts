import { randomUUID } from 'node:crypto';
import { cp, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import type { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import { analyzePaths, type AnalyzeOptions } from '../../functions/adapters/ingest-pipeline';
import { embeddedTables } from '../support/embedded-tables';
import { irsaTrailRecord } from '../support/events';
import { runInProcess } from '../support/spawn-cli';
import { storedEvidence } from '../support/stored-evidence';

const END = new Date('2026-11-20T00:00:00Z');

const fixture = embeddedTables('files-read');
const freshStore = () => fixture.fresh();

/** IRSA assumes of one service account in the hour `hour`, one a minute, as a trail's log file has them. */
function records(hour: string, n: number, tag: string): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => irsaTrailRecord(`${hour}:${String(10 + i).padStart(2, '0')}:00Z`, `evt-${tag}-${i}`));
}

const logName = (hour: string, tag: string) => `111122223333_CloudTrail_us-east-1_${hour.replace(/[-:]/g, '').slice(0, 11)}00Z_${tag}.json.gz`;

/** A folder of three log files, two records each; returns the folder and the files' paths. */
async function logFolder(name: string): Promise<{ dir: string; files: string[] }> {
  const dir = path.join(fixture.work, name);
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const [hour, tag] of [['2026-11-18T10', 'a'], ['2026-11-18T11', 'b'], ['2026-11-18T12', 'c']] as const) {
    const file = path.join(dir, logName(hour, tag));
    await writeFile(file, gzipSync(JSON.stringify({ Records: records(hour, 2, tag) })));
    files.push(file);
  }
  return { dir, files };
}

const analyze = (store: DynamoEvidenceStore, paths: string[], extra: Partial<AnalyzeOptions> = {}) =>
  analyzePaths({ paths, store, now: () => END, skipFilesRead: true, ...extra });

describe('analyze skips local log files it read whole and stored before', () => {
  it('a rerun reads no record and skips every file, also after the folder is moved or copied; without the option everything is read', async () => {
    const store = await freshStore();
    const { dir } = await logFolder('rerun');

    const first = await analyze(store, [dir]);
    expect(first).toMatchObject({ files: 3, records: 6, inScope: 6, replayed: 0, skippedFiles: 0, notStored: 0 });

    // (and, with nothing to read, reads neither the inventory nor the node roles seen before)
    const loadInventory = vi.spyOn(store, 'loadInventory');
    const scopes = vi.spyOn(store, 'scopes');
    const second = await analyze(store, [dir]);
    expect(second).toMatchObject({ files: 0, records: 0, inScope: 0, skippedFiles: 3 });
    expect([loadInventory.mock.calls.length, scopes.mock.calls.length]).toEqual([0, 0]);
    loadInventory.mockRestore();
    scopes.mockRestore();

    const moved = path.join(fixture.work, 'rerun-moved');
    await rename(dir, moved);
    const copied = path.join(fixture.work, 'rerun-copied');
    await cp(moved, copied, { recursive: true });
    expect(await analyze(store, [copied])).toMatchObject({ files: 0, records: 0, skippedFiles: 3 });
    expect(await analyze(store, [moved])).toMatchObject({ files: 0, records: 0, skippedFiles: 3 });

    // Tests and backfill call analyzePaths without the option: it reads (and replays) everything.
    expect(await analyze(store, [moved], { skipFilesRead: undefined })).toMatchObject({ files: 3, records: 6, replayed: 6, skippedFiles: 0 });
    await rm(moved, { recursive: true });
    await rm(copied, { recursive: true });
  });

  it('reads a changed file again and counts none of its events twice', async () => {
    const store = await freshStore();
    const { dir, files } = await logFolder('changed');
    await analyze(store, [dir]);

    await writeFile(files[1]!, gzipSync(JSON.stringify({ Records: [...records('2026-11-18T11', 2, 'b'), ...records('2026-11-18T11', 3, 'b2')] })));
    const second = await analyze(store, [dir]);

    expect(second).toMatchObject({ files: 1, records: 5, inScope: 5, replayed: 2, skippedFiles: 2, notStored: 0 });
    expect(await analyze(store, [dir])).toMatchObject({ files: 0, skippedFiles: 3 });
    await rm(dir, { recursive: true });
  });

  it('reads a file with a broken or rejected record again, and the whole ones not', async () => {
    const store = await freshStore();
    const { dir, files } = await logFolder('broken');
    const whole = gzipSync(JSON.stringify({ Records: records('2026-11-18T10', 2, 'a') }));
    await writeFile(files[0]!, whole.subarray(0, whole.length - 10));
    const rejected = records('2026-11-18T11', 2, 'b');
    delete rejected[1]!['eventTime'];
    await writeFile(files[1]!, gzipSync(JSON.stringify({ Records: rejected })));

    const first = await analyze(store, [dir]);
    expect(first.rejected).toBe(2);

    const second = await analyze(store, [dir]);
    expect(second).toMatchObject({ files: 2, skippedFiles: 1, rejected: 2 });
    await rm(dir, { recursive: true });
  });

  it('reads a file again when its events could not be stored, and records it once they are', async () => {
    const store = await freshStore();
    const { dir } = await logFolder('store-failure');
    const apply = vi.spyOn(store, 'apply').mockRejectedValueOnce(new Error('throttled'));

    const first = await analyze(store, [dir]);
    expect(first.notStored).toBe(6);
    apply.mockRestore();

    // Nothing of the failed batch reached the table (a staged batch is written only with its
    // stage's journal): the next run reads the files again and counts their events, once.
    const second = await analyze(store, [dir]);
    expect(second).toMatchObject({ files: 3, records: 6, inScope: 6, replayed: 0, notStored: 0, skippedFiles: 0 });
    expect(await analyze(store, [dir])).toMatchObject({ files: 0, skippedFiles: 3 });
    const clean = await freshStore();
    await analyze(clean, [dir]);
    expect(await storedEvidence(store)).toEqual(await storedEvidence(clean));
    await rm(dir, { recursive: true });
  });

  it('reads a file again when a batch flushed in its middle failed, though the batch that took its last events did not', async () => {
    // GIVEN batches of three events over files of two: a and the first of b, then b's last and c
    const store = await freshStore();
    const { dir } = await logFolder('mid-file-failure');
    const apply = vi.spyOn(store, 'apply').mockRejectedValueOnce(new Error('throttled'));

    // WHEN the first batch cannot be stored
    const first = await analyze(store, [dir], { batchSize: 3 });
    expect(first.notStored).toBe(3);
    apply.mockRestore();

    // THEN a rerun reads a and b again (b's first event was in the failed batch), and skips c: of
    // the four events, only b's last (stored by the second batch) is a replay
    const second = await analyze(store, [dir], { batchSize: 3 });
    expect(second).toMatchObject({ files: 2, records: 4, replayed: 1, notStored: 0, skippedFiles: 1 });
    expect(await analyze(store, [dir])).toMatchObject({ files: 0, skippedFiles: 3 });
    const clean = await freshStore();
    await analyze(clean, [dir]);
    expect(await storedEvidence(store)).toEqual(await storedEvidence(clean));
    await rm(dir, { recursive: true });
  });

  it('neither hashes nor records what is not a regular file: /dev/zero ends as a rejection of the reader', async () => {
    const store = await freshStore();
    const run = await analyze(store, ['/dev/zero']);
    expect(run).toMatchObject({ files: 1, rejected: 1, skippedFiles: 0 });
    expect(await analyze(store, ['/dev/zero'])).toMatchObject({ files: 1, rejected: 1, skippedFiles: 0 });
  });

  it('never skips stdin', async () => {
    const store = await freshStore();
    const body = JSON.stringify({ Records: records('2026-11-18T10', 2, 'stdin') });
    const stdin = () => Readable.from([body]);

    expect(await analyze(store, ['-'], { stdin: stdin() })).toMatchObject({ files: 1, records: 2, inScope: 2 });
    expect(await analyze(store, ['-'], { stdin: stdin() })).toMatchObject({ files: 1, records: 2, replayed: 2, skippedFiles: 0 });
  });

  it('the CLI says how many files it skipped, puts skippedFiles in --json, and --reread reads them again', { timeout: 30_000 }, async () => {
    const { dir } = await logFolder('cli');
    const storeDir = path.join(fixture.work, 'cli-store');
    const run = (...args: string[]) => runInProcess(['analyze', '--store', storeDir, '--no-alerts', ...args], { cwd: fixture.work });

    const first = await run('--json', dir);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ files: 3, records: 6, skippedFiles: 0 });

    const second = await run(dir);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('analyzed 0 files, 0 records');
    expect(second.stdout).toContain('3 files skipped: read and stored before; --reread reads them again');

    const json = await run('--json', dir);
    expect(JSON.parse(json.stdout)).toMatchObject({ files: 0, records: 0, skippedFiles: 3, storeRequests: { writes: 0 } });

    const reread = await run('--json', '--reread', dir);
    expect(reread.code, reread.stderr).toBe(0);
    expect(JSON.parse(reread.stdout)).toMatchObject({ files: 3, records: 6, replayed: 6, itemsWritten: 0, skippedFiles: 0 });
    // --reread records them again: the next run skips them still.
    expect(JSON.parse((await run('--json', dir)).stdout)).toMatchObject({ files: 0, skippedFiles: 3 });
    await rm(dir, { recursive: true });
    await rm(storeDir, { recursive: true });
  });
});

describe('one run that meets the same events twice', () => {
  it('counts CloudTrail eventIDs (UUIDs) once when a copy of a log file comes in later batches, its first reading staged and not yet written', async () => {
    const store = await freshStore();
    const dir = path.join(fixture.work, 'copies');
    await mkdir(dir, { recursive: true });
    // GIVEN a log file whose eventIDs are UUIDs, as CloudTrail's are, and a copy of it listed after it
    const withUuids = records('2026-11-18T10', 4, 'u').map((r) => ({ ...r, eventID: randomUUID() }));
    await writeFile(path.join(dir, logName('2026-11-18T10', 'a')), gzipSync(JSON.stringify({ Records: withUuids })));
    await writeFile(path.join(dir, logName('2026-11-18T11', 'b')), gzipSync(JSON.stringify({ Records: withUuids })));

    // WHEN one run reads both, two events a batch: the copy's events come in batches after the original's
    const run = await analyze(store, [dir], { batchSize: 2, skipFilesRead: undefined });

    // THEN the copy's four events are replays of the staged ones: each counted once
    expect(run).toMatchObject({ files: 2, inScope: 8, replayed: 4, notStored: 0 });
  });
});

import { runInProcess, type Run } from '../support/spawn-cli';
/**
 * Hostile input through the CLI (in this process: what is checked is the reading, not the process):
 * /dev/zero, a gzip bomb and an oversized record beside good records. The run ends promptly, names
 * each bad file or record on stderr and in rejects.jsonl, stores the neighbours, and exits as
 * documented (0, or 1 with --strict).
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const HOSTILE = fileURLToPath(new URL('../fixtures/hostile/', import.meta.url));

const cli = (args: string[], cwd: string): Promise<Run> => runInProcess(args, { cwd });

let work: string;
let first: Run;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'cw-hostile-cli-'));
  const logs = path.join(work, 'logs');
  await mkdir(logs);
  // Neighbours: record 1 and 3 of the first file, record 2 of the second, are good.
  await copyFile(path.join(HOSTILE, 'oversized-event-id.json'), path.join(logs, 'oversized-event-id.json'));
  await copyFile(path.join(HOSTILE, 'time-2099.json'), path.join(logs, 'time-2099.json'));
  await writeFile(path.join(logs, 'bomb.json.gz'), gzipSync(Buffer.alloc(32 * 1024 * 1024)));
  // it ends: an endless read of /dev/zero would be this hook's timeout
  first = await cli(['analyze', '--json', '--store', 'store', '/dev/zero', 'logs'], work);
}, 60_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('analyze on hostile input', () => {
  it('ends with exit 0, one line per bad file or record naming it', () => {
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/^\/dev\/zero: not JSON: line 1 is longer than 16 MiB \(the cap on one record\)/m);
    expect(first.stderr).toMatch(/^logs\/bomb\.json\.gz: gzip inflates more than 100× .*: refused as a likely gzip bomb$/m);
    expect(first.stderr).toMatch(/^logs\/oversized-event-id\.json: record 2: eventID is 2100 characters, longer than 128/m);
    expect(first.stderr).toMatch(/^logs\/time-2099\.json: record 1: eventTime "2099-01-01T00:00:00Z" is outside 2014-01-01T00:00:00Z … /m);
    expect(first.stderr).toMatch(/^4 rejections appended to store\/rejects\.jsonl$/m);
    expect(first.stderr).not.toMatch(/\n\s+at /);
  });

  it('stores the neighbouring good records', async () => {
    const summary = JSON.parse(first.stdout) as { inScope: number; rejected: number; notStored: number; byKind: Record<string, number> };
    expect(summary).toMatchObject({ inScope: 3, rejected: 4, notStored: 0, byKind: expect.objectContaining({ irsa: 3 }) });
    // A second run finds all three already counted: they are in the store.
    const again = await cli(['analyze', '--json', '--store', 'store', 'logs/oversized-event-id.json', 'logs/time-2099.json'], work);
    expect(JSON.parse(again.stdout)).toMatchObject({ inScope: 3, replayed: 3, rejected: 2 });
  });

  it('writes each rejection to rejects.jsonl with file, record and field', async () => {
    const lines = (await readFile(path.join(work, 'store', 'rejects.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.slice(0, 4)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ file: '/dev/zero', where: null, field: null }),
        expect.objectContaining({ file: 'logs/bomb.json.gz', where: null, field: null }),
        expect.objectContaining({ file: 'logs/oversized-event-id.json', where: 'record 2', field: 'eventID' }),
        expect.objectContaining({ file: 'logs/time-2099.json', where: 'record 1', field: 'eventTime' }),
      ]),
    );
  });

  it('exits 1 with --strict', async () => {
    const run = await cli(['analyze', '--strict', '--store', 'strict-store', 'logs/time-2099.json'], work);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/logs\/time-2099\.json: record 1: eventTime/);
  });
});

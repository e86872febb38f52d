/**
 * The hostile cases of the "Hostile input and operator mistakes" issue, through the real file
 * reader and normalizer: the small ones are files in test/fixtures/hostile/ with their expected
 * outcomes in expected.json beside them; the large ones (gzip bombs, /dev/zero, oversized files)
 * are generated here, never committed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRecords, type ReadLimits } from '../../functions/adapters/cloudtrail-files';
import type { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import { emptyInventory } from '../../functions/core/inventory';
import { analyzePaths, type Rejection } from '../../functions/adapters/ingest-pipeline';
import { MemoryStore } from '../support/memory-store';
import { normalizeRecord } from '../../functions/core/normalize';
import { nodeRoleMatcher } from '../../functions/core/node-roles';

const HOSTILE = fileURLToPath(new URL('../fixtures/hostile/', import.meta.url));
const NOW = new Date('2026-11-20T00:00:00Z');
const matcher = nodeRoleMatcher();

type Outcome = { where: string | null; event: string } | { where: string | null; rejected: string; field: string | null } | { where: string | null; problem: string };

interface Case {
  file: string;
  issue: string;
  outcomes: Outcome[];
}

const CASES = (JSON.parse(readFileSync(path.join(HOSTILE, 'expected.json'), 'utf8')) as { cases: Case[] }).cases;

/** What became of each item of a file: the event's kind, the rejection's reason and field, or the problem. */
async function outcomes(file: string, limits?: Partial<ReadLimits>): Promise<{ outcomes: Outcome[]; details: string[] }> {
  const out: Outcome[] = [];
  const details: string[] = [];
  for await (const item of readRecords(file, { limits })) {
    if (item.type === 'problem') {
      out.push({ where: item.where, problem: item.reason });
      details.push(item.reason);
      continue;
    }
    const result = normalizeRecord(item.record, matcher, { now: NOW });
    if (result.status === 'event') out.push({ where: item.where, event: result.event.kind });
    else if (result.status === 'rejected') {
      out.push({ where: item.where, rejected: result.reason, field: result.field });
      details.push(result.detail);
    } else out.push({ where: item.where, event: `skipped:${result.reason}` });
  }
  return { outcomes: out, details };
}

describe('hostile fixtures (test/fixtures/hostile/expected.json)', () => {
  it('has an expected outcome for every fixture file', () => {
    const files = CASES.map((c) => c.file).sort();
    const onDisk = readdirSync(HOSTILE).filter((f) => f !== 'expected.json').sort();
    expect(files).toEqual(onDisk);
  });

  it.each(CASES)('$file: $issue', async ({ file, outcomes: expected }) => {
    const { outcomes: got, details } = await outcomes(path.join(HOSTILE, file));
    expect(got).toEqual(expected);
    // Each rejection is one printable line, short enough for a terminal, naming what is wrong.
    for (const detail of details) {
      expect(detail).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
      expect(detail.length).toBeLessThan(400);
    }
  });
});

describe('large hostile inputs, generated at run time', () => {
  let tmp: string;
  const GOOD = JSON.parse(readFileSync(path.join(HOSTILE, 'time-2099.json'), 'utf8')).Records[1] as Record<string, unknown>;
  const record = (id: string, pad = 0) => ({ ...GOOD, eventID: id, ...(pad > 0 ? { padding: 'x'.repeat(pad) } : {}) });

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'cw-hostile-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('refuses a gzip bomb of zeros with one problem naming the ratio, after inflating megabytes, not the whole', async () => {
    const file = path.join(tmp, 'zeros.json.gz');
    await writeFile(file, gzipSync(Buffer.alloc(24 * 1024 * 1024)));
    const { outcomes: got } = await outcomes(file);
    expect(got).toEqual([{ where: null, problem: expect.stringMatching(/^gzip inflates more than 100× \(8\.\d MiB from \d+ KiB read\): refused as a likely gzip bomb$/) }]);
  });

  it('refuses a gzip bomb of repeated records (a log file that inflates past the ratio) as one problem', async () => {
    const one = JSON.stringify(record('same'));
    const file = path.join(tmp, 'records.json.gz');
    await writeFile(file, gzipSync(`{"Records":[${new Array(12_000).fill(one).join(',')}]}`));
    const { outcomes: got } = await outcomes(file);
    expect(got).toEqual([{ where: null, problem: expect.stringMatching(/^gzip inflates more than 100× \(8\.\d MiB from \d+ KiB read\)/) }]);
  });

  it('ends /dev/zero with one problem after reading one record\'s cap', async () => {
    // it ends (an endless read would be this test's timeout), with one problem
    const { outcomes: got } = await outcomes('/dev/zero');
    expect(got).toEqual([{ where: null, problem: expect.stringMatching(/^not JSON: line 1 is longer than 16 MiB \(the cap on one record\)/) }]);
  });

  it('stops a file at the per-file cap, naming it, and keeps the records before', async () => {
    const file = path.join(tmp, 'long.json');
    await writeFile(file, JSON.stringify({ Records: Array.from({ length: 2000 }, (_, i) => record(`r-${i}`)) }));
    const { outcomes: got } = await outcomes(file, { maxFileBytes: 1024 * 1024, maxRecordBytes: 64 * 1024 });
    expect(got.at(-1)).toEqual({ where: null, problem: 'larger than 1 MiB (the cap on one file): the rest is not read' });
    expect(got.length).toBeGreaterThan(100);
  });

  it('skips one record over the per-record cap in a streamed log file and reads its neighbours', async () => {
    const file = path.join(tmp, 'one-huge-record.json');
    await writeFile(file, JSON.stringify({ Records: [record('before'), record('huge', 200_000), record('after')] }));
    const { outcomes: got } = await outcomes(file, { maxRecordBytes: 64 * 1024 });
    expect(got).toEqual([
      { where: 'record 1', event: 'irsa' },
      { where: 'record 2', problem: 'larger than 64 KiB (the cap on one record): skipped' },
      { where: 'record 3', event: 'irsa' },
    ]);
  });

  it('keeps the records of a streamed gzip before the point where it is cut', async () => {
    const whole = gzipSync(JSON.stringify({ Records: Array.from({ length: 3000 }, (_, i) => record(`r-${i}`, 100)) }));
    const file = path.join(tmp, 'cut.json.gz');
    await writeFile(file, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const { outcomes: got } = await outcomes(file, { maxRecordBytes: 64 * 1024 });
    expect(got.at(-1)).toEqual({ where: null, problem: expect.stringMatching(/^truncated or corrupt gzip \(.+\)$/) });
    expect(got.length).toBeGreaterThan(1000);
  });
});


describe('the analyze pipeline on hostile fixtures', () => {
  /** The in-memory store, with the two reads analyzePaths makes before it ingests. */
  const store = () => Object.assign(new MemoryStore(), { loadInventory: async () => emptyInventory(), scopes: async () => [] }) as unknown as DynamoEvidenceStore;
  const files = ['oversized-event-id.json', 'time-2099.json', 'hash-in-names.json'].map((f) => path.join(HOSTILE, f));

  it('stores the neighbours and reports each rejection with its file, record and field', async () => {
    const rejections: Rejection[] = [];
    const summary = await analyzePaths({ paths: files, store: store(), detect: false, now: () => NOW, onRejection: (r) => rejections.push(r) });
    expect(summary).toMatchObject({ inScope: 3, rejected: 4, notStored: 0 });
    expect(rejections.map((r) => [path.basename(r.file), r.where, r.field])).toEqual([
      ['hash-in-names.json', 'record 1', 'requestParameters.tags.kubernetes-namespace'],
      ['hash-in-names.json', 'record 2', 'requestParameters.tags.kubernetes-service-account'],
      ['oversized-event-id.json', 'record 2', 'eventID'],
      ['time-2099.json', 'record 1', 'eventTime'],
    ]);
  });

  it('takes the time window from its options and the upper bound from its clock', async () => {
    const file = [path.join(HOSTILE, 'time-2099.json')];
    // time-2099.json's good record is from 2023-11-08: before a window that starts in 2024, after a clock in 2020.
    const late = await analyzePaths({ paths: file, store: store(), detect: false, now: () => NOW, eventTimeWindow: { notBefore: new Date('2024-01-01T00:00:00Z') } });
    expect(late).toMatchObject({ inScope: 0, rejected: 2 });
    const early = await analyzePaths({ paths: file, store: store(), detect: false, now: () => new Date('2020-01-01T00:00:00Z') });
    expect(early).toMatchObject({ inScope: 0, rejected: 2 });
    const wide = await analyzePaths({ paths: file, store: store(), detect: false, now: () => new Date('2098-12-31T00:00:00Z') });
    expect(wide).toMatchObject({ inScope: 2, rejected: 0 });
  });
});

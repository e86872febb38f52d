import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import { CoverageAccumulator } from '../../functions/core/coverage';
import { emptyInventory } from '../../functions/core/inventory';
import { analyzePaths } from '../../functions/adapters/ingest-pipeline';
import { MemoryStore } from '../support/memory-store';

// Coverage reads every record of a trail's log files before any is validated: what it takes from
// them must be a plausible account, region and hour, or a record could break the store write or
// prove hours that were never read.
describe('CoverageAccumulator', () => {
  const hours = (account: string | null, region: string | null, eventTime: string) => {
    const coverage = new CoverageAccumulator();
    coverage.addFileRecord(account, region, eventTime);
    coverage.addLiveEvent(account, region, eventTime);
    return coverage.days();
  };

  it('records the hour of a record of a real account and region', () => {
    expect(hours('111122223333', 'eu-west-1', '2026-11-19T23:59:59Z')).toEqual([
      { account: '111122223333', region: 'eu-west-1', day: '2026-11-19', fileHours: ['23'], liveHours: ['23'], slices: [] },
    ]);
    expect(hours('ACCOUNT_ID', 'us-gov-west-1', '2026-11-19T00:00:00Z')).toHaveLength(1);
  });

  it.each([
    ['no account', null, 'eu-west-1', '2026-11-19T10:00:00Z'],
    ['an account of 3,000 characters (past the sort key limit)', '9'.repeat(3000), 'eu-west-1', '2026-11-19T10:00:00Z'],
    ['an account with the key separator and an escape', '1111|x\u001b[2J', 'eu-west-1', '2026-11-19T10:00:00Z'],
    ['a region with a bidi override', '111122223333', 'eu-west-1\u202e', '2026-11-19T10:00:00Z'],
    ['a region of 40 characters', '111122223333', 'x'.repeat(40), '2026-11-19T10:00:00Z'],
    ['hour 47 (two days later)', '111122223333', 'eu-west-1', '2026-11-19T47:00:00Z'],
    ['month 13', '111122223333', 'eu-west-1', '2026-13-01T10:00:00Z'],
    ['day 00', '111122223333', 'eu-west-1', '2026-11-00T10:00:00Z'],
    ['no time', '111122223333', 'eu-west-1', '2026-11-19'],
  ])('leaves out a record with %s', (_what, account, region, eventTime) => {
    expect(hours(account, region, eventTime)).toEqual([]);
  });
});

describe('analyze records a log file\'s coverage', () => {
  const NOW = new Date('2026-11-20T00:00:00Z');
  /** An in-scope IRSA record of 2023-11-08, account 123456789012, us-east-1. */
  const GOOD = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/hostile/time-2099.json', import.meta.url)), 'utf8')).Records[1] as Record<string, unknown>;
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cw-coverage-'));
    file = path.join(dir, 'trail.json');
    await writeFile(file, JSON.stringify({ Records: ['a', 'b', 'c'].map((id) => ({ ...GOOD, eventID: `cov-${id}` })) }));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const memoryStore = () => {
    const memory = new MemoryStore();
    return { memory, store: Object.assign(memory, { loadInventory: async () => emptyInventory(), scopes: async () => [] }) as unknown as DynamoEvidenceStore };
  };

  it('not for a file with a record it could not read (here not an object), whose other records are stored', async () => {
    // Any problem in a file, a cut or an element over the cap as much as this one, means some of
    // its records were not read: none of its hours is proven complete.
    const broken = path.join(dir, 'broken.json');
    await writeFile(broken, JSON.stringify({ Records: [{ ...GOOD, eventID: 'part-1' }, 42, { ...GOOD, eventID: 'part-3' }] }));
    const { memory, store } = memoryStore();
    const summary = await analyzePaths({ paths: [broken], store, detect: false, now: () => NOW });
    expect(summary).toMatchObject({ inScope: 2, rejected: 1, notStored: 0 });
    expect(memory.coverage).toEqual([]);
  });

  it('only once the events it read are stored: not after a failed write, but on the rerun', async () => {
    const { memory, store } = memoryStore();
    // GIVEN a write that fails after the batch's commit
    memory.applyThrows = new Error('throttled');
    const failed = await analyzePaths({ paths: [file], store, detect: false, now: () => NOW });
    expect(failed).toMatchObject({ inScope: 3, notStored: 3 });
    expect(memory.coverage).toEqual([]);

    // WHEN it is run again: the journal is finished, the events are replays, and the hours count
    const rerun = await analyzePaths({ paths: [file], store, detect: false, now: () => NOW });
    expect(rerun).toMatchObject({ replayed: 3, notStored: 0 });
    expect(memory.coverage).toEqual([expect.objectContaining({ day: String(GOOD['eventTime']).slice(0, 10), fileHours: [String(GOOD['eventTime']).slice(11, 13)] })]);
  });
});

import { DuckDBInstance } from '@duckdb/node-api';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { analyzePaths } from '../../functions/adapters/ingest-pipeline';
import { nodeRoleMatcher } from '../../functions/core/node-roles';
import { normalizeRecord } from '../../functions/core/normalize';
import { athenaSource, type ResultRow, type TrailQueryEngine } from '../../functions/adapters/athena-backfill';
import { CoverageAccumulator, placeCoverage } from '../../functions/core/coverage';
import { duckdbSliceQuery } from '../../functions/core/trail-sql';
import { writeSampleFleet } from '../../functions/local/sample-fleet';
import { sampleFleet } from '../support/sample-fleets';
import { embeddedTables } from '../support/embedded-tables';

/**
 * The SQL is tested, not trusted: the Athena day query (the predicate generated from the rule
 * patterns, kept rows and per-hour counts from one scan), rendered for DuckDB and run over each date
 * folder of the sample fleet's CloudTrail files, selects exactly the records `analyze` keeps (the
 * eventIDs it claims in the store), in time order; the columns it returns rebuild records the
 * normalizer reads as it reads the originals; and its per-hour rows prove the coverage analyze proves.
 */
const END = new Date('2026-11-20T00:00:00Z');
const tables = embeddedTables('athena-duckdb');

describe('the trail predicate over the sample fleet (DuckDB)', () => {
  it('selects exactly the eventIDs analyze keeps, rebuilds the same events, and proves the same coverage', async () => {
    const fleet = sampleFleet({ end: END, days: 3 });
    const { logDir } = await writeSampleFleet(path.join(tables.work, 'fleet'), fleet);

    const store = await tables.fresh();
    const claimed = new Set<string>();
    const claim = store.claimEvents.bind(store);
    vi.spyOn(store, 'claimEvents').mockImplementation(async (events, ...rest) => {
      for (const e of events) claimed.add(e.eventId);
      return claim(events, ...rest);
    });
    const summary = await analyzePaths({ paths: [logDir], store, now: () => END, detect: false });
    expect(summary.rejected).toBe(0);
    expect(claimed.size).toBe(summary.inScope);
    expect(summary.byKind['node-role']).toBeGreaterThan(0);
    expect(summary.skipped['out-of-scope']).toBeGreaterThan(100);

    // The Athena day query (kept rows and per-hour counts in one scan), rendered for DuckDB, run per
    // date folder, its rows read by the Athena source's own row reader.
    const originals = new Map(fleet.files.flatMap((f) => f.records).map((r) => [String(r['eventID']), r]));
    const reader = athenaSource({ engine: {} as TrailQueryEngine, database: 'default', location: 's3://b/AWSLogs', table: 't', accounts: ['111122223333'], regions: ['us-east-1'] });
    const coverage = new CoverageAccumulator();
    const selected: string[] = [];
    const matcher = nodeRoleMatcher();
    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    try {
      const folders = [...new Set(fleet.files.map((f) => f.key.split('/').slice(4, 7).join('/')))].sort();
      for (const folder of folders) {
        const sql = duckdbSliceQuery(path.join(logDir, 'AWSLogs', '*', 'CloudTrail', '*', folder, '*.json.gz'), {});
        const rows: ResultRow[] = (await connection.runAndReadAll(sql)).getRowObjects().map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === null ? null : String(v)])));
        const items = reader.readRows(rows, folder, 1, coverage);
        const times: string[] = [];
        for (const item of items) {
          if (item.type !== 'record') throw new Error(item.reason);
          const record = item.record as Record<string, unknown>;
          const id = String(record['eventID']);
          selected.push(id);
          times.push(String(record['eventTime']));
          // The columns Athena returns, rebuilt, normalize to the same event as the record itself.
          expect(normalizeRecord(record, matcher, { now: END }), id).toEqual(normalizeRecord(originals.get(id), matcher, { now: END }));
        }
        // In time order, as the detections need it.
        expect(times, folder).toEqual([...times].sort());
      }
      expect(new Set(selected).size).toBe(selected.length);
      expect(selected.sort()).toEqual([...claimed].sort());
      // The hours with records, from the per-hour rows: the coverage analyze proves from the files.
      expect(placeCoverage(coverage.days())).toEqual(placeCoverage(await store.coverageDays()));
    } finally {
      connection.closeSync();
      db.closeSync();
    }
  }, 120_000);
});

import { DuckDBInstance } from '@duckdb/node-api';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { analyzePaths } from '../../functions/adapters/ingest-pipeline';
import { nodeRoleMatcher } from '../../functions/core/node-roles';
import { normalizeRecord } from '../../functions/core/normalize';
import { athenaSource, type ResultRow, type TrailQueryEngine } from '../../functions/adapters/athena-backfill';
import { CoverageAccumulator, placeCoverage } from '../../functions/core/coverage';
import { duckdbQuery, duckdbSliceQuery, rebuildRecord, selectList, SELECTED_FIELDS } from '../../functions/core/trail-sql';
import { generateSampleFleet, writeSampleFleet } from '../../functions/local/sample-fleet';
import { embeddedTables } from '../support/embedded-tables';

/**
 * The SQL is tested, not trusted: the predicate generated from the rule patterns, rendered for
 * DuckDB and run over the sample fleet's CloudTrail files, selects exactly the records `analyze`
 * keeps (the eventIDs it claims in the store), and the columns Athena would return rebuild records
 * the normalizer reads as it reads the originals. The Athena day query's shape, rendered for
 * DuckDB and run per date folder, gives the same eventIDs and the same coverage as analyze.
 */
const END = new Date('2026-11-20T00:00:00Z');
const tables = embeddedTables('athena-duckdb');

describe('the trail predicate over the sample fleet (DuckDB)', () => {
  it('selects exactly the eventIDs analyze keeps, and the selected columns rebuild the same events', async () => {
    const fleet = generateSampleFleet({ end: END, days: 3 });
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

    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    try {
      const glob = path.join(logDir, '**', '*.json.gz');
      const rows = (await connection.runAndReadAll(duckdbQuery(glob, {}, `${selectList('duckdb')},\n  CAST(r AS VARCHAR) AS original`))).getRowObjects();
      const selected = rows.map((row) => String(row['eventid']));
      expect(new Set(selected).size).toBe(selected.length);
      expect([...selected].sort()).toEqual([...claimed].sort());

      // What the Athena query returns per row, rebuilt, normalizes to the same event as the record itself.
      const matcher = nodeRoleMatcher();
      const now = END;
      for (const row of rows) {
        const text: Record<string, string | null> = {};
        for (const f of SELECTED_FIELDS) text[f.column] = row[f.column] === null ? null : String(row[f.column]);
        const rebuilt = rebuildRecord(text);
        if (!('record' in rebuilt)) throw new Error(rebuilt.problem);
        const original = JSON.parse(String(row['original'])) as Record<string, unknown>;
        expect(normalizeRecord(rebuilt.record, matcher, { now }), String(row['eventid'])).toEqual(normalizeRecord(original, matcher, { now }));
      }

      // The Athena day query's shape (kept rows and per-hour counts from one scan), run per date
      // folder and read by the Athena source's row reader: the same eventIDs, the same coverage as analyze.
      const reader = athenaSource({ engine: {} as TrailQueryEngine, database: 'default', location: 's3://b/AWSLogs', table: 't', accounts: ['111122223333'], regions: ['us-east-1'] });
      const coverage = new CoverageAccumulator();
      const fromSlices: string[] = [];
      const folders = [...new Set(fleet.files.map((f) => f.key.split('/').slice(4, 7).join('/')))].sort();
      for (const folder of folders) {
        const sql = duckdbSliceQuery(path.join(logDir, 'AWSLogs', '*', 'CloudTrail', '*', folder, '*.json.gz'), {});
        const rows: ResultRow[] = (await connection.runAndReadAll(sql)).getRowObjects().map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === null ? null : String(v)])));
        const items = reader.readRows(rows, folder, 1, coverage);
        for (const item of items) {
          if (item.type !== 'record') throw new Error(item.reason);
          fromSlices.push(String((item.record as Record<string, unknown>)['eventID']));
        }
        // In time order, as the detections need it.
        const times = items.map((i) => String((i.type === 'record' && (i.record as Record<string, unknown>)['eventTime']) || ''));
        expect(times, folder).toEqual([...times].sort());
      }
      expect(fromSlices.sort()).toEqual([...claimed].sort());
      expect(placeCoverage(coverage.days())).toEqual(placeCoverage(await store.coverageDays()));
    } finally {
      connection.closeSync();
      db.closeSync();
    }
  }, 90_000);
});

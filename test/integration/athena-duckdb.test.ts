import { DuckDBInstance } from '@duckdb/node-api';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { analyzePaths } from '../../functions/adapters/ingest-pipeline';
import { nodeRoleMatcher } from '../../functions/core/node-roles';
import { normalizeRecord } from '../../functions/core/normalize';
import { duckdbQuery, rebuildRecord, selectList, SELECTED_FIELDS } from '../../functions/core/trail-sql';
import { generateSampleFleet, writeSampleFleet } from '../../functions/local/sample-fleet';
import { embeddedTables } from '../support/embedded-tables';

/**
 * The SQL is tested, not trusted: the predicate generated from the rule patterns, rendered for
 * DuckDB and run over the sample fleet's CloudTrail files, selects exactly the records `analyze`
 * keeps (the eventIDs it claims in the store), and the columns Athena would return rebuild records
 * the normalizer reads as it reads the originals.
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
    } finally {
      connection.closeSync();
      db.closeSync();
    }
  }, 60_000);
});

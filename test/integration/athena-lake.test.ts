import { CancelQueryCommand, CloudTrailClient, DescribeQueryCommand, GetQueryResultsCommand, StartQueryCommand } from '@aws-sdk/client-cloudtrail';
import { mockClient } from 'aws-sdk-client-mock';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { QueryFailedError, runTrailBackfill } from '../../functions/adapters/athena-backfill';
import { BACKFILL_PK } from '../../functions/adapters/cloudtrail-backfill';
import { analyzePaths } from '../../functions/adapters/ingest-pipeline';
import { eventDataStoreId, lakeEngine, lakeSource } from '../../functions/adapters/lake-backfill';
import { DEFAULT_NODE_ROLE_PATTERNS } from '../../functions/core/node-roles';
import { cloudTrailEnvelope, matchingRules, rulePatterns } from '../../functions/core/rule-patterns';
import { writeSampleFleet } from '../../functions/local/sample-fleet';
import { sampleFleet } from '../support/sample-fleets';
import { embeddedTables } from '../support/embedded-tables';

/** The CloudTrail Lake backfill at the client boundary (aws-sdk-client-mock), and a run over the sample fleet. */
const END = new Date('2026-11-20T00:00:00Z');
const EDS = 'arn:aws:cloudtrail:us-east-1:111122223333:eventdatastore/EXAMPLE6d-0c7f-4b81-b3b7-dd01f8f4fd6a';
const cloudtrail = mockClient(CloudTrailClient);
afterEach(() => cloudtrail.reset());
afterAll(() => cloudtrail.restore());
const tables = embeddedTables('athena-lake');
const noSleep = async () => undefined;
const engine = (throttleRetries?: number) => lakeEngine({ client: new CloudTrailClient({ region: 'us-east-1' }), region: 'us-east-1', sleep: noSleep, throttleRetries });

describe('the CloudTrail Lake engine', () => {
  it('polls QUEUED and RUNNING until FINISHED, retries a throttled call, and reports the bytes scanned', async () => {
    cloudtrail.on(StartQueryCommand).resolves({ QueryId: 'l1' });
    cloudtrail
      .on(DescribeQueryCommand)
      .resolvesOnce({ QueryStatus: 'QUEUED' })
      .rejectsOnce(Object.assign(new Error('slow down'), { name: 'ThrottlingException', $metadata: {} }))
      .resolvesOnce({ QueryStatus: 'RUNNING' })
      .resolves({ QueryStatus: 'FINISHED', QueryStatistics: { BytesScanned: 4096, EventsScanned: 10, EventsMatched: 2 } });
    expect(await engine().run('SELECT 1')).toEqual({ id: 'l1', scannedBytes: 4096, billedBytes: 4096 });
    expect(cloudtrail.commandCalls(StartQueryCommand)[0]!.args[0].input).toEqual({ QueryStatement: 'SELECT 1' });
  });

  it.each(['FAILED', 'CANCELLED', 'TIMED_OUT'] as const)('a %s query is a QueryFailedError with its message', async (state) => {
    cloudtrail.on(StartQueryCommand).resolves({ QueryId: 'l2' });
    cloudtrail.on(DescribeQueryCommand).resolves({ QueryStatus: state, ErrorMessage: 'planted' });
    const error = await engine().run('SELECT 1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryFailedError);
    expect((error as Error).message).toBe(`CloudTrail Lake query l2 ${state}: planted`);
  });

  it('reads every page; each row is a list of one-column maps', async () => {
    cloudtrail
      .on(GetQueryResultsCommand)
      .resolvesOnce({ QueryStatus: 'FINISHED', QueryResultRows: [[{ eventid: 'a' }, { eventjson: '{}' }]], NextToken: 'n2' })
      .resolves({ QueryStatus: 'FINISHED', QueryResultRows: [[{ eventid: 'b' }, { eventjson: '{"x":1}' }]] });
    const pages = [];
    for await (const page of engine().pages('l3')) pages.push(page);
    expect(pages).toEqual([[{ eventid: 'a', eventjson: '{}' }], [{ eventid: 'b', eventjson: '{"x":1}' }]]);
    expect(cloudtrail.commandCalls(GetQueryResultsCommand).map((c) => c.args[0].input)).toEqual([{ QueryId: 'l3' }, { QueryId: 'l3', NextToken: 'n2' }]);
  });

  it('takes an event data store ARN or id', () => {
    expect(eventDataStoreId(EDS)).toBe('EXAMPLE6d-0c7f-4b81-b3b7-dd01f8f4fd6a');
    expect(eventDataStoreId('EXAMPLE6d')).toBe('EXAMPLE6d');
  });
});

describe('backfill --lake over the sample fleet (fake Lake)', () => {
  it('stores what analyze stores, checkpoints days, records no coverage, and a bad eventjson is a rejection naming its row', async () => {
    const fleet = sampleFleet({ end: END, days: 3 });
    const { logDir } = await writeSampleFleet(path.join(tables.work, 'fleet'), fleet);
    const rules = rulePatterns({ nodeRolePatterns: DEFAULT_NODE_ROLE_PATTERNS });
    const records = fleet.files
      .flatMap((f) => f.records)
      .filter((r) => matchingRules(cloudTrailEnvelope(r), rules).length > 0)
      .sort((a, b) => String(a['eventTime']).localeCompare(String(b['eventTime'])));

    const statements: string[] = [];
    cloudtrail.on(StartQueryCommand).callsFake((input: { QueryStatement: string }) => {
      statements.push(input.QueryStatement);
      return { QueryId: `l${statements.length}` };
    });
    cloudtrail.on(DescribeQueryCommand).resolves({ QueryStatus: 'FINISHED', QueryStatistics: { BytesScanned: 1_000_000 } });
    cloudtrail.on(GetQueryResultsCommand).callsFake((input: { QueryId: string; NextToken?: string }) => {
      const sql = statements[Number(input.QueryId.slice(1)) - 1]!;
      const [, from, to] = /eventtime >= '([^']+)' AND eventtime < '([^']+)'/.exec(sql)!;
      const iso = (t: string) => `${t.replace(' ', 'T')}Z`;
      const rows = records
        .filter((r) => String(r['eventTime']) >= iso(from!) && String(r['eventTime']) < iso(to!))
        .map((r) => [{ eventid: String(r['eventID']) }, { eventtime: String(r['eventTime']) }, { eventjson: JSON.stringify(r) }]);
      if (from === '2026-11-18 00:00:00') rows.push([{ eventid: 'bad' }, { eventtime: '2026-11-18 23:59:59' }, { eventjson: '{not json' }]);
      const start = Number(input.NextToken ?? 0);
      return { QueryStatus: 'FINISHED', QueryResultRows: rows.slice(start, start + 500), ...(start + 500 < rows.length ? { NextToken: String(start + 500) } : {}) };
    });
    cloudtrail.on(CancelQueryCommand).resolves({});

    const files = await analyzePaths({ paths: [logDir], store: await tables.fresh(), now: () => END, detect: false });
    const store = await tables.fresh();
    const rejections: { file: string; where: string | null; reason: string }[] = [];
    const result = await runTrailBackfill({
      store,
      source: lakeSource({ engine: engine(), eventDataStore: EDS }),
      days: 3,
      now: () => END,
      detect: false,
      onRejection: (r) => rejections.push(r),
    });
    expect(statements[0]).toMatch(/^SELECT eventid, eventtime, eventjson\nFROM EXAMPLE6d-0c7f-4b81-b3b7-dd01f8f4fd6a\nWHERE eventtime >= '2026-11-17 00:00:00' AND eventtime < '2026-11-18 00:00:00'/);
    expect(statements).toHaveLength(4);
    expect(result.summary.inScope).toBe(files.inScope);
    expect(result.summary.byKind).toEqual(files.byKind);
    expect(rejections).toHaveLength(1);
    expect(rejections[0]!.file).toBe('CloudTrail Lake EXAMPLE6d-0c7f-4b81-b3b7-dd01f8f4fd6a 2026-11-18');
    expect(rejections[0]!.reason).toMatch(/CloudTrailEvent is not JSON/);
    expect(result.costUsd).toBeCloseTo((4 * 1_000_000 * 5) / 1e12, 12);
    // A rejected row is reported, not a reason to doubt the day: it is checkpointed like the others.
    expect(result.slices.map((s) => s.status)).toEqual(['stored', 'stored', 'stored', 'stored']);
    expect((await store.queryMeta(BACKFILL_PK, 'lake#')).map((c) => c['day'])).toEqual(['2026-11-17', '2026-11-18', '2026-11-19', '2026-11-20']);
    expect(await store.coverageDays()).toEqual([]);
  }, 60_000);
});

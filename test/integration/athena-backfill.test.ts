import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
  type Row,
} from '@aws-sdk/client-athena';
import { mockClient } from 'aws-sdk-client-mock';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { athenaEngine, athenaSource, QueryFailedError, runTrailBackfill, type SliceProgress } from '../../functions/adapters/athena-backfill';
import { BACKFILL_PK } from '../../functions/adapters/cloudtrail-backfill';
import { AwsFatalError } from '../../functions/adapters/aws-calls';
import { analyzePaths } from '../../functions/adapters/ingest-pipeline';
import { placeCoverage } from '../../functions/core/coverage';
import { DEFAULT_NODE_ROLE_PATTERNS } from '../../functions/core/node-roles';
import { defaultPolicy } from '../../functions/core/policy';
import { cloudTrailEnvelope, matchingRules, rulePatterns } from '../../functions/core/rule-patterns';
import { athenaTableName, HOUR_ROW_COLUMNS, SELECTED_FIELDS } from '../../functions/core/trail-sql';
import { writeSampleFleet } from '../../functions/local/sample-fleet';
import { sampleFleet } from '../support/sample-fleets';
import { embeddedTables } from '../support/embedded-tables';

/**
 * The Athena backfill at the client boundary (aws-sdk-client-mock): query states, pagination,
 * throttling, failed and cancelled queries; and a whole run against a fake Athena that answers the
 * day queries from the sample fleet's log files, compared with `analyze` over the same files.
 */
const END = new Date('2026-11-20T00:00:00Z');
const LOCATION = 's3://org-trail/AWSLogs';
const TABLE = athenaTableName(LOCATION);
const athena = mockClient(AthenaClient);
afterEach(() => athena.reset());
afterAll(() => athena.restore());
const tables = embeddedTables('athena-backfill');
const noSleep = async () => undefined;
const throttle = () => Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException', $metadata: { httpStatusCode: 400 } });

const engine = () => athenaEngine({ client: new AthenaClient({ region: 'us-east-1' }), region: 'us-east-1', database: 'default', outputLocation: 's3://results/cw/', sleep: noSleep });
const cell = (v: string | null) => (v === null ? {} : { VarCharValue: v });
const resultPage = (columns: string[], rows: (string | null)[][], header: boolean, next?: string) => ({
  ResultSet: {
    ResultSetMetadata: { ColumnInfo: columns.map((Name) => ({ Name, Type: 'varchar' })) },
    Rows: [...(header ? [{ Data: columns.map((c) => cell(c)) }] : []), ...rows.map((r) => ({ Data: r.map(cell) }))] as Row[],
  },
  ...(next ? { NextToken: next } : {}),
});

describe('the Athena engine', () => {
  it('polls QUEUED and RUNNING until SUCCEEDED, retries throttled calls, and bills at least 10 MB', async () => {
    athena.on(StartQueryExecutionCommand).rejectsOnce(throttle()).resolves({ QueryExecutionId: 'q1' });
    athena
      .on(GetQueryExecutionCommand)
      .resolvesOnce({ QueryExecution: { Status: { State: 'QUEUED' } } })
      .rejectsOnce(throttle())
      .resolvesOnce({ QueryExecution: { Status: { State: 'RUNNING' } } })
      .resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' }, StatementType: 'DML', Statistics: { DataScannedInBytes: 1234 } } });
    const run = await engine().run('SELECT 1');
    expect(run).toEqual({ id: 'q1', scannedBytes: 1234, billedBytes: 10 * 1_048_576 });
    expect(athena.commandCalls(StartQueryExecutionCommand)[1]!.args[0].input).toMatchObject({
      QueryString: 'SELECT 1',
      QueryExecutionContext: { Database: 'default' },
      WorkGroup: 'primary',
      ResultConfiguration: { OutputLocation: 's3://results/cw/' },
    });
    expect(athena.commandCalls(GetQueryExecutionCommand)).toHaveLength(4);
  });

  it('a DDL statement costs nothing', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'ddl' });
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' }, StatementType: 'DDL', Statistics: { DataScannedInBytes: 0 } } });
    expect((await engine().run('CREATE EXTERNAL TABLE …')).billedBytes).toBe(0);
  });

  it.each([
    ['FAILED', { State: 'FAILED', AthenaError: { ErrorMessage: 'HIVE_BAD_DATA: Error parsing field value' } }, /FAILED: HIVE_BAD_DATA/],
    ['CANCELLED', { State: 'CANCELLED', StateChangeReason: 'Query cancelled by user' }, /CANCELLED: Query cancelled by user/],
  ] as const)('a %s query is a QueryFailedError with its reason', async (state, status, message) => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q2' });
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: status } });
    const error = await engine().run('SELECT 1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryFailedError);
    expect((error as QueryFailedError).state).toBe(state);
    expect((error as Error).message).toMatch(message);
  });

  it('a denied call stops the run, naming the permission', async () => {
    athena.on(StartQueryExecutionCommand).rejects(Object.assign(new Error('User is not authorized'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }));
    const error = await engine().run('SELECT 1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AwsFatalError);
    expect((error as Error).message).toMatch(/missing permission athena:StartQueryExecution/);
  });

  it('throttling past the retries is an error, not a hang', async () => {
    athena.on(StartQueryExecutionCommand).rejects(throttle());
    const run = athenaEngine({ client: new AthenaClient({ region: 'us-east-1' }), region: 'us-east-1', database: 'default', sleep: noSleep, throttleRetries: 2 }).run('SELECT 1');
    await expect(run).rejects.toThrow(/Rate exceeded/);
    expect(athena.commandCalls(StartQueryExecutionCommand)).toHaveLength(3);
  });

  it('stopped while a query runs, cancels it (StopQueryExecution) instead of leaving it to run and bill', async () => {
    const stop = new AbortController();
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q9' });
    athena.on(GetQueryExecutionCommand).callsFake(() => {
      stop.abort(new Error('stopped'));
      return { QueryExecution: { Status: { State: 'RUNNING' } } };
    });
    athena.on(StopQueryExecutionCommand).resolves({});
    await expect(engine().run('SELECT 1', stop.signal)).rejects.toThrow('stopped');
    expect(athena.commandCalls(StopQueryExecutionCommand).map((c) => c.args[0].input)).toEqual([{ QueryExecutionId: 'q9' }]);
  });

  it('reads every page, the header row of the first one only skipped, a throttled page retried with the same token', async () => {
    athena
      .on(GetQueryResultsCommand, { QueryExecutionId: 'q3' })
      .resolvesOnce(resultPage(['a', 'b'], [['1', null]], true, 't2'))
      .rejectsOnce(throttle())
      .resolves(resultPage(['a', 'b'], [['a', 'b'], ['2', '']], false));
    const pages = [];
    for await (const page of engine().pages('q3')) pages.push(page);
    expect(pages).toEqual([[{ a: '1', b: null }], [{ a: 'a', b: 'b' }, { a: '2', b: '' }]]);
    const tokens = athena.commandCalls(GetQueryResultsCommand).map((c) => c.args[0].input.NextToken);
    expect(tokens).toEqual([undefined, 't2', 't2']);
  });
});

// ---------------------------------------------------------------------------------------------
// A whole run over the sample fleet

type Rec = Record<string, unknown>;
const fleet = sampleFleet({ end: END, days: 3 });
const RULES = rulePatterns({ nodeRolePatterns: DEFAULT_NODE_ROLE_PATTERNS });
const at = (r: Rec, p: readonly string[]): unknown => p.reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Rec)[k] : undefined), r);

/** What the day query would return: rows in Athena's columns, hour rows for what the rules drop. */
function dayRows(day: string, accounts: string[], regions: string[]): (string | null)[][] {
  const folder = day.replaceAll('-', '/');
  const records = fleet.files
    .filter((f) => {
      const parts = f.key.split('/');
      return accounts.includes(parts[1]!) && regions.includes(parts[3]!) && parts.slice(4, 7).join('/') === folder;
    })
    .flatMap((f) => f.records);
  const hours = new Map<string, number>();
  const kept: (string | null)[][] = [];
  for (const r of records) {
    const account = String(r['recipientAccountId'] ?? at(r, ['userIdentity', 'accountId']));
    const hour = String(r['eventTime']).slice(0, 13);
    if (matchingRules(cloudTrailEnvelope(r), RULES).length === 0) {
      const key = `${account}|${String(r['awsRegion'])}|${hour}`;
      hours.set(key, (hours.get(key) ?? 0) + 1);
      continue;
    }
    const values = SELECTED_FIELDS.map((f) => {
      const v = at(r, f.path);
      return v === undefined || v === null ? null : f.json ? JSON.stringify(v) : String(v);
    });
    kept.push([account, String(r['awsRegion']), hour, ...values, '1']);
  }
  const hourRows = [...hours].map(([key, n]) => [...key.split('|'), ...SELECTED_FIELDS.map(() => null), String(n)]);
  const time = (row: (string | null)[]) => `${row[2]}|${row[4] ?? ''}|${row[3] ?? ''}`;
  return [...hourRows, ...kept].sort((a, b) => (time(a) < time(b) ? -1 : time(a) > time(b) ? 1 : 0));
}

const COLUMNS = [...HOUR_ROW_COLUMNS.slice(0, 3), ...SELECTED_FIELDS.map((f) => f.column), 'records'];

/** A fake Athena: DDL succeeds; a day query RUNNING once, then SUCCEEDED, its rows in pages of 1,000. */
function fakeAthena(options: { failDay?: string } = {}) {
  const queries = new Map<string, { sql: string; rows: (string | null)[][]; polled: number }>();
  athena.on(StartQueryExecutionCommand).callsFake((input: { QueryString: string }) => {
    const id = `q${queries.size + 1}`;
    const day = /"timestamp" = '(\d{4})\/(\d{2})\/(\d{2})'/.exec(input.QueryString);
    const list = (name: string) => [...(new RegExp(`${name} IN \\(([^)]*)\\)`).exec(input.QueryString)?.[1] ?? '').matchAll(/'([^']*)'/g)].map((m) => m[1]!);
    queries.set(id, { sql: input.QueryString, rows: day ? dayRows(`${day[1]}-${day[2]}-${day[3]}`, list('account'), list('region')) : [], polled: 0 });
    return { QueryExecutionId: id };
  });
  athena.on(GetQueryExecutionCommand).callsFake((input: { QueryExecutionId: string }) => {
    const q = queries.get(input.QueryExecutionId)!;
    q.polled += 1;
    const ddl = q.sql.startsWith('CREATE');
    if (options.failDay && q.sql.includes(`'${options.failDay.replaceAll('-', '/')}'`)) return { QueryExecution: { Status: { State: 'FAILED', StateChangeReason: 'planted' } } };
    if (q.polled === 1 && !ddl) return { QueryExecution: { Status: { State: 'RUNNING' } } };
    return { QueryExecution: { Status: { State: 'SUCCEEDED' }, StatementType: ddl ? 'DDL' : 'DML', Statistics: { DataScannedInBytes: ddl ? 0 : 50_000_000 } } };
  });
  athena.on(GetQueryResultsCommand).callsFake((input: { QueryExecutionId: string; NextToken?: string }) => {
    const q = queries.get(input.QueryExecutionId)!;
    const from = Number(input.NextToken ?? 0);
    const rows = q.rows.slice(from, from + 1000);
    const next = from + 1000 < q.rows.length ? String(from + 1000) : undefined;
    return resultPage(COLUMNS, rows, from === 0, next);
  });
  athena.on(StopQueryExecutionCommand).resolves({});
  return queries;
}

const ACCOUNTS = [...new Set(fleet.files.map((f) => f.key.split('/')[1]!))].sort();
const REGIONS = [...new Set(fleet.files.map((f) => f.key.split('/')[3]!))].sort();
const source = () => athenaSource({ engine: engine(), database: 'default', location: LOCATION, table: TABLE, accounts: ACCOUNTS, regions: REGIONS });

describe('backfill --athena over the sample fleet (fake Athena)', () => {
  it('stores what analyze stores, proves the same coverage, checkpoints days, and counts each eventID once', async () => {
    const { logDir } = await writeSampleFleet(path.join(tables.work, 'fleet'), fleet);
    const policy = defaultPolicy();
    const viaFiles = await tables.fresh();
    const files = await analyzePaths({ paths: [logDir], store: viaFiles, now: () => END, policy });

    const queries = fakeAthena();
    const store = await tables.fresh();
    const progress: SliceProgress[] = [];
    const result = await runTrailBackfill({ store, source: source(), days: 3, now: () => END, policy, onProgress: (p) => progress.push(p) });
    expect(result.summary.inScope).toBe(files.inScope);
    expect(result.summary.byKind).toEqual(files.byKind);
    expect(result.summary.rejected).toBe(0);
    expect(result.summary.alertsByDetection).toEqual(files.alertsByDetection);
    expect([...queries.values()][0]!.sql).toMatch(/^CREATE EXTERNAL TABLE IF NOT EXISTS `default`.`cutover_watch_trail_v1_/);
    expect([...queries.values()].filter((q) => q.sql.startsWith('WITH'))).toHaveLength(4);
    expect(result.slices.map((s) => [s.day, s.status])).toEqual([
      ['2026-11-17', 'stored'],
      ['2026-11-18', 'stored'],
      ['2026-11-19', 'stored'],
      ['2026-11-20', 'stored'],
    ]);
    // 4 day queries of 50,000,000 bytes scanned each, billed by the started MB (48 MB each); $5 per TB.
    expect(result.scannedBytes).toBe(4 * 50_000_000);
    expect(result.billedBytes).toBe(4 * 48 * 1_048_576);
    expect(result.costUsd).toBeCloseTo((4 * 48 * 1_048_576 * 5) / 1e12, 12);
    expect(progress.filter((p) => p.status === 'stored').map((p) => p.day)).toEqual(['2026-11-17', '2026-11-18', '2026-11-19', '2026-11-20']);

    // The hours the day folders had records prove what the log files prove.
    expect(placeCoverage(await store.coverageDays())).toEqual(placeCoverage(await viaFiles.coverageDays()));

    // Checkpoints: the days that ended an hour (the delivery lag) ago are done; the others are read again.
    const checkpoints = await store.queryMeta(BACKFILL_PK, `athena#${LOCATION}#`);
    expect(checkpoints.map((c) => [c['day'], c['complete']])).toEqual([
      ['2026-11-17', true],
      ['2026-11-18', true],
      ['2026-11-19', false],
      ['2026-11-20', false],
    ]);
    athena.resetHistory();
    const again = await runTrailBackfill({ store, source: source(), days: 3, now: () => END, policy });
    expect(again.slices.map((s) => s.status)).toEqual(['skipped', 'skipped', 'stored', 'stored']);
    expect(again.summary.replayed).toBe(again.summary.inScope);
    expect(athena.commandCalls(StartQueryExecutionCommand).map((c) => /'(\d{4}\/\d{2}\/\d{2})'/.exec(c.args[0].input.QueryString ?? '')?.[1] ?? 'DDL')).toEqual(['DDL', '2026/11/19', '2026/11/20']);

    // The same eventIDs count once: analyze over the files after the backfill only replays.
    const replay = await analyzePaths({ paths: [logDir], store, now: () => END, policy });
    expect(replay.replayed).toBe(files.inScope);
    expect(replay.alertsByDetection).toEqual({});
  }, 120_000);

  it('a failed day is reported and left for the next run; the other days are stored', async () => {
    fakeAthena({ failDay: '2026-11-18' });
    const store = await tables.fresh();
    const result = await runTrailBackfill({ store, source: source(), days: 3, now: () => END, detect: false });
    expect(result.slices.map((s) => s.status)).toEqual(['stored', 'failed', 'stored', 'stored']);
    expect(result.slices[1]!.note).toMatch(/FAILED: planted/);
    const days = (await store.queryMeta(BACKFILL_PK, 'athena#')).map((c) => c['day']);
    expect(days).toEqual(['2026-11-17', '2026-11-19', '2026-11-20']);
  }, 120_000);

  it('stops between days when asked; the next run resumes after the last stored day', async () => {
    fakeAthena();
    const store = await tables.fresh();
    const stop = new AbortController();
    const first = await runTrailBackfill({
      store,
      source: source(),
      days: 3,
      now: () => END,
      detect: false,
      storeEveryMs: 0,
      signal: stop.signal,
      onProgress: (p) => {
        if (p.status === 'stored') stop.abort();
      },
    });
    expect(first.stopped).toBe(true);
    expect(first.slices.map((s) => s.status)).toEqual(['stored', 'stopped', 'stopped', 'stopped']);
    const rest = await runTrailBackfill({ store, source: source(), days: 3, now: () => END, detect: false });
    expect(rest.slices.map((s) => s.status)).toEqual(['skipped', 'stored', 'stored', 'stored']);
  }, 120_000);
});

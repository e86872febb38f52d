import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { CloudTrailClient, DescribeQueryCommand, GetQueryResultsCommand as LakeResultsCommand, StartQueryCommand } from '@aws-sdk/client-cloudtrail';
import { mockClient } from 'aws-sdk-client-mock';
import { Command } from 'commander';
import { access, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { athenaTableName, HOUR_ROW_COLUMNS, SELECTED_FIELDS } from '../../functions/core/trail-sql';
import { backfillCommand } from '../../functions/local/cli/commands/backfill';
import type { Io } from '../../functions/local/cli/io';
import { execute } from '../../functions/local/cli/main';

/** `backfill --athena` and `--lake` as main.ts runs them, the AWS clients faked at their boundary. */
const END = new Date('2026-11-20T10:00:00Z');
const athena = mockClient(AthenaClient);
const cloudtrail = mockClient(CloudTrailClient);
afterEach(() => {
  athena.reset();
  cloudtrail.reset();
});
afterAll(() => {
  athena.restore();
  cloudtrail.restore();
});
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cw-athena-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(argv: string[], env: NodeJS.ProcessEnv = { AWS_REGION: 'us-east-1' }) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => void out.push(l), err: (l) => void err.push(l), stdin: new PassThrough(), progressStream: new PassThrough(), interactive: false, cwd: dir, now: () => END };
  let code = 0;
  const program = new Command('cutover-watch');
  backfillCommand(program, io, (c) => (code = Math.max(code, c)), {
    env,
    sleep: async () => undefined,
    athenaClientFor: (region) => new AthenaClient({ region }),
    lakeClientFor: (region) => {
      lakeRegions.push(region);
      return new CloudTrailClient({ region });
    },
    onInterrupt: () => () => undefined,
  });
  code = await execute(program, argv, io, () => code);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const BUCKET = 's3://org-trail/AWSLogs/o-a1b2c3d4e5';
/** The regions the Lake clients were made for. */
const lakeRegions: string[] = [];

describe('cutover-watch backfill --athena / --lake: arguments', () => {
  it.each([
    [['--athena'], '--athena needs --trail-bucket'],
    [['--trail-bucket', BUCKET], '--trail-bucket needs --athena or --lake'],
    [['--print-sql'], '--print-sql needs --athena or --lake'],
    [['--athena', '--trail-bucket', BUCKET, '--lake', 'eds'], '--athena and --lake read different sources'],
    [['--lake', 'eds', '--workgroup', 'w'], '--workgroup is for --athena'],
    [['--athena', '--trail-bucket', 's3://org-trail/logs'], 'must end where the account folders start'],
    [['--athena', '--trail-bucket', BUCKET, '--database', 'Security-Logs'], '--database "Security-Logs": Athena names are lower-case'],
    [['--athena', '--trail-bucket', BUCKET, '--trail-account', '1234'], '--trail-account "1234" is not a 12-digit AWS account id'],
    [['--athena', '--trail-bucket', BUCKET, '--output-location', 'results/'], '--output-location "results/" is not s3://BUCKET/PREFIX/'],
    [['--lake', 'not an id!'], '--lake "not an id!" is not an event data store ARN or id'],
  ])('%j is exit 2 with one line, before any call and without a store', async (args, message) => {
    const run = await cli(['backfill', '--days', '7', '--region', 'us-east-1', '--store', 'never', ...args]);
    expect(run.code).toBe(2);
    expect(run.err).toContain(message);
    expect(run.err.split('\n')).toHaveLength(1);
    expect(athena.calls()).toHaveLength(0);
    expect(cloudtrail.calls()).toHaveLength(0);
    await expect(access(path.join(dir, 'never'))).rejects.toThrow();
  });

  it('--days goes past LookupEvents\' 90 with a query engine, to 3650', async () => {
    expect((await cli(['backfill', '--days', '3651', '--lake', 'eds', '--print-sql', '--store', 'never'])).err).toContain('pass --days 1 to 3650 with --athena or --lake');
    const run = await cli(['backfill', '--days', '400', '--lake', 'eds', '--print-sql', '--store', 'never']);
    expect(run.code).toBe(0);
    expect(run.out.match(/^-- \d{4}-\d{2}-\d{2}$/gm)).toHaveLength(401);
  });

  it('without an account to read, says where accounts come from', async () => {
    const run = await cli(['backfill', '--days', '7', '--athena', '--trail-bucket', BUCKET, '--region', 'us-east-1', '--print-sql', '--store', 'never']);
    expect(run.code).toBe(2);
    expect(run.err).toContain('no account to read: pass --trail-account ACCOUNT_ID (repeatable), or import or sync the EKS inventory first');
  });
});

describe('--print-sql', () => {
  it('prints the table and one query per day, and sends nothing', async () => {
    const run = await cli(['backfill', '--days', '2', '--athena', '--trail-bucket', `${BUCKET}/`, '--region', 'us-east-1', '--region', 'eu-west-1', '--trail-account', '111122223333', '--database', 'security', '--print-sql', '--store', 'never']);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(athena.calls()).toHaveLength(0);
    expect(run.out).toContain('-- Athena: 3 day queries (2026-11-18 .. 2026-11-20); no store: node roles from the patterns only');
    expect(run.out).toContain(`CREATE EXTERNAL TABLE IF NOT EXISTS \`security\`.\`${athenaTableName(BUCKET)}\``);
    expect(run.out).toContain(`'storage.location.template' = '${BUCKET}/\${account}/CloudTrail/\${region}/\${timestamp}'`);
    expect(run.out).toContain("WHERE account IN ('111122223333')\n    AND region IN ('us-east-1', 'eu-west-1')\n    AND \"timestamp\" = '2026/11/20'");
    await expect(access(path.join(dir, 'never'))).rejects.toThrow();
  });
});

describe('a run', () => {
  it('--athena: creates the table first, reads each day, prints the bytes scanned and their cost, exit 0', async () => {
    const started: string[] = [];
    athena.on(StartQueryExecutionCommand).callsFake((input: { QueryString: string }) => {
      started.push(input.QueryString);
      return { QueryExecutionId: `q${started.length}` };
    });
    athena.on(GetQueryExecutionCommand).callsFake((input: { QueryExecutionId: string }) => {
      const ddl = started[Number(input.QueryExecutionId.slice(1)) - 1]!.startsWith('CREATE');
      return { QueryExecution: { Status: { State: 'SUCCEEDED' }, StatementType: ddl ? 'DDL' : 'DML', Statistics: { DataScannedInBytes: ddl ? 0 : 2_000_000_000 } } };
    });
    const columns = [...HOUR_ROW_COLUMNS.slice(0, 3), ...SELECTED_FIELDS.map((f) => f.column), 'records'];
    athena.on(GetQueryResultsCommand).resolves({
      ResultSet: {
        ResultSetMetadata: { ColumnInfo: columns.map((Name) => ({ Name, Type: 'varchar' })) },
        Rows: [{ Data: columns.map((c) => ({ VarCharValue: c })) }, { Data: [{ VarCharValue: '111122223333' }, { VarCharValue: 'us-east-1' }, { VarCharValue: '2026-11-19T05' }, ...SELECTED_FIELDS.map(() => ({})), { VarCharValue: '812' }] }],
      },
    });
    const run = await cli(['backfill', '--days', '1', '--athena', '--trail-bucket', BUCKET, '--region', 'us-east-1', '--trail-account', '111122223333', '--store', 'athena-store']);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(started[0]).toMatch(/^CREATE EXTERNAL TABLE IF NOT EXISTS/);
    expect(started.slice(1).map((q) => /"timestamp" = '([^']+)'/.exec(q)?.[1])).toEqual(['2026/11/19', '2026/11/20']);
    expect(run.out).toContain(`backfilled 2 days of CloudTrail from Athena over ${BUCKET}: 0 records`);
    expect(run.out).toContain('scanned 4.0 GB, billed 4.0 GB: about $0.0200 at $5 per TB scanned');
    expect(run.out).toContain('  2026-11-19 stored, 2.0 GB scanned\n  2026-11-20 stored, 2.0 GB scanned (today: read again by the next run)');
  });

  it('--athena: a missing permission is exit 2 naming it, and no store is made', async () => {
    athena.on(StartQueryExecutionCommand).rejects(Object.assign(new Error('not authorized to perform: athena:StartQueryExecution'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }));
    const run = await cli(['backfill', '--days', '1', '--athena', '--trail-bucket', BUCKET, '--region', 'us-east-1', '--trail-account', '111122223333', '--store', 'denied']);
    expect(run.code).toBe(2);
    expect(run.err).toContain('us-east-1: missing permission athena:StartQueryExecution');
    await expect(access(path.join(dir, 'denied'))).rejects.toThrow();
  });

  it('--lake -o json: the days, the bytes and the cost, and that no coverage is recorded; a failed day is exit 1', async () => {
    let n = 0;
    cloudtrail.on(StartQueryCommand).callsFake(() => ({ QueryId: `l${(n += 1)}` }));
    cloudtrail.on(DescribeQueryCommand).callsFake((input: { QueryId: string }) =>
      input.QueryId === 'l1' ? { QueryStatus: 'TIMED_OUT', ErrorMessage: 'query ran past its time' } : { QueryStatus: 'FINISHED', QueryStatistics: { BytesScanned: 1_000_000 } },
    );
    cloudtrail.on(LakeResultsCommand).resolves({ QueryStatus: 'FINISHED', QueryResultRows: [] });
    lakeRegions.length = 0;
    const run = await cli(['backfill', '--days', '1', '--lake', 'arn:aws:cloudtrail:eu-west-1:111122223333:eventdatastore/EXAMPLE6d', '--store', 'lake-store', '-o', 'json'], {});
    expect(run.code).toBe(1);
    expect(run.err).toContain('2026-11-19: CloudTrail Lake query l1 TIMED_OUT: query ran past its time; run the same command again to retry it');
    const doc = JSON.parse(run.out) as Record<string, unknown>;
    expect(doc).toMatchObject({ source: 'CloudTrail Lake EXAMPLE6d', days: 1, scannedBytes: 1_000_000, billedBytes: 1_000_000, coverageRecorded: false, stopped: false });
    expect((doc['dayResults'] as { day: string; status: string }[]).map((d) => [d.day, d.status])).toEqual([
      ['2026-11-19', 'failed'],
      ['2026-11-20', 'stored'],
    ]);
    // The queries run in the event data store's region, which its ARN names.
    expect(lakeRegions).toEqual(['eu-west-1']);
  });
});

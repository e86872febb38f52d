import type { AthenaClient } from '@aws-sdk/client-athena';
import type { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import path from 'node:path';
import {
  athenaClient,
  athenaEngine,
  athenaSource,
  checkpointPrefix,
  MAX_TRAIL_DAYS,
  predicateConfig,
  runTrailBackfill,
  trailSlices,
  USD_PER_TB_SCANNED,
  type SliceProgress,
  type TrailBackfillResult,
  type TrailSource,
} from '../../../adapters/athena-backfill';
import { cloudTrailClient } from '../../../adapters/cloudtrail-backfill';
import { AwsFatalError } from '../../../adapters/aws-calls';
import { eventDataStoreId, lakeEngine, lakeSource } from '../../../adapters/lake-backfill';
import { athenaTableName, checkAthenaIdentifier, parseTrailLocation, TrailSqlError, type TrailPredicateConfig } from '../../../core/trail-sql';
import { loadPolicy, type AlertFlags } from '../alert-options';
import { UsageError, type Io } from '../io';
import { outputFormat, printDocument, type OutputFlags } from '../output';
import { plural } from '../render';
import { openStore, withStore } from '../store-options';
import { printAlerts, printEarlierAlerts, printCounts, reportDeliveryFailures } from './analyze';
import { INTERRUPTED_EXIT, reportRejections, startBackfillRun } from './backfill-run';
import { REGION_PATTERN } from '../../../core/aws-names';
import { S3_URL } from '../../../core/s3-names';
import { resolveRegions, storeOptionsOf, type RegionStoreFlags } from './inventory-sync';

/**
 * `backfill --athena` and `backfill --lake`: history read where the organization keeps it
 * (docs/athena.md). The LookupEvents backfill stays in backfill.ts; this branch shares its store,
 * alert and output options.
 */

export interface TrailFlags extends RegionStoreFlags, Omit<AlertFlags, 'region'>, OutputFlags {
  days: string;
  restart?: boolean;
  nodeRole?: string[];
  athena?: boolean;
  trailBucket?: string;
  workgroup?: string;
  database?: string;
  outputLocation?: string;
  lake?: string;
  trailAccount?: string[];
  queryRegion?: string;
  printSql?: boolean;
}

export interface TrailDeps {
  athenaClientFor?: (region: string) => AthenaClient;
  lakeClientFor?: (region: string) => CloudTrailClient;
  onInterrupt?: (stop: () => void) => () => void;
  sleep?: (ms: number) => Promise<void>;
  env?: NodeJS.ProcessEnv;
}

/** True when the flags ask for Athena or Lake; their combinations are checked here, before anything else. */
export function wantsTrailBackfill(flags: TrailFlags): boolean {
  const trailOnly = (['trailBucket', 'workgroup', 'database', 'outputLocation', 'trailAccount', 'queryRegion', 'printSql'] as const).filter((k) => flags[k] !== undefined);
  if (flags.athena && flags.lake !== undefined) throw new UsageError('--athena and --lake read different sources: pass one of them');
  if (!flags.athena && flags.lake === undefined) {
    if (trailOnly.length > 0) throw new UsageError(`--${kebab(trailOnly[0]!)} needs --athena or --lake`);
    return false;
  }
  if (flags.athena && !flags.trailBucket) throw new UsageError('--athena needs --trail-bucket s3://BUCKET/[PREFIX/]AWSLogs[/o-ORGID] (where the trail writes its logs)');
  if (flags.lake !== undefined) {
    const athenaOnly = (['trailBucket', 'workgroup', 'database', 'outputLocation', 'trailAccount'] as const).find((k) => flags[k] !== undefined);
    if (athenaOnly) throw new UsageError(`--${kebab(athenaOnly)} is for --athena; --lake reads the event data store`);
  }
  return true;
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export async function runTrailCommand(flags: TrailFlags, io: Io, setExit: (code: number) => void, deps: TrailDeps): Promise<void> {
  const format = outputFormat<'table' | 'json' | 'yaml'>(flags, 'table');
  const days = Number(flags.days);
  if (!/^\d+$/.test(flags.days.trim()) || days < 1 || days > MAX_TRAIL_DAYS) throw new UsageError(`pass --days 1 to ${MAX_TRAIL_DAYS} with --athena or --lake`);
  const env = deps.env ?? process.env;
  const { policy } = await loadPolicy({ policy: flags.policy }, io);

  // Where the queries run: Lake in its event data store's region (in its ARN), Athena where its workgroup is.
  const lakeArnRegion = flags.lake?.startsWith('arn:') ? flags.lake.split(':')[3] : undefined;
  const queryRegion = flags.queryRegion ?? lakeArnRegion ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'] ?? flags.region?.[0];
  if (!queryRegion || !REGION_PATTERN.test(queryRegion)) {
    throw new UsageError(`no region to run the ${flags.athena ? 'Athena' : 'CloudTrail Lake'} queries in: pass --query-region (e.g. --query-region us-east-1) or set AWS_REGION`);
  }

  let location: string | null = null;
  let database = 'default';
  try {
    if (flags.athena) {
      location = parseTrailLocation(flags.trailBucket!).location;
      database = checkAthenaIdentifier('--database', flags.database ?? 'default');
      if (flags.outputLocation !== undefined && !S3_URL.test(flags.outputLocation)) {
        throw new UsageError(`--output-location ${JSON.stringify(flags.outputLocation)} is not s3://BUCKET/PREFIX/`);
      }
      if (flags.workgroup !== undefined && !/^[a-zA-Z0-9._-]{1,128}$/.test(flags.workgroup)) throw new UsageError(`--workgroup ${JSON.stringify(flags.workgroup)} is not an Athena workgroup name`);
    } else if (!/^[A-Za-z0-9-]{1,128}$/.test(eventDataStoreId(flags.lake!))) {
      throw new UsageError(`--lake ${JSON.stringify(flags.lake)} is not an event data store ARN or id`);
    }
  } catch (e) {
    if (e instanceof TrailSqlError) throw new UsageError(e.message, { cause: e });
    throw e;
  }
  for (const account of flags.trailAccount ?? []) {
    if (!/^\d{12}$/.test(account)) throw new UsageError(`--trail-account ${JSON.stringify(account)} is not a 12-digit AWS account id`);
  }
  // The regions whose folders Athena reads; Lake's query covers every region of the store.
  const regions = flags.athena ? resolveRegions(flags.region, env) : [];

  const clients: { destroy(): void }[] = [];
  const engine = flags.athena
    ? athenaEngine({
        client: track(clients, (deps.athenaClientFor ?? athenaClient)(queryRegion)),
        region: queryRegion,
        database,
        workgroup: flags.workgroup,
        outputLocation: flags.outputLocation,
        sleep: deps.sleep,
      })
    : lakeEngine({ client: track(clients, (deps.lakeClientFor ?? cloudTrailClient)(queryRegion)), region: queryRegion, sleep: deps.sleep });
  const sourceFor = (accounts: readonly string[]): TrailSource =>
    flags.athena
      ? athenaSource({ engine, database, location: location!, table: athenaTableName(location!), accounts, regions })
      : lakeSource({ engine, eventDataStore: flags.lake! });
  const accountsIn = async (inventoryAccounts: () => Promise<string[]>): Promise<string[]> => {
    if (!flags.athena) return [];
    const accounts = flags.trailAccount && flags.trailAccount.length > 0 ? [...new Set(flags.trailAccount)] : await inventoryAccounts();
    if (accounts.length === 0) {
      throw new UsageError('no account to read: pass --trail-account ACCOUNT_ID (repeatable), or import or sync the EKS inventory first (its clusters name their accounts)');
    }
    return accounts;
  };

  try {
    if (flags.printSql) {
      await printSql(flags, io, days, sourceFor, accountsIn, policy);
      return;
    }
    // Credentials, the permission and the table (Athena's CREATE TABLE IF NOT EXISTS) before the store is touched.
    try {
      for (const sql of sourceFor([]).setup) await engine.run(sql);
    } catch (e) {
      if (e instanceof AwsFatalError) throw new UsageError(e.message, { cause: e });
      throw e;
    }
    await withStore(storeOptionsOf(flags), io, async ({ store, localDir, where }) => {
      const accounts = await accountsIn(async () => inventoryAccounts(await store.loadInventory()));
      const source = sourceFor(accounts);
      const { rejections, raised, earlier, failures, unsubscribe, ingest } = await startBackfillRun({
        flags,
        policy,
        io,
        localDir,
        deps,
        store,
        stopping: 'stopping once the day in hand is stored and checkpointed (Ctrl-C again to quit now)',
      });
      let result: TrailBackfillResult;
      try {
        result = await runTrailBackfill({
          store,
          source,
          setupDone: true,
          days,
          ...ingest,
          onProgress: (p) => {
            if (format === 'table' && io.interactive) io.err(progressLine(p));
          },
        });
      } catch (e) {
        if (e instanceof AwsFatalError) {
          throw new UsageError(`${e.message}; the days stored are checkpointed: run the same command again to resume`, { cause: e });
        }
        throw e;
      } finally {
        unsubscribe();
      }

      await reportRejections(rejections, localDir, io);
      const label = flags.athena ? `Athena over ${location}` : `CloudTrail Lake ${eventDataStoreId(flags.lake!)}`;
      if (format !== 'table') {
        const { files: slices, ...summary } = result.summary;
        await printDocument(io, format, {
          ...summary,
          source: label,
          days,
          slices,
          dayResults: result.slices,
          scannedBytes: result.scannedBytes,
          billedBytes: result.billedBytes,
          costUsd: Number(result.costUsd.toFixed(6)),
          coverageRecorded: source.provesCoverage,
          stopped: result.stopped,
          store: where,
          alerts: raised,
          earlierAlerts: earlier,
          deliveryFailures: failures,
        });
      } else {
        printTrailSummary(result, label, source, where, io);
        printEarlierAlerts(earlier, io);
        printAlerts(raised, io);
      }
      reportDeliveryFailures(failures, path.relative(io.cwd, path.join(localDir, 'alerts.jsonl')), io);
      if (result.stopped) {
        io.err('stopped: every stored day is checkpointed. Run the same command again to go on.');
        setExit(INTERRUPTED_EXIT);
      }
      const failed = result.slices.filter((s) => s.status === 'failed');
      for (const s of failed) io.err(`${s.day}: ${s.note ?? 'failed'}; run the same command again to retry it`);
      if (result.summary.notStored > 0 || failed.length > 0 || failures.length > 0) setExit(1);
    });
  } catch (e) {
    if (e instanceof TrailSqlError) throw new UsageError(e.message, { cause: e });
    throw e;
  } finally {
    for (const client of clients) client.destroy();
  }
}

function track<T extends { destroy(): void }>(list: { destroy(): void }[], client: T): T {
  list.push(client);
  return client;
}

function inventoryAccounts(inventory: { clusters: { account?: string | null }[] }): string[] {
  return [...new Set(inventory.clusters.map((c) => c.account).filter((a): a is string => typeof a === 'string' && /^\d{12}$/.test(a)))].sort();
}

/**
 * The statements a run would send, and nothing sent: the node roles and accounts come from the
 * store when there is one (read only), else from the flags and the default patterns.
 */
async function printSql(
  flags: TrailFlags,
  io: Io,
  days: number,
  sourceFor: (accounts: readonly string[]) => TrailSource,
  accountsIn: (inventory: () => Promise<string[]>) => Promise<string[]>,
  policy: Awaited<ReturnType<typeof loadPolicy>>['policy'],
): Promise<void> {
  let predicate: TrailPredicateConfig = { nodeRolePatterns: flags.nodeRole ?? policy?.nodeRoleFallthrough.nodeRolePatterns, expectedNodeCalls: policy?.nodeRoleFallthrough.expectedCalls };
  let fromInventory: string[] = [];
  let note = 'no store: node roles from the patterns only';
  const open = await openStore(storeOptionsOf(flags), io, { write: false }).catch(() => null);
  if (open) {
    try {
      predicate = await predicateConfig(open.store, { policy, nodeRolePatterns: flags.nodeRole });
      fromInventory = inventoryAccounts(await open.store.loadInventory());
      note = `node roles and accounts as known to ${open.where}`;
    } finally {
      await open.close();
    }
  }
  const source = sourceFor(await accountsIn(async () => fromInventory));
  const slices = trailSlices(io.now(), days);
  const statements = [...source.setup, ...slices.map((s) => `-- ${s.day}\n${source.sliceSql(s, predicate)}`)];
  io.out(`-- ${source.engine.label}: ${`${slices.length} day ${slices.length === 1 ? 'query' : 'queries'}`} (${slices[0]!.day} .. ${slices[slices.length - 1]!.day}); ${note}; checkpoints ${checkpointPrefix(source)}…\n`);
  io.out(statements.join(';\n\n') + ';');
}

function progressLine(p: SliceProgress): string {
  const scanned = p.scannedBytes > 0 ? `, ${bytes(p.scannedBytes)} scanned` : '';
  return `  ${p.day} ${p.status}${p.records > 0 ? `: ${plural(p.records, 'record')}` : ''}${scanned}${p.note ? ` (${p.note})` : ''}`;
}

function printTrailSummary(result: TrailBackfillResult, label: string, source: TrailSource, where: string, io: Io): void {
  const s = result.summary;
  const read = result.slices.filter((d) => d.status === 'stored').length;
  io.out(`backfilled ${plural(read, 'day')} of CloudTrail from ${label}: ${plural(s.records, 'record')} in ${s.seconds.toFixed(1)} s into ${where}`);
  io.out(
    `  scanned ${bytes(result.scannedBytes)}, billed ${bytes(result.billedBytes)}: about $${result.costUsd.toFixed(result.costUsd < 1 ? 4 : 2)} at $${USD_PER_TB_SCANNED} per TB scanned`,
  );
  for (const d of result.slices) io.out(progressLine(d));
  printCounts(s, io);
  const alerts = Object.values(s.alertsByDetection).reduce((a, b) => a + (b ?? 0), 0);
  io.out(`  rejected ${s.rejected}; already counted (replays) ${s.replayed.toLocaleString('en-US')}; new alerts ${alerts}`);
  if (!source.provesCoverage) {
    io.out('  coverage: none recorded (an event data store keeps what its selectors let in; see docs/athena.md): verdicts need the hours proven by analyze or the live ingest');
  }
  if (s.notStored > 0) io.err(`${plural(s.notStored, 'event')} could not be stored: ${[...new Set(s.storeErrors)].slice(0, 3).join('; ')}; run the same command again to retry them`);
}

function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

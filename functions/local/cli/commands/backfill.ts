import type { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import path from 'node:path';
// The CloudTrail, Athena, STS and Organizations clients load when the command runs (cloudtrail-backfill,
// backfill-trail, aws-accounts): every other command starts without them.
import type { BackfillResult, RateLimiter, RegionProgress } from '../../../adapters/cloudtrail-backfill';
import { LOOKUP_DAYS } from '../../../core/aws-names';
import { AwsFatalError } from '../../../adapters/aws-calls';
import { loadPolicy, SLACK_WEBHOOK_ENV, withAlertOptions, type AlertFlags } from '../alert-options';
import { UsageError, type Io } from '../io';
import { outputFormat, printDocument, withOutputOptions, type OutputFlags } from '../output';
import { collect as collectValue, collectNodeRole } from '../options';
import { plural, shortTime } from '../render';
import { DEFAULT_STORE_DIR, withStore, withStoreOptions } from '../store-options';
import { printAlerts, printEarlierAlerts, printCounts, reportDeliveryFailures } from './analyze';
import { INTERRUPTED_EXIT, reportRejections, startBackfillRun } from './backfill-run';
import type { TrailDeps, TrailFlags } from './backfill-trail';
import { resolveRegions, storeOptionsOf, withRegionList, type RegionStoreFlags } from './inventory-sync';
import type { AccountCredentials, AccountProblem } from '../../../adapters/aws-accounts';
import { ACCOUNTS_HELP, accountArgs, printAccountProblems, readsManyAccounts, resolveAccountSets, type AccountDeps } from '../account-options';


interface BackfillFlags extends RegionStoreFlags, Omit<AlertFlags, 'region'>, OutputFlags {
  days: string;
  restart?: boolean;
  nodeRole?: string[];
}

export interface BackfillDeps extends TrailDeps {
  /** @default cloudTrailClient (default credential chain, adaptive retry), or the account's credentials */
  clientFor?: (region: string, account?: AccountCredentials) => CloudTrailClient;
  /** STS and Organizations clients, the config file: how --profile and --role-arn are resolved. */
  accounts?: AccountDeps;
  /** Calls `stop` on Ctrl-C; returns the unsubscribe. @default SIGINT on this process (twice: quit at once) */
  onInterrupt?: (stop: () => void) => () => void;
  /** @default 2 calls/s per account and region */
  limiterFor?: (region: string, account?: AccountCredentials) => RateLimiter;
  sleep?: (ms: number) => Promise<void>;
  env?: NodeJS.ProcessEnv;
}

/**
 * `backfill --days N`: the last N days of CloudTrail event history (LookupEvents) into the store,
 * with the detections, resumable. Exit codes: 0 done; 1 evidence not stored or alerts not
 * delivered; 2 bad arguments, credentials, region or permission; 130 stopped by Ctrl-C.
 */
export function backfillCommand(program: Command, io: Io, setExit: (code: number) => void, deps: BackfillDeps = {}): void {
  withRegionList(
    withOutputOptions(withAlertOptions(
      withStoreOptions(
        program
          .command('backfill')
          .summary('read CloudTrail history (LookupEvents, or Athena over the trail bucket, or CloudTrail Lake) into the evidence store')
          .description(
            'Looks up AssumeRoleForPodIdentity, AssumeRole and AssumeRoleWithWebIdentity in CloudTrail event history (the last 90 days of management events of a region; no trail needed) and stores them as analyze does, detections included. ' +
              "Regions are read in parallel, each at 2 LookupEvents calls a second (the API's limit), oldest first, so the detections see events in time order. " +
              'Progress is checkpointed in the store: run the same command again to resume; a finished window is skipped. Replays are safe: each CloudTrail eventID is counted once.',
          )
          .requiredOption('--days <n>', `days of history, 1 to ${LOOKUP_DAYS} (to 3650 with --athena or --lake)`)
          .option('--restart', 'forget the checkpoints of these regions and look the whole window up again')
          .option('--node-role <glob>', 'node role name or ARN glob (repeatable); replaces the default list', collectNodeRole)
          .option('--athena', 'read the trail\'s S3 logs through Athena instead of LookupEvents (with --trail-bucket; docs/athena.md)')
          .option('--trail-bucket <s3url>', 'with --athena: s3://BUCKET/[PREFIX/]AWSLogs[/o-ORGID], where the trail writes its account folders')
          .option('--workgroup <name>', 'with --athena: the Athena workgroup (default: primary)')
          .option('--database <name>', 'with --athena: the Glue database of the table it creates (default: default)')
          .option('--output-location <s3url>', 'with --athena: s3://… for query results, unless the workgroup sets one')
          .option('--trail-account <id>', 'with --athena: an account whose logs to read (repeatable; default: the accounts of the inventory\'s clusters)', collectValue)
          .option('--lake <eventDataStore>', 'read a CloudTrail Lake event data store (ARN or id) instead of LookupEvents')
          .option('--query-region <region>', 'with --athena or --lake: where the queries run (default: the --lake ARN\'s region, else AWS_REGION)')
          .option('--print-sql', 'with --athena or --lake: print the statements a run would send, and send nothing'),
      ),
    ), ['table', 'json', 'yaml'], '{schemaVersion, records, pages, slices, days, regions, stopped, store, alerts, …}'),
    'region whose event history to read',
  )
    .addHelpText(
      'after',
      '\nIRSA calls to the global STS endpoint are recorded in us-east-1: include it. ' +
        "Permission: cloudtrail:LookupEvents. LookupEvents gives at most 100 events a second per region (2 calls x 50), and AssumeRole matches every AssumeRole in the account: for a busy account, analyze over the trail's S3 logs is faster.\n" +
        "\nAn organization's history: --athena --trail-bucket s3://BUCKET/[PREFIX/]AWSLogs[/o-ORGID] reads the trail's logs through Athena (it creates the table, with partition projection, if it does not exist), --lake ARN a CloudTrail Lake event data store; one query per day (--days up to 3650), its WHERE clause generated from the rule patterns, checkpointed per day, with the bytes scanned and their cost ($5 per TB) printed. --print-sql shows the statements and sends nothing. Permissions, coverage and cost: docs/athena.md.\n" +
        '\nExamples:\n' +
        '  cutover-watch backfill --days 30 --region us-east-1 --region us-west-2\n' +
        '  cutover-watch backfill --days 90 --table cutover-watch-evidence --table-region us-east-1 --region eu-west-1\n' +
        '  cutover-watch backfill --days 30 --profile prod --profile staging\n' +
        "  cutover-watch backfill --days 30 --role-arn 'arn:aws:iam::{account}:role/cutover-watch-read' --organization --region us-east-1\n" +
        '  cutover-watch backfill --athena --trail-bucket s3://org-trail/AWSLogs/o-a1b2c3d4e5 --days 30 --region us-east-1 --region eu-west-1 --print-sql\n' +
        '  cutover-watch backfill --athena --trail-bucket s3://org-trail/AWSLogs/o-a1b2c3d4e5 --days 30 --region us-east-1 --output-location s3://athena-results/cutover-watch/\n' +
        '  cutover-watch backfill --lake arn:aws:cloudtrail:us-east-1:111122223333:eventdatastore/EXAMPLE6d-0c7f-4b81 --days 30\n' +
        ACCOUNTS_HELP +
        ' Accounts are read one after another (each region of an account in parallel), each with its own checkpoints.\n' +
        `\nAlerts are raised and delivered as by analyze (alerts.jsonl, --sns-topic, Slack when ${SLACK_WEBHOOK_ENV} is set).\n` +
        '\nExit codes: 0 done; 1 evidence could not be stored, an alert could not be delivered, some accounts could not be read, or the Athena or Lake query of a day failed (each is one line; the others are stored); ' +
          '2 bad arguments, expired credentials, an unknown region or a missing permission in every account (nothing stored); 130 stopped by Ctrl-C.',
    )
    .action(async (flags: BackfillFlags & TrailFlags) => {
      const { runTrailCommand, wantsTrailBackfill } = await import('./backfill-trail');
      if (wantsTrailBackfill(flags)) {
        // One organization trail, read in the account that owns it: Athena and Lake see every member account already.
        if (readsManyAccounts(flags) || flags.accounts !== undefined || flags.organization) {
          throw new UsageError('--athena and --lake read the organization trail with the default credentials (AWS_PROFILE): --profile, --role-arn, --accounts and --organization are for LookupEvents and inventory sync');
        }
        await runTrailCommand(flags, io, setExit, deps);
        return;
      }
      const format = outputFormat<'table' | 'json' | 'yaml'>(flags, 'table');
      const days = Number(flags.days);
      if (!/^\d+$/.test(flags.days.trim()) || days < 1 || days > LOOKUP_DAYS) {
        throw new UsageError(`CloudTrail LookupEvents keeps ${LOOKUP_DAYS} days: pass --days 1 to ${LOOKUP_DAYS}`);
      }
      // Regions given are checked first, with the messages they always had.
      if (flags.region?.length) resolveRegions(flags.region, deps.env);
      const { policy } = await loadPolicy({ policy: flags.policy }, io);
      const accounts = await resolveAccountSets(flags, { env: deps.env, ...deps.accounts });
      const many = readsManyAccounts(flags);
      const { checkLookupAccess, cloudTrailClient, LOOKUP_PER_SECOND, RateLimiter, runBackfill } = await import('../../../adapters/cloudtrail-backfill');
      const { cloudTrailClientWith } = await import('../../../adapters/aws-accounts');

      // LookupEvents is limited per account and region: a client and a limiter each.
      const clients = new Map<string, CloudTrailClient>();
      const limiters = new Map<string, RateLimiter>();
      const clientFor = (account: AccountCredentials, region: string) => {
        const key = `${account.label}|${region}`;
        let client = clients.get(key);
        if (!client) {
          client = deps.clientFor ? deps.clientFor(region, account) : account.credentials ? cloudTrailClientWith(region, account.credentials) : cloudTrailClient(region);
          clients.set(key, client);
        }
        return client;
      };
      const limiterFor = (account: AccountCredentials, region: string) => {
        const key = `${account.label}|${region}`;
        let limiter = limiters.get(key);
        if (!limiter) limiters.set(key, (limiter = deps.limiterFor?.(region, account) ?? new RateLimiter({ perSecond: LOOKUP_PER_SECOND })));
        return limiter;
      };
      try {
        // Credentials, regions and the permission are checked before the store is touched.
        const ready: AccountCredentials[] = [];
        const notRead: AccountProblem[] = [...accounts.problems];
        for (const account of accounts.sets) {
          try {
            await Promise.all(account.regions.map((region) => checkLookupAccess(clientFor(account, region), region, limiterFor(account, region), io.now())));
            ready.push(account);
          } catch (e) {
            if (!(e instanceof AwsFatalError)) throw e;
            if (!many) throw new UsageError(e.message, { cause: e });
            notRead.push({ label: account.label, operation: 'cloudtrail:LookupEvents', reason: e.message });
          }
        }
        if (ready.length === 0) {
          printAccountProblems(notRead, [], io);
          throw new UsageError('no account could be read: nothing stored');
        }
        const regions = [...new Set(ready.flatMap((a) => a.regions))];
        await withStore(storeOptionsOf(flags), io, async ({ store, localDir, where }) => {
          const { rejections, raised, earlier, failures, stop, unsubscribe, ingest } = await startBackfillRun({
            flags,
            policy,
            io,
            localDir,
            deps,
            store,
            stopping: 'stopping once the slices read so far are stored and checkpointed (Ctrl-C again to quit now)',
          });
          const results: { account: AccountCredentials; result: BackfillResult }[] = [];
          try {
            for (const account of ready) {
              if (stop.signal.aborted) break;
              const bars = io.interactive && format === 'table' ? new Bars(io, account.regions) : null;
              try {
                const result = await runBackfill({
                  store,
                  clientFor: (region) => clientFor(account, region),
                  limiterFor: (region) => limiterFor(account, region),
                  regions: account.regions,
                  // Several accounts share the region names: each keeps its own checkpoints.
                  checkpointScope: many ? (account.account ?? account.label) : undefined,
                  days,
                  ...ingest,
                  sleep: deps.sleep,
                  onProgress: (p) => bars?.update(p),
                });
                results.push({ account, result });
              } catch (e) {
                if (!(e instanceof AwsFatalError)) throw e;
                const message = `${e.message}; what was stored is checkpointed: run the same command again to resume`;
                if (!many) throw new UsageError(message, { cause: e });
                notRead.push({ label: account.label, operation: 'cloudtrail:LookupEvents', reason: message });
              } finally {
                bars?.stop();
              }
            }
          } finally {
            unsubscribe();
          }

          await reportRejections(rejections, localDir, io);
          if (format !== 'table') {
            const documents = results.map(({ account, result }) => {
              const { files: slices, ...summary } = result.summary;
              const pages = result.regions.reduce((n, r) => n + r.pages, 0);
              return { ...(many ? { account: account.label } : {}), ...summary, pages, slices, days, regions: result.regions, stopped: result.stopped };
            });
            const stopped = results.some((r) => r.result.stopped);
            await printDocument(
              io,
              format,
              many || documents.length !== 1
                ? { days, stopped, store: where, accounts: documents, notRead, alerts: raised, earlierAlerts: earlier, deliveryFailures: failures }
                : { ...documents[0], store: where, alerts: raised, earlierAlerts: earlier, deliveryFailures: failures },
            );
          } else {
            for (const { account, result } of results) printBackfillSummary(result, days, where, io, many ? account.label : undefined);
            printEarlierAlerts(earlier, io);
            printAlerts(raised, io);
          }
          reportDeliveryFailures(failures, path.relative(io.cwd, path.join(localDir, 'alerts.jsonl')), io);

          if (stop.signal.aborted && (results.some((r) => r.result.stopped) || results.length < ready.length)) {
            io.err(`stopped: every stored slice is checkpointed. Resume with:\n  ${resumeCommand(flags, days, flags.profile?.length && !flags.roleArn && !flags.region?.length ? [] : regions)}`);
            setExit(INTERRUPTED_EXIT);
          }
          let failed = false;
          for (const { account, result } of results) {
            for (const r of result.regions.filter((r) => r.status === 'failed')) {
              io.err(`${many ? `${account.label} ` : ''}${r.region}: ${r.note ?? 'failed'}; run the same command again to retry from there`);
              failed = true;
            }
          }
          printAccountProblems(notRead, results.map((r) => r.account), io);
          if (results.some((r) => r.result.summary.notStored > 0) || failed || failures.length > 0 || notRead.length > 0) setExit(1);
        });
      } finally {
        for (const client of clients.values()) client.destroy();
        accounts.close();
      }
    });
}

/**
 * One bar per region: pages done of a total estimated from the share of the window stored so far,
 * and an ETA from the time that share took.
 */
class Bars {
  private readonly multi: cliProgress.MultiBar;
  private readonly bars = new Map<string, cliProgress.SingleBar>();
  private readonly started = new Map<string, number>();

  constructor(io: Io, regions: readonly string[]) {
    this.multi = new cliProgress.MultiBar(
      {
        format: '{region} {bar} {percentage}% | {value}/{total} pages (est.) | {records} records | stored to {through} | {status} | ETA {remaining}',
        stream: io.progressStream,
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    const width = Math.max(...regions.map((r) => r.length));
    for (const region of regions) {
      this.bars.set(region, this.multi.create(1, 0, { region: region.padEnd(width), records: 0, through: '-', status: 'starting', remaining: '-' }));
    }
  }

  update(p: RegionProgress): void {
    const bar = this.bars.get(p.region);
    if (!bar) return;
    if (!this.started.has(p.region)) this.started.set(p.region, performance.now());
    const finished = p.status === 'done' || p.status === 'skipped';
    const elapsed = (performance.now() - this.started.get(p.region)!) / 1000;
    const eta = finished ? '0s' : p.fraction > 0 && p.pages > 0 ? `${Math.round((elapsed * (1 - p.fraction)) / p.fraction)}s` : '-';
    bar.setTotal(finished ? Math.max(p.pages, 1) : p.fraction > 0 ? Math.max(p.pages, Math.round(p.pages / p.fraction)) : p.pages + 1);
    bar.update(p.status === 'skipped' ? 1 : p.pages, { records: p.records.toLocaleString('en-US'), through: shortTime(p.through), status: p.status, remaining: eta });
  }

  stop(): void {
    this.multi.stop();
  }
}

function printBackfillSummary(result: BackfillResult, days: number, where: string, io: Io, account?: string): void {
  const s = result.summary;
  const pages = result.regions.reduce((n, r) => n + r.pages, 0);
  io.out(
    `backfilled ${plural(days, 'day')} of CloudTrail event history from ${account ? `${account}, ` : ''}${plural(result.regions.length, 'region')}: ` +
      `${plural(pages, 'LookupEvents page')}, ${plural(s.records, 'record')} in ${s.seconds.toFixed(1)} s into ${where}`,
  );
  for (const r of result.regions) {
    io.out(
      `  ${r.region}  ${r.status}${r.resumed ? ' (resumed)' : ''}  ${shortTime(r.start)} .. ${shortTime(r.end)}, stored to ${shortTime(r.through)}: ` +
        `${plural(r.pages, 'page')}, ${plural(r.records, 'record')}${r.note ? ` (${r.note})` : ''}`,
    );
  }
  printCounts(s, io);
  const alerts = Object.values(s.alertsByDetection).reduce((a, b) => a + (b ?? 0), 0);
  io.out(`  rejected ${s.rejected}; already counted (replays) ${s.replayed.toLocaleString('en-US')}; new alerts ${alerts}`);
  if (s.notStored > 0) {
    io.err(`${plural(s.notStored, 'event')} could not be stored: ${[...new Set(s.storeErrors)].slice(0, 3).join('; ')}; run the same command again to retry them`);
  }
}

/** The command line that resumes this run: same window, same store, same alert routing. */
export function resumeCommand(flags: BackfillFlags, days: number, regions: readonly string[]): string {
  const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const parts = ['cutover-watch', 'backfill', '--days', String(days), ...regions.flatMap((r) => ['--region', r]), ...accountArgs(flags)];
  if (flags.table) parts.push('--table', flags.table);
  else if (flags.store && flags.store !== DEFAULT_STORE_DIR) parts.push('--store', flags.store);
  if (flags.tableRegion) parts.push('--table-region', flags.tableRegion);
  if (flags.endpoint) parts.push('--endpoint', flags.endpoint);
  if (flags.policy) parts.push('--policy', flags.policy);
  if (flags.alerts === false) parts.push('--no-alerts');
  if (flags.snsTopic) parts.push('--sns-topic', flags.snsTopic);
  for (const glob of flags.nodeRole ?? []) parts.push('--node-role', glob);
  return parts.map(quote).join(' ');
}

import type { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import path from 'node:path';
import type { DeliveryFailure } from '../../../adapters/alert-delivery';
import type { DynamoEvidenceStore } from '../../../adapters/dynamo-evidence-store';
import { SEVERITIES, type Alert } from '../../../core/alert';
import { placeCoverage } from '../../../core/coverage';
import { alertLine } from '../../../core/alert-format';
import { analyzePaths, type AnalyzeSummary, type Rejection } from '../../../adapters/ingest-pipeline';
import { startSmallFileThread } from '../../../adapters/small-file-thread';
import { listInputFiles } from '../../../adapters/cloudtrail-files';
import { AwsFatalError } from '../../../adapters/aws-calls';
// Reading S3 loads the S3 client: imported when an s3:// path is given (its own chunk of the bundle).
import type { S3Listing, S3Summary } from '../../../adapters/s3-logs';
import { isS3Url, parseS3Url, S3UrlError } from '../../../core/s3-names';
import { RejectsFile } from '../../rejects-file';
import { alertSinks, loadPolicy, SLACK_WEBHOOK_ENV, startAlertDelivery, withAlertOptions, type AlertFlags } from '../alert-options';
import { command, UsageError, type Io } from '../io';
import { outputFormat, printDocument, withOutputOptions, type OutputFlags } from '../output';
import { collectNodeRole, positiveInteger, timeArg } from '../options';
import { displaySafe, plural } from '../render';
import { localDirOf, REGION_MEANING, withReadRegion, withStore, withStoreOptions, type StoreOptions } from '../store-options';

/** Rejections printed on stderr before the rest go only to the rejects file. */
const REJECTIONS_SHOWN = 20;

interface AnalyzeFlags extends StoreOptions, AlertFlags, OutputFlags {
  nodeRole?: string[];
  batchSize?: number;
  strict?: boolean;
  reread?: boolean;
  since?: Date;
}

export interface AnalyzeDeps {
  /** @default s3Client(env): the default credential chain, AWS_REGION */
  s3Client?: () => Promise<{ client: S3Client; region: string }>;
  /** Waits between our own retries of S3 calls. */
  sleep?: (ms: number) => Promise<void>;
}

export function analyzeCommand(program: Command, io: Io, setExit: (code: number) => void, deps: AnalyzeDeps = {}): void {
  withReadRegion(withOutputOptions(withAlertOptions(withStoreOptions(
    program
      .command('analyze')
      .summary('read CloudTrail logs into the evidence store')
      .description(
        "Reads CloudTrail log files and directories (recursively, including CloudTrail's S3 layout AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/*.json.gz) into the evidence store, then prints a summary. " +
          'Replaying the same logs is safe: each CloudTrail eventID is counted once. A file read whole whose events are stored is recorded by its content (sha256): a rerun skips it, ' +
          'also after the folder is moved or renamed, and reads it again once changed. Rejected records are listed on stderr and appended to <store>/rejects.jsonl.\n\n' +
          "CloudTrail's digest files (CloudTrail-Digest/ beside CloudTrail/: give the folder or prefix above both) are read first as the lists of the log files delivered: " +
          'a listed file no run has read whole leaves the hours of its events a hole in coverage, so verdicts resting on them are UNKNOWN until it is analyzed.\n\n' +
          'An s3://BUCKET/PREFIX/ path reads the .json.gz and .json objects under that key prefix in place (no aws s3 sync first; Insights objects are left out), ' +
          "with the default AWS credential chain (AWS_PROFILE, AWS_ACCESS_KEY_ID…) in --region, else AWS_REGION (any region works: S3 redirects to the bucket's; the table's region is --table-region). " +
          'Objects read whole are recorded in the store with their ETag: a rerun skips them and says how many, and reads changed ones (a new ETag) again. S3 and local paths mix in one run, read in delivery order.',
      )
      .argument('<path...>', "log files or directories; '-' reads stdin; s3://BUCKET/PREFIX/ reads a trail's S3 objects")
      .option('--node-role <glob>', 'node role name or ARN glob (repeatable); replaces the default list', collectNodeRole)
      .option('--batch-size <n>', 'events per store batch', positiveInteger, 20_000)
      .option('--strict', 'exit 1 when any record or file was rejected')
      .option('--reread', 'read files (same content) and S3 objects (same ETag) an earlier run read again')
      .option(
        '--since <time>',
        "s3:// paths only: read the day folders from this UTC day through today, finding the accounts and regions under the path (a trail's AWSLogs/ or AWSLogs/o-…/ folder, an account's, or a region's): ISO 8601 or a span before now such as 14d",
        timeArg(io.now),
      ),
  )), ['table', 'json', 'yaml'], '{schemaVersion, files, records, inScope, …, digests, storeRequests, s3, store, alerts, earlierAlerts, deliveryFailures}'), "region of the S3 client for s3:// paths (default: AWS_REGION, else the profile's; S3 redirects to the bucket's region)")
    .addHelpText(
      'after',
      '\nExamples:\n' +
        "  aws s3 sync s3://my-trail-bucket/AWSLogs/111122223333/ logs/ --exclude '*' --include 'CloudTrail/us-east-1/2026/11/*' --include 'CloudTrail-Digest/us-east-1/2026/11/*'\n" +
        '  cutover-watch analyze logs/\n' +
        '  cutover-watch analyze s3://my-trail-bucket/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/\n' +
        '  cutover-watch analyze s3://my-trail-bucket/AWSLogs/o-a1b2c3d4e5/ --since 14d   # every account and region, the last 14 days\n' +
        '  cutover-watch analyze --table cutover-watch-evidence --table-region us-east-1 logs/   # into a deployed table\n' +
        '\nAlerts: the detections run as the logs are read (thresholds from --policy); new alerts are printed, appended to <store>/alerts.jsonl, published to --sns-topic, ' +
        `and posted to Slack when ${SLACK_WEBHOOK_ENV} is set. Replaying logs raises no alert twice; alerts a stopped run recorded but did not deliver go out first.\n` +
        "\nS3 permissions: s3:ListBucket on the bucket (for the prefix), s3:GetObject on the objects, and kms:Decrypt on the trail's key when it encrypts with SSE-KMS.\n" +
        '\nExit codes: 0 done; 1 evidence could not be stored, an alert could not be delivered, reading S3 stopped (credentials expired), or --strict and something was rejected; ' +
        '2 unusable arguments, a bad policy file, no readable input, no AWS credentials or S3 listing, or no store.',
    )
    .action(async (paths: string[], flags: AnalyzeFlags) => {
      const format = outputFormat<'table' | 'json' | 'yaml'>(flags, 'table');
      // --region is the region to read: S3's here; the table's is --table-region.
      const { region: s3Region, ...storeFlags } = flags;
      if (s3Region !== undefined && !paths.some(isS3Url)) throw new UsageError(`${REGION_MEANING} (analyze reads s3:// paths in --region; these are local)`);
      const { policy } = await loadPolicy(flags, io);
      // S3 is listed before the store is opened: no credentials, no bucket or no permission stops here.
      if (flags.since !== undefined && !paths.some(isS3Url)) throw new UsageError('--since is for s3:// paths (local files and folders are read whole)');
      const s3 = paths.some(isS3Url) ? await listS3Paths(paths.filter(isS3Url), deps, s3Region, flags.since === undefined ? undefined : { since: flags.since, now: io.now() }) : null;
      const localPaths = paths.filter((p) => !isS3Url(p));
      if (localPaths.length > 0) startSmallFileThread();
      // Files are listed while the store opens (its thread starts LevelDB): the reading starts ~0.1 s
      // sooner on the fleet preset's 5,040 files. The store's folder (localDir) is skipped by its
      // path, whether or not it exists yet.
      const listed = s3 === null ? listInputFiles(localPaths, { skipFolders: [localDirOf(storeFlags, io.cwd)] }) : undefined;
      // awaited by the reading; a store that fails to open leaves it unread
      listed?.catch(() => undefined);
      await withStore(storeFlags, io, async ({ store, localDir, where, client }) => {
        const requests = countStoreRequests(client);
        const sinks = await alertSinks(flags, localDir);
        // Written as the run goes and bounded: a file of a million bad records must cost neither
        // memory nor disk in proportion.
        const rejects = new RejectsFile(path.join(localDir, 'rejects.jsonl'), io.now);
        const shown: Rejection[] = [];
        const raised: Alert[] = [];
        const delivery = await startAlertDelivery(store, sinks, io);
        const failures = delivery.failures;
        const bar = io.interactive && format === 'table' ? new cliProgress.SingleBar({
          format: `analyze {bar} {value}/{total} ${s3 && localPaths.length === 0 ? 'objects' : 'files'} | {records} records | {alerts} alerts | ETA {eta_formatted}`,
          stream: io.progressStream,
          hideCursor: true,
          clearOnComplete: true,
        }, cliProgress.Presets.shades_classic) : null;
        const analyze = async (options: Parameters<typeof analyzePaths>[0]) =>
          s3
            ? (await import('../../../adapters/s3-logs')).analyzeSources({ ...options, paths: localPaths, listings: s3.listings, client: s3.client, region: s3.region, reread: flags.reread, sleep: deps.sleep })
            : analyzePaths({ ...options, skipFilesRead: true, reread: flags.reread, listed });
        const summary: AnalyzeSummary & { s3?: S3Summary } = await analyze({
          paths,
          store,
          policy,
          detect: flags.alerts !== false,
          nodeRolePatterns: flags.nodeRole,
          batchSize: flags.batchSize,
          // the store's own files (rejects.jsonl, alerts.jsonl…) are not logs, whatever folder holds it
          skipFolders: [localDir],
          now: io.now,
          stdin: io.stdin,
          onFiles: (total) => bar?.start(total, 0, { records: 0, alerts: 0 }),
          onFileDone: (_file, done, records) => bar?.update(done, { records, alerts: raised.length }),
          // The bar is done once the last file is read; the write-out after it can take a while at fleet scale.
          onWritingOut: (events) => {
            if (bar === null) return;
            bar.stop();
            io.progressStream.write(`writing the evidence of ${events.toLocaleString('en-US')} events to the store…\n`);
          },
          onRejection: (r) => {
            if (shown.length < REJECTIONS_SHOWN) shown.push(r);
            rejects.add(r);
          },
          // Delivered as they are raised: a long backfill does not hold alerts back until the end.
          onAlerts: async (alerts) => {
            raised.push(...alerts);
            await delivery.deliver(alerts);
          },
        });
        bar?.stop();

        // What the digests list and no run read (this one or one before): holes, named by `coverage`.
        if (summary.digests) Object.assign(summary.digests, await countUnreadLogFiles(store));
        rejects.flush();
        if (rejects.count > 0) {
          for (const r of shown) io.err(displaySafe(`${r.file}${r.where ? `: ${r.where}` : ''}: ${r.reason}`));
          if (rejects.count > shown.length) io.err(`… and ${(rejects.count - shown.length).toLocaleString('en-US')} more`);
          const older = rejects.rotated ? ` (older ones moved to ${displaySafe(path.relative(io.cwd, rejects.rotatedFile))})` : '';
          io.err(`${plural(rejects.count, 'rejection')} appended to ${displaySafe(path.relative(io.cwd, rejects.file))}${older}`);
        }
        if (format !== 'table') await printDocument(io, format, { ...summary, storeRequests: requests.counts(), store: where, alerts: raised, earlierAlerts: delivery.earlier, deliveryFailures: failures });
        else {
          printSummary(summary, where, io);
          if (summary.s3) printS3Summary(summary.s3, io);
          printEarlierAlerts(delivery.earlier, io);
          printAlerts(raised, io);
        }
        if (summary.s3?.stopped) {
          io.err(displaySafe(`reading S3 stopped: ${summary.s3.stopped}; ${plural(summary.s3.notRead, 'object')} not read: run the same command again (what was read is skipped)`));
        }
        reportDeliveryFailures(failures, path.relative(io.cwd, path.join(localDir, 'alerts.jsonl')), io);
        if (format === 'table') await printUnmappedIssuers(store, io);

        // A rerun that finds every file or S3 object read before has nothing to do, and that is no error.
        if (summary.files === 0 && summary.records === 0 && summary.skippedFiles === 0 && !(summary.s3 && summary.s3.skipped > 0)) setExit(2);
        else if (summary.notStored > 0 || failures.length > 0 || summary.s3?.stopped) setExit(1);
        else if (flags.strict && summary.rejected > 0) setExit(1);
      }).finally(() => s3?.client.destroy());
    });
}

/** Every S3 location's listing, or a UsageError (exit 2) with one line: credentials, bucket, permission. */
async function listS3Paths(
  urls: string[],
  deps: AnalyzeDeps,
  region?: string,
  days?: { since: Date; now: Date },
): Promise<{ client: S3Client; region: string; listings: S3Listing[] }> {
  let locations;
  try {
    locations = urls.map(parseS3Url);
  } catch (e) {
    if (e instanceof S3UrlError) throw new UsageError(e.message, { cause: e });
    throw e;
  }
  const { listS3Logs, s3Client } = await import('../../../adapters/s3-logs');
  const { dayFoldersSince, listDayFolders } = await import('../../../adapters/trail-fold');
  const { client, region: clientRegion } = await (deps.s3Client ?? (() => s3Client(region === undefined ? process.env : { ...process.env, AWS_REGION: region })))();
  try {
    const listings: S3Listing[] = [];
    const listOptions = { region: clientRegion, sleep: deps.sleep };
    for (const location of locations) {
      if (days === undefined) {
        listings.push(await listS3Logs(client, location, listOptions));
        continue;
      }
      // Only the days asked for: an organization trail's folder holds years of objects.
      const folders = await dayFoldersSince(client, location.bucket, location.prefix, days.since, days.now, listOptions);
      if (folders === null) {
        throw new UsageError(`--since reads CloudTrail's day folders: give an s3:// path at a trail's AWSLogs/ (or AWSLogs/o-…/) folder, an account's or a region's; ${location.url} is none of them`);
      }
      const found = await listDayFolders(client, location.bucket, folders, listOptions);
      if (found.length === 0) throw new UsageError(`no CloudTrail log objects under ${location.url} since ${days.since.toISOString().slice(0, 10)} (${plural(folders.length, 'day folder')} listed)`);
      listings.push(...found);
    }
    return { client, region: clientRegion, listings };
  } catch (e) {
    client.destroy();
    if (e instanceof AwsFatalError) throw new UsageError(e.message, { cause: e });
    throw e;
  }
}

/** What became of the S3 objects: listed, read, skipped as read before, failed (read again next run). */
export function printS3Summary(s: S3Summary, io: Io): void {
  const n = (v: number) => v.toLocaleString('en-US');
  const parts = [`${n(s.read)} read`, `${n(s.skipped)} skipped (read before; --reread reads them again)`, `${n(s.failed)} failed`];
  if (s.unrecorded > 0) parts.push(`${n(s.unrecorded)} read but not recorded (events not stored)`);
  if (s.notRead > 0) parts.push(`${n(s.notRead)} not read`);
  io.out(displaySafe(`  s3: ${plural(s.listed, 'log object')} under ${s.locations.join(', ')}: ${parts.join(', ')}`));
  if (s.failed + s.unrecorded > 0) io.out(`  the ${plural(s.failed + s.unrecorded, 'object')} not read whole or not stored are read again by the next run`);
}

const WRITE_COMMANDS = new Set(['PutItemCommand', 'BatchWriteItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'TransactWriteItemsCommand']);

/**
 * The requests the run sent to the store, counted per attempt by SDK middleware (after the
 * SDK's retries, so a retried request counts again): what DynamoDB bills and throttles.
 * Writes are PutItem, BatchWriteItem, UpdateItem and DeleteItem; every other request is a read.
 */
function countStoreRequests(client: DynamoDBClient): { counts(): { reads: number; writes: number } } {
  let reads = 0;
  let writes = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (WRITE_COMMANDS.has(String(context.commandName))) writes += 1;
      else reads += 1;
      return next(args);
    },
    { step: 'finalizeRequest', name: 'cutover-watch-count-requests' },
  );
  return { counts: () => ({ reads, writes }) };
}

/** Alerts printed at the end of a run: one line each, most severe first. */
const ALERTS_SHOWN = 40;

/** The alerts a stopped run left owed, which this run delivered first (`startAlertDelivery`). */
export function printEarlierAlerts(alerts: readonly Alert[], io: Io): void {
  printAlerts(alerts, io, `${plural(alerts.length, 'alert')} an earlier run recorded but was stopped before delivering, delivered now:`);
}

/** `title`: the heading, when the alerts are not the run's new ones. */
export function printAlerts(alerts: readonly Alert[], io: Io, title = `${plural(alerts.length, 'new alert')}:`): void {
  if (alerts.length === 0) return;
  const rank = (a: Alert) => SEVERITIES.indexOf(a.severity);
  const sorted = [...alerts].sort((a, b) => rank(b) - rank(a) || (a.firstEventTime < b.firstEventTime ? -1 : 1));
  io.out('');
  io.out(title);
  for (const alert of sorted.slice(0, ALERTS_SHOWN)) io.out(`  ${alertLine(alert)}`);
  if (alerts.length > ALERTS_SHOWN) io.out(`  … and ${alerts.length - ALERTS_SHOWN} more: ${command(io, 'alerts')}`);
}

export function reportDeliveryFailures(failures: readonly DeliveryFailure[], log: string, io: Io): void {
  if (failures.length === 0) return;
  const bySink = new Map<string, DeliveryFailure[]>();
  for (const f of failures) bySink.set(f.sink, [...(bySink.get(f.sink) ?? []), f]);
  for (const [sink, list] of bySink) {
    io.err(`${plural(list.length, 'alert')} could not be delivered to ${sink}: ${[...new Set(list.map((f) => f.message))].slice(0, 2).join('; ')}`);
  }
  io.err(`nothing is lost: every alert is in the store (${command(io, 'alerts')}) and ${log}`);
}

/** What the records were: in scope by kind, the failures among them, what was skipped and why. */
export function printCounts(s: AnalyzeSummary, io: Io): void {
  io.out(
    `  in scope ${s.inScope.toLocaleString('en-US')}: ` +
      Object.entries(s.byKind)
        .map(([k, n]) => `${k} ${n.toLocaleString('en-US')}`)
        .join(', '),
  );
  const outcomes = Object.entries(s.byOutcome).filter(([k, n]) => k !== 'success' && n > 0);
  if (outcomes.length > 0) io.out(`  not successful: ${outcomes.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  io.out(
    `  skipped ${Object.values(s.skipped).reduce((a, b) => a + b, 0).toLocaleString('en-US')}: ` +
      Object.entries(s.skipped)
        .map(([k, n]) => `${k} ${n.toLocaleString('en-US')}`)
        .join(', '),
  );
}

export function printSummary(s: AnalyzeSummary, where: string, io: Io): void {
  const rate = s.seconds > 0 ? Math.round(s.records / s.seconds) : s.records;
  io.out(
    `analyzed ${plural(s.files, 'file')}, ${plural(s.records, 'record')} in ${s.seconds.toFixed(1)} s (${rate.toLocaleString('en-US')} records/s) into ${where}`,
  );
  printCounts(s, io);
  io.out(`  rejected ${s.rejected}; already counted (replays) ${s.replayed.toLocaleString('en-US')}`);
  if (s.skippedFiles > 0) io.out(`  ${plural(s.skippedFiles, 'file')} skipped: read and stored before; --reread reads them again`);
  if (s.digests) {
    const altered = s.digests.logFilesAltered ?? 0;
    const missing = (s.digests.logFilesUnread ?? 0) - altered;
    const skipped = s.digests.skipped > 0 ? ` (${s.digests.skipped.toLocaleString('en-US')} more skipped: read before)` : '';
    const n = (v: number) => v.toLocaleString('en-US');
    const problems = [
      ...(missing > 0 ? [`${n(missing)} the digests list ${missing === 1 ? 'was' : 'were'} never read`] : []),
      ...(altered > 0 ? [`${n(altered)} ${altered === 1 ? 'was' : 'were'} read with other bytes than listed (a filtered or changed copy)`] : []),
      ...((s.digests.digestsMissing ?? 0) > 0 ? [`${plural(s.digests.digestsMissing ?? 0, 'digest')} the next one names ${s.digests.digestsMissing === 1 ? 'is' : 'are'} missing`] : []),
    ];
    io.out(
      `  CloudTrail digests: ${plural(s.digests.files, 'digest file')} read${skipped}, listing ${plural(s.digests.logFilesListed, 'log file')}; ` +
        (problems.length === 0
          ? 'every log file the digests list was read'
          : `${problems.join(', ')}: ${missing + altered + (s.digests.digestsMissing ?? 0) === 1 ? 'its' : 'their'} hours are holes (\`${command(io, 'coverage')}\` names them)`),
    );
  }
  if (s.notStored > 0) {
    io.err(`${plural(s.notStored, 'event')} could not be stored: ${[...new Set(s.storeErrors)].slice(0, 3).join('; ')}; run analyze again to retry them`);
  }
}

/** Log files CloudTrail's digests list, in the whole store, that no run read whole (and of those, the ones read with other bytes). */
async function countUnreadLogFiles(store: DynamoEvidenceStore): Promise<{ logFilesUnread: number; logFilesAltered: number; digestsMissing: number }> {
  const counts = { logFilesUnread: 0, logFilesAltered: 0, digestsMissing: 0 };
  for (const place of placeCoverage(await store.coverageDays()).values()) {
    counts.logFilesUnread += place.unread.length;
    counts.logFilesAltered += place.unread.filter((f) => f.altered).length;
    counts.digestsMissing += place.missingDigests.length;
  }
  return counts;
}

/**
 * IRSA records name an OIDC issuer, not a cluster: until the inventory maps it, its namespaces are
 * UNKNOWN and the inventory's detections (irsa-regression, irsa-after-association) wait for it.
 * Said last, where it is seen, with the command that fixes it.
 */
export async function printUnmappedIssuers(store: DynamoEvidenceStore, io: Io): Promise<void> {
  const [scopes, inventory] = await Promise.all([store.scopes(), store.loadInventory()]);
  const mapped = new Set(inventory.clusters.map((c) => c.oidcIssuer));
  const unmapped = scopes.filter((s) => s['kind'] === 'issuer' && !mapped.has(String(s['name']))).map((s) => String(s['name']));
  if (unmapped.length === 0) return;
  const regions = [...new Set(unmapped.map((i) => /^oidc\.eks\.([a-z0-9-]+)\./.exec(i)?.[1]).filter((r): r is string => r !== undefined))].sort();
  io.out('');
  io.out(
    displaySafe(
      `action needed: IRSA of ${plural(unmapped.length, 'OIDC issuer')} cannot be placed in a cluster (${unmapped.slice(0, 3).join(', ')}${unmapped.length > 3 ? ', …' : ''}): ` +
        'their namespaces stay UNKNOWN and irsa-regression/irsa-after-association wait for the inventory. ' +
        `Run \`${command(io, `inventory sync${regions.map((r) => ` --region ${r}`).join('')}`)}\` (or \`${command(io, 'inventory import')}\` of \`aws eks describe-cluster\` output).`,
    ),
  );
}

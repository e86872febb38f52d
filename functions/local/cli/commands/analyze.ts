import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import path from 'node:path';
import { deliverAlerts, type DeliveryFailure } from '../../../adapters/alert-delivery';
import type { DynamoEvidenceStore } from '../../../adapters/dynamo-evidence-store';
import { SEVERITIES, type Alert } from '../../../core/alert';
import { alertLine } from '../../../core/alert-format';
import { analyzePaths, type AnalyzeSummary, type Rejection } from '../../../adapters/ingest-pipeline';
import { RejectsFile } from '../../rejects-file';
import { alertSinks, loadPolicy, SLACK_WEBHOOK_ENV, withAlertOptions, type AlertFlags } from '../alert-options';
import { command, type Io } from '../io';
import { outputFormat, printDocument, withOutputOptions, type OutputFlags } from '../output';
import { collectNodeRole, positiveInteger } from '../options';
import { displaySafe, plural } from '../render';
import { withStore, withStoreOptions, type StoreOptions } from '../store-options';

/** Rejections printed on stderr before the rest go only to the rejects file. */
const REJECTIONS_SHOWN = 20;

interface AnalyzeFlags extends StoreOptions, AlertFlags, OutputFlags {
  nodeRole?: string[];
  batchSize?: number;
  strict?: boolean;
}

export function analyzeCommand(program: Command, io: Io, setExit: (code: number) => void): void {
  withOutputOptions(withAlertOptions(withStoreOptions(
    program
      .command('analyze')
      .summary('read CloudTrail logs into the evidence store')
      .description(
        "Reads CloudTrail log files and directories (recursively, including CloudTrail's S3 layout AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/*.json.gz) into the evidence store, then prints a summary. " +
          'Replaying the same logs is safe: each CloudTrail eventID is counted once. Rejected records are listed on stderr and appended to <store>/rejects.jsonl.',
      )
      .argument('<path...>', "log files or directories; '-' reads stdin")
      .option('--node-role <glob>', 'node role name or ARN glob (repeatable); replaces the default list', collectNodeRole)
      .option('--batch-size <n>', 'events per store batch', positiveInteger, 20_000)
      .option('--strict', 'exit 1 when any record or file was rejected'),
  )), ['table', 'json', 'yaml'], '{schemaVersion, files, records, inScope, …, store, alerts, deliveryFailures}')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  aws s3 sync s3://my-trail-bucket/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/ logs/\n' +
        '  cutover-watch analyze logs/\n' +
        '  cutover-watch analyze --table cutover-watch-evidence --region us-east-1 logs/   # into a deployed table\n' +
        '\nAlerts: the detections run as the logs are read (thresholds from --policy); new alerts are printed, appended to <store>/alerts.jsonl, published to --sns-topic, ' +
        `and posted to Slack when ${SLACK_WEBHOOK_ENV} is set. Replaying logs raises no alert twice.\n` +
        '\nExit codes: 0 done; 1 evidence could not be stored, an alert could not be delivered, or --strict and something was rejected; 2 unusable arguments, a bad policy file, no readable input, or no store.',
    )
    .action(async (paths: string[], flags: AnalyzeFlags) => {
      const format = outputFormat<'table' | 'json' | 'yaml'>(flags, 'table');
      const { policy } = await loadPolicy(flags, io);
      await withStore(flags, io, async ({ store, localDir, where }) => {
        const sinks = alertSinks(flags, localDir);
        // Written as the run goes and bounded: a file of a million bad records must cost neither
        // memory nor disk in proportion.
        const rejects = new RejectsFile(path.join(localDir, 'rejects.jsonl'), io.now);
        const shown: Rejection[] = [];
        const raised: Alert[] = [];
        const failures: DeliveryFailure[] = [];
        const bar = io.interactive && format === 'table' ? new cliProgress.SingleBar({
          format: 'analyze {bar} {value}/{total} files | {records} records | {alerts} alerts | ETA {eta_formatted}',
          stream: io.progressStream,
          hideCursor: true,
          clearOnComplete: true,
        }, cliProgress.Presets.shades_classic) : null;
        const summary = await analyzePaths({
          paths,
          store,
          policy,
          detect: flags.alerts !== false,
          nodeRolePatterns: flags.nodeRole,
          batchSize: flags.batchSize,
          now: io.now,
          stdin: io.stdin,
          onFiles: (total) => bar?.start(total, 0, { records: 0, alerts: 0 }),
          onFileDone: (_file, done, records) => bar?.update(done, { records, alerts: raised.length }),
          onRejection: (r) => {
            if (shown.length < REJECTIONS_SHOWN) shown.push(r);
            rejects.add(r);
          },
          // Delivered as they are raised: a long backfill does not hold alerts back until the end.
          onAlerts: async (alerts) => {
            raised.push(...alerts);
            failures.push(...(await deliverAlerts(alerts, sinks)));
          },
        });
        bar?.stop();

        rejects.flush();
        if (rejects.count > 0) {
          for (const r of shown) io.err(displaySafe(`${r.file}${r.where ? `: ${r.where}` : ''}: ${r.reason}`));
          if (rejects.count > shown.length) io.err(`… and ${(rejects.count - shown.length).toLocaleString('en-US')} more`);
          const older = rejects.rotated ? ` (older ones moved to ${displaySafe(path.relative(io.cwd, rejects.rotatedFile))})` : '';
          io.err(`${plural(rejects.count, 'rejection')} appended to ${displaySafe(path.relative(io.cwd, rejects.file))}${older}`);
        }
        if (format !== 'table') printDocument(io, format, { ...summary, store: where, alerts: raised, deliveryFailures: failures });
        else {
          printSummary(summary, where, io);
          printAlerts(raised, io);
        }
        reportDeliveryFailures(failures, path.relative(io.cwd, path.join(localDir, 'alerts.jsonl')), io);
        if (format === 'table') await printUnmappedIssuers(store, io);

        if (summary.files === 0 && summary.records === 0) setExit(2);
        else if (summary.notStored > 0 || failures.length > 0) setExit(1);
        else if (flags.strict && summary.rejected > 0) setExit(1);
      });
    });
}

/** Alerts printed at the end of a run: one line each, most severe first. */
const ALERTS_SHOWN = 40;

export function printAlerts(alerts: readonly Alert[], io: Io): void {
  if (alerts.length === 0) return;
  const rank = (a: Alert) => SEVERITIES.indexOf(a.severity);
  const sorted = [...alerts].sort((a, b) => rank(b) - rank(a) || (a.firstEventTime < b.firstEventTime ? -1 : 1));
  io.out('');
  io.out(`${plural(alerts.length, 'new alert')}:`);
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
  if (s.notStored > 0) {
    io.err(`${plural(s.notStored, 'event')} could not be stored: ${[...new Set(s.storeErrors)].slice(0, 3).join('; ')}; run analyze again to retry them`);
  }
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

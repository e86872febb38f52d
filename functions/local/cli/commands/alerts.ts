import type { Command } from 'commander';
import { DETECTIONS, SEVERITIES, type Alert, type Detection } from '../../../core/alert';
import { alertText } from '../../../core/alert-format';
import { jsonSafe } from '../../../core/display';
import type { Io } from '../io';
import { oneOf, parseTime } from '../options';
import { shortTime, table } from '../render';
import { withStore, withStoreOptions, type StoreOptions } from '../store-options';

interface AlertsFlags extends StoreOptions {
  since?: Date;
  detection?: Detection;
  json?: boolean;
  details?: boolean;
}

const DEFAULT_LOOKBACK_DAYS = 7;

export function alertsCommand(program: Command, io: Io): void {
  withStoreOptions(
    program
      .command('alerts')
      .summary('list the alerts raised, newest last')
      .description(
        'Lists the alerts the detections raised (from the store, so a deployed table works too), each with\n' +
          'what happened, the likely cause and the next step. Every alert is raised once per detection, key\n' +
          'and window, however often the same logs are analyzed.',
      )
      .option('--since <time>', `alerts whose last event is at or after this time (default: ${DEFAULT_LOOKBACK_DAYS} days ago)`, parseTime)
      .option('--detection <name>', `only this detection (${DETECTIONS.join(', ')})`, oneOf<Detection>(DETECTIONS))
      .option('--details', 'print each alert in full: fields, likely cause, next step, sample event ids')
      .option('--json', 'print a JSON array of alert objects'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  cutover-watch alerts\n' +
        '  cutover-watch alerts --since 2026-11-01 --detection irsa-regression --details\n' +
        "  cutover-watch alerts --json | jq -r '.[] | select(.severity==\"critical\") | .summary'",
    )
    .action(async (flags: AlertsFlags) => {
      const now = io.now();
      const since = flags.since ?? new Date(now.getTime() - DEFAULT_LOOKBACK_DAYS * 86_400_000);
      await withStore(flags, io, async ({ store }) => {
        const alerts = (await store.listAlerts(since, now)).filter((a) => !flags.detection || a.detection === flags.detection);
        if (flags.json) io.out(jsonSafe(alerts, 2));
        else if (flags.details) printDetails(alerts, io);
        else printTable(alerts, since, io);
      }, { write: false });
    });
}

function printTable(alerts: readonly Alert[], since: Date, io: Io): void {
  if (alerts.length === 0) {
    io.out(`no alerts since ${shortTime(since.toISOString())} UTC`);
    return;
  }
  io.out(
    table(
      ['LAST EVENT', 'SEVERITY', 'DETECTION', 'CLUSTER', 'NAMESPACE', 'COUNT', 'SUMMARY'],
      alerts.map((a) => [shortTime(a.lastEventTime), a.severity.toUpperCase(), a.detection, a.cluster, a.namespace, a.count, a.summary]),
    ),
  );
  const bySeverity = SEVERITIES.map((s) => [s, alerts.filter((a) => a.severity === s).length] as const).filter(([, n]) => n > 0);
  io.out('');
  io.out(`${alerts.length} alerts (${bySeverity.map(([s, n]) => `${n} ${s}`).join(', ')}); --details for causes and next steps`);
}

function printDetails(alerts: readonly Alert[], io: Io): void {
  for (const alert of alerts) {
    io.out(alertText(alert));
    io.out('');
  }
  if (alerts.length === 0) io.out('no alerts');
}

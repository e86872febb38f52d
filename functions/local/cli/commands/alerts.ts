import type { Command } from 'commander';
import type { DynamoEvidenceStore } from '../../../adapters/dynamo-evidence-store';
import { SEVERITIES, type Alert } from '../../../core/alert';
import { alertText } from '../../../core/alert-format';
import { command, type Io } from '../io';
import { accountOf, describeFilters, matcherOf, requireMatches, withFilterOptions, type FilterFlags } from '../filters';
import { timeArg } from '../options';
import { openView, outputFormat, printDocument, printRows, viewTable, withOutputOptions, type OutputFlags, type OutputFormat, type View } from '../output';
import { plural, shortTime, type Cell } from '../render';
import { withStore, withStoreOptions, type StoreOptions } from '../store-options';

interface AlertsFlags extends StoreOptions, OutputFlags, FilterFlags {
  since?: Date;
  id?: string[];
  details?: boolean;
}

const DAY = 86_400_000;
const DEFAULT_LOOKBACK_DAYS = 7;
/** How far before --since the "older alerts hidden" count looks. */
const OLDER_LOOKBACK_DAYS = 90;

export function alertsCommand(program: Command, io: Io): void {
  withOutputOptions(
    withFilterOptions(
      withStoreOptions(
        program
          .command('alerts')
          .summary('list the alerts raised, grouped: one row per detection, cluster and namespace or instance')
          .description(
            'Lists the alerts the detections raised (from the store, so a deployed table works too). ' +
              'Every alert is raised once per detection, key and window, however often the same logs are analyzed. ' +
              'The table groups them: one row per detection, cluster and namespace (or node instance), with how many alerts and events it holds, the latest id and summary; ' +
              '-o wide lists every alert, --details prints each in full with its likely cause, next step and CloudTrail lookup.',
          ),
      ),
      ['cluster', 'namespace', 'account', 'severity', 'detection'],
    )
      .option('--since <time>', `alerts whose last event is at or after this time: ISO 8601 or a span before now such as 7d (default: ${DEFAULT_LOOKBACK_DAYS}d)`, timeArg(io.now))
      .option('--id <id>', 'only this alert: its id or the start of it, as the ID column shows (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
      .option('--details', 'print each alert in full: fields, likely cause, next step, sample event ids'),
    undefined,
    '{schemaVersion, since, until, total, alerts: [alert…]}',
  )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  cutover-watch alerts\n' +
        '  cutover-watch alerts --since 30d --severity high,critical\n' +
        '  cutover-watch alerts --since 2026-11-01 --detection irsa-regression --details\n' +
        "  cutover-watch alerts -c 'payments-*' -n checkout -o wide\n" +
        "  cutover-watch alerts -o json | jq -r '.alerts[] | select(.severity==\"critical\") | .summary'\n" +
        '\nExit codes: 0 done (with or without alerts); 2 unusable arguments, a -c that matches no known cluster, or no store.',
    )
    .action(async (flags: AlertsFlags) => {
      const format = outputFormat<OutputFormat>(flags, 'table');
      const now = io.now();
      const since = flags.since ?? new Date(now.getTime() - DEFAULT_LOOKBACK_DAYS * DAY);
      await withStore(flags, io, async ({ store }) => {
        const listed = await store.listAlerts(new Date(since.getTime() - OLDER_LOOKBACK_DAYS * DAY), now);
        const sinceIso = since.toISOString();
        const inWindow = listed.filter((a) => a.lastEventTime >= sinceIso);
        const selected = await selectAlerts(store, inWindow, listed, flags, io);
        const older = listed.length - inWindow.length;
        const view = openView(io, flags);
        try {
          if (format === 'json' || format === 'yaml') {
            await printDocument(view.io, format, { since: sinceIso, until: now.toISOString(), total: inWindow.length, alerts: selected });
          } else if (format === 'csv' || format === 'md') {
            printRows(view.io, format, ALERT_COLUMNS, selected.map(alertRecord));
          } else if (flags.details) {
            printDetails(selected, view.io);
          } else {
            printTable(selected, { since, total: inWindow.length, older, filters: describeFilters(flags), wide: format === 'wide', view }, view.io);
          }
        } finally {
          await view.end();
        }
      }, { write: false });
    });
}

/**
 * The alerts the filters keep. A -c that names no cluster the store knows (inventory, evidence,
 * or an alert) is a usage error listing the known ones; a known one without alerts is an answer.
 */
async function selectAlerts(store: DynamoEvidenceStore, alerts: readonly Alert[], all: readonly Alert[], flags: AlertsFlags, io: Io): Promise<Alert[]> {
  if (flags.cluster?.length) {
    const [scopes, inventory] = await Promise.all([store.scopes(), store.loadInventory()]);
    const names = new Set<string>();
    const arns = new Set<string>();
    for (const c of inventory.clusters) names.add(c.name), arns.add(c.arn);
    for (const s of scopes) if (s['kind'] === 'cluster' && typeof s['cluster'] === 'string') names.add(s['cluster']), arns.add(String(s['name']));
    for (const a of all) {
      if (a.cluster) names.add(a.cluster);
      if (a.clusterArn) arns.add(a.clusterArn);
    }
    requireMatches('cluster', flags.cluster, names, { alsoMatch: arns, hint: `run \`${command(io, 'analyze PATH')}\` first` });
  }
  const cluster = matcherOf(flags.cluster);
  const namespace = matcherOf(flags.namespace);
  const account = matcherOf(flags.account);
  const severity = flags.severity?.length ? new Set(flags.severity) : null;
  const detection = flags.detection?.length ? new Set(flags.detection) : null;
  const ids = flags.id?.map((i) => i.toLowerCase()) ?? null;
  return alerts.filter(
    (a) =>
      (!cluster || (a.cluster !== null && cluster(a.cluster)) || (a.clusterArn !== null && cluster(a.clusterArn))) &&
      (!namespace || (a.namespace !== null && namespace(a.namespace))) &&
      (!account || [a.clusterArn, a.roleArn, a.nodeRoleArn].some((arn) => accountOf(arn) !== null && account(accountOf(arn)!))) &&
      (!severity || severity.has(a.severity)) &&
      (!detection || detection.has(a.detection)) &&
      (!ids || ids.some((id) => a.id.toLowerCase().startsWith(id) || shortId(a).startsWith(id))),
  );
}

/** The id a person types: the first 8 hex digits of the alert's hash (`alerts --id 3fa0c2d1`). */
export function shortId(alert: Alert): string {
  return (alert.id.split(':').pop() ?? alert.id).slice(0, 8);
}

/** One row per alert for -o csv/md, in the JSON's field names. */
const ALERT_COLUMNS = ['id', 'severity', 'detection', 'cluster', 'namespace', 'service_account', 'node_instance_id', 'role_arn', 'count', 'first_event_time', 'last_event_time', 'summary'];

function alertRecord(a: Alert): Cell[] {
  return [a.id, a.severity, a.detection, a.cluster, a.namespace, a.serviceAccount, a.nodeInstanceId, a.roleArn ?? a.nodeRoleArn, a.count, a.firstEventTime, a.lastEventTime, a.summary];
}

interface Group {
  latest: Alert;
  severity: Alert['severity'];
  alerts: number;
  events: number;
}

/** One group per detection, cluster and namespace (or node instance): 14 node-role alerts from 2 instances are 2 rows. */
export function groupAlerts(alerts: readonly Alert[]): Group[] {
  const groups = new Map<string, Group>();
  const rank = (s: Alert['severity']) => SEVERITIES.indexOf(s);
  for (const a of alerts) {
    const key = `${a.detection}|${a.cluster ?? a.oidcIssuer ?? ''}|${a.namespace ?? a.nodeInstanceId ?? a.nodeRoleArn ?? ''}`;
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { latest: a, severity: a.severity, alerts: 1, events: a.count });
      continue;
    }
    g.alerts += 1;
    g.events += a.count;
    if (rank(a.severity) > rank(g.severity)) g.severity = a.severity;
    if (a.lastEventTime >= g.latest.lastEventTime) g.latest = a;
  }
  // newest last, as the alerts themselves are listed
  return [...groups.values()].sort((x, y) => (x.latest.lastEventTime < y.latest.lastEventTime ? -1 : x.latest.lastEventTime > y.latest.lastEventTime ? 1 : 0));
}

function printTable(
  alerts: readonly Alert[],
  context: { since: Date; total: number; older: number; filters: string; wide: boolean; view: Pick<View, 'width' | 'colour'> },
  io: Io,
): void {
  const sinceText = `since ${shortTime(context.since.toISOString())} UTC`;
  const olderLine = () => {
    if (context.older > 0) io.out(`${plural(context.older, 'older alert')} hidden (last event in the ${OLDER_LOOKBACK_DAYS} days before): use --since`);
  };
  if (alerts.length === 0) {
    io.out(context.total === 0 ? `no alerts ${sinceText}` : `none of the ${plural(context.total, 'alert')} ${sinceText} match ${context.filters}`);
    olderLine();
    return;
  }
  if (context.wide) {
    io.out(
      viewTable(
        context.view,
        ['ID', 'LAST EVENT', 'SEVERITY', 'DETECTION', 'CLUSTER', 'NAMESPACE', 'WHO', 'EVENTS', 'SUMMARY'],
        alerts.map((a) => [shortId(a), shortTime(a.lastEventTime), a.severity.toUpperCase(), a.detection, a.cluster, a.namespace, a.serviceAccount ?? a.nodeInstanceId, a.count, a.summary]),
        { wide: true, colourColumns: [2], flex: [8] },
      ),
    );
  } else {
    io.out(
      viewTable(
        context.view,
        ['ID', 'LAST EVENT', 'SEVERITY', 'DETECTION', 'CLUSTER', 'NAMESPACE/INSTANCE', 'ALERTS', 'EVENTS', 'SUMMARY (LATEST)'],
        groupAlerts(alerts).map((g) => [
          shortId(g.latest),
          shortTime(g.latest.lastEventTime),
          g.severity.toUpperCase(),
          g.latest.detection,
          g.latest.cluster,
          g.latest.namespace ?? g.latest.nodeInstanceId,
          g.alerts,
          g.events,
          g.latest.summary,
        ]),
        { colourColumns: [2], flex: [8] },
      ),
    );
  }
  const bySeverity = [...SEVERITIES].reverse().map((s) => [s, alerts.filter((a) => a.severity === s).length] as const).filter(([, n]) => n > 0);
  io.out('');
  const shown = alerts.length < context.total ? `${alerts.length.toLocaleString('en-US')} of ${plural(context.total, 'alert')} ${sinceText} shown (${context.filters})` : `${plural(alerts.length, 'alert')} ${sinceText}`;
  io.out(`${shown}: ${bySeverity.map(([s, n]) => `${n} ${s}`).join(', ')}; --details (or --id ID --details) for causes and next steps`);
  olderLine();
}

function printDetails(alerts: readonly Alert[], io: Io): void {
  for (const alert of alerts) {
    io.out(alertText(alert));
    io.out('');
  }
  if (alerts.length === 0) io.out('no alerts');
}

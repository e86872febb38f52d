import type { Command } from 'commander';
import type { ReadinessReport } from '../../../core/readiness';
import { readinessReport } from '../../../adapters/readiness-query';
import type { Io } from '../io';
import { parseTime, positiveNumber } from '../options';
import { age, shortTime, table } from '../render';
import { withStore, withStoreOptions, type StoreOptions } from '../store-options';

interface ReadinessFlags extends StoreOptions {
  cluster?: string;
  namespace?: string;
  asOf?: Date;
  soakDays: number;
  activeHours: number;
  json?: boolean;
  reasons?: boolean;
}

export function readinessCommand(program: Command, io: Io): void {
  withStoreOptions(
    program
      .command('readiness')
      .summary('per-namespace and per-cluster verdicts: is IRSA ready to retire?')
      .description(
        'Verdicts from the evidence store, as of a time (default now):\n' +
          '  NOT_STARTED  no successful Pod Identity assume ever; IRSA seen\n' +
          '  IN_PROGRESS  Pod Identity seen, and IRSA used within the active window\n' +
          '  SOAKING      Pod Identity seen; last IRSA older than the active window but within the soak period\n' +
          '  READY        Pod Identity seen; no IRSA within the soak period: remove the IRSA annotation\n' +
          "A cluster's OIDC provider is READY when every namespace seen through its issuer is READY.\n" +
          'Every verdict lists its reasons; Pod Identity fetch denials and node-role calls show as warnings.',
      )
      .option('--cluster <name>', 'only this cluster (name or ARN)')
      .option('--namespace <name>', 'only this namespace')
      .option('--as-of <time>', 'judge as of this ISO 8601 time (default: now)', parseTime)
      .option('--soak-days <days>', 'soak period S', positiveNumber, 14)
      .option('--active-hours <hours>', 'active window A', positiveNumber, 24)
      .option('--reasons', 'print every verdict\'s reasons under the table')
      .option('--json', 'print one JSON object {asOf, soakDays, namespaces, clusters, warnings}'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  cutover-watch readiness\n' +
        '  cutover-watch readiness --cluster payments-prod --reasons\n' +
        "  cutover-watch readiness --json | jq '.namespaces[] | select(.verdict==\"READY\") | .namespace'\n" +
        '  cutover-watch readiness --table cutover-watch-evidence --region us-east-1',
    )
    .action(async (flags: ReadinessFlags) => {
      await withStore(flags, io, async ({ store }) => {
        const report = await readinessReport(store, {
          asOf: flags.asOf ?? io.now(),
          soakDays: flags.soakDays,
          activeHours: flags.activeHours,
          cluster: flags.cluster,
          namespace: flags.namespace,
        });
        if (flags.json) io.out(JSON.stringify(report, null, 2));
        else printReadiness(report, io, { reasons: flags.reasons ?? false });
      });
    });
}

export function printReadiness(report: ReadinessReport, io: Io, options: { reasons: boolean }): void {
  const asOf = new Date(report.asOf);
  io.out(`as of ${shortTime(report.asOf)} UTC · soak ${report.soakDays} days · active window ${report.activeHours} h`);
  if (report.namespaces.length === 0) {
    io.out('no IRSA or Pod Identity evidence yet: run `cutover-watch analyze PATH` (or `npm start` for the demo)');
    return;
  }
  io.out('');
  io.out(
    table(
      ['CLUSTER', 'NAMESPACE', 'VERDICT', 'LAST IRSA', 'LAST POD IDENTITY', 'SOAK LEFT', 'SERVICE ACCOUNTS'],
      report.namespaces.map((n) => [
        n.cluster ?? `(issuer ${n.oidcIssuer?.split('/').pop()})`,
        n.namespace,
        n.verdict,
        n.lastIrsa === null ? '-' : `${shortTime(n.lastIrsa)} (${age(n.lastIrsa, asOf)})`,
        shortTime(n.lastPodIdentity),
        n.soakDaysLeft === null ? '-' : `${n.soakDaysLeft}d`,
        n.serviceAccounts.join(', '),
      ]),
    ),
  );
  io.out('');
  io.out(
    table(
      ['CLUSTER', 'OIDC PROVIDER', 'NOT_STARTED', 'IN_PROGRESS', 'SOAKING', 'READY', 'HELD BACK BY'],
      report.clusters.map((c) => [
        c.cluster ?? `(issuer ${c.oidcIssuer?.split('/').pop()})`,
        c.verdict,
        c.namespaceCounts.NOT_STARTED,
        c.namespaceCounts.IN_PROGRESS,
        c.namespaceCounts.SOAKING,
        c.namespaceCounts.READY,
        c.blockers.length === 0 ? '-' : c.blockers.map((b) => b.namespace).join(', '),
      ]),
    ),
  );
  const warnings = [...report.clusters.flatMap((c) => c.warnings.map((w) => ({ where: c.cluster ?? c.oidcIssuer, w }))), ...report.warnings.map((w) => ({ where: null, w }))];
  if (warnings.length > 0) {
    io.out('');
    io.out('warnings:');
    for (const { where, w } of warnings) io.out(`  ${where ? `${where}: ` : ''}${w.message}${w.last ? ` (last ${shortTime(w.last)})` : ''}`);
  }
  if (options.reasons) {
    io.out('');
    for (const n of report.namespaces) {
      io.out(`${n.cluster ?? n.oidcIssuer}/${n.namespace} ${n.verdict}`);
      for (const r of n.reasons) io.out(`  - ${r}`);
    }
    for (const c of report.clusters) {
      io.out(`${c.cluster ?? c.oidcIssuer} OIDC provider ${c.verdict}`);
      for (const r of c.reasons) io.out(`  - ${r}`);
    }
  }
}

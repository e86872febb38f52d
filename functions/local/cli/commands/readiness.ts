import type { Command } from 'commander';
import { jsonSafe } from '../../../core/display';
import { VERDICT_ORDER, type ReadinessReport, type Verdict } from '../../../core/readiness';
import { readinessReport } from '../../../adapters/readiness-query';
import type { Io } from '../io';
import { InvalidArgumentError } from 'commander';
import { activeHours, parseTime, soakDays } from '../options';
import { age, displaySafe, plural, shortTime, table } from '../render';
import { withStore, withStoreOptions, type StoreOptions } from '../store-options';

interface ReadinessFlags extends StoreOptions {
  cluster?: string;
  namespace?: string;
  asOf?: Date;
  soakDays: number;
  activeHours: number;
  json?: boolean;
  reasons?: boolean;
  require?: Verdict;
}

/** The exit code of a gate that does not pass: distinct from usage (2) and failure (1). */
export const GATE_EXIT_CODE = 3;

function verdictArg(value: string): Verdict {
  const v = value.toUpperCase() as Verdict;
  if (!VERDICT_ORDER.includes(v) || v === 'UNKNOWN') throw new InvalidArgumentError(`expected one of ${VERDICT_ORDER.slice(1).join(', ')}, got ${JSON.stringify(value)}`);
  return v;
}

export function readinessCommand(program: Command, io: Io, setExit: (code: number) => void): void {
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
          '  UNKNOWN      the evidence cannot support SOAKING or READY: CloudTrail of the account/region not read\n' +
          '               up to the as-of (stale) or with a hole in the soak window, or IRSA of an issuer the\n' +
          '               inventory does not map; the reasons say which and the command that fixes it\n' +
          "A cluster's OIDC provider is READY when every namespace seen through its issuer is READY and its\n" +
          "account/region was read without a hole over the soak window. `cutover-watch coverage` shows what was read.\n" +
          'Every verdict lists its reasons; Pod Identity fetch denials and node-role calls show as warnings.',
      )
      .option('--cluster <name>', 'only this cluster (name or ARN)')
      .option('--namespace <name>', 'only this namespace')
      .option('--as-of <time>', 'judge as of this ISO 8601 time (default: now)', parseTime)
      .option('--soak-days <days>', 'soak period S (at most 3650)', soakDays, 14)
      .option('--active-hours <hours>', 'active window A (at most 8760)', activeHours, 24)
      .option('--reasons', 'print every verdict\'s reasons under the table')
      .option('--require <verdict>', 'a gate for pipelines: exit 3 when a selected namespace, or a selected cluster\'s OIDC provider, is below this verdict (UNKNOWN is below all)', verdictArg)
      .option('--json', 'print one JSON object {asOf, soakDays, namespaces, clusters, warnings}'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  cutover-watch readiness\n' +
        '  cutover-watch readiness --cluster payments-prod --reasons\n' +
        "  cutover-watch readiness --json | jq '.namespaces[] | select(.verdict==\"READY\") | .namespace'\n" +
        '  cutover-watch readiness --cluster payments-prod --require READY && aws iam delete-open-id-connect-provider …\n' +
        '  cutover-watch readiness --table cutover-watch-evidence --region us-east-1\n' +
        '\nExit codes: 0 done (and the gate passed); 2 unusable arguments or no store; 3 --require not met:\n' +
        'the namespaces and OIDC providers below it are printed on stderr with the reason.',
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
        if (flags.json) io.out(jsonSafe(report, 2));
        else printReadiness(report, io, { reasons: flags.reasons ?? false });
        if (flags.require && !gatePasses(report, flags.require, { clusters: flags.namespace === undefined }, io)) setExit(GATE_EXIT_CODE);
      }, { write: false });
    });
}

/**
 * `--require V`: every selected namespace, and every selected cluster's OIDC provider, at V or
 * above. An empty selection does not pass: a gate that saw nothing has proven nothing.
 */
function gatePasses(report: ReadinessReport, required: Verdict, select: { clusters: boolean }, io: Io): boolean {
  const rank = (v: Verdict) => VERDICT_ORDER.indexOf(v);
  const below = [
    ...report.namespaces.filter((n) => rank(n.verdict) < rank(required)).map((n) => ({ what: `${n.cluster ?? n.oidcIssuer}/${n.namespace}`, verdict: n.verdict, why: n.unknownBecause[0] ?? n.reasons.at(-1) ?? '' })),
    ...(select.clusters ? report.clusters : [])
      .filter((c) => rank(c.verdict) < rank(required))
      .map((c) => ({ what: `${c.cluster ?? c.oidcIssuer} OIDC provider`, verdict: c.verdict, why: c.reasons[0] ?? '' })),
  ];
  if (report.namespaces.length === 0 && (!select.clusters || report.clusters.length === 0)) {
    io.err(`gate: nothing selected to check against ${required}: not passed`);
    return false;
  }
  if (below.length === 0) return true;
  io.err(`gate: ${below.length} below ${required}:`);
  for (const b of below) io.err(displaySafe(`  ${b.what} ${b.verdict}: ${b.why}`));
  return false;
}

/** `READY through 2026-11-20` beside an UNKNOWN: what the evidence did support, and until when. */
export function verdictCell(n: ReadinessReport['namespaces'][number]): string {
  if (n.verdict !== 'UNKNOWN' || n.lastWellFounded === null) return n.verdict;
  return `UNKNOWN (${n.lastWellFounded.verdict} through ${n.lastWellFounded.through.slice(0, 10)})`;
}

/** One line per account/region: where complete CloudTrail ends, and how many holes the soak window has. */
export function printEvidenceThrough(report: ReadinessReport, io: Io): void {
  if (report.coverage.length === 0) {
    io.out('evidence through: no complete CloudTrail read yet (only log files, backfill slices and the live pipeline count): verdicts cannot be SOAKING or READY');
    return;
  }
  const parts = report.coverage.map((c) => `${c.account}/${c.region} ${shortTime(c.through)}${c.gaps.length > 0 ? ` (${plural(c.gaps.length, 'hole')})` : ''}`);
  io.out(displaySafe(`evidence through: ${parts.join(' · ')}`));
}

export function printReadiness(report: ReadinessReport, io: Io, options: { reasons: boolean }): void {
  const asOf = new Date(report.asOf);
  io.out(`as of ${shortTime(report.asOf)} UTC · soak ${report.soakDays} days · active window ${report.activeHours} h`);
  printEvidenceThrough(report, io);
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
        verdictCell(n),
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
      ['CLUSTER', 'OIDC PROVIDER', 'UNKNOWN', 'NOT_STARTED', 'IN_PROGRESS', 'SOAKING', 'READY', 'HELD BACK BY'],
      report.clusters.map((c) => [
        c.cluster ?? `(issuer ${c.oidcIssuer?.split('/').pop()})`,
        c.verdict,
        c.namespaceCounts.UNKNOWN,
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
    for (const { where, w } of warnings) io.out(displaySafe(`  ${where ? `${where}: ` : ''}${w.message}${w.last ? ` (last ${shortTime(w.last)})` : ''}`));
  }
  printUnknownCauses(report, io);
  if (options.reasons) {
    io.out('');
    for (const n of report.namespaces) {
      io.out(displaySafe(`${n.cluster ?? n.oidcIssuer}/${n.namespace} ${n.verdict}`));
      for (const r of n.reasons) io.out(`  - ${displaySafe(r)}`);
    }
    for (const c of report.clusters) {
      io.out(displaySafe(`${c.cluster ?? c.oidcIssuer} OIDC provider ${c.verdict}`));
      for (const r of c.reasons) io.out(`  - ${displaySafe(r)}`);
    }
  }
}

/** Why verdicts are UNKNOWN, each cause once with the namespaces it holds back: the fix comes first. */
export function printUnknownCauses(report: ReadinessReport, io: Io): void {
  const byCause = new Map<string, string[]>();
  for (const n of report.namespaces) {
    for (const cause of n.unknownBecause) byCause.set(cause, [...(byCause.get(cause) ?? []), `${n.cluster ?? n.oidcIssuer?.split('/').pop()}/${n.namespace}`]);
  }
  if (byCause.size === 0) return;
  io.out('');
  io.out('UNKNOWN: the evidence cannot tell, and why:');
  for (const [cause, where] of byCause) io.out(displaySafe(`  ${where.length > 3 ? `${where.slice(0, 3).join(', ')} and ${where.length - 3} more` : where.join(', ')}: ${cause}`));
}

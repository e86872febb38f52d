import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { VERDICT_ORDER, type ClusterReadiness, type NamespaceReadiness, type ReadinessReport, type Verdict } from '../../../core/readiness';
import { judgeVerdicts, readVerdictInputs, type ReadinessQuery, type VerdictInputs } from '../../../adapters/readiness-query';
import { stepLines } from '../../../core/plan-render';
import type { PlanStep } from '../../../core/plan';
import { stragglerPlan, type StragglerReport } from '../../../core/report';
import { readReportInputs, reportFrom, type GatheredReport, type ReportInputs } from '../../report';
import { command, type Io } from '../io';
import { accountOf, describeFilters, matcherOf, requireMatches, withFilterOptions, type FilterFlags } from '../filters';
import { activeHours, soakDays, timeArg } from '../options';
import { openView, outputFormat, printDocument, printRows, viewTable, withOutputOptions, type OutputFlags, type OutputFormat, type View } from '../output';
import { age, displaySafe, plural, shortTime, type Cell } from '../render';
import { withStore, withStoreOptions, type StoreOptions } from '../store-options';

interface ReadinessFlags extends StoreOptions, OutputFlags, FilterFlags {
  asOf?: Date;
  soakDays: number;
  activeHours: number;
  reasons?: boolean;
  require?: Verdict;
  all?: boolean;
}

/** The exit code of a gate that does not pass: distinct from usage (2) and failure (1). */
export const GATE_EXIT_CODE = 3;

/** Namespaces the summary view lists, worst first, before "N of M shown". */
export const SUMMARY_ROWS = 20;

function verdictArg(value: string): Verdict {
  const v = value.toUpperCase() as Verdict;
  if (!VERDICT_ORDER.includes(v) || v === 'UNKNOWN') throw new InvalidArgumentError(`expected one of ${VERDICT_ORDER.slice(1).join(', ')}, got ${JSON.stringify(value)}`);
  return v;
}

export function readinessCommand(program: Command, io: Io, setExit: (code: number) => void): void {
  withOutputOptions(
    withFilterOptions(
      withStoreOptions(
        program
          .command('readiness')
          .summary('per-namespace and per-cluster verdicts: is IRSA ready to retire?')
          .description(
            'Verdicts from the evidence store, as of a time (default now), worst first:\n' +
              'UNKNOWN: the evidence cannot support SOAKING or READY: CloudTrail of the account/region was not read up to the as-of (stale) or has a hole in the soak window, or IRSA came through an issuer the inventory does not map; the reasons say which, with the command that fixes it.\n' +
              'NOT_STARTED: no successful Pod Identity assume ever; IRSA seen.\n' +
              'IN_PROGRESS: Pod Identity seen, and IRSA used within the active window.\n' +
              'SOAKING: Pod Identity seen; the last IRSA is older than the active window but within the soak period.\n' +
              'READY: Pod Identity seen and no IRSA within the soak period: remove the IRSA annotation.\n' +
              "A cluster's OIDC provider is READY when every namespace seen through its issuer is READY and its account/region was read without a hole over the soak window (`cutover-watch coverage` shows what was read). " +
              'Every verdict has its reasons (--reasons); Pod Identity fetch denials and node-role calls show as warnings. ' +
              `The table view prints the clusters first, then the ${SUMMARY_ROWS} worst namespaces; -o wide or --all prints every one.`,
          ),
      ),
      ['cluster', 'namespace', 'account', 'verdict'],
    )
      .option('--as-of <time>', 'judge as of this time: ISO 8601, or a span before now such as -1d (default: now)', timeArg(io.now))
      .option('--soak-days <days>', 'soak period S (at most 3650)', soakDays, 14)
      .option('--active-hours <hours>', 'active window A (at most 8760)', activeHours, 24)
      .option('--all', 'list every selected namespace, not only the worst ones')
      .option('--reasons', "print every verdict's reasons under the tables")
      .option('--require <verdict>', "a gate for pipelines: exit 3 when a selected namespace, or a selected cluster's OIDC provider, is below this verdict (UNKNOWN is below all)", verdictArg),
    undefined,
    '{schemaVersion, asOf, soakDays, activeHours, namespaces, clusters, coverage, warnings}',
  )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  cutover-watch readiness\n' +
        '  cutover-watch readiness -c payments-prod --reasons\n' +
        "  cutover-watch readiness -c 'payments-*' -n checkout,orders --as-of -1d\n" +
        '  cutover-watch readiness --verdict NOT_STARTED,IN_PROGRESS -o csv > stragglers.csv\n' +
        "  cutover-watch readiness -o json | jq -r '.namespaces[] | select(.verdict==\"READY\") | .namespace'\n" +
        '  cutover-watch readiness -c search-prod --require READY && aws iam delete-open-id-connect-provider …\n' +
        '  cutover-watch readiness --table cutover-watch-evidence --table-region us-east-1\n' +
        '\nExit codes: 0 done (and the gate passed); 2 unusable arguments, a -c/-n/--account that matches nothing, or no store; 3 --require not met (what is below it is printed on stderr with the reason).',
    )
    .action(async (flags: ReadinessFlags) => {
      const format = outputFormat<OutputFormat>(flags, 'table');
      // Judged whole, then selected: a filter chooses the rows shown, never what a cluster's verdict sees.
      const settings = { asOf: flags.asOf ?? io.now(), soakDays: flags.soakDays, activeHours: flags.activeHours };
      // --reasons prints each namespace's next steps: those of the report (core/plan.ts), read with the same verdicts.
      const withSteps = flags.reasons === true && format !== 'json' && format !== 'yaml' && format !== 'csv' && format !== 'md';
      // Read with the store open, judged once it is closed: its thread's memory goes before the judging's peak.
      const { full, gathered } = judged(
        await withStore(flags, io, async ({ store }) => (withSteps ? { report: await readReportInputs(store, settings) } : { verdicts: await readVerdictInputs(store, settings, null) }), { write: false }),
        settings,
      );
      const report = selectReadiness(full, flags, io);
      const view = openView(io, flags);
      try {
        if (format === 'json' || format === 'yaml') await printDocument(view.io, format, { ...report });
        else if (format === 'csv' || format === 'md') printRows(view.io, format, NAMESPACE_COLUMNS, report.namespaces.map(namespaceRecord));
        else {
          printReadiness(report, view.io, {
            reasons: flags.reasons ?? false,
            all: flags.all === true || format === 'wide',
            wide: format === 'wide',
            view,
            selection: describeFilters(flags),
            empty: full.namespaces.length === 0 && full.clusters.length === 0,
            ...(gathered ? { steps: nextSteps(gathered.report) } : {}),
          });
        }
      } finally {
        await view.end();
      }
      const narrowed = (flags.namespace?.length ?? 0) > 0 || (flags.verdict?.length ?? 0) > 0;
      if (flags.require && !gatePasses(report, flags.require, { clusters: !narrowed }, io)) setExit(GATE_EXIT_CODE);
    });
}

/** The verdicts (and with --reasons the report beside them) on what was read; nothing of the items read is held after. */
function judged(read: { report: ReportInputs } | { verdicts: VerdictInputs }, settings: ReadinessQuery): { full: ReadinessReport; gathered: GatheredReport | null } {
  if ('verdicts' in read) return { full: judgeVerdicts(read.verdicts, settings), gathered: null };
  const gathered = reportFrom(read.report);
  return { full: gathered.readiness, gathered };
}

/** Columns of `-o csv` and `-o md`: one namespace a row. */
const NAMESPACE_COLUMNS = ['cluster', 'namespace', 'verdict', 'last_irsa', 'last_pod_identity', 'soak_days_left', 'soak_ends_at', 'service_accounts', 'evidence_through', 'oidc_issuer'];

function namespaceRecord(n: NamespaceReadiness): Cell[] {
  return [n.cluster, n.namespace, n.verdict, n.lastIrsa, n.lastPodIdentity, n.soakDaysLeft, n.soakEndsAt, n.serviceAccounts.join(' '), n.evidenceThrough, n.oidcIssuer];
}

const clusterLabel = (c: { cluster: string | null; oidcIssuer: string | null }) => c.cluster ?? `(issuer ${c.oidcIssuer?.split('/').pop()})`;

/**
 * The report cut down to the filters: -c (name or ARN), -n, --account, --verdict. A -c, -n or
 * --account glob that matches nothing is a usage error listing what is known: clusters from the
 * inventory and from the evidence, IRSA-only ones (placed through their issuer) included.
 */
export function selectReadiness(full: ReadinessReport, flags: FilterFlags, io: Pick<Io, 'invocation'> = {}): ReadinessReport {
  const hint = `run \`${command(io, 'analyze PATH')}\` or \`${command(io, 'inventory import FILE…')}\` first`;
  const knownClusters = new Set<string>();
  for (const c of [...full.clusters, ...full.namespaces]) if (c.cluster) knownClusters.add(c.cluster);
  const arns = [...full.clusters, ...full.namespaces].map((c) => c.clusterArn).filter((a): a is string => a !== null);
  requireMatches('cluster', flags.cluster, knownClusters, { alsoMatch: arns, hint });
  const knownAccounts = new Set<string>([...full.coverage.map((c) => c.account)]);
  for (const c of [...full.clusters, ...full.namespaces]) {
    const account = accountOf(c.clusterArn);
    if (account) knownAccounts.add(account);
  }
  requireMatches('account', flags.account, knownAccounts, { hint });

  const cluster = matcherOf(flags.cluster);
  const account = matcherOf(flags.account);
  const inPlace = (c: { cluster: string | null; clusterArn: string | null }) =>
    (!cluster || (c.cluster !== null && cluster(c.cluster)) || (c.clusterArn !== null && cluster(c.clusterArn))) &&
    (!account || (accountOf(c.clusterArn) !== null && account(accountOf(c.clusterArn)!)));
  const placed = full.namespaces.filter(inPlace);
  requireMatches('namespace', flags.namespace, placed.map((n) => n.namespace), {
    within: [flags.cluster?.join(', '), flags.account?.length ? `account ${flags.account.join(', ')}` : undefined].filter(Boolean).join(', ') || undefined,
    hint,
  });
  const namespace = matcherOf(flags.namespace);
  const verdicts = flags.verdict && flags.verdict.length > 0 ? new Set(flags.verdict) : null;
  const namespaces = placed.filter((n) => (!namespace || namespace(n.namespace)) && (!verdicts || verdicts.has(n.verdict)));
  const narrowed = namespace !== null || verdicts !== null;
  const withRows = new Set(namespaces.map((n) => n.clusterArn ?? `issuer:${n.oidcIssuer}`));
  const clusters = full.clusters.filter((c) => inPlace(c) && (!narrowed || withRows.has(c.clusterArn ?? `issuer:${c.oidcIssuer}`)));
  const filtered = cluster !== null || account !== null;
  return { ...full, namespaces, clusters, warnings: filtered ? [] : full.warnings };
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

export interface ReadinessPrintOptions {
  reasons: boolean;
  /** Every namespace (in cluster, namespace order), not the worst SUMMARY_ROWS. */
  all?: boolean;
  /** Long cells wrapped rather than cut (-o wide). */
  wide?: boolean;
  /** Terminal width and colour; none: full cells, no colour. */
  view?: Pick<View, 'width' | 'colour'>;
  /** The filters given, for "N of M shown". */
  selection?: string;
  /** The store holds no evidence and no inventory at all. */
  empty?: boolean;
  /** With `reasons`: each namespace's and cluster's next steps (`nextSteps` of the report). */
  steps?: NextSteps;
}

/** The report's steps by where they apply: `<clusterId>|<namespace>` and `<clusterId>`. */
export interface NextSteps {
  /** A row's steps are made when printed (`steps()`): all of them at once were 40,000 namespaces' plans. */
  namespaces: Map<string, { serviceAccount: string; role: string | null; nextStep: string; steps: () => PlanStep[] }[]>;
  clusters: Map<string, { before: PlanStep[]; after: PlanStep[] }>;
}

/** The next steps `report` gives, for `readiness --reasons` to print beside the reasons: one source. */
export function nextSteps(report: StragglerReport): NextSteps {
  const namespaces: NextSteps['namespaces'] = new Map();
  for (const s of [...report.stragglers, ...report.readyToCleanUp]) {
    const key = `${s.clusterId}|${s.namespace}`;
    const list = namespaces.get(key) ?? [];
    list.push({ serviceAccount: s.serviceAccount, role: s.role, nextStep: s.nextStep, steps: () => stragglerPlan(s, report.preflight).steps });
    namespaces.set(key, list);
  }
  return { namespaces, clusters: new Map(report.clusters.map((c) => [c.clusterId, c.steps])) };
}

const rank = (v: Verdict) => VERDICT_ORDER.indexOf(v);

/**
 * Summary first: the clusters with their counts, then the worst namespaces (UNKNOWN, NOT_STARTED,
 * IN_PROGRESS, …) up to SUMMARY_ROWS, saying how many were left out, then warnings and the causes
 * of UNKNOWN. At 20,000 namespaces the answer a person needs fits a screen.
 */
export function printReadiness(report: ReadinessReport, io: Io, options: ReadinessPrintOptions): void {
  const asOf = new Date(report.asOf);
  const view = { width: options.view?.width, colour: options.view?.colour ?? false };
  const tableOf = (head: string[], rows: Cell[][], colourColumns: number[], flex: number[]) => viewTable(view, head, rows, { wide: options.wide, colourColumns, flex });
  io.out(`as of ${shortTime(report.asOf)} UTC · soak ${report.soakDays} days · active window ${report.activeHours} h`);
  printEvidenceThrough(report, io);
  if (options.empty) {
    io.out(`no IRSA or Pod Identity evidence yet: run \`${command(io, 'analyze PATH')}\` (or \`${command(io, 'demo')}\` for a sample fleet)`);
    return;
  }
  if (report.clusters.length > 0) {
    io.out('');
    io.out(tableOf(['CLUSTER', 'OIDC PROVIDER', 'UNKNOWN', 'NOT_STARTED', 'IN_PROGRESS', 'SOAKING', 'READY', 'HELD BACK BY'], report.clusters.map(clusterRow), [1], [7]));
  }
  io.out('');
  if (report.namespaces.length === 0) {
    io.out(options.selection ? `no namespace matches ${options.selection}` : 'no IRSA or Pod Identity evidence for these clusters yet');
  } else {
    const total = report.namespaces.length;
    const shown = options.all || total <= SUMMARY_ROWS ? report.namespaces : worstFirst(report.namespaces).slice(0, SUMMARY_ROWS);
    io.out(tableOf(['CLUSTER', 'NAMESPACE', 'VERDICT', 'LAST IRSA', 'LAST POD IDENTITY', 'SOAK LEFT', 'SERVICE ACCOUNTS'], shown.map((n) => namespaceRow(n, asOf)), [2], [6]));
    if (shown.length < total) {
      io.out('');
      io.out(`${shown.length.toLocaleString('en-US')} of ${plural(total, 'namespace')} shown, worst first${counts(report.namespaces)}: use -o wide or --all for every one`);
    }
  }
  const warnings = [...report.clusters.flatMap((c) => c.warnings.map((w) => ({ where: c.cluster ?? c.oidcIssuer, w }))), ...report.warnings.map((w) => ({ where: null, w }))];
  if (warnings.length > 0) {
    io.out('');
    io.out('warnings:');
    for (const { where, w } of warnings) io.out(displaySafe(`  ${where ? `${where}: ` : ''}${w.message}${w.last ? ` (last ${shortTime(w.last)})` : ''}`));
  }
  printUnknownCauses(report, io);
  if (options.reasons) {
    io.out('');
    const idOf = (p: { clusterArn: string | null; oidcIssuer: string | null }) => p.clusterArn ?? `issuer:${p.oidcIssuer}`;
    for (const n of report.namespaces) {
      io.out(displaySafe(`${n.cluster ?? n.oidcIssuer}/${n.namespace} ${n.verdict}`));
      for (const r of n.reasons) io.out(`  - ${displaySafe(r)}`);
      for (const sa of options.steps?.namespaces.get(`${idOf(n)}|${n.namespace}`) ?? []) {
        io.out(displaySafe(`  next steps for ${sa.serviceAccount}${sa.role ? ` (${sa.role.slice(sa.role.lastIndexOf('/') + 1)})` : ''}: ${sa.nextStep}`));
        for (const line of stepLines(sa.steps(), '    ', { why: false })) io.out(line);
      }
    }
    for (const c of report.clusters) {
      io.out(displaySafe(`${c.cluster ?? c.oidcIssuer} OIDC provider ${c.verdict}`));
      for (const r of c.reasons) io.out(`  - ${displaySafe(r)}`);
      const steps = options.steps?.clusters.get(idOf(c));
      if (steps && steps.before.length > 0) {
        io.out('  before any namespace (cluster-wide):');
        for (const line of stepLines(steps.before, '    ', { why: false })) io.out(line);
      }
      if (steps && steps.after.length > 0) {
        io.out('  after every namespace:');
        for (const line of stepLines(steps.after, '    ', { why: false })) io.out(line);
      }
    }
  }
}

/** Worst verdict first; within a verdict, the report's order (cluster, namespace). */
function worstFirst(namespaces: readonly NamespaceReadiness[]): NamespaceReadiness[] {
  return namespaces
    .map((n, i) => ({ n, i }))
    .sort((a, b) => rank(a.n.verdict) - rank(b.n.verdict) || a.i - b.i)
    .map(({ n }) => n);
}

/** ` (3 UNKNOWN, 120 NOT_STARTED, …)`: what the hidden rows are. */
function counts(namespaces: readonly NamespaceReadiness[]): string {
  const byVerdict = new Map<Verdict, number>();
  for (const n of namespaces) byVerdict.set(n.verdict, (byVerdict.get(n.verdict) ?? 0) + 1);
  return ` (${VERDICT_ORDER.filter((v) => byVerdict.has(v)).map((v) => `${byVerdict.get(v)!.toLocaleString('en-US')} ${v}`).join(', ')})`;
}

function namespaceRow(n: NamespaceReadiness, asOf: Date): Cell[] {
  return [
    clusterLabel(n),
    n.namespace,
    verdictCell(n),
    n.lastIrsa === null ? '-' : `${shortTime(n.lastIrsa)} (${age(n.lastIrsa, asOf)})`,
    shortTime(n.lastPodIdentity),
    n.soakDaysLeft === null ? '-' : `${n.soakDaysLeft}d`,
    n.serviceAccounts.join(', '),
  ];
}

function clusterRow(c: ClusterReadiness): Cell[] {
  return [
    clusterLabel(c),
    c.verdict,
    c.namespaceCounts.UNKNOWN,
    c.namespaceCounts.NOT_STARTED,
    c.namespaceCounts.IN_PROGRESS,
    c.namespaceCounts.SOAKING,
    c.namespaceCounts.READY,
    c.blockers.length === 0 ? '-' : c.blockers.map((b) => b.namespace).join(', '),
  ];
}

/** Why verdicts are UNKNOWN, each cause once with the namespaces it holds back: the fix comes first. */
export function printUnknownCauses(report: ReadinessReport, io: Io): void {
  const byCause = new Map<string, string[]>();
  for (const n of report.namespaces) {
    for (const cause of n.unknownBecause) {
      const where = byCause.get(cause) ?? [];
      where.push(`${n.cluster ?? n.oidcIssuer?.split('/').pop()}/${n.namespace}`);
      byCause.set(cause, where);
    }
  }
  if (byCause.size === 0) return;
  io.out('');
  io.out('UNKNOWN: the evidence cannot tell, and why:');
  for (const [cause, where] of byCause) io.out(displaySafe(`  ${where.length > 3 ? `${where.slice(0, 3).join(', ')} and ${where.length - 3} more` : where.join(', ')}: ${cause}`));
}

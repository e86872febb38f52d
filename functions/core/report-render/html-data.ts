import { ArrayAsWritten, displaySafe } from '../display';
import { VERDICT_ORDER, type Verdict } from '../readiness';
import { NEXT_STEPS, NEXT_STEP_TITLES, stragglerPlan, type NamespaceSection, type Straggler, type StragglerReport } from '../report';
import { shortTime, timeAndAge } from './common';

/**
 * The rows of the HTML report as data the page renders itself, a page of rows at a time and only
 * for the clusters a reader opens: a fleet of 20,000 namespaces is a few MB of JSON instead of tens
 * of MB of table markup the browser would lay out before showing anything.
 *
 * Rows are arrays, not objects (the keys would be a third of the bytes); every string is
 * `displaySafe` already, so the page shows a bidi override or a line break as visible text
 * (it sets `textContent`, never HTML) and a copy button copies exactly what is shown.
 */

/** `[namespace, verdict, last IRSA, last Pod Identity, soak, IRSA assumes, Pod Identity assumes, service accounts, reasons, chart]` */
export type NamespaceRow = [string, number, string, string, string, number, number, string, string[], number];
/** `[namespace, service account, role ARN, last IRSA, last Pod Identity, association, next step, commands, namespace verdict]` */
export type StragglerRow = [string, string, string, string, string, string, number, string[], number];

export interface ClusterRows {
  name: string;
  ns: NamespaceRow[];
  st: StragglerRow[];
  cu: StragglerRow[];
}

/** A namespace's daily chart: series of `days` (padded with nulls to `total` on the page), markers, the soak band. */
export interface NamespaceChart {
  total: number;
  irsa: readonly number[];
  irsaFailed: readonly number[] | null;
  podIdentity: readonly number[];
  podIdentityFailed: readonly number[] | null;
  markers: { pos: number; label: string; color: string; dash: boolean; row: number }[];
  band: [number, number] | null;
  futureFrom: number | null;
}

/** One group per cluster section, in the order of `report.clusters`, then any place only the rows name. */
export interface RowGroup {
  clusterId: string;
  name: string;
  namespaces: NamespaceSection[];
  stragglers: Straggler[];
  readyToCleanUp: Straggler[];
}

export function rowGroups(report: StragglerReport): RowGroup[] {
  const groups = new Map<string, RowGroup>();
  const groupOf = (clusterId: string, name: string): RowGroup => {
    let g = groups.get(clusterId);
    if (!g) groups.set(clusterId, (g = { clusterId, name, namespaces: [], stragglers: [], readyToCleanUp: [] }));
    return g;
  };
  for (const c of report.clusters) groupOf(c.clusterId, c.cluster);
  for (const n of report.namespaces) groupOf(n.clusterId, n.cluster).namespaces.push(n);
  for (const s of report.stragglers) groupOf(s.clusterId, s.cluster).stragglers.push(s);
  for (const s of report.readyToCleanUp) groupOf(s.clusterId, s.cluster).readyToCleanUp.push(s);
  return [...groups.values()];
}

const verdictIndex = (v: Verdict) => VERDICT_ORDER.indexOf(v);

export function soakText(n: NamespaceSection): string {
  return n.verdict === 'SOAKING' ? `ends ${shortTime(n.soakEndsAt)} (${n.soakDaysLeft} d left)` : n.verdict === 'READY' && n.soakEndsAt ? 'complete' : '-';
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

export function namespaceRow(report: StragglerReport, n: NamespaceSection, chart: number): NamespaceRow {
  return [
    displaySafe(n.namespace),
    verdictIndex(n.verdict),
    timeAndAge(n.lastIrsa, report.asOf),
    shortTime(n.lastPodIdentity),
    soakText(n),
    sum(n.daily.irsa) + sum(n.daily.irsaFailed),
    sum(n.daily.podIdentity),
    displaySafe(n.serviceAccounts.join(', ')),
    n.reasons.map(displaySafe),
    chart,
  ];
}

export function stragglerRow(report: StragglerReport, s: Straggler): StragglerRow {
  return [
    displaySafe(s.namespace),
    displaySafe(s.serviceAccount),
    s.role === null ? '' : displaySafe(s.role),
    timeAndAge(s.lastIrsa, report.asOf),
    shortTime(s.lastPodIdentity),
    !s.hasAssociation ? '' : s.associationCreatedAt ? `since ${s.associationCreatedAt.slice(0, 10)}` : 'yes',
    NEXT_STEPS.indexOf(s.nextStep),
    stragglerPlan(s, report.preflight).commands.map(displaySafe),
    verdictIndex(s.namespaceVerdict),
  ];
}

/** What the page's script reads from `#cw-data`. */
export interface PageData {
  verdicts: readonly Verdict[];
  steps: { id: string; title: string }[];
  colors: unknown;
  /** Day labels for the charts: the report's days, then as many more as the longest soak needs. */
  dayLabels: string[];
  clusterChart: { labels: string[]; counts: Record<string, number[]> };
  fleet: { irsa: number[]; podIdentity: number[] };
  groups: ClusterRows[];
  charts: NamespaceChart[];
}

export function stepList(): PageData['steps'] {
  return NEXT_STEPS.map((id) => ({ id, title: NEXT_STEP_TITLES[id] }));
}

const DAY = 86_400_000;

export interface ChartColors {
  lastIrsa: string;
  soakEnd: string;
  asOf: string;
}

/**
 * The chart of one namespace: daily assumes over the report's days (extended to the soak end while
 * soaking), a dashed marker at the last IRSA assume, a marker at the soak end, the soak window
 * shaded, and the days after the as-of greyed. A position is a fractional day index: day i's bar is
 * centred on i, so a time t sits at (t - first day) / 1 day - 0.5.
 */
export function namespaceChart(report: StragglerReport, n: NamespaceSection, colors: ChartColors): NamespaceChart {
  const first = Date.parse(`${report.days[0]}T00:00:00Z`);
  const lastDay = Date.parse(`${report.days[report.days.length - 1]}T00:00:00Z`);
  const soakEnd = n.soakEndsAt === null ? null : Date.parse(n.soakEndsAt);
  const extraDays = soakEnd !== null && soakEnd > lastDay + DAY ? Math.ceil((soakEnd - (lastDay + DAY)) / DAY) : 0;
  const total = report.days.length + extraDays;
  const pos = (t: number) => (t - first) / DAY - 0.5;
  const min = -0.5;
  const max = total - 0.5;
  const markers: NamespaceChart['markers'] = [];
  if (n.lastIrsa !== null) {
    const p = pos(Date.parse(n.lastIrsa));
    markers.push(
      p < min
        ? { pos: min, label: `◀ last IRSA ${n.lastIrsa.slice(5, 10)}`, color: colors.lastIrsa, dash: true, row: 0 }
        : { pos: p, label: 'last IRSA', color: colors.lastIrsa, dash: true, row: 0 },
    );
  }
  if (soakEnd !== null && pos(soakEnd) >= min && pos(soakEnd) <= max) {
    markers.push({ pos: pos(soakEnd), label: soakEnd > Date.parse(report.asOf) ? `soak ends ${n.soakEndsAt!.slice(5, 10)}` : 'soak complete', color: colors.soakEnd, dash: false, row: 1 });
  }
  const asOf = pos(Date.parse(report.asOf));
  if (extraDays > 0) markers.push({ pos: asOf, label: 'as of', color: colors.asOf, dash: false, row: 2 });
  const any = (values: readonly number[]) => values.some((v) => v > 0);
  return {
    total,
    irsa: n.daily.irsa,
    irsaFailed: any(n.daily.irsaFailed) ? n.daily.irsaFailed : null,
    podIdentity: n.daily.podIdentity,
    podIdentityFailed: any(n.daily.podIdentityFailed) ? n.daily.podIdentityFailed : null,
    markers,
    band: n.lastIrsa !== null && soakEnd !== null ? [Math.max(min, pos(Date.parse(n.lastIrsa))), Math.min(max, pos(soakEnd))] : null,
    futureFrom: extraDays > 0 ? asOf : null,
  };
}

/** Which namespaces get a chart: non-READY ones first (worst verdict first), then READY ones; at most `max`. */
export function chartedNamespaces(report: StragglerReport, max: number): Set<NamespaceSection> {
  const rank = (n: NamespaceSection) => VERDICT_ORDER.indexOf(n.verdict);
  return new Set([...report.namespaces].sort((a, b) => rank(a) - rank(b)).slice(0, max));
}

/** `2026-11-19` → `Nov 19` */
export function dayLabel(day: string): string {
  const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][Number(day.slice(5, 7)) - 1] ?? day.slice(5, 7);
  return `${month} ${Number(day.slice(8, 10))}`;
}

/**
 * Every row of the report, grouped as the page's cluster sections are, with the charts they point
 * at. The rows of a cluster are made when the page data is written that far (`ArrayAsWritten`),
 * and let go once written: held whole, the rows of 40,000 namespaces (and their commands) were
 * the report's peak.
 */
export function pageData(
  report: StragglerReport,
  groups: readonly RowGroup[],
  options: { colors: ChartColors & { verdict: Record<string, string> }; maxNamespaceCharts: number },
): Omit<PageData, 'groups'> & { groups: ArrayAsWritten<ClusterRows> } {
  const charted = chartedNamespaces(report, options.maxNamespaceCharts);
  // Made first, in the rows' order: the day labels reach as far as the longest chart.
  const charts: NamespaceChart[] = [];
  const chartOf = new Map<NamespaceSection, number>();
  for (const g of groups) for (const n of g.namespaces) if (charted.has(n)) chartOf.set(n, charts.push(namespaceChart(report, n, options.colors)) - 1);
  const rows = new ArrayAsWritten(function* (): Generator<ClusterRows> {
    for (const g of groups) {
      yield {
        name: displaySafe(g.name),
        ns: g.namespaces.map((n) => namespaceRow(report, n, chartOf.get(n) ?? -1)),
        st: g.stragglers.map((s) => stragglerRow(report, s)),
        cu: g.readyToCleanUp.map((s) => stragglerRow(report, s)),
      };
    }
  });
  const longest = Math.max(report.days.length, ...charts.map((c) => c.total));
  const first = Date.parse(`${report.days[0]}T00:00:00Z`);
  return {
    verdicts: VERDICT_ORDER,
    steps: stepList(),
    colors: options.colors,
    dayLabels: Array.from({ length: longest }, (_, i) => dayLabel(new Date(first + i * DAY).toISOString().slice(0, 10))),
    clusterChart: {
      // Drawn on a canvas as they are: bidi controls there would reorder the label.
      labels: report.clusters.map((c) => displaySafe(c.cluster)),
      counts: Object.fromEntries(VERDICT_ORDER.map((v) => [v, report.clusters.map((c) => c.namespaceCounts[v])])),
    },
    fleet: {
      irsa: report.fleetDaily.irsa.map((v, i) => v + (report.fleetDaily.irsaFailed[i] ?? 0)),
      podIdentity: report.fleetDaily.podIdentity.map((v, i) => v + (report.fleetDaily.podIdentityFailed[i] ?? 0)),
    },
    groups: rows,
    charts,
  };
}

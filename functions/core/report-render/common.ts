import { roleName, VERDICT_ORDER, type Verdict } from '../readiness';
import { NEXT_STEPS, NEXT_STEP_TITLES, type NextStep, type ReportChanges, type Straggler, type StragglerReport } from '../report';

/** `2026-11-22T10:00:00Z` → `2026-11-22 10:00`; null → `-`. */
export function shortTime(iso: string | null): string {
  return iso === null ? '-' : iso.slice(0, 16).replace('T', ' ');
}

/** How long before the as-of, in the largest unit that reads well: `3h`, `10d`. */
export function age(iso: string | null, asOf: string): string {
  if (iso === null) return '-';
  const hours = (Date.parse(asOf) - Date.parse(iso)) / 3_600_000;
  if (hours < 0) return 'later';
  if (hours < 1) return `${Math.round(hours * 60)}m`;
  if (hours < 48) return `${Math.round(hours)}h`;
  return `${Math.round(hours / 24)}d`;
}

export const timeAndAge = (iso: string | null, asOf: string): string => (iso === null ? '-' : `${shortTime(iso)} (${age(iso, asOf)} ago)`);

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? word : many}`;
}

export const roleLabel = (role: string | null): string => (role === null ? '-' : roleName(role));

export function verdictLine(counts: Record<Verdict, number>): string {
  return VERDICT_ORDER.map((v) => `${counts[v]} ${v}`).join(', ');
}

export function headline(report: StragglerReport): string[] {
  const t = report.totals;
  return [
    `${plural(t.namespaces, 'namespace')} in ${plural(t.clusters, 'cluster')}: ${verdictLine(t.verdicts)}`,
    `${plural(t.stragglerServiceAccounts, 'service account')} still on IRSA` +
      (t.stragglers !== t.stragglerServiceAccounts ? ` (${plural(t.stragglers, 'service account and role pair')})` : '') +
      `, ${t.readyToCleanUp.toLocaleString('en-US')} ready to clean up, ${t.oidcProvidersReady} of ${plural(t.clusters, 'OIDC provider')} ready to retire`,
  ];
}

/** The selection a filtered report was made with (`-c … -n … --account …`), or null for the whole fleet. */
export function filtersLine(report: StragglerReport): string | null {
  const f = report.filters;
  if (f === undefined) return null;
  const parts = (
    [
      ['-c', f.cluster],
      ['-n', f.namespace],
      ['--account', f.account],
    ] as const
  )
    .filter(([, globs]) => globs !== undefined && globs.length > 0)
    .map(([flag, globs]) => `${flag} ${globs!.join(',')}`);
  return `filtered: ${parts.join(' ')}: every row, change and total is of this selection only`;
}

export function settingsLine(report: StragglerReport): string {
  return `as of ${shortTime(report.asOf)} UTC · soak ${report.soakDays} days · active window ${report.activeHours} h`;
}

/** Stragglers grouped by next step, in the order a person works through them. */
export function byNextStep(rows: readonly Straggler[]): { step: NextStep; title: string; rows: Straggler[] }[] {
  return NEXT_STEPS.map((step) => ({ step, title: NEXT_STEP_TITLES[step], rows: rows.filter((r) => r.nextStep === step) })).filter(
    (g) => g.rows.length > 0,
  );
}

/** What each next step means, said once per group (the rows carry the specific command). */
export const NEXT_STEP_HELP: Record<NextStep, string> = {
  'create-association':
    'no Pod Identity association: let the role trust pods.eks.amazonaws.com (sts:AssumeRole, sts:TagSession; keep the OIDC statement), create the association, restart the pods',
  'check-trust-policy':
    "Pod Identity fetches were denied in the cluster within the soak window and these service accounts have not assumed their role through Pod Identity since: check the role's trust policy (pods.eks.amazonaws.com, sts:AssumeRole and sts:TagSession, aws:RequestTag conditions), then restart the pods",
  'restart-pods':
    'the association exists, but running pods were started before it (or still carry the IRSA annotation): kubectl rollout restart the workloads',
  'clean-up':
    'soak complete: remove the eks.amazonaws.com/role-arn annotation and the OIDC statement from the role trust policy',
};

export function hasChanges(c: ReportChanges): boolean {
  return (
    c.newlyReady.length + c.regressions.length + c.progressed.length + c.newNamespaces.length + c.goneNamespaces.length + c.newStragglers.length + c.resolvedStragglers.length >
    0
  );
}

export const verdictMove = (from: Verdict | null, to: Verdict | null): string => `${from ?? 'new'} → ${to ?? 'gone'}`;

/** Left-aligned columns separated by two spaces, trailing blanks trimmed. */
export function columns(head: string[], rows: string[][], indent = ''): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => (indent + cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).trimEnd();
  return [line(head), ...rows.map(line)];
}

/** The rows of the "ready to clean up" table (text and Markdown share the columns). */
export const CLEAN_UP_COLUMNS = ['Cluster', 'Namespace', 'Service account', 'Role', 'Last IRSA'];
export function cleanUpRows(report: StragglerReport): string[][] {
  return report.readyToCleanUp.map((s) => [s.cluster, s.namespace, s.serviceAccount, roleLabel(s.role), timeAndAge(s.lastIrsa, report.asOf)]);
}

/** The rows of the namespaces table, with the soak clock in words. */
export const NAMESPACE_COLUMNS = ['Cluster', 'Namespace', 'Verdict', 'Last IRSA', 'Last Pod Identity', 'Soak'];
export function namespaceRows(report: StragglerReport): string[][] {
  return report.namespaces.map((n) => [
    n.cluster,
    n.namespace,
    n.verdict,
    timeAndAge(n.lastIrsa, report.asOf),
    shortTime(n.lastPodIdentity),
    n.verdict === 'SOAKING' ? `ends ${shortTime(n.soakEndsAt)} (${n.soakDaysLeft}d left)` : n.verdict === 'READY' && n.soakEndsAt ? 'complete' : '-',
  ]);
}

/** Where complete CloudTrail ends, per account/region: what every verdict of the report rests on. */
export function evidenceLine(report: StragglerReport): string {
  if (report.coverage.length === 0) return 'evidence through: no complete CloudTrail read yet: no verdict can be SOAKING or READY';
  const parts = report.coverage.map((c) => `${c.account}/${c.region} ${shortTime(c.through)}${c.gaps.length > 0 ? ` (${plural(c.gaps.length, 'hole')})` : ''}`);
  return `evidence through: ${parts.join(' · ')}`;
}

/** One line per UNKNOWN namespace: its last well-founded verdict and the first cause, with its fix. */
export function unknownLines(report: StragglerReport): string[] {
  return report.namespaces
    .filter((n) => n.verdict === 'UNKNOWN')
    .map(
      (n) =>
        `${n.cluster}/${n.namespace}` +
        (n.lastWellFounded ? ` (${n.lastWellFounded.verdict} through ${n.lastWellFounded.through.slice(0, 10)})` : '') +
        `: ${n.unknownBecause[0] ?? 'the evidence cannot tell'}`,
    );
}

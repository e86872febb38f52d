import { groupedBy } from './collections';
import type { CoverageSummary } from './coverage';
import { ArrayAsWritten, shellCommand } from './display';
import { compileGlobs, type GlobMatcher } from './glob';
import type { EvidenceItem } from './evidence';
import type { Inventory, InventoryAssociation } from './inventory';
import { clusterSteps, stepsOfRow, type PlanStep } from './plan';
import { ownerLabel, ownerOf, type Owner, type Policy } from './policy';
import { preflight, type PreflightFinding } from './preflight';
import {
  roleName,
  VERDICT_ORDER,
  type ClusterReadiness,
  type ClusterVerdict,
  type ClusterWarning,
  type NamespaceReadiness,
  type ReadinessReport,
  type ServiceAccountEvidence,
  type Verdict,
} from './readiness';
import { isoTime as iso } from './iso-time';

/**
 * The straggler report: who still assumes roles through IRSA, what each of them should do next,
 * what can be cleaned up, and what changed since the previous report. Built from a
 * ReadinessReport (so its verdicts and times are exactly those of `readiness`), the daily counts
 * of the last 30 days (for the charts) and the previous report's summary. Pure: no I/O, no clock.
 */

/** Days of daily counts a report shows, ending with the day of the as-of. */
export const REPORT_WINDOW_DAYS = 30;
export const REPORT_SUMMARY_VERSION = 1;

/** One namespace's counts on one UTC day, in one scope (`cluster:<arn>` or `issuer:<issuer>`), as the store keeps them. */
export interface DayCount {
  scope: string;
  namespace: string;
  /** `YYYY-MM-DD`, UTC. */
  day: string;
  irsaOk: number;
  irsaFailed: number;
  piOk: number;
  piFailed: number;
}

/** The roles one service account assumed through an OIDC issuer (IRSA), as opposed to Pod Identity. */
export interface IrsaRoleUse {
  oidcIssuer: string;
  namespace: string;
  serviceAccount: string;
  roles: string[];
}

/**
 * What a straggler should do next:
 * - `create-association`  no Pod Identity association for the service account;
 * - `restart-pods`        the association exists, but running pods were started before it (or from a
 *                         spec that still carries the IRSA annotation) and keep the IRSA environment;
 * - `check-trust-policy`  the association exists, Pod Identity fetches were denied in the cluster
 *                         within the soak window, and this service account has not assumed a role
 *                         through Pod Identity since: fix the role's trust before restarting;
 * - `clean-up`            the namespace is READY (soak complete): remove the IRSA annotation and the
 *                         role's OIDC trust statement.
 */
export type NextStep = 'create-association' | 'restart-pods' | 'check-trust-policy' | 'clean-up';
export const NEXT_STEPS: readonly NextStep[] = ['create-association', 'check-trust-policy', 'restart-pods', 'clean-up'];
export const NEXT_STEP_TITLES: Record<NextStep, string> = {
  'create-association': 'create the association',
  'check-trust-policy': 'check the trust policy',
  'restart-pods': 'restart the pods',
  'clean-up': 'remove the annotation and the OIDC statement',
};

/** One (cluster, namespace, service account, role) that assumes (or assumed) the role through IRSA. */
export interface Straggler {
  /** `<clusterId>|<namespace>|<serviceAccount>|<role ARN or empty>`: stable across reports. */
  id: string;
  /** Cluster ARN, or `issuer:<issuer>` when the inventory maps the issuer to no cluster. */
  clusterId: string;
  /** The cluster's name (with account and region when two clusters share a name), or `(issuer <id>)`. */
  cluster: string;
  clusterArn: string | null;
  oidcIssuer: string | null;
  namespace: string;
  serviceAccount: string;
  /** The role assumed through IRSA; null when the evidence names none. */
  role: string | null;
  namespaceVerdict: Verdict;
  lastIrsa: string;
  lastPodIdentity: string | null;
  hasAssociation: boolean;
  /** The association's role and creation time, when the inventory tells them. */
  associationRole: string | null;
  associationCreatedAt: string | null;
  /** Last IRSA assume within the active window (false only for quiet service accounts of NOT_STARTED namespaces, and for clean-ups). */
  irsaInActiveWindow: boolean;
  nextStep: NextStep;
  /** The next step for this row, in one sentence; its commands are its plan's (`stragglerPlan`). */
  nextStepText: string;
  /** Who owns the namespace (the policy's `owners`), when the report was given a policy with owners. */
  owner?: Owner | null;
}

/** A row's plan: what `cutover-watch plan` prints for it, and what the report's documents write beside it. */
export interface StragglerPlan {
  /** Commands that carry it out, in order: every command of `steps` (a person checks and runs them; nothing runs them for you). */
  commands: string[];
  /** The ordered steps (core/plan.ts, default options): preflight fixes first. */
  steps: PlanStep[];
}

/**
 * A row's plan, made when a renderer reaches the row and not kept on it: held on every row, the
 * plans of 40,000 namespaces were a third of the report's memory (84 of 260 MB).
 */
export function stragglerPlan(s: Straggler, preflight: readonly PreflightFinding[]): StragglerPlan {
  const steps = stepsOfRow(s, preflight, {});
  return { commands: steps.flatMap((step) => step.commands.map((c) => c.run)), steps };
}

export type PlannedStraggler = Straggler & StragglerPlan;

/** The report's JSON and YAML document: each row with its plan (after its next step, before its owner). */
export type ReportDocument = Omit<StragglerReport, 'stragglers' | 'readyToCleanUp'> & { stragglers: PlannedStraggler[]; readyToCleanUp: PlannedStraggler[] };

/**
 * `ReportDocument` to be written: each row's plan is made as the row is written (`ArrayAsWritten`).
 * Made whole, the plans of 40,000 namespaces (a 266 MB document) took `report -o json` to 1.5 GB.
 */
export function reportDocument(report: StragglerReport): Omit<ReportDocument, 'stragglers' | 'readyToCleanUp'> & { stragglers: ArrayAsWritten<PlannedStraggler>; readyToCleanUp: ArrayAsWritten<PlannedStraggler> } {
  const planned = (rows: readonly Straggler[]) =>
    new ArrayAsWritten(function* (): Generator<PlannedStraggler> {
      for (const s of rows) {
        const { owner, ...row } = s;
        const plan = stragglerPlan(s, report.preflight);
        yield 'owner' in s ? { ...row, ...plan, owner } : { ...row, ...plan };
      }
    });
  return { ...report, stragglers: planned(report.stragglers), readyToCleanUp: planned(report.readyToCleanUp) };
}

/** Counts per day of `StragglerReport.days`. Read-only: a namespace's all-zero series is one array shared by every such series. */
export interface DailySeries {
  irsa: readonly number[];
  irsaFailed: readonly number[];
  podIdentity: readonly number[];
  podIdentityFailed: readonly number[];
}

export interface NamespaceSection {
  /** `<clusterId>|<namespace>` */
  id: string;
  clusterId: string;
  cluster: string;
  clusterArn: string | null;
  oidcIssuer: string | null;
  namespace: string;
  verdict: Verdict;
  lastIrsa: string | null;
  firstPodIdentity: string | null;
  lastPodIdentity: string | null;
  /** When the soak period ends (SOAKING) or ended (READY after IRSA); null when there is no soak clock. */
  soakEndsAt: string | null;
  soakDaysLeft: number | null;
  serviceAccounts: string[];
  reasons: string[];
  /** Complete CloudTrail of every account/region this namespace needs ends here (null: none read). */
  evidenceThrough: string | null;
  /** UNKNOWN only: why, each with the command that fixes it. */
  unknownBecause: string[];
  /** UNKNOWN only: the latest verdict the evidence did support, and until when. */
  lastWellFounded: { verdict: Verdict; through: string } | null;
  /** Counts per day of `StragglerReport.days`. */
  daily: DailySeries;
  /** Who owns it (the policy's `owners`), when the report was given a policy with owners. */
  owner?: Owner | null;
}

export interface ClusterSection {
  clusterId: string;
  cluster: string;
  name: string | null;
  clusterArn: string | null;
  oidcIssuer: string | null;
  /** The OIDC provider's verdict, as `readiness` gives it. */
  verdict: ClusterVerdict;
  namespaceCounts: Record<Verdict, number>;
  namespaces: number;
  blockers: { namespace: string; verdict: Verdict }[];
  warnings: ClusterWarning[];
  reasons: string[];
  /** What to do with the OIDC provider. */
  nextStep: string;
  /** Cluster-wide steps (core/plan.ts): preflight fixes before any namespace's, eksctl and the OIDC provider's deletion after. */
  steps: { before: PlanStep[]; after: PlanStep[] };
  stragglers: number;
  readyToCleanUp: number;
}

export interface NamespaceRef {
  id: string;
  cluster: string;
  namespace: string;
}

export interface NamespaceChange extends NamespaceRef {
  from: Verdict | null;
  to: Verdict | null;
}

export interface StragglerRef {
  id: string;
  cluster: string;
  namespace: string;
  serviceAccount: string;
  role: string | null;
}

export interface ReportChanges {
  /** The as-of of the report compared with; null for the first report. */
  previousAsOf: string | null;
  /** Why the comparison is partial, if it is. */
  notes: string[];
  newlyReady: NamespaceChange[];
  /** Verdicts that went back (READY → IN_PROGRESS, SOAKING → IN_PROGRESS, …). */
  regressions: NamespaceChange[];
  /** Verdicts that moved forward, short of READY. */
  progressed: NamespaceChange[];
  newNamespaces: NamespaceChange[];
  goneNamespaces: NamespaceChange[];
  newStragglers: StragglerRef[];
  resolvedStragglers: StragglerRef[];
}

export interface StragglerReport {
  kind: 'cutover-watch-report';
  asOf: string;
  soakDays: number;
  activeHours: number;
  /** The UTC days of the daily series, oldest first: 30 days ending with the day of the as-of. */
  days: string[];
  totals: {
    clusters: number;
    oidcProvidersReady: number;
    namespaces: number;
    verdicts: Record<Verdict, number>;
    stragglers: number;
    stragglerServiceAccounts: number;
    readyToCleanUp: number;
    nextSteps: Record<NextStep, number>;
  };
  clusters: ClusterSection[];
  /** Every namespace of the readiness report, in its order. */
  namespaces: NamespaceSection[];
  /** Still on IRSA: IRSA within the active window, or a namespace that has not started. */
  stragglers: Straggler[];
  /** Soak complete: remove the annotation and the OIDC trust statement. */
  readyToCleanUp: Straggler[];
  /** Fleet totals per day of `days`. */
  fleetDaily: DailySeries;
  changes: ReportChanges;
  /** Findings that belong to no known cluster. */
  warnings: ClusterWarning[];
  /** Per account/region: where complete CloudTrail ends, and its holes in the soak window. */
  coverage: CoverageSummary[];
  /** What must be fixed before (or cleaned up after) the switch (core/preflight.ts); each straggler's steps start with its own. */
  preflight: PreflightFinding[];
  /** Only with `report --by owner` (`groupByOwner`): the stragglers and clean-ups per owner. */
  byOwner?: OwnerGroup[];
  /** Only on a report cut to a selection (`filterReport`): everything above, totals included, is that selection's. */
  filters?: ReportFilters;
}

export interface OwnerGroup {
  /** null: namespaces no `owners` rule matches. */
  owner: Owner | null;
  label: string;
  namespaces: number;
  /** Straggler ids (`Straggler.id`), in the report's order. */
  stragglers: string[];
  readyToCleanUp: string[];
}

/** A selection of the report (`report -c/-n/--account`): globs (core/glob.ts), as given. */
export interface ReportFilters {
  /** Cluster name or ARN. */
  cluster?: string[];
  namespace?: string[];
  /** The 12-digit account of the cluster's ARN. */
  account?: string[];
}

/** What a report keeps for the next one to compare with. */
export interface ReportSummary {
  version: typeof REPORT_SUMMARY_VERSION;
  asOf: string;
  soakDays: number;
  activeHours: number;
  namespaces: (NamespaceRef & { verdict: Verdict })[];
  /** null when the list was too large to keep. */
  stragglers: StragglerRef[] | null;
}

export interface ReportInput {
  readiness: ReadinessReport;
  /** Daily counts; days outside the report's window are ignored. */
  days: readonly DayCount[];
  /** Roles assumed through IRSA per service account (else the service account's roles are used). */
  irsaRoles?: readonly IrsaRoleUse[];
  inventory: Inventory;
  previous: ReportSummary | null;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export function buildReport(input: ReportInput): StragglerReport {
  const { readiness, inventory } = input;
  const asOf = Date.parse(readiness.asOf);
  const activeStart = asOf - readiness.activeHours * HOUR;
  const days = windowDays(readiness.asOf);
  const labels = clusterLabels(readiness);
  const clusterIdOf = (c: { clusterArn: string | null; oidcIssuer: string | null }) => c.clusterArn ?? `issuer:${c.oidcIssuer}`;
  const irsaRoles = new Map((input.irsaRoles ?? []).map((r) => [`${r.oidcIssuer}|${r.namespace}|${r.serviceAccount}`, r.roles]));
  const dayIndex = indexDays(input.days, days);
  const noDays = Object.freeze(zeros(days.length));
  const findings = preflight({ readiness, inventory });
  const associationsOf = associationsByServiceAccount(inventory);
  const fetchDenied = new Map<string, ClusterWarning>();
  for (const c of readiness.clusters) {
    const denied = c.warnings.find((w) => w.type === 'pod-identity-fetch-denied');
    if (denied) fetchDenied.set(clusterIdOf(c), denied);
  }

  const namespaces: NamespaceSection[] = [];
  const stragglers: Straggler[] = [];
  const readyToCleanUp: Straggler[] = [];
  for (const n of readiness.namespaces) {
    const clusterId = clusterIdOf(n);
    const cluster = labels.get(clusterId) ?? clusterId;
    namespaces.push({
      id: `${clusterId}|${n.namespace}`,
      clusterId,
      cluster,
      clusterArn: n.clusterArn,
      oidcIssuer: n.oidcIssuer,
      namespace: n.namespace,
      verdict: n.verdict,
      lastIrsa: n.lastIrsa,
      firstPodIdentity: n.firstPodIdentity,
      lastPodIdentity: n.lastPodIdentity,
      soakEndsAt: n.soakEndsAt ?? (n.verdict === 'READY' && n.lastIrsa !== null ? iso(Date.parse(n.lastIrsa) + readiness.soakDays * DAY) : null),
      soakDaysLeft: n.soakDaysLeft,
      serviceAccounts: n.serviceAccounts,
      reasons: n.reasons,
      evidenceThrough: n.evidenceThrough,
      unknownBecause: n.unknownBecause,
      lastWellFounded: n.lastWellFounded,
      daily: seriesOf(dayIndex, scopesOf(n), n.namespace, days.length, noDays),
    });
    for (const sa of n.detail) {
      if (sa.lastIrsa === null) continue;
      const inWindow = Date.parse(sa.lastIrsa) >= activeStart;
      const cleanUp = n.verdict === 'READY';
      if (!cleanUp && !inWindow && n.verdict !== 'NOT_STARTED') continue; // soaking on its own
      const association = findAssociation(associationsOf, n, sa.serviceAccount);
      const roles = (n.oidcIssuer ? irsaRoles.get(`${n.oidcIssuer}|${n.namespace}|${sa.serviceAccount}`) : undefined) ?? sa.roles;
      const denied = fetchDenied.get(clusterId);
      const nextStep: NextStep = cleanUp
        ? 'clean-up'
        : !sa.hasAssociation
          ? 'create-association'
          : denied && (sa.lastPodIdentity === null || denied.last === null || sa.lastPodIdentity < denied.last)
            ? 'check-trust-policy'
            : 'restart-pods';
      for (const role of roles.length > 0 ? [...roles].sort() : [null]) {
        const row: Straggler = {
          id: `${clusterId}|${n.namespace}|${sa.serviceAccount}|${role ?? ''}`,
          clusterId,
          cluster,
          clusterArn: n.clusterArn,
          oidcIssuer: n.oidcIssuer,
          namespace: n.namespace,
          serviceAccount: sa.serviceAccount,
          role,
          namespaceVerdict: n.verdict,
          lastIrsa: sa.lastIrsa,
          lastPodIdentity: sa.lastPodIdentity,
          hasAssociation: sa.hasAssociation,
          associationRole: association?.roleArn ?? null,
          associationCreatedAt: association?.createdAt ?? null,
          irsaInActiveWindow: inWindow,
          nextStep,
          nextStepText: '',
        };
        row.nextStepText = nextStepText(row, n, sa, denied ?? null);
        (cleanUp ? readyToCleanUp : stragglers).push(row);
      }
    }
  }
  const byStep = (a: Straggler, b: Straggler) =>
    NEXT_STEPS.indexOf(a.nextStep) - NEXT_STEPS.indexOf(b.nextStep) || cmp(a.cluster, b.cluster) || cmp(a.namespace, b.namespace) || cmp(a.serviceAccount, b.serviceAccount) || cmp(a.role ?? '', b.role ?? '');
  stragglers.sort(byStep);
  readyToCleanUp.sort(byStep);

  const clusters = readiness.clusters.map((c) => clusterSection(c, clusterIdOf(c), labels, readiness, stragglers, readyToCleanUp, findings));
  const report: StragglerReport = {
    kind: 'cutover-watch-report',
    asOf: readiness.asOf,
    soakDays: readiness.soakDays,
    activeHours: readiness.activeHours,
    days,
    totals: totalsOf(clusters, namespaces, stragglers, readyToCleanUp),
    clusters,
    namespaces,
    stragglers,
    readyToCleanUp,
    fleetDaily: sumSeries(namespaces.map((n) => n.daily), days.length),
    changes: emptyChanges(null),
    warnings: readiness.warnings,
    coverage: readiness.coverage,
    preflight: findings,
  };
  report.changes = compare(input.previous, summarize(report));
  return report;
}

function totalsOf(clusters: ClusterSection[], namespaces: NamespaceSection[], stragglers: Straggler[], readyToCleanUp: Straggler[]): StragglerReport['totals'] {
  return {
    clusters: clusters.length,
    oidcProvidersReady: clusters.filter((c) => c.verdict === 'READY').length,
    namespaces: namespaces.length,
    verdicts: countVerdicts(namespaces),
    stragglers: stragglers.length,
    stragglerServiceAccounts: new Set(stragglers.map((s) => `${s.clusterId}|${s.namespace}|${s.serviceAccount}`)).size,
    readyToCleanUp: readyToCleanUp.length,
    nextSteps: Object.fromEntries(NEXT_STEPS.map((s) => [s, [...stragglers, ...readyToCleanUp].filter((r) => r.nextStep === s).length])) as Record<NextStep, number>,
  };
}

/**
 * The report cut to a selection, the way `readiness -c/-n/--account` selects: a cluster by its name
 * or ARN, an account by the cluster's ARN (a cluster known only by its OIDC issuer has neither),
 * a namespace by its name. Clusters, namespaces, stragglers, clean-ups, changes and the daily
 * totals keep the selected rows, and the totals are counted again from them, so every number is
 * one of what is shown. What was judged whole stays whole: verdicts, and each OIDC provider's
 * verdict, blockers and next step (a filter chooses rows, never what a verdict sees). Findings of
 * no known cluster go with a cluster or account filter; the evidence line keeps only the selected
 * accounts. The result records `filters`; with no glob given it is the report itself.
 */
export function filterReport(report: StragglerReport, filters: ReportFilters): StragglerReport {
  const matcher = (globs: string[] | undefined): GlobMatcher | null => (globs && globs.length > 0 ? compileGlobs(globs) : null);
  const cluster = matcher(filters.cluster);
  const namespace = matcher(filters.namespace);
  const account = matcher(filters.account);
  if (cluster === null && namespace === null && account === null) return report;

  const names = new Map(report.clusters.map((c) => [c.clusterId, c.name]));
  const placed = new Map<string, boolean>();
  const inPlace = (clusterId: string): boolean => {
    let yes = placed.get(clusterId);
    if (yes === undefined) {
      const arn = clusterId.startsWith('issuer:') ? null : clusterId;
      const name = names.get(clusterId) ?? clusterNameOfArn(arn);
      const arnAccount = accountOfArn(arn);
      yes =
        (cluster === null || (name !== null && cluster(name)) || (arn !== null && cluster(arn))) &&
        (account === null || (arnAccount !== null && account(arnAccount)));
      placed.set(clusterId, yes);
    }
    return yes;
  };
  const shows = (row: { clusterId: string; namespace: string }) => inPlace(row.clusterId) && (namespace === null || namespace(row.namespace));
  // A change names its place only by id: `<clusterId>|<namespace>[|…]`, and no cluster id holds a `|`.
  const showsRef = (ref: { id: string; namespace: string }) => shows({ clusterId: ref.id.split('|')[0]!, namespace: ref.namespace });

  const namespaces = report.namespaces.filter(shows);
  const stragglers = report.stragglers.filter(shows);
  const readyToCleanUp = report.readyToCleanUp.filter(shows);
  const withRows = new Set(namespaces.map((n) => n.clusterId));
  const clusters = report.clusters
    .filter((c) => inPlace(c.clusterId) && (namespace === null || withRows.has(c.clusterId)))
    .map((c): ClusterSection => {
      const rows = namespaces.filter((n) => n.clusterId === c.clusterId);
      return {
        ...c,
        namespaceCounts: countVerdicts(rows),
        namespaces: rows.length,
        stragglers: stragglers.filter((s) => s.clusterId === c.clusterId).length,
        readyToCleanUp: readyToCleanUp.filter((s) => s.clusterId === c.clusterId).length,
      };
    });
  const c = report.changes;
  const recorded: ReportFilters = {};
  if (cluster !== null) recorded.cluster = [...filters.cluster!];
  if (namespace !== null) recorded.namespace = [...filters.namespace!];
  if (account !== null) recorded.account = [...filters.account!];
  return {
    ...report,
    totals: totalsOf(clusters, namespaces, stragglers, readyToCleanUp),
    clusters,
    namespaces,
    stragglers,
    readyToCleanUp,
    fleetDaily: sumSeries(namespaces.map((n) => n.daily), report.days.length),
    changes: {
      ...c,
      newlyReady: c.newlyReady.filter(showsRef),
      regressions: c.regressions.filter(showsRef),
      progressed: c.progressed.filter(showsRef),
      newNamespaces: c.newNamespaces.filter(showsRef),
      goneNamespaces: c.goneNamespaces.filter(showsRef),
      newStragglers: c.newStragglers.filter(showsRef),
      resolvedStragglers: c.resolvedStragglers.filter(showsRef),
    },
    warnings: cluster !== null || account !== null ? [] : report.warnings,
    coverage: account === null ? report.coverage : report.coverage.filter((v) => account(v.account)),
    // A finding of no known cluster goes only with a selection of no cluster or account, as warnings do;
    // a cluster-wide one (the agent) with its cluster when any of its namespaces is selected.
    preflight: (report.preflight ?? []).filter((f) => {
      const nsSelected = namespace === null || (f.namespace === null ? f.clusterArn !== null && withRows.has(f.clusterArn) : namespace(f.namespace));
      return (f.clusterArn === null ? cluster === null && account === null : inPlace(f.clusterArn)) && nsSelected;
    }),
    ...(report.byOwner ? { byOwner: ownerGroups(namespaces, stragglers, readyToCleanUp) } : {}),
    filters: recorded,
  };
}

/**
 * The report with each namespace, straggler and clean-up given its owner (the policy's `owners`:
 * the first rule whose cluster and namespace globs match), and with `group`, the `byOwner`
 * section: per owner, its namespaces, stragglers and clean-ups. Pure.
 */
export function withOwners(report: StragglerReport, policy: Policy, options: { group?: boolean } = {}): StragglerReport {
  const of = (row: { clusterArn: string | null; clusterId: string; namespace: string }) =>
    ownerOf(policy, { cluster: clusterNameOfArn(row.clusterArn) ?? report.clusters.find((c) => c.clusterId === row.clusterId)?.name ?? null, clusterArn: row.clusterArn, namespace: row.namespace });
  const namespaces = report.namespaces.map((n) => ({ ...n, owner: of(n) }));
  const stragglers = report.stragglers.map((s) => ({ ...s, owner: of(s) }));
  const readyToCleanUp = report.readyToCleanUp.map((s) => ({ ...s, owner: of(s) }));
  const owned: StragglerReport = { ...report, namespaces, stragglers, readyToCleanUp };
  if (options.group) owned.byOwner = ownerGroups(namespaces, stragglers, readyToCleanUp);
  return owned;
}

/** Per owner (teams by name, then the unowned), what it has to do. */
function ownerGroups(namespaces: readonly NamespaceSection[], stragglers: readonly Straggler[], readyToCleanUp: readonly Straggler[]): OwnerGroup[] {
  const groups = new Map<string, OwnerGroup>();
  const groupOf = (owner: Owner | null | undefined): OwnerGroup => {
    const key = owner ? JSON.stringify([owner.team, owner.email ?? '', owner.slack ?? '', owner.ticketProject ?? '']) : '';
    let g = groups.get(key);
    if (g === undefined) {
      g = { owner: owner ?? null, label: ownerLabel(owner), namespaces: 0, stragglers: [], readyToCleanUp: [] };
      groups.set(key, g);
    }
    return g;
  };
  for (const n of namespaces) groupOf(n.owner).namespaces += 1;
  for (const s of stragglers) groupOf(s.owner).stragglers.push(s.id);
  for (const s of readyToCleanUp) groupOf(s.owner).readyToCleanUp.push(s.id);
  return [...groups.values()].sort((a, b) => (a.owner === null ? 1 : 0) - (b.owner === null ? 1 : 0) || cmp(a.label, b.label));
}

/** `arn:aws:eks:us-east-1:111122223333:cluster/payments-prod` → `payments-prod` (the cluster ARN format: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelastickubernetesservice.html#amazonelastickubernetesservice-resources-for-iam-policies). */
function clusterNameOfArn(arn: string | null): string | null {
  const resource = arn?.split(':')[5];
  return resource?.startsWith('cluster/') ? resource.slice('cluster/'.length) : null;
}

/** The account of an ARN (`arn:aws:eks:us-east-1:111122223333:cluster/x` → `111122223333`), or null. */
export function accountOfArn(arn: string | null | undefined): string | null {
  const account = arn?.split(':')[4];
  return account && /^\d{12}$/.test(account) ? account : null;
}

/** What the next report compares with: each namespace's verdict and the stragglers' keys. */
export function summarize(report: StragglerReport): ReportSummary {
  return {
    version: REPORT_SUMMARY_VERSION,
    asOf: report.asOf,
    soakDays: report.soakDays,
    activeHours: report.activeHours,
    namespaces: report.namespaces.map((n) => ({ id: n.id, cluster: n.cluster, namespace: n.namespace, verdict: n.verdict })),
    stragglers: report.stragglers.map(stragglerRef),
  };
}

/** A stored summary, checked; null with a reason when it is not one this version can read. */
export function parseSummary(value: unknown): { summary: ReportSummary } | { summary: null; problem: string } {
  const bad = (why: string) => ({ summary: null, problem: `the previous report's summary is unreadable (${why}); comparing with nothing` });
  if (typeof value !== 'object' || value === null) return bad('not an object');
  const v = value as Record<string, unknown>;
  if (v['version'] !== REPORT_SUMMARY_VERSION) return bad(`version ${JSON.stringify(v['version'])}, expected ${REPORT_SUMMARY_VERSION}`);
  if (typeof v['asOf'] !== 'string' || Number.isNaN(Date.parse(v['asOf']))) return bad('no asOf');
  if (!Array.isArray(v['namespaces'])) return bad('no namespaces');
  const isRef = (r: unknown, fields: string[]) => typeof r === 'object' && r !== null && fields.every((f) => typeof (r as Record<string, unknown>)[f] === 'string');
  if (!v['namespaces'].every((n) => isRef(n, ['id', 'cluster', 'namespace', 'verdict']) && VERDICT_ORDER.includes((n as { verdict: Verdict }).verdict))) {
    return bad('a namespace entry is malformed');
  }
  if (v['stragglers'] !== null && !(Array.isArray(v['stragglers']) && v['stragglers'].every((s) => isRef(s, ['id', 'cluster', 'namespace', 'serviceAccount'])))) {
    return bad('a straggler entry is malformed');
  }
  return { summary: value as ReportSummary };
}

/** Pulls the report's inputs out of a store snapshot's items (day items and IRSA service-account items). */
export function reportEvidence(items: readonly EvidenceItem[]): { days: DayCount[]; irsaRoles: IrsaRoleUse[] } {
  const days: DayCount[] = [];
  const irsaRoles: IrsaRoleUse[] = [];
  for (const item of items) {
    if (item.type === 'day') {
      days.push({
        scope: String(item['scope']),
        namespace: String(item['namespace']),
        day: String(item['day']),
        irsaOk: num(item['irsaOk']),
        irsaFailed: num(item['irsaFailed']),
        piOk: num(item['piOk']),
        piFailed: num(item['piFailed']),
      });
    } else if (item.type === 'sa' && String(item['scope']).startsWith('issuer:')) {
      irsaRoles.push({
        oidcIssuer: String(item['scope']).slice('issuer:'.length),
        namespace: String(item['namespace']),
        serviceAccount: String(item['serviceAccount']),
        roles: Array.isArray(item['roles']) ? item['roles'].map(String) : [],
      });
    }
  }
  return { days, irsaRoles };
}

/** The first day of the report's window, `YYYY-MM-DD`: what to read daily counts from. */
export function windowStartDay(asOf: string): string {
  return windowDays(asOf)[0]!;
}

/** 30 UTC days ending with the day of the as-of; an as-of at midnight ends with the day before. */
function windowDays(asOf: string): string[] {
  const last = Date.parse(`${new Date(Date.parse(asOf) - 1).toISOString().slice(0, 10)}T00:00:00Z`);
  return Array.from({ length: REPORT_WINDOW_DAYS }, (_, i) => new Date(last - (REPORT_WINDOW_DAYS - 1 - i) * DAY).toISOString().slice(0, 10));
}

/** Cluster names, qualified with account and region when two clusters share one. */
function clusterLabels(readiness: ReadinessReport): Map<string, string> {
  const places = new Map<string, { cluster: string | null; clusterArn: string | null; oidcIssuer: string | null }>();
  for (const p of [...readiness.clusters, ...readiness.namespaces]) places.set(p.clusterArn ?? `issuer:${p.oidcIssuer}`, p);
  const names = new Map<string, number>();
  for (const p of places.values()) if (p.cluster !== null) names.set(p.cluster, (names.get(p.cluster) ?? 0) + 1);
  const labels = new Map<string, string>();
  for (const [id, p] of places) {
    if (p.cluster === null) labels.set(id, `(issuer ${p.oidcIssuer?.split('/').pop() ?? '?'})`);
    else if ((names.get(p.cluster) ?? 0) > 1 && p.clusterArn) {
      const [, , , region, account] = p.clusterArn.split(':');
      labels.set(id, `${p.cluster} (${account} ${region})`);
    } else labels.set(id, p.cluster);
  }
  return labels;
}

function scopesOf(n: NamespaceReadiness): string[] {
  const scopes: string[] = [];
  if (n.clusterArn) scopes.push(`cluster:${n.clusterArn}`);
  if (n.oidcIssuer) scopes.push(`issuer:${n.oidcIssuer}`);
  return scopes;
}

/** Daily counts per `<scope>|<namespace>`, each at its position in the report's days. */
type DayIndex = Map<string, { at: number; count: DayCount }[]>;

function indexDays(counts: readonly DayCount[], days: string[]): DayIndex {
  const position = new Map(days.map((d, i) => [d, i]));
  const index: DayIndex = new Map();
  for (const count of counts) {
    const at = position.get(count.day);
    if (at === undefined) continue;
    const key = `${count.scope}|${count.namespace}`;
    const list = index.get(key) ?? [];
    list.push({ at, count });
    index.set(key, list);
  }
  return index;
}

function seriesOf(index: DayIndex, scopes: string[], namespace: string, length: number, none: readonly number[]): DailySeries {
  const s = emptySeries(length);
  for (const scope of scopes) {
    for (const { at, count } of index.get(`${scope}|${namespace}`) ?? []) {
      s.irsa[at]! += count.irsaOk;
      s.irsaFailed[at]! += count.irsaFailed;
      s.podIdentity[at]! += count.piOk;
      s.podIdentityFailed[at]! += count.piFailed;
    }
  }
  // Most series of a fleet are all zeros (failures, Pod Identity before the switch, IRSA after it):
  // one frozen array for all of them, instead of a 30-day array each (46 of 175 MB at 40,000 namespaces).
  const shared = (series: number[]): readonly number[] => (series.every((v) => v === 0) ? none : series);
  return { irsa: shared(s.irsa), irsaFailed: shared(s.irsaFailed), podIdentity: shared(s.podIdentity), podIdentityFailed: shared(s.podIdentityFailed) };
}

function sumSeries(all: readonly DailySeries[], length: number): Record<keyof DailySeries, number[]> {
  const s = emptySeries(length);
  for (const d of all) {
    for (let i = 0; i < length; i += 1) {
      s.irsa[i]! += d.irsa[i] ?? 0;
      s.irsaFailed[i]! += d.irsaFailed[i] ?? 0;
      s.podIdentity[i]! += d.podIdentity[i] ?? 0;
      s.podIdentityFailed[i]! += d.podIdentityFailed[i] ?? 0;
    }
  }
  return s;
}

const emptySeries = (length: number): Record<keyof DailySeries, number[]> => ({
  irsa: zeros(length),
  irsaFailed: zeros(length),
  podIdentity: zeros(length),
  podIdentityFailed: zeros(length),
});
const zeros = (length: number): number[] => new Array<number>(length).fill(0);

/**
 * The inventory's associations by namespace and service account, in inventory order: a report
 * looks one up per straggler row, and scanning them all each time was quadratic in the fleet
 * (20,000 rows × 10,000 associations).
 */
function associationsByServiceAccount(inventory: Inventory): Map<string, InventoryAssociation[]> {
  return groupedBy(inventory.associations, (a) => `${a.namespace}\u0000${a.serviceAccount}`);
}

/** The first association of the inventory for the row's cluster, namespace and service account. */
function findAssociation(associationsOf: Map<string, InventoryAssociation[]>, n: NamespaceReadiness, serviceAccount: string): InventoryAssociation | null {
  if (n.clusterArn === null) return null;
  return associationsOf.get(`${n.namespace}\u0000${serviceAccount}`)?.find((a) => a.clusterArn === n.clusterArn || (a.clusterArn === null && a.cluster === n.cluster)) ?? null;
}

/** The row's next step in one sentence; its commands are its steps' (core/plan.ts). */
function nextStepText(row: Straggler, n: NamespaceReadiness, sa: ServiceAccountEvidence, denied: ClusterWarning | null): string {
  const role = row.role ? roleName(row.role) : 'the role';
  const cluster = n.cluster ?? '<cluster>';
  const workloads = `(the deployments, statefulsets and daemonsets that run as ${row.serviceAccount}; cronjobs pick it up on their next run)`;
  switch (row.nextStep) {
    case 'create-association':
      return (
        (n.cluster === null ? `the inventory maps issuer ${n.oidcIssuer} to no cluster: import its describe-cluster output; ` : '') +
        `no Pod Identity association: let ${role} trust pods.eks.amazonaws.com (sts:AssumeRole, sts:TagSession; keep its OIDC statement), ` +
        `create the association, then restart the workloads ${workloads}`
      );
    case 'restart-pods':
      return (
        `the association exists${row.associationCreatedAt ? ` since ${shortDay(row.associationCreatedAt)}` : ''}, but pods started before it ` +
        `(or from a spec that still sets the eks.amazonaws.com/role-arn annotation) keep the IRSA environment: restart the workloads ${workloads}`
      );
    case 'check-trust-policy': {
      const trusted = row.associationRole ?? row.role;
      return (
        `Pod Identity fetches were denied in ${cluster} (${denied?.count ?? '?'} within the soak window${denied?.last ? `, last ${shortDay(denied.last)}` : ''}) ` +
        `and ${row.serviceAccount} has ${sa.lastPodIdentity === null ? 'never assumed its role' : 'not assumed its role'} through Pod Identity since: ` +
        `check that ${trusted ? roleName(trusted) : "the association's role"} trusts pods.eks.amazonaws.com with sts:AssumeRole and sts:TagSession ` +
        `(and that its aws:RequestTag conditions match), then restart the workloads ${workloads}`
      );
    }
    case 'clean-up':
      return (
        `soak complete (last IRSA ${shortDay(row.lastIrsa)}): remove the service account's eks.amazonaws.com/role-arn annotation, and from ${role}'s trust policy ` +
        `the statement that lets system:serviceaccount:${row.namespace}:${row.serviceAccount} in through ${n.oidcIssuer ?? 'the OIDC provider'}`
      );
  }
}

function clusterSection(
  c: ClusterReadiness,
  clusterId: string,
  labels: Map<string, string>,
  readiness: ReadinessReport,
  stragglers: Straggler[],
  readyToCleanUp: Straggler[],
  findings: readonly PreflightFinding[],
): ClusterSection {
  const rows = readiness.namespaces.filter((n) => (n.clusterArn ?? `issuer:${n.oidcIssuer}`) === clusterId);
  const usedIrsa = rows.some((n) => n.lastIrsa !== null);
  let nextStep: string;
  if (c.verdict === 'UNKNOWN') nextStep = `import \`${shellCommand(['aws', 'eks', 'describe-cluster', '--name', c.cluster ?? '<cluster>'])}\` output: its OIDC issuer is not in the inventory`;
  else if (c.verdict === 'READY') {
    nextStep = usedIrsa
      ? `retire the OIDC provider: remove the OIDC trust statements (ready to clean up), then delete the cluster's IAM OIDC provider`
      : 'nothing to retire: no IRSA assume seen through this issuer';
  } else {
    const names = c.blockers.map((b) => b.namespace);
    nextStep = `keep the OIDC provider: ${names.length} namespace${names.length === 1 ? '' : 's'} still need${names.length === 1 ? 's' : ''} it (${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''})`;
  }
  return {
    clusterId,
    cluster: labels.get(clusterId) ?? clusterId,
    name: c.cluster,
    clusterArn: c.clusterArn,
    oidcIssuer: c.oidcIssuer,
    verdict: c.verdict,
    namespaceCounts: c.namespaceCounts,
    namespaces: rows.length,
    blockers: c.blockers.map((b) => ({ namespace: b.namespace, verdict: b.verdict })),
    warnings: c.warnings,
    reasons: c.reasons,
    nextStep,
    steps: clusterSteps(
      { clusterArn: c.clusterArn, name: c.cluster, oidcIssuer: c.oidcIssuer, verdict: c.verdict },
      [...stragglers, ...readyToCleanUp].filter((s) => s.clusterId === clusterId),
      usedIrsa,
      findings,
      {},
    ),
    stragglers: stragglers.filter((s) => s.clusterId === clusterId).length,
    readyToCleanUp: readyToCleanUp.filter((s) => s.clusterId === clusterId).length,
  };
}

function countVerdicts(rows: readonly { verdict: Verdict }[]): Record<Verdict, number> {
  const counts = Object.fromEntries(VERDICT_ORDER.map((v) => [v, 0])) as Record<Verdict, number>;
  for (const r of rows) counts[r.verdict] += 1;
  return counts;
}

const stragglerRef = (s: Straggler): StragglerRef => ({ id: s.id, cluster: s.cluster, namespace: s.namespace, serviceAccount: s.serviceAccount, role: s.role });

function emptyChanges(previousAsOf: string | null): ReportChanges {
  return {
    previousAsOf,
    notes: [],
    newlyReady: [],
    regressions: [],
    progressed: [],
    newNamespaces: [],
    goneNamespaces: [],
    newStragglers: [],
    resolvedStragglers: [],
  };
}

function compare(previous: ReportSummary | null, current: ReportSummary): ReportChanges {
  const changes = emptyChanges(previous?.asOf ?? null);
  if (previous === null) return changes;
  if (previous.asOf > current.asOf) changes.notes.push(`the previous report is as of a later time (${previous.asOf}) than this one`);
  if (previous.soakDays !== current.soakDays || previous.activeHours !== current.activeHours) {
    changes.notes.push(
      `the previous report used a ${previous.soakDays}-day soak and a ${previous.activeHours} h active window, this one ${current.soakDays} days and ${current.activeHours} h`,
    );
  }
  const before = new Map(previous.namespaces.map((n) => [n.id, n]));
  const rank = (v: Verdict) => VERDICT_ORDER.indexOf(v);
  for (const n of current.namespaces) {
    const was = before.get(n.id);
    const change: NamespaceChange = { id: n.id, cluster: n.cluster, namespace: n.namespace, from: was?.verdict ?? null, to: n.verdict };
    if (!was) changes.newNamespaces.push(change);
    else if (was.verdict === n.verdict) continue;
    else if (n.verdict === 'READY') changes.newlyReady.push(change);
    else if (rank(n.verdict) < rank(was.verdict)) changes.regressions.push(change);
    else changes.progressed.push(change);
  }
  const now = new Set(current.namespaces.map((n) => n.id));
  for (const n of previous.namespaces) {
    if (!now.has(n.id)) changes.goneNamespaces.push({ id: n.id, cluster: n.cluster, namespace: n.namespace, from: n.verdict, to: null });
  }
  if (previous.stragglers === null) {
    changes.notes.push('the previous report kept no straggler list (too large to store): new and resolved stragglers are unknown');
  } else {
    const was = new Set(previous.stragglers.map((s) => s.id));
    const is = new Set((current.stragglers ?? []).map((s) => s.id));
    changes.newStragglers = (current.stragglers ?? []).filter((s) => !was.has(s.id));
    changes.resolvedStragglers = previous.stragglers.filter((s) => !is.has(s.id));
  }
  return changes;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const shortDay = (t: string): string => t.slice(0, 10);
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

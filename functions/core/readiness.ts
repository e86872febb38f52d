import {
  coveredThrough,
  DELIVERY_LAG_MS,
  describeGap,
  describeHoleCause,
  gapsIn,
  placeCoverage,
  placeKey,
  summarizeCoverage,
  type CoverageDay,
  type CoverageSummary,
  type PlaceCoverage,
} from './coverage';
import type { EvidenceItem } from './evidence';
import { shellCommand } from './display';
import { roleName } from './keys';

export { roleName };
import type { Inventory, InventoryCluster } from './inventory';
import { isoTime as iso } from './iso-time';
import { flatString, StringPool } from './string-pool';

/**
 * Readiness verdicts, as of a time the caller gives (the core never reads the clock).
 *
 *   NOT_STARTED   no successful Pod Identity assume ever; IRSA seen
 *   IN_PROGRESS   Pod Identity seen, and IRSA within the active window A before T
 *   SOAKING       Pod Identity seen, last IRSA older than A but within the soak S
 *   READY         Pod Identity seen, no IRSA within S before T
 *
 * "IRSA seen" counts every AssumeRoleWithWebIdentity attempt, denied ones too: a pod that still
 * tries IRSA still depends on the OIDC provider.
 */
export type Verdict = 'UNKNOWN' | 'NOT_STARTED' | 'IN_PROGRESS' | 'SOAKING' | 'READY';
export type ClusterVerdict = Verdict;
/** Worst first: UNKNOWN is below everything (a gate asking for SOAKING refuses it). */
export const VERDICT_ORDER: readonly Verdict[] = ['UNKNOWN', 'NOT_STARTED', 'IN_PROGRESS', 'SOAKING', 'READY'];
/** What the evidence says as of a time when the coverage holds (every verdict but UNKNOWN). */
type EvidenceVerdict = Exclude<Verdict, 'UNKNOWN'>;

export interface ReadinessOptions {
  asOf: Date;
  /** @default 14 */
  soakDays?: number;
  /** @default 24 */
  activeHours?: number;
  cluster?: string;
  namespace?: string;
  /** Heartbeat gaps tolerated in live coverage. @default 6 */
  liveGapHours?: number;
  /**
   * Judge the snapshot once and let go of its items as they are judged: its item list is emptied,
   * and each namespace's service accounts and daily counts are garbage once its row is made. For a
   * caller that read a fleet only to judge it: at 80,000 namespaces its ~690,000 items (240 MB
   * live, 560,000 of them daily counts) and its rows (134 MB) held at once were the peak.
   */
  consume?: boolean;
}

/** What the store holds, read for one readiness run (see DynamoEvidenceStore.snapshot). */
export interface EvidenceSnapshot {
  items: EvidenceItem[];
  inventory: Inventory;
  /** What CloudTrail was read completely (core/coverage.ts): without it nothing is SOAKING or READY. */
  coverage: CoverageDay[];
}

export interface ServiceAccountEvidence {
  serviceAccount: string;
  roles: string[];
  lastIrsa: string | null;
  lastPodIdentity: string | null;
  irsaAssumes: number;
  irsaFailed: number;
  podIdentityAssumes: number;
  hasAssociation: boolean;
  /** SDKs seen in this service account's IRSA user agents (`go-v1/1.44.122`, `?/curl/8.5.0`; core/sdk-versions.ts); absent when none was. */
  sdks?: string[];
}

export interface NamespaceReadiness {
  cluster: string | null;
  clusterArn: string | null;
  oidcIssuer: string | null;
  namespace: string;
  verdict: Verdict;
  lastIrsa: string | null;
  firstPodIdentity: string | null;
  lastPodIdentity: string | null;
  soakDaysLeft: number | null;
  soakEndsAt: string | null;
  serviceAccounts: string[];
  roles: string[];
  reasons: string[];
  detail: ServiceAccountEvidence[];
  /** Complete CloudTrail of every account/region this namespace's evidence needs ends here (null: none read). */
  evidenceThrough: string | null;
  /** UNKNOWN only: why, each with the command that fixes it. */
  unknownBecause: string[];
  /** UNKNOWN only: the latest verdict the evidence did support, and up to when ("READY through …"). */
  lastWellFounded: { verdict: EvidenceVerdict; through: string } | null;
}

export interface ClusterWarning {
  type: 'pod-identity-fetch-denied' | 'node-role-calls' | 'issuer-unmapped' | 'untagged-pod-identity';
  message: string;
  count: number;
  last: string | null;
}

export interface ClusterReadiness {
  cluster: string | null;
  clusterArn: string | null;
  oidcIssuer: string | null;
  verdict: ClusterVerdict;
  namespaceCounts: Record<Verdict, number>;
  blockers: { namespace: string; verdict: Verdict; lastIrsa: string | null; serviceAccounts: string[] }[];
  warnings: ClusterWarning[];
  reasons: string[];
  evidenceThrough: string | null;
}

export interface ReadinessReport {
  asOf: string;
  soakDays: number;
  activeHours: number;
  namespaces: NamespaceReadiness[];
  clusters: ClusterReadiness[];
  /** Per account/region: complete CloudTrail from/through, holes in the soak window, sources. */
  coverage: CoverageSummary[];
  /** Findings that belong to no known cluster (node roles never seen fetching, untagged assumes). */
  warnings: ClusterWarning[];
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export function assessReadiness(snapshot: EvidenceSnapshot, options: ReadinessOptions): ReadinessReport {
  const asOf = options.asOf.getTime();
  const asOfIso = iso(asOf);
  const soakDays = options.soakDays ?? 14;
  const activeHours = options.activeHours ?? 24;
  const soakStart = asOf - soakDays * DAY;
  const activeStart = asOf - activeHours * HOUR;
  const byType = groupByType(attributeUntagged(snapshot.items, snapshot.inventory));
  if (options.consume) snapshot.items.length = 0;
  const fleet = new Fleet(snapshot.inventory, byType.get('node-clusters') ?? []);
  const days = new DayIndex(byType.get('day') ?? []);
  byType.delete('day');
  const coverage: CoverageContext = {
    places: placeCoverage(snapshot.coverage, { liveGapHours: options.liveGapHours ?? 6 }),
    unmappedRegions: new Set(
      (byType.get('scope') ?? [])
        .filter((s) => s['kind'] === 'issuer' && !fleet.isMapped(String(s['name'])))
        .map((s) => issuerRegion(String(s['name'])))
        .filter((r): r is string => r !== null),
    ),
  };

  // 1. service-account evidence → (cluster or issuer, namespace) groups
  const groups = new Map<string, { place: Place; namespace: string; sas: EvidenceItem[] }>();
  for (const sa of byType.get('sa') ?? []) {
    const place = fleet.placeOf(String(sa['scope']));
    const namespace = String(sa['namespace']);
    const key = `${place.key}|${namespace}`;
    const group = groups.get(key) ?? { place, namespace, sas: [] };
    group.sas.push(sa);
    groups.set(key, group);
  }
  // from here each namespace's service accounts are held by its group alone (the rows are made from them)
  byType.delete('sa');

  // Every namespace is judged: --namespace chooses the rows shown, not what a cluster's verdict sees.
  const judged: NamespaceReadiness[] = [];
  const texts = new StringPool(1_000_000);
  for (const [key, { place, namespace, sas }] of groups) {
    if (options.consume) groups.delete(key);
    if (options.cluster && place.cluster !== options.cluster && place.clusterArn !== options.cluster) continue;
    const row = judgeWithCoverage(place, namespace, sas, { asOf, soakStart, activeStart, soakDays, days, fleet }, coverage, activeHours);
    if (row) judged.push(keptRow(row, texts));
    // a scope belongs to one place: no other namespace group reads these daily counts
    if (options.consume) for (const sa of sas) days.release(String(sa['scope']), namespace);
  }
  judged.sort((a, b) => cmp(a.cluster ?? `~${a.oidcIssuer}`, b.cluster ?? `~${b.oidcIssuer}`) || cmp(a.namespace, b.namespace));
  const namespaces = judged.filter((n) => !options.namespace || n.namespace === options.namespace);

  // 2. clusters: every place that has namespaces, inventory, or fetch evidence
  const places = new Map<string, Place>();
  for (const row of namespaces) {
    const place = row.clusterArn ? fleet.placeOf(`cluster:${row.clusterArn}`) : fleet.placeOf(`issuer:${row.oidcIssuer}`);
    places.set(place.key, place);
  }
  if (!options.namespace) {
    for (const c of snapshot.inventory.clusters) places.set(c.arn, fleet.placeOf(`cluster:${c.arn}`));
    for (const s of byType.get('scope') ?? []) {
      if (s['kind'] === 'cluster') places.set(String(s['name']), fleet.placeOf(`cluster:${s['name']}`));
    }
  }
  const warnings = new Warnings(byType, fleet, soakStart, asOf);
  const clusters: ClusterReadiness[] = [];
  for (const place of places.values()) {
    if (options.cluster && place.cluster !== options.cluster && place.clusterArn !== options.cluster) continue;
    const rows = judged.filter((n) => (n.clusterArn ?? `issuer:${n.oidcIssuer}`) === place.key);
    clusters.push(judgeCluster(place, rows, warnings.forCluster(place), { asOf, soakDays, activeHours }, coverage));
  }
  clusters.sort((a, b) => cmp(a.cluster ?? `~${a.oidcIssuer}`, b.cluster ?? `~${b.oidcIssuer}`));

  return {
    asOf: asOfIso,
    soakDays,
    activeHours,
    namespaces,
    clusters,
    coverage: summarizeCoverage(coverage.places, { asOf, since: soakStart }),
    warnings: options.cluster ? [] : warnings.unattributed(),
  };
}

interface CoverageContext {
  places: Map<string, PlaceCoverage>;
  /** Regions with IRSA evidence under an issuer the inventory does not map to a cluster. */
  unmappedRegions: Set<string>;
}

/**
 * What a verdict that says "safe" needs, decided here once:
 *
 * - placed: IRSA evidence must belong to a known cluster. A namespace seen only under an issuer the
 *   inventory does not map is UNKNOWN; so is a SOAKING/READY namespace of a cluster whose own issuer
 *   is unknown while unmapped IRSA exists in its region (its IRSA may be filed there).
 * - fresh: complete CloudTrail of every account/region the namespace's evidence was recorded in (the
 *   cluster's, and wherever its IRSA landed: us-east-1 for the global STS endpoint, a role's own
 *   account) reaches to within the active window of the as-of; a verdict then speaks as of where
 *   the coverage ends ("evidence through"), never past it. Older than that is stale: UNKNOWN.
 * - whole: no hole in that coverage over the window the verdict rests on, up to the delivery lag:
 *   READY rests on the whole soak window (no IRSA in it); SOAKING on the time since the last IRSA
 *   (an IRSA hidden in a hole before it would not change the last one, one after it would).
 *
 * NOT_STARTED and IN_PROGRESS claim nothing safe and stand on the evidence alone.
 */
function judgeWithCoverage(
  place: Place,
  namespace: string,
  sas: EvidenceItem[],
  ctx: JudgeContext,
  coverage: CoverageContext,
  activeHours: number,
): NamespaceReadiness | null {
  const base = judgeNamespace(place, namespace, sas, ctx);
  if (!base) return null;
  const needed = neededPlaces(place, sas);
  const through = throughOf(needed, coverage, ctx.asOf);
  const evidenceThrough = through === null ? null : iso(through);
  const unknown = (because: string[], lastWellFounded: NamespaceReadiness['lastWellFounded'] = null): NamespaceReadiness => ({
    ...base,
    verdict: 'UNKNOWN',
    soakDaysLeft: null,
    soakEndsAt: null,
    reasons: [...because, ...base.reasons.map((r) => `evidence alone: ${r}`)],
    evidenceThrough,
    unknownBecause: because,
    lastWellFounded,
  });

  if (place.clusterArn === null) {
    const region = issuerRegion(place.oidcIssuer ?? '');
    return unknown([
      `IRSA issuer ${place.oidcIssuer} maps to no cluster in the inventory, so this namespace cannot be placed: ` +
        `run ${cmd('cutover-watch', 'inventory', 'sync', ...(region ? ['--region', region] : []))} (or import \`aws eks describe-cluster\` output)`,
    ]);
  }
  if (base.verdict !== 'SOAKING' && base.verdict !== 'READY') return { ...base, evidenceThrough, unknownBecause: [], lastWellFounded: null };

  const clusterRegion = arnRegion(place.clusterArn);
  if (place.oidcIssuer === null && clusterRegion !== null && coverage.unmappedRegions.has(clusterRegion)) {
    return unknown([
      `${place.cluster}'s OIDC issuer is not in the inventory and IRSA of an unmapped issuer in ${clusterRegion} is stored: ` +
        `it may be this namespace's; run ${cmd('cutover-watch', 'inventory', 'sync', '--region', clusterRegion)}`,
    ]);
  }

  const held = checkCoverage(needed, coverage, ctx, base, activeHours);
  if (held.ok) {
    const row = held.judgedAt < ctx.asOf ? judgeNamespace(place, namespace, sas, ctxAt(ctx, held.judgedAt))! : base;
    const notes = globalEndpointNotes(place, needed, coverage);
    return { ...row, reasons: [...row.reasons, ...notes], evidenceThrough, unknownBecause: [], lastWellFounded: null };
  }
  return unknown(held.because, lastWellFounded(place, namespace, sas, ctx, coverage, needed, held.retryAt));
}

type CoverageCheck = { ok: true; judgedAt: number } | { ok: false; because: string[]; retryAt: number[] };

/** The rules above, for one namespace's verdict as of `ctx.asOf`. */
function checkCoverage(needed: PlaceRef[], coverage: CoverageContext, ctx: JudgeContext, base: NamespaceReadiness, activeHours: number): CoverageCheck {
  if (needed.length === 0) return { ok: false, because: ['no account or region is known for this evidence, so its coverage cannot be checked'], retryAt: [] };
  const missing = needed.filter((p) => coveredThrough(coverage.places.get(placeKey(p.account, p.region)), ctx.asOf) === null);
  if (missing.length > 0) {
    return {
      ok: false,
      because: missing.map((p) => `no complete CloudTrail of account ${p.account} in ${p.region} was read: analyze its trail's log files (or ${cmd('cutover-watch', 'backfill', '--region', p.region)})`),
      retryAt: [],
    };
  }
  const through = throughOf(needed, coverage, ctx.asOf)!;
  if (ctx.asOf - through > activeHours * HOUR) {
    const behind = needed.filter((p) => coveredThrough(coverage.places.get(placeKey(p.account, p.region)), ctx.asOf) === through);
    return {
      ok: false,
      because: behind.map(
        (p) =>
          `stale: CloudTrail of account ${p.account} in ${p.region} was read only up to ${iso(through)}, ${Math.floor((ctx.asOf - through) / HOUR)} h before the as-of; ` +
          'silence since then is not evidence: read the newer logs (`aws s3 sync …` then `cutover-watch analyze`) or check the trail and the pipeline (`cutover-watch coverage`)',
      ),
      retryAt: [through],
    };
  }
  const judgedAt = through >= ctx.asOf - DELIVERY_LAG_MS ? ctx.asOf : through;
  const end = Math.min(judgedAt, ctx.asOf - DELIVERY_LAG_MS);
  const lastIrsa = base.lastIrsa === null ? null : Date.parse(base.lastIrsa);
  const start = base.verdict === 'SOAKING' && lastIrsa !== null ? lastIrsa : judgedAt - ctx.soakDays * DAY;
  const because: string[] = [];
  const retryAt: number[] = [];
  for (const p of needed) {
    const place = coverage.places.get(placeKey(p.account, p.region))!;
    const gaps = gapsIn(place.intervals, start, end);
    if (gaps.length === 0) continue;
    because.push(
      `a hole in the CloudTrail read for account ${p.account} in ${p.region}: ${gaps.map(describeGap).join(', ')}, inside the window this verdict rests on` +
        `${describeHoleCause(place, start, end)}; ` +
        'an IRSA assume there would not be seen: read those days (their log files, or `cutover-watch backfill`) and run again',
    );
    retryAt.push(...gaps.map(([s]) => s));
  }
  return because.length === 0 ? { ok: true, judgedAt } : { ok: false, because, retryAt };
}

/**
 * For an UNKNOWN: the newest earlier time at which the evidence did support a verdict (the end of
 * the coverage, or just before a hole), so the owner sees "READY through 2026-11-20" beside it.
 */
function lastWellFounded(
  place: Place,
  namespace: string,
  sas: EvidenceItem[],
  ctx: JudgeContext,
  coverage: CoverageContext,
  needed: PlaceRef[],
  candidates: number[],
): NamespaceReadiness['lastWellFounded'] {
  const tried = new Set<number>();
  const queue = [...candidates];
  while (queue.length > 0 && tried.size < 8) {
    const at = Math.max(...queue);
    queue.splice(queue.indexOf(at), 1);
    if (tried.has(at) || at >= ctx.asOf) continue;
    tried.add(at);
    const earlier = ctxAt(ctx, at);
    const row = judgeNamespace(place, namespace, sas, earlier);
    if (!row) continue;
    if (row.verdict !== 'SOAKING' && row.verdict !== 'READY') return { verdict: row.verdict as EvidenceVerdict, through: iso(at) };
    const held = checkCoverage(needed, coverage, earlier, row, Number.POSITIVE_INFINITY);
    if (held.ok) return { verdict: row.verdict as EvidenceVerdict, through: iso(held.judgedAt) };
    queue.push(...held.retryAt);
  }
  return null;
}

function ctxAt(ctx: JudgeContext, at: number): JudgeContext {
  const activeHours = (ctx.asOf - ctx.activeStart) / HOUR;
  return { ...ctx, asOf: at, soakStart: at - ctx.soakDays * DAY, activeStart: at - activeHours * HOUR };
}

interface PlaceRef {
  account: string;
  region: string;
}

/** The cluster's account/region and every one the namespace's assumes were recorded in. */
function neededPlaces(place: Place, sas: EvidenceItem[]): PlaceRef[] {
  const keys = new Set<string>();
  const cluster = place.clusterArn === null ? null : arnAccountRegion(place.clusterArn);
  if (cluster) keys.add(placeKey(cluster.account, cluster.region));
  for (const sa of sas) {
    const places = (sa['places'] as string[] | undefined) ?? [];
    for (const p of places) keys.add(p);
    if (places.length === 0 && typeof sa['account'] === 'string' && typeof sa['region'] === 'string') keys.add(placeKey(sa['account'], sa['region']));
  }
  return [...keys].sort().map((k) => {
    const slash = k.indexOf('/');
    return { account: k.slice(0, slash), region: k.slice(slash + 1) };
  });
}

function throughOf(needed: PlaceRef[], coverage: CoverageContext, asOf: number): number | null {
  let through: number | null = null;
  for (const p of needed) {
    const t = coveredThrough(coverage.places.get(placeKey(p.account, p.region)), asOf);
    if (t === null) return null;
    through = through === null ? t : Math.min(through, t);
  }
  return through;
}

/** IRSA through the global STS endpoint (`sts.amazonaws.com`) is recorded in us-east-1, whatever the cluster's region. */
function globalEndpointNotes(place: Place, needed: PlaceRef[], coverage: CoverageContext): string[] {
  const cluster = place.clusterArn === null ? null : arnAccountRegion(place.clusterArn);
  if (!cluster || cluster.region === 'us-east-1' || needed.some((p) => p.region === 'us-east-1')) return [];
  if (coverage.places.has(placeKey(cluster.account, 'us-east-1'))) return [];
  return [
    `us-east-1 of account ${cluster.account} was never read: IRSA calls through the global STS endpoint are recorded there, not in ${cluster.region}; ` +
      'analyze its logs too if any workload may use it (pods get regional endpoints by default since EKS injects AWS_STS_REGIONAL_ENDPOINTS=regional)',
  ];
}

const arnRegion = (arn: string): string | null => arnAccountRegion(arn)?.region ?? null;

function arnAccountRegion(arn: string): PlaceRef | null {
  const parts = arn.split(':');
  return parts.length >= 6 && parts[3] && parts[4] ? { region: parts[3], account: parts[4] } : null;
}

/** `oidc.eks.<region>.amazonaws.com/id/<ID>` names its region. */
function issuerRegion(issuer: string): string | null {
  return /^oidc\.eks\.([a-z0-9-]+)\.amazonaws\.com/.exec(issuer)?.[1] ?? null;
}

interface Place {
  /** cluster ARN, or `issuer:<issuer>` for an issuer the inventory does not map. */
  key: string;
  cluster: string | null;
  clusterArn: string | null;
  oidcIssuer: string | null;
}

interface JudgeContext {
  asOf: number;
  soakStart: number;
  activeStart: number;
  soakDays: number;
  days: DayIndex;
  fleet: Fleet;
}

function judgeNamespace(place: Place, namespace: string, sas: EvidenceItem[], ctx: JudgeContext): NamespaceReadiness | null {
  const detail = new Map<string, ServiceAccountEvidence>();
  /** Roles assumed through IRSA (issuer scope), per service account: what holds the OIDC provider. */
  const irsaRoles = new Map<string, Set<string>>();
  let firstPi: number | null = null;
  let lastPi: number | null = null;
  let lastIrsa: number | null = null;
  let lastIrsaBy: string[] = [];
  let approximate = false;

  for (const sa of sas) {
    const name = String(sa['serviceAccount']);
    const scope = String(sa['scope']);
    const e = detail.get(name) ?? {
      serviceAccount: name,
      roles: [],
      lastIrsa: null,
      lastPodIdentity: null,
      irsaAssumes: 0,
      irsaFailed: 0,
      podIdentityAssumes: 0,
      hasAssociation: ctx.fleet.hasAssociation(place, namespace, name),
    };
    e.roles = [...new Set([...e.roles, ...((sa['roles'] as string[] | undefined) ?? [])])].sort();
    const sdks = [...new Set([...(e.sdks ?? []), ...((sa['irsaSdks'] as string[] | undefined) ?? [])])].sort();
    if (sdks.length > 0) e.sdks = sdks;
    if (scope.startsWith('issuer:')) {
      irsaRoles.set(name, new Set([...(irsaRoles.get(name) ?? []), ...((sa['roles'] as string[] | undefined) ?? [])]));
    }
    e.irsaAssumes += num(sa['irsaOk']);
    e.irsaFailed += num(sa['irsaFailed']);
    e.podIdentityAssumes += num(sa['piOk']);

    const piFirst = time(sa['piFirstOk']);
    if (piFirst !== null && piFirst <= ctx.asOf) {
      firstPi = min(firstPi, piFirst);
      const known = asOfLast(piFirst, time(sa['piLastOk']), ctx, scope, namespace, 'piOk');
      approximate ||= known.approximate;
      lastPi = max(lastPi, known.at);
      e.lastPodIdentity = isoOrNull(max(time(e.lastPodIdentity), known.at));
    }
    const irsa = asOfLast(time(sa['irsaFirstAttempt']), time(sa['irsaLastAttempt']), ctx, scope, namespace, 'irsa');
    approximate ||= irsa.approximate;
    if (irsa.at !== null) {
      e.lastIrsa = isoOrNull(max(time(e.lastIrsa), irsa.at));
      if (lastIrsa === null || irsa.at > lastIrsa) {
        lastIrsa = irsa.at;
        lastIrsaBy = [name];
      } else if (irsa.at === lastIrsa) lastIrsaBy.push(name);
    }
    detail.set(name, e);
  }
  if (firstPi === null && lastIrsa === null) return null; // nothing seen as of T

  const reasons: string[] = [];
  const saList = [...detail.values()].sort((a, b) => cmp(a.serviceAccount, b.serviceAccount));
  const irsaUsers = (since: number) =>
    saList
      .filter((s) => s.lastIrsa !== null && Date.parse(s.lastIrsa) >= since)
      .map((s) => describeSa(s, [...(irsaRoles.get(s.serviceAccount) ?? [])].sort()));
  let verdict: EvidenceVerdict;
  let soakEndsAt: number | null = null;
  /** Service accounts that already have an association but still assume through IRSA: pods not restarted. */
  const restartHint = (since: number) => {
    const waiting = saList.filter((s) => s.hasAssociation && s.lastIrsa !== null && Date.parse(s.lastIrsa) >= since);
    if (waiting.length === 0) return;
    const names = waiting.map((s) => s.serviceAccount).join(', ');
    reasons.push(`${names} already ${waiting.length === 1 ? 'has' : 'have'} a Pod Identity association but still assume${waiting.length === 1 ? 's' : ''} through IRSA: restart the pods`);
  };

  if (firstPi === null) {
    verdict = 'NOT_STARTED';
    reasons.push('no successful Pod Identity assume seen');
    reasons.push(`IRSA last used ${iso(lastIrsa!)} by ${lastIrsaBy.join(', ')}`);
    restartHint(Number.NEGATIVE_INFINITY);
  } else {
    reasons.push(`Pod Identity in use since ${iso(firstPi)}, last ${iso(lastPi!)}`);
    if (lastIrsa !== null && lastIrsa >= ctx.activeStart) {
      verdict = 'IN_PROGRESS';
      reasons.push(`IRSA still used within the active window by ${irsaUsers(ctx.activeStart).join('; ')}`);
      restartHint(ctx.activeStart);
    } else if (lastIrsa !== null && lastIrsa > ctx.soakStart) {
      verdict = 'SOAKING';
      soakEndsAt = lastIrsa + ctx.soakDays * DAY;
      reasons.push(`last IRSA assume ${iso(lastIrsa)} by ${lastIrsaBy.join(', ')}; soak ends ${iso(soakEndsAt)}`);
    } else {
      verdict = 'READY';
      reasons.push(
        lastIrsa === null
          ? 'no IRSA assume ever seen'
          : `no IRSA assume in the ${ctx.soakDays}-day soak window (last ${iso(lastIrsa)})`,
      );
      if (lastPi! < ctx.soakStart) {
        reasons.push(`no Pod Identity assume in the soak window either (last ${iso(lastPi!)}): is the workload still running?`);
      }
    }
  }
  const untagged = sas.filter((sa) => sa['attributedBy'] === 'pod-identity-association').map((sa) => String(sa['serviceAccount']));
  if (untagged.length > 0) {
    reasons.push(`Pod Identity of ${untagged.join(', ')} has no session tags (disableSessionTags): attributed through the association's role`);
  }
  if (approximate) reasons.push('as of a past time: times after it are ignored and earlier ones known to the day');

  return {
    cluster: place.cluster,
    clusterArn: place.clusterArn,
    oidcIssuer: place.oidcIssuer,
    namespace,
    verdict,
    lastIrsa: isoOrNull(lastIrsa),
    firstPodIdentity: isoOrNull(firstPi),
    lastPodIdentity: isoOrNull(lastPi),
    soakDaysLeft: soakEndsAt === null ? null : Math.ceil((soakEndsAt - ctx.asOf) / DAY),
    soakEndsAt: isoOrNull(soakEndsAt),
    serviceAccounts: saList.map((s) => s.serviceAccount),
    roles: [...new Set(saList.flatMap((s) => s.roles))].sort(),
    // flat: each reason is a template of times and names, kept as a chain of pieces otherwise (~7 MB
    // of a report's heap at 40,000 namespaces)
    reasons: reasons.map(flatString),
    detail: saList,
    evidenceThrough: null,
    unknownBecause: [],
    lastWellFounded: null,
  };
}

function describeSa(s: ServiceAccountEvidence, irsaRoles: string[]): string {
  return `${s.serviceAccount} (${irsaRoles.map(roleName).join(', ') || 'role unknown'}) at ${s.lastIrsa}`;
}

/**
 * The last time ≤ T. Stored items keep only first/last; when the last is after T (an as-of in the
 * past) the daily counts give the last day with activity, taken as the end of that day (capped at
 * T). Without daily counts (not loaded, or attributed evidence that has none) the answer leans to
 * the safe side: Pod Identity is known at its first time, IRSA is taken as still used at T.
 */
function asOfLast(
  first: number | null,
  last: number | null,
  ctx: JudgeContext,
  scope: string,
  namespace: string,
  counter: 'irsa' | 'piOk',
): { at: number | null; approximate: boolean } {
  if (last === null || last <= ctx.asOf) return { at: last, approximate: false };
  // All of it after T: the day of T may show activity, but none of it was before T.
  if (first !== null && first > ctx.asOf) return { at: null, approximate: true };
  const day = ctx.days.lastActiveDay(scope, namespace, counter, ctx.asOf);
  if (day !== null) return { at: Math.min(day + DAY - 1000, ctx.asOf), approximate: true };
  if (first === null) return { at: null, approximate: true };
  return { at: counter === 'irsa' ? ctx.asOf : first, approximate: true };
}

/**
 * The OIDC provider is READY only when nothing can still use it: its issuer is known, the cluster's
 * account/region is covered over the soak window (a hole could hide IRSA of any namespace, even one
 * never seen), and every namespace is READY or never used IRSA — none UNKNOWN.
 */
function judgeCluster(
  place: Place,
  rows: NamespaceReadiness[],
  warnings: ClusterWarning[],
  window: { asOf: number; soakDays: number; activeHours: number },
  coverage: CoverageContext,
): ClusterReadiness {
  const namespaceCounts = Object.fromEntries(VERDICT_ORDER.map((v) => [v, 0])) as Record<Verdict, number>;
  for (const row of rows) namespaceCounts[row.verdict] += 1;
  // Only namespaces that used the issuer hold the OIDC provider; Pod-Identity-only ones do not,
  // unless their own verdict cannot be told.
  const throughIssuer = rows.filter((r) => r.lastIrsa !== null || r.verdict === 'UNKNOWN');
  const blockers = throughIssuer
    .filter((r) => r.verdict !== 'READY')
    .map((r) => ({ namespace: r.namespace, verdict: r.verdict, lastIrsa: r.lastIrsa, serviceAccounts: r.serviceAccounts }));
  const reasons: string[] = [];
  const self = place.clusterArn === null ? null : arnAccountRegion(place.clusterArn);
  const cov = self ? coverage.places.get(placeKey(self.account, self.region)) : undefined;
  const through = coveredThrough(cov, window.asOf);
  const coverageProblem = ((): string | null => {
    if (!self) return null;
    if (through === null) return `no complete CloudTrail of account ${self.account} in ${self.region} was read: analyze its trail's log files`;
    if (window.asOf - through > window.activeHours * HOUR) {
      return `stale: CloudTrail of account ${self.account} in ${self.region} was read only up to ${iso(through)}: read the newer logs (\`cutover-watch coverage\` shows what is missing)`;
    }
    const judgedAt = through >= window.asOf - DELIVERY_LAG_MS ? window.asOf : through;
    const gaps = gapsIn(cov!.intervals, judgedAt - window.soakDays * DAY, Math.min(judgedAt, window.asOf - DELIVERY_LAG_MS));
    if (gaps.length === 0) return null;
    const cause = describeHoleCause(cov, judgedAt - window.soakDays * DAY, Math.min(judgedAt, window.asOf - DELIVERY_LAG_MS));
    return `a hole in the CloudTrail read for account ${self.account} in ${self.region}: ${gaps.map(describeGap).join(', ')}${cause}: read those days and run again`;
  })();
  let verdict: ClusterVerdict;
  if (place.oidcIssuer === null) {
    verdict = 'UNKNOWN';
    const region = self?.region;
    reasons.push(
      `the cluster's OIDC issuer is not in the inventory, so IRSA use cannot be attributed to it: run ${cmd('cutover-watch', 'inventory', 'sync', ...(region ? ['--region', region] : []))} ` +
        `or import ${cmd('aws', 'eks', 'describe-cluster', '--name', place.cluster ?? '<cluster>')} output`,
    );
  } else if (blockers.length === 0 && coverageProblem !== null) {
    verdict = 'UNKNOWN';
    reasons.push(`every namespace that used IRSA is READY by the evidence, but ${coverageProblem}`);
  } else if (blockers.length === 0) {
    verdict = 'READY';
    reasons.push(
      throughIssuer.length === 0
        ? 'no IRSA assume ever seen through this issuer'
        : `all ${throughIssuer.length} namespaces that used IRSA are READY: the OIDC provider can be retired`,
    );
  } else {
    verdict = VERDICT_ORDER.find((v) => blockers.some((b) => b.verdict === v))!;
    reasons.push(`${blockers.length} of ${throughIssuer.length} namespaces that used IRSA are not READY: ${blockers.map((b) => `${b.namespace} (${b.verdict})`).join(', ')}`);
  }
  if (place.cluster === null) {
    const region = issuerRegion(place.oidcIssuer ?? '');
    reasons.push(`issuer ${place.oidcIssuer} is not mapped to a cluster: run ${cmd('cutover-watch', 'inventory', 'sync', ...(region ? ['--region', region] : []))} or import the cluster's describe-cluster output`);
  }
  return {
    cluster: place.cluster,
    clusterArn: place.clusterArn,
    oidcIssuer: place.oidcIssuer,
    verdict,
    namespaceCounts,
    blockers,
    warnings,
    reasons,
    evidenceThrough: through === null ? null : iso(through),
  };
}

/** Where evidence belongs: the inventory maps issuers to clusters; never guessed otherwise. */
class Fleet {
  private readonly byIssuer = new Map<string, InventoryCluster>();
  private readonly byArn = new Map<string, InventoryCluster>();
  private readonly associations = new Set<string>();
  /** node role ARN → cluster ARNs, from node groups and from fetches the role made. */
  readonly nodeRoleClusters = new Map<string, Set<string>>();
  private readonly clusterNames = new Map<string, string>();

  constructor(inventory: Inventory, nodeClusters: EvidenceItem[]) {
    for (const c of inventory.clusters) {
      this.byArn.set(c.arn, c);
      this.clusterNames.set(c.arn, c.name);
      if (c.oidcIssuer) this.byIssuer.set(c.oidcIssuer, c);
    }
    for (const a of inventory.associations) {
      const arn = a.clusterArn ?? inventory.clusters.find((c) => c.name === a.cluster)?.arn ?? a.cluster;
      this.associations.add(`${arn}|${a.namespace}|${a.serviceAccount}`);
    }
    const link = (role: string, clusterArn: string) => {
      const set = this.nodeRoleClusters.get(role) ?? new Set<string>();
      set.add(clusterArn);
      this.nodeRoleClusters.set(role, set);
    };
    for (const n of inventory.nodegroups) {
      const arn = inventory.clusters.find((c) => c.name === n.cluster)?.arn;
      if (arn) link(n.nodeRoleArn, arn);
    }
    for (const item of nodeClusters) {
      for (const arn of (item['clusterArns'] as string[] | undefined) ?? []) link(String(item['nodeRoleArn']), arn);
    }
  }

  isMapped(issuer: string): boolean {
    return this.byIssuer.has(issuer);
  }

  placeOf(scope: string): Place {
    const colon = scope.indexOf(':');
    const kind = scope.slice(0, colon);
    const name = scope.slice(colon + 1);
    if (kind === 'issuer') {
      const c = this.byIssuer.get(name);
      return c ? this.cluster(c.arn) : { key: `issuer:${name}`, cluster: null, clusterArn: null, oidcIssuer: name };
    }
    return this.cluster(name);
  }

  private cluster(arn: string): Place {
    const c = this.byArn.get(arn);
    return { key: arn, cluster: c?.name ?? this.clusterNames.get(arn) ?? arn.slice(arn.lastIndexOf('/') + 1), clusterArn: arn, oidcIssuer: c?.oidcIssuer ?? null };
  }

  hasAssociation(place: Place, namespace: string, serviceAccount: string): boolean {
    return place.clusterArn !== null && this.associations.has(`${place.clusterArn}|${namespace}|${serviceAccount}`);
  }
}

/**
 * A row as it is kept: its texts flat, and one copy of each. Reasons recur across namespaces (at
 * 80,000 namespaces 115,737 distinct among 204,179), and each was built by templates: the rows held
 * 108 MB live instead of 134.
 */
function keptRow(row: NamespaceReadiness, texts: StringPool): NamespaceReadiness {
  row.reasons = row.reasons.map((r) => texts.string(r));
  row.unknownBecause = row.unknownBecause.map((r) => texts.string(r));
  texts.share(row, ['lastIrsa', 'firstPodIdentity', 'lastPodIdentity', 'soakEndsAt', 'evidenceThrough']);
  return row;
}

class DayIndex {
  private readonly byNamespace = new Map<string, EvidenceItem[]>();
  constructor(days: EvidenceItem[]) {
    for (const d of days) {
      const key = `${d['scope']}|${d['namespace']}`;
      const list = this.byNamespace.get(key) ?? [];
      list.push(d);
      this.byNamespace.set(key, list);
    }
  }

  /** Once a namespace is judged (`consume`): its daily counts are needed no more. */
  release(scope: string, namespace: string): void {
    this.byNamespace.delete(`${scope}|${namespace}`);
  }

  lastActiveDay(scope: string, namespace: string, counter: 'irsa' | 'piOk', asOf: number): number | null {
    let best: number | null = null;
    for (const d of this.byNamespace.get(`${scope}|${namespace}`) ?? []) {
      const count = counter === 'irsa' ? num(d['irsaOk']) + num(d['irsaFailed']) : num(d['piOk']);
      const start = Date.parse(`${d['day']}T00:00:00Z`);
      if (count > 0 && start <= asOf) best = max(best, start);
    }
    return best;
  }
}

/** Pod Identity fetch denials and node-role calls within the soak window, per cluster. */
class Warnings {
  constructor(
    private readonly byType: Map<string, EvidenceItem[]>,
    private readonly fleet: Fleet,
    private readonly from: number,
    private readonly to: number,
  ) {}

  private inWindow(day: unknown): boolean {
    const start = Date.parse(`${day}T00:00:00Z`);
    return start + DAY > this.from && start <= this.to;
  }

  forCluster(place: Place): ClusterWarning[] {
    if (place.clusterArn === null) {
      return [{ type: 'issuer-unmapped', message: `IRSA issuer ${place.oidcIssuer} belongs to no cluster in the inventory`, count: 0, last: null }];
    }
    const out: ClusterWarning[] = [];
    const scope = `cluster:${place.clusterArn}`;
    const denied = (this.byType.get('fetch-day') ?? [])
      .filter((d) => d['scope'] === scope && this.inWindow(d['day']))
      .reduce((sum, d) => sum + num(d['fetchFailed']), 0);
    if (denied > 0) {
      const fetches = (this.byType.get('fetch') ?? []).filter((f) => f['scope'] === scope && num(f['fetchFailed']) > 0);
      const last = fetches.map((f) => time(f['fetchLastFailed'])).reduce<number | null>((a, b) => max(a, b), null);
      const nodes = [...new Set(fetches.flatMap((f) => (f['failedNodes'] as string[] | undefined) ?? []))];
      const errors = [...new Set(fetches.map((f) => String(f['fetchLastError'] ?? 'error')))];
      out.push({
        type: 'pod-identity-fetch-denied',
        message: `${denied} Pod Identity credential fetches failed (${errors.join(', ')}) on ${nodes.slice(0, 5).join(', ') || 'unknown nodes'}: check the role trust policy allows sts:AssumeRole and sts:TagSession for pods.eks.amazonaws.com and its aws:RequestTag conditions`,
        count: denied,
        last: isoOrNull(last),
      });
    }
    for (const [role, clusters] of this.fleet.nodeRoleClusters) {
      if (!clusters.has(place.clusterArn)) continue;
      const warning = this.nodeRoleWarning(role, place.cluster ?? place.clusterArn);
      if (warning) out.push(warning);
    }
    return out;
  }

  private nodeRoleWarning(role: string, where: string): ClusterWarning | null {
    const scope = `noderole:${role}`;
    const count = (this.byType.get('node-day') ?? [])
      .filter((d) => d['scope'] === scope && this.inWindow(d['day']))
      .reduce((sum, d) => sum + num(d['callOk']) + num(d['callFailed']), 0);
    if (count === 0) return null;
    const calls = (this.byType.get('node-call') ?? []).filter(
      (c) => c['scope'] === scope && (time(c['callLastAttempt']) ?? 0) >= this.from,
    );
    const last = calls.map((c) => time(c['callLastAttempt'])).reduce<number | null>((a, b) => max(a, b), null);
    const imdsV1 = calls.some((c) => ((c['imdsVersions'] as string[] | undefined) ?? []).includes('1.0'));
    const instances = [...new Set(calls.flatMap((c) => (c['instances'] as string[] | undefined) ?? []))];
    return {
      type: 'node-role-calls',
      message:
        `${count} calls with node role ${roleName(role)} outside expected node traffic in ${where} ` +
        `(${calls.map((c) => c['action']).join(', ')}) from ${instances.slice(0, 5).join(', ')}: a pod is falling back to the instance role` +
        (imdsV1 ? '; some credentials came through IMDSv1' : ''),
      count,
      last: isoOrNull(last),
    };
  }

  /** What no cluster claims (whether or not a filter shows that cluster). */
  unattributed(): ClusterWarning[] {
    const out: ClusterWarning[] = [];
    for (const scope of this.byType.get('scope') ?? []) {
      const name = String(scope['name']);
      if (scope['kind'] === 'noderole' && !this.fleet.nodeRoleClusters.has(name)) {
        const warning = this.nodeRoleWarning(name, 'no known cluster (import describe-nodegroup output to attribute it)');
        if (warning) out.push(warning);
      }
    }
    for (const u of this.byType.get('untagged') ?? []) {
      const last = time(u['piLastAttempt']);
      if (last !== null && last >= this.from && last <= this.to) {
        out.push({
          type: 'untagged-pod-identity',
          message: `Pod Identity assumed ${roleName(String(u['roleArn']))} without session tags (association has disableSessionTags): namespace and service account are not in CloudTrail`,
          count: num(u['piOk']) + num(u['piFailed']),
          last: isoOrNull(last),
        });
      }
    }
    return out;
  }
}

/**
 * Pod Identity assumes without session tags name only the role. When exactly one association in
 * the inventory uses that role, the assumes are that service account's: the association says so.
 * Otherwise they stay unattributed and show as a warning.
 */
function attributeUntagged(items: EvidenceItem[], inventory: Inventory): EvidenceItem[] {
  return items.map((item) => {
    if (item.type !== 'untagged') return item;
    const owners = inventory.associations.filter((a) => a.roleArn === item['roleArn']);
    const owner = owners.length === 1 ? owners[0]! : null;
    const clusterArn = owner?.clusterArn ?? inventory.clusters.find((c) => c.name === owner?.cluster)?.arn;
    if (!owner || !clusterArn) return item;
    const scope = `cluster:${clusterArn}`;
    const pi = Object.fromEntries(Object.entries(item).filter(([k]) => k.startsWith('pi')));
    return {
      ...pi,
      pk: item.pk,
      sk: `SA#${owner.namespace}#${owner.serviceAccount}`,
      type: 'sa',
      scope,
      namespace: owner.namespace,
      serviceAccount: owner.serviceAccount,
      roles: [String(item['roleArn'])],
      attributedBy: 'pod-identity-association',
    };
  });
}

function groupByType(items: EvidenceItem[]): Map<string, EvidenceItem[]> {
  const out = new Map<string, EvidenceItem[]>();
  for (const item of items) {
    const list = out.get(item.type) ?? [];
    list.push(item);
    out.set(item.type, list);
  }
  return out;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const time = (v: unknown): number | null => (typeof v === 'string' ? Date.parse(v) : null);
const isoOrNull = (t: number | null): string | null => (t === null ? null : iso(t));
const min = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
const max = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** A command inside a reason, quoted for the shell and set off in backticks. */
const cmd = (...argv: string[]): string => `\`${shellCommand(argv)}\``;

import { describe, expect, it } from 'vitest';
import { aggregate, mergeItems, type EvidenceItem } from '../../functions/core/evidence';
import type { IdentityEvent } from '../../functions/core/identity-event';
import {
  emptyInventory,
  mergeInventory,
  parseInventoryDocument,
  type Inventory,
  type InventoryAssociation,
  type InventoryCluster,
} from '../../functions/core/inventory';
import { assessReadiness, type NamespaceReadiness, type ReadinessOptions, type ReadinessReport } from '../../functions/core/readiness';
import { CoverageAccumulator, type CoverageDay } from '../../functions/core/coverage';
import { logCoverage } from '../support/coverage';
import { identityEvent } from '../support/events';

const ACCOUNT = '111122223333';
const REGION = 'us-west-2';
const arnOf = (name: string) => `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/${name}`;
const issuerOf = (id: string) => `oidc.eks.${REGION}.amazonaws.com/id/${id}`;
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;

const PAYMENTS_ARN = arnOf('payments');
const PAYMENTS_ISSUER = issuerOf('PAYMENTS00000000000000000000001');
const SEARCH_ARN = arnOf('search');
const SEARCH_ISSUER = issuerOf('SEARCH0000000000000000000000001');
const STRAY_ISSUER = issuerOf('STRAY00000000000000000000000001');
const NODE_ROLE = role('payments-nodes');
const PI_ROLE = role('api-pod-identity');

const PAYMENTS: InventoryCluster = { name: 'payments', arn: PAYMENTS_ARN, region: REGION, account: ACCOUNT, oidcIssuer: PAYMENTS_ISSUER };
const SEARCH: InventoryCluster = { name: 'search', arn: SEARCH_ARN, region: REGION, account: ACCOUNT, oidcIssuer: SEARCH_ISSUER };

/** T: every verdict below is judged as of this time. */
const T = Date.parse('2024-05-15T12:00:00Z');
/** Log files read for every hour around T: verdicts stand on the evidence alone. */
const COMPLETE = logCoverage([{ account: '111122223333', region: 'us-west-2' }, { account: '111122223333', region: 'us-east-1' }], T - 60 * 86_400_000, T + 86_400_000);
const SECOND = 1000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
/** The ISO time `ms` before T (negative: after T). */
const ago = (ms: number) => iso(T - ms);
/** How long before T an ISO time is (for the `msAgo` of the event helpers). */
const at = (time: string) => T - Date.parse(time);

let nextId = 0;
function event(kind: IdentityEvent['kind'], fields: Partial<IdentityEvent>): IdentityEvent {
  nextId += 1;
  return identityEvent(kind, { eventId: `e-${nextId}`, eventTime: ago(HOUR), account: ACCOUNT, region: REGION, ...fields });
}

/** An IRSA assume `msAgo` before T by NAMESPACE/SA (role `<sa>-irsa`), through the payments issuer unless told. */
const irsa = (msAgo: number, ns = 'billing', sa = 'api', fields: Partial<IdentityEvent> = {}) =>
  event('irsa', {
    eventTime: ago(msAgo),
    action: 'sts:AssumeRoleWithWebIdentity',
    oidcIssuer: PAYMENTS_ISSUER,
    namespace: ns,
    serviceAccount: sa,
    roleArn: role(`${sa}-irsa`),
    ...fields,
  });
/** A tagged Pod Identity assume `msAgo` before T on payments (role `<sa>-pi`). */
const pi = (msAgo: number, ns = 'billing', sa = 'api', fields: Partial<IdentityEvent> = {}) =>
  event('pod-identity', {
    eventTime: ago(msAgo),
    cluster: 'payments',
    clusterArn: PAYMENTS_ARN,
    namespace: ns,
    serviceAccount: sa,
    roleArn: role(`${sa}-pi`),
    podName: `${sa}-5f6d-x1`,
    sessionTagsMissing: false,
    ...fields,
  });
const untaggedPi = (msAgo: number, roleArn = PI_ROLE) =>
  event('pod-identity', { eventTime: ago(msAgo), roleArn, sessionTagsMissing: true });
const fetchCreds = (msAgo: number, fields: Partial<IdentityEvent> = {}) =>
  event('pod-identity-fetch', {
    eventTime: ago(msAgo),
    action: 'eks-auth:AssumeRoleForPodIdentity',
    cluster: 'payments',
    clusterArn: PAYMENTS_ARN,
    nodeInstanceId: 'i-0aaa',
    nodeRoleArn: NODE_ROLE,
    ...fields,
  });
const nodeCall = (msAgo: number, fields: Partial<IdentityEvent> = {}) =>
  event('node-role', {
    eventTime: ago(msAgo),
    action: 's3:ListBuckets',
    nodeInstanceId: 'i-0aaa',
    nodeRoleArn: NODE_ROLE,
    imdsVersion: '2.0',
    ...fields,
  });

/** What the store would hold after ingesting the events: aggregate per batch, merge per key. */
function fold(events: readonly IdentityEvent[]): EvidenceItem[] {
  const store = new Map<string, EvidenceItem>();
  for (const { item } of aggregate(events)) {
    const key = `${item.pk}\u0000${item.sk}`;
    store.set(key, mergeItems(store.get(key), item));
  }
  return [...store.values()];
}

const inventory = (parts: Partial<Inventory> = {}): Inventory => ({ ...emptyInventory(), clusters: [PAYMENTS], ...parts });

function assoc(namespace: string, serviceAccount: string, roleArn: string | null, cluster = PAYMENTS): InventoryAssociation {
  return {
    cluster: cluster.name,
    clusterArn: cluster.arn,
    namespace,
    serviceAccount,
    associationId: `a-${namespace}-${serviceAccount}`,
    roleArn,
    targetRoleArn: null,
    disableSessionTags: roleArn === null ? null : true,
    createdAt: null,
  };
}

interface JudgeOptions extends Partial<Omit<ReadinessOptions, 'asOf'>> {
  inventory?: Inventory;
  /** What CloudTrail was read. @default every hour of the 60 days before T and the day after, in REGION and us-east-1 */
  coverage?: CoverageDay[];
  /** Leave out the per-namespace daily items (the store reads them only for an as-of in the past). */
  withoutDays?: boolean;
}

function judge(events: readonly IdentityEvent[], options: JudgeOptions = {}): ReadinessReport {
  const { inventory: inv = inventory(), withoutDays = false, coverage = COMPLETE, ...rest } = options;
  const items = fold(events).filter((i) => !(withoutDays && i.type === 'day'));
  return assessReadiness({ items, inventory: inv, coverage }, { asOf: new Date(T), ...rest });
}

function row(report: ReadinessReport, namespace: string, cluster: string | null = 'payments'): NamespaceReadiness {
  const found = report.namespaces.find((n) => n.namespace === namespace && n.cluster === cluster);
  if (!found) throw new Error(`no row for ${cluster}/${namespace} in ${report.namespaces.map((n) => `${n.cluster}/${n.namespace}`).join(', ')}`);
  return found;
}
const verdictOf = (events: readonly IdentityEvent[], options: JudgeOptions = {}) => row(judge(events, options), 'billing');
const PI_SINCE = 3 * DAY;

describe('namespace verdicts', () => {
  it('is NOT_STARTED with IRSA seen and no Pod Identity, with its evidence and reasons', () => {
    const report = judge([irsa(2 * HOUR), irsa(5 * DAY)]);

    expect(report.namespaces).toEqual([
      {
        cluster: 'payments',
        clusterArn: PAYMENTS_ARN,
        oidcIssuer: PAYMENTS_ISSUER,
        namespace: 'billing',
        verdict: 'NOT_STARTED',
        lastIrsa: '2024-05-15T10:00:00Z',
        firstPodIdentity: null,
        lastPodIdentity: null,
        soakDaysLeft: null,
        soakEndsAt: null,
        evidenceThrough: '2024-05-15T12:00:00Z',
        unknownBecause: [],
        lastWellFounded: null,
        serviceAccounts: ['api'],
        roles: [role('api-irsa')],
        reasons: ['no successful Pod Identity assume seen', 'IRSA last used 2024-05-15T10:00:00Z by api'],
        detail: [
          {
            serviceAccount: 'api',
            roles: [role('api-irsa')],
            lastIrsa: '2024-05-15T10:00:00Z',
            lastPodIdentity: null,
            irsaAssumes: 2,
            irsaFailed: 0,
            podIdentityAssumes: 0,
            hasAssociation: false,
          },
        ],
      },
    ]);
  });

  it('is NOT_STARTED when every Pod Identity assume was denied', () => {
    const r = verdictOf([irsa(3 * HOUR), pi(HOUR, 'billing', 'api', { outcome: 'denied', errorCode: 'AccessDenied' })]);

    expect(r.verdict).toBe('NOT_STARTED');
    expect(r.firstPodIdentity).toBeNull();
    expect(r.detail[0]).toMatchObject({ podIdentityAssumes: 0, irsaAssumes: 1 });
  });

  it('is IN_PROGRESS with Pod Identity seen and IRSA within the active window, naming the service account and IRSA role', () => {
    const r = verdictOf([pi(PI_SINCE), pi(2 * DAY), irsa(HOUR)]);

    expect(r).toMatchObject({
      verdict: 'IN_PROGRESS',
      lastIrsa: '2024-05-15T11:00:00Z',
      firstPodIdentity: '2024-05-12T12:00:00Z',
      lastPodIdentity: '2024-05-13T12:00:00Z',
      soakDaysLeft: null,
      soakEndsAt: null,
      serviceAccounts: ['api'],
      roles: [role('api-irsa'), role('api-pi')],
    });
    expect(r.reasons).toEqual([
      'Pod Identity in use since 2024-05-12T12:00:00Z, last 2024-05-13T12:00:00Z',
      'IRSA still used within the active window by api (api-irsa) at 2024-05-15T11:00:00Z',
    ]);
  });

  it('names every service account still on IRSA within the active window, and only those', () => {
    const r = verdictOf([pi(PI_SINCE), irsa(HOUR, 'billing', 'api'), irsa(2 * HOUR, 'billing', 'worker'), irsa(5 * DAY, 'billing', 'cron')]);

    expect(r.verdict).toBe('IN_PROGRESS');
    expect(r.serviceAccounts).toEqual(['api', 'cron', 'worker']);
    expect(r.reasons[1]).toBe(
      'IRSA still used within the active window by api (api-irsa) at 2024-05-15T11:00:00Z; worker (worker-irsa) at 2024-05-15T10:00:00Z',
    );
  });

  it('counts a denied IRSA attempt as IRSA use', () => {
    const r = verdictOf([pi(PI_SINCE), irsa(HOUR, 'billing', 'api', { outcome: 'denied', errorCode: 'AccessDenied' })]);

    expect(r.verdict).toBe('IN_PROGRESS');
    expect(r.lastIrsa).toBe('2024-05-15T11:00:00Z');
    expect(r.detail[0]).toMatchObject({ irsaAssumes: 0, irsaFailed: 1 });
  });

  it.each([
    ['exactly A before T', 24 * HOUR, 'IN_PROGRESS'],
    ['just inside A', 24 * HOUR - SECOND, 'IN_PROGRESS'],
    ['just outside A', 24 * HOUR + SECOND, 'SOAKING'],
  ])('treats IRSA %s as %s', (_, msAgo, verdict) => {
    expect(verdictOf([pi(PI_SINCE), irsa(msAgo)]).verdict).toBe(verdict);
  });

  it('is SOAKING just outside A, with the soak ending S after the last IRSA', () => {
    const r = verdictOf([pi(PI_SINCE), irsa(24 * HOUR + SECOND)]);

    expect(r).toMatchObject({ verdict: 'SOAKING', lastIrsa: '2024-05-14T11:59:59Z', soakEndsAt: '2024-05-28T11:59:59Z', soakDaysLeft: 13 });
    expect(r.reasons).toEqual([
      'Pod Identity in use since 2024-05-12T12:00:00Z, last 2024-05-12T12:00:00Z',
      'last IRSA assume 2024-05-14T11:59:59Z by api; soak ends 2024-05-28T11:59:59Z',
    ]);
  });

  it.each([
    [36 * HOUR, 13, '2024-05-28T00:00:00Z'],
    [2 * DAY, 12, '2024-05-27T12:00:00Z'],
    [10 * DAY + HOUR, 4, '2024-05-19T11:00:00Z'],
    [13.5 * DAY, 1, '2024-05-16T00:00:00Z'],
    [14 * DAY - SECOND, 1, '2024-05-15T12:00:01Z'],
  ])('counts soak days left as whole days rounded up (last IRSA %i ms before T → %i)', (msAgo, left, endsAt) => {
    expect(verdictOf([pi(PI_SINCE), irsa(msAgo)])).toMatchObject({ verdict: 'SOAKING', soakDaysLeft: left, soakEndsAt: endsAt });
  });

  it('is READY when the last IRSA is exactly S before T: the soak ends at T', () => {
    expect(verdictOf([pi(PI_SINCE), irsa(14 * DAY)])).toMatchObject({ verdict: 'READY', soakDaysLeft: null, soakEndsAt: null });
  });

  it('is SOAKING with 1 day left when the last IRSA is a second inside S', () => {
    expect(verdictOf([pi(PI_SINCE), irsa(14 * DAY - SECOND)])).toMatchObject({ verdict: 'SOAKING', soakDaysLeft: 1, soakEndsAt: '2024-05-15T12:00:01Z' });
  });

  it('is READY once the last IRSA is older than S, saying when it was', () => {
    const r = verdictOf([pi(PI_SINCE), irsa(14 * DAY + SECOND)]);

    expect(r).toMatchObject({ verdict: 'READY', lastIrsa: '2024-05-01T11:59:59Z', soakDaysLeft: null, soakEndsAt: null });
    expect(r.reasons).toEqual([
      'Pod Identity in use since 2024-05-12T12:00:00Z, last 2024-05-12T12:00:00Z',
      'no IRSA assume in the 14-day soak window (last 2024-05-01T11:59:59Z)',
    ]);
  });

  it('is READY with Pod Identity and no IRSA ever', () => {
    const r = verdictOf([pi(PI_SINCE), pi(HOUR)]);

    expect(r).toMatchObject({ verdict: 'READY', lastIrsa: null, firstPodIdentity: '2024-05-12T12:00:00Z', lastPodIdentity: '2024-05-15T11:00:00Z' });
    expect(r.reasons).toEqual(['Pod Identity in use since 2024-05-12T12:00:00Z, last 2024-05-15T11:00:00Z', 'no IRSA assume ever seen']);
  });

  it('asks whether the workload still runs when READY without Pod Identity in the soak window either', () => {
    const r = verdictOf([pi(20 * DAY), irsa(30 * DAY)]);

    expect(r.verdict).toBe('READY');
    expect(r.reasons).toEqual([
      'Pod Identity in use since 2024-04-25T12:00:00Z, last 2024-04-25T12:00:00Z',
      'no IRSA assume in the 14-day soak window (last 2024-04-15T12:00:00Z)',
      'no Pod Identity assume in the soak window either (last 2024-04-25T12:00:00Z): is the workload still running?',
    ]);
  });

  it('applies a custom active window and soak period', () => {
    expect(verdictOf([pi(PI_SINCE), irsa(5 * HOUR)], { activeHours: 6 }).verdict).toBe('IN_PROGRESS');
    expect(verdictOf([pi(PI_SINCE), irsa(7 * HOUR)], { activeHours: 6 }).verdict).toBe('SOAKING');
    expect(verdictOf([pi(PI_SINCE), irsa(6 * DAY)], { soakDays: 7 })).toMatchObject({ verdict: 'SOAKING', soakDaysLeft: 1, soakEndsAt: '2024-05-16T12:00:00Z' });
    const ready = verdictOf([pi(PI_SINCE), irsa(8 * DAY)], { soakDays: 7 });
    expect(ready.verdict).toBe('READY');
    expect(ready.reasons[1]).toBe('no IRSA assume in the 7-day soak window (last 2024-05-07T12:00:00Z)');
    const report = judge([pi(PI_SINCE)], { soakDays: 7, activeHours: 6 });
    expect(report).toMatchObject({ asOf: '2024-05-15T12:00:00Z', soakDays: 7, activeHours: 6 });
  });

  it('gives the same verdicts for the same evidence whatever order the events came in', () => {
    const events = [pi(PI_SINCE), irsa(HOUR), irsa(3 * DAY, 'ledger', 'api'), pi(2 * DAY, 'ledger', 'api'), irsa(20 * DAY, 'audit', 'api')];

    expect(judge([...events].reverse())).toEqual(judge(events));
  });
});

describe('events after T', () => {
  const APPROX = 'as of a past time: times after it are ignored and earlier ones known to the day';

  it('ignores IRSA that happened only after T, without daily counts', () => {
    const r = verdictOf([pi(PI_SINCE), irsa(-2 * HOUR)], { withoutDays: true });

    expect(r).toMatchObject({ verdict: 'READY', lastIrsa: null });
    expect(r.reasons).toEqual(['Pod Identity in use since 2024-05-12T12:00:00Z, last 2024-05-12T12:00:00Z', 'no IRSA assume ever seen', APPROX]);
  });

  it('ignores IRSA later on the day of T, with daily counts', () => {
    const r = verdictOf([pi(PI_SINCE), irsa(-3 * HOUR)]);

    expect(r).toMatchObject({ verdict: 'READY', lastIrsa: null });
  });

  it('takes the last day up to T with IRSA activity, to the end of that day', () => {
    const r = verdictOf([pi(at('2024-05-01T00:00:00Z')), irsa(at('2024-05-10T08:00:00Z')), irsa(at('2024-05-20T08:00:00Z'))]);

    expect(r).toMatchObject({ verdict: 'SOAKING', lastIrsa: '2024-05-10T23:59:59Z', soakEndsAt: '2024-05-24T23:59:59Z', soakDaysLeft: 10 });
    expect(r.reasons.at(-1)).toBe(APPROX);
  });

  it('judged once and consumed (`consume`), reads each namespace\'s daily counts before letting them go: the same report', () => {
    const straddling = (ns: string, fields: Partial<IdentityEvent> = {}) => [
      pi(at('2024-05-01T00:00:00Z'), ns),
      irsa(at('2024-05-10T08:00:00Z'), ns, 'api', fields),
      irsa(at('2024-05-20T08:00:00Z'), ns, 'api', fields),
    ];
    const events = [...straddling('billing'), ...straddling('ledger'), ...straddling('billing', { oidcIssuer: SEARCH_ISSUER })];
    const fleet = inventory({ clusters: [PAYMENTS, SEARCH] });

    const consumed = judge(events, { inventory: fleet, consume: true });

    expect(consumed).toEqual(judge(events, { inventory: fleet }));
    expect(consumed.namespaces.map((n) => `${n.cluster}/${n.namespace} ${n.verdict} ${n.lastIrsa}`)).toEqual([
      'payments/billing SOAKING 2024-05-10T23:59:59Z',
      'payments/ledger SOAKING 2024-05-10T23:59:59Z',
      'search/billing NOT_STARTED 2024-05-10T23:59:59Z',
    ]);
  });

  it('caps an IRSA day estimate at T when the day of T had IRSA before T', () => {
    const r = verdictOf([pi(PI_SINCE), irsa(2 * HOUR), irsa(-3 * HOUR)]);

    expect(r).toMatchObject({ verdict: 'IN_PROGRESS', lastIrsa: '2024-05-15T12:00:00Z' });
  });

  it('takes IRSA as still used at T when it straddles T and the daily counts are not at hand (the safe side)', () => {
    const r = verdictOf([pi(PI_SINCE), irsa(20 * DAY), irsa(-3 * DAY)], { withoutDays: true });

    expect(r).toMatchObject({ verdict: 'IN_PROGRESS', lastIrsa: '2024-05-15T12:00:00Z' });
    expect(r.reasons.at(-1)).toMatch(/as of a past time/);
  });

  it('is NOT_STARTED when Pod Identity began only after T', () => {
    const r = verdictOf([irsa(2 * DAY), pi(-HOUR), pi(-2 * DAY)]);

    expect(r).toMatchObject({ verdict: 'NOT_STARTED', firstPodIdentity: null, lastPodIdentity: null });
  });

  it('takes the last day up to T with Pod Identity activity', () => {
    const r = verdictOf([pi(at('2024-05-03T09:00:00Z')), pi(at('2024-05-20T09:00:00Z')), irsa(20 * DAY)]);

    expect(r).toMatchObject({ verdict: 'READY', firstPodIdentity: '2024-05-03T09:00:00Z', lastPodIdentity: '2024-05-03T23:59:59Z' });
  });

  it('takes the first Pod Identity as a lower bound for the last when the daily counts are not at hand', () => {
    const r = verdictOf([pi(5 * DAY), pi(-2 * DAY), irsa(20 * DAY)], { withoutDays: true });

    expect(r).toMatchObject({ verdict: 'READY', firstPodIdentity: '2024-05-10T12:00:00Z', lastPodIdentity: '2024-05-10T12:00:00Z' });
    expect(r.reasons[0]).toBe('Pod Identity in use since 2024-05-10T12:00:00Z, last 2024-05-10T12:00:00Z');
  });

  it('judges a past T from later evidence as it was judged at T, to the day', () => {
    const history = [pi(10 * DAY), irsa(12 * DAY), irsa(9 * DAY)];
    const later = [...history, irsa(-5 * DAY), pi(-6 * DAY)];

    const then = verdictOf(history);
    const replayed = verdictOf(later);
    expect(then).toMatchObject({ verdict: 'SOAKING', soakDaysLeft: 5 });
    expect(replayed).toMatchObject({ verdict: 'SOAKING', soakDaysLeft: 6, lastIrsa: '2024-05-06T23:59:59Z' });
  });
});

describe('cluster verdicts', () => {
  it('is READY when every namespace that used IRSA is READY; Pod-Identity-only namespaces do not count', () => {
    const report = judge([pi(PI_SINCE), irsa(20 * DAY), pi(HOUR, 'ledger', 'worker')]);

    expect(report.clusters).toEqual([
      {
        cluster: 'payments',
        clusterArn: PAYMENTS_ARN,
        oidcIssuer: PAYMENTS_ISSUER,
        verdict: 'READY',
        namespaceCounts: { UNKNOWN: 0, NOT_STARTED: 0, IN_PROGRESS: 0, SOAKING: 0, READY: 2 },
        blockers: [],
        warnings: [],
        reasons: ['all 1 namespaces that used IRSA are READY: the OIDC provider can be retired'],
        evidenceThrough: '2024-05-15T12:00:00Z',
      },
    ]);
  });

  it('names the namespaces holding the OIDC provider back and takes the least advanced verdict', () => {
    const report = judge([
      pi(PI_SINCE), irsa(HOUR), // billing: IN_PROGRESS
      pi(PI_SINCE, 'ledger'), irsa(5 * DAY, 'ledger'), // ledger: SOAKING
      irsa(10 * DAY, 'audit', 'scanner'), // audit: NOT_STARTED
      pi(PI_SINCE, 'search'), irsa(20 * DAY, 'search'), // search: READY
      pi(PI_SINCE, 'web'), // web: Pod Identity only
    ]);
    const [cluster] = report.clusters;

    expect(report.clusters).toHaveLength(1);
    expect(cluster).toMatchObject({ verdict: 'NOT_STARTED', namespaceCounts: { NOT_STARTED: 1, IN_PROGRESS: 1, SOAKING: 1, READY: 2 } });
    expect(cluster!.blockers).toEqual([
      { namespace: 'audit', verdict: 'NOT_STARTED', lastIrsa: '2024-05-05T12:00:00Z', serviceAccounts: ['scanner'] },
      { namespace: 'billing', verdict: 'IN_PROGRESS', lastIrsa: '2024-05-15T11:00:00Z', serviceAccounts: ['api'] },
      { namespace: 'ledger', verdict: 'SOAKING', lastIrsa: '2024-05-10T12:00:00Z', serviceAccounts: ['api'] },
    ]);
    expect(cluster!.reasons).toEqual(['3 of 4 namespaces that used IRSA are not READY: audit (NOT_STARTED), billing (IN_PROGRESS), ledger (SOAKING)']);
  });

  it('is SOAKING when the least advanced namespace that used IRSA is soaking', () => {
    const report = judge([pi(PI_SINCE), irsa(5 * DAY), pi(PI_SINCE, 'ledger'), irsa(20 * DAY, 'ledger')]);

    expect(report.clusters[0]).toMatchObject({ verdict: 'SOAKING', blockers: [{ namespace: 'billing', verdict: 'SOAKING' }] });
  });

  it('is READY with no IRSA ever through its issuer, also for an inventory cluster without evidence', () => {
    const report = judge([pi(HOUR)], { inventory: inventory({ clusters: [PAYMENTS, SEARCH] }) });

    expect(report.clusters.map((c) => [c.cluster, c.verdict, c.reasons])).toEqual([
      ['payments', 'READY', ['no IRSA assume ever seen through this issuer']],
      ['search', 'READY', ['no IRSA assume ever seen through this issuer']],
    ]);
  });

  it('is UNKNOWN when the cluster\'s issuer is not in the inventory', () => {
    const withoutIssuer = judge([pi(HOUR)], { inventory: inventory({ clusters: [{ ...PAYMENTS, oidcIssuer: null }] }) });
    const notInInventory = judge([pi(HOUR)], { inventory: emptyInventory() });

    for (const report of [withoutIssuer, notInInventory]) {
      expect(report.clusters).toEqual([
        {
          cluster: 'payments',
          clusterArn: PAYMENTS_ARN,
          oidcIssuer: null,
          verdict: 'UNKNOWN',
          namespaceCounts: { UNKNOWN: 0, NOT_STARTED: 0, IN_PROGRESS: 0, SOAKING: 0, READY: 1 },
          blockers: [],
          warnings: [],
          reasons: [
            "the cluster's OIDC issuer is not in the inventory, so IRSA use cannot be attributed to it: run `cutover-watch inventory sync --region us-west-2` or import `aws eks describe-cluster --name payments` output",
          ],
          evidenceThrough: '2024-05-15T12:00:00Z',
        },
      ]);
    }
  });

  it('keeps IRSA of an issuer the inventory does not map under cluster null as UNKNOWN, never guessing the cluster', () => {
    const report = judge([pi(HOUR), irsa(2 * HOUR, 'billing', 'api', { oidcIssuer: STRAY_ISSUER })]);

    expect(row(report, 'billing')).toMatchObject({ verdict: 'READY', lastIrsa: null, oidcIssuer: PAYMENTS_ISSUER });
    expect(row(report, 'billing', null)).toMatchObject({
      cluster: null,
      clusterArn: null,
      oidcIssuer: STRAY_ISSUER,
      verdict: 'UNKNOWN',
      lastIrsa: '2024-05-15T10:00:00Z',
      unknownBecause: [
        `IRSA issuer ${STRAY_ISSUER} maps to no cluster in the inventory, so this namespace cannot be placed: run \`cutover-watch inventory sync --region us-west-2\` (or import \`aws eks describe-cluster\` output)`,
      ],
    });
    expect(report.namespaces.map((n) => n.cluster)).toEqual(['payments', null]);
    expect(report.clusters[1]).toEqual({
      cluster: null,
      clusterArn: null,
      oidcIssuer: STRAY_ISSUER,
      verdict: 'UNKNOWN',
      namespaceCounts: { UNKNOWN: 1, NOT_STARTED: 0, IN_PROGRESS: 0, SOAKING: 0, READY: 0 },
      blockers: [{ namespace: 'billing', verdict: 'UNKNOWN', lastIrsa: '2024-05-15T10:00:00Z', serviceAccounts: ['api'] }],
      warnings: [{ type: 'issuer-unmapped', message: `IRSA issuer ${STRAY_ISSUER} belongs to no cluster in the inventory`, count: 0, last: null }],
      reasons: [
        '1 of 1 namespaces that used IRSA are not READY: billing (UNKNOWN)',
        `issuer ${STRAY_ISSUER} is not mapped to a cluster: run \`cutover-watch inventory sync --region us-west-2\` or import the cluster's describe-cluster output`,
      ],
      evidenceThrough: null,
    });
    expect(report.clusters[0]).toMatchObject({ cluster: 'payments', verdict: 'READY' });
  });

  it('joins IRSA (by issuer) and Pod Identity (by cluster) of one namespace once the inventory maps the issuer', () => {
    const report = judge([pi(PI_SINCE), irsa(2 * DAY)]);

    expect(report.namespaces).toHaveLength(1);
    expect(row(report, 'billing')).toMatchObject({ verdict: 'SOAKING', clusterArn: PAYMENTS_ARN, oidcIssuer: PAYMENTS_ISSUER });
  });
});

describe('--cluster and --namespace filters', () => {
  const fleet = inventory({ clusters: [PAYMENTS, SEARCH] });
  const events = [
    pi(PI_SINCE), irsa(20 * DAY), // payments/billing READY
    irsa(HOUR, 'ledger', 'worker'), // payments/ledger NOT_STARTED
    irsa(HOUR, 'billing', 'api', { oidcIssuer: SEARCH_ISSUER }), // search/billing NOT_STARTED
    irsa(HOUR, 'billing', 'api', { oidcIssuer: STRAY_ISSUER }), // unmapped/billing
    nodeCall(HOUR, { nodeRoleArn: role('orphan-nodes') }),
  ];

  it('judged once and consumed (`consume`), gives the same report and lets go of the snapshot\'s items', () => {
    const snapshot = () => ({ items: fold(events), inventory: fleet, coverage: COMPLETE });
    const consumed = snapshot();
    const held = consumed.items.length;

    const report = assessReadiness(consumed, { asOf: new Date(T), consume: true });

    expect(held).toBeGreaterThan(4);
    expect(consumed.items).toEqual([]);
    expect(report).toEqual(assessReadiness(snapshot(), { asOf: new Date(T) }));
    expect(assessReadiness(snapshot(), { asOf: new Date(T), consume: true, cluster: 'search' })).toEqual(assessReadiness(snapshot(), { asOf: new Date(T), cluster: 'search' }));
  });

  it('shows everything without a filter', () => {
    const report = judge(events, { inventory: fleet });

    expect(report.namespaces.map((n) => `${n.cluster ?? n.oidcIssuer}/${n.namespace} ${n.verdict}`)).toEqual([
      'payments/billing READY',
      'payments/ledger NOT_STARTED',
      'search/billing NOT_STARTED',
      `${STRAY_ISSUER}/billing UNKNOWN`,
    ]);
    expect(report.clusters.map((c) => `${c.cluster ?? c.oidcIssuer} ${c.verdict}`)).toEqual([
      'payments NOT_STARTED',
      'search NOT_STARTED',
      `${STRAY_ISSUER} UNKNOWN`,
    ]);
    expect(report.warnings.map((w) => w.type)).toEqual(['node-role-calls']);
  });

  it.each([['name', 'payments'], ['ARN', PAYMENTS_ARN]])('keeps one cluster by %s, without unmapped issuers or global warnings', (_, cluster) => {
    const report = judge(events, { inventory: fleet, cluster });

    expect(report.namespaces.map((n) => `${n.cluster}/${n.namespace}`)).toEqual(['payments/billing', 'payments/ledger']);
    expect(report.clusters.map((c) => c.cluster)).toEqual(['payments']);
    expect(report.warnings).toEqual([]);
  });

  it('keeps one namespace across clusters and issuers', () => {
    const report = judge(events, { inventory: fleet, namespace: 'billing' });

    expect(report.namespaces.map((n) => `${n.cluster ?? 'null'}/${n.namespace}`)).toEqual(['payments/billing', 'search/billing', 'null/billing']);
    expect(report.clusters.map((c) => c.cluster)).toEqual(['payments', 'search', null]);
  });

  it('still judges a cluster by all its namespaces when showing one namespace', () => {
    const report = judge(events, { inventory: fleet, namespace: 'billing', cluster: 'payments' });

    expect(report.namespaces.map((n) => `${n.namespace} ${n.verdict}`)).toEqual(['billing READY']);
    expect(report.clusters).toHaveLength(1);
    expect(report.clusters[0]).toMatchObject({
      cluster: 'payments',
      verdict: 'NOT_STARTED',
      blockers: [{ namespace: 'ledger', verdict: 'NOT_STARTED' }],
    });
  });

  it('does not call a node role unattributed because its cluster was filtered out by namespace', () => {
    const report = judge(
      [...events, nodeCall(HOUR, { nodeRoleArn: role('search-nodes') })],
      { inventory: { ...fleet, nodegroups: [{ cluster: 'search', nodegroup: 'ng-1', nodeRoleArn: role('search-nodes') }] }, namespace: 'ledger' },
    );

    expect(report.clusters.map((c) => c.cluster)).toEqual(['payments']);
    expect(report.warnings.map((w) => w.message.split(' outside')[0])).toEqual(['1 calls with node role orphan-nodes']);
  });
});

describe('warnings', () => {
  it('reports Pod Identity fetch denials within S on their cluster', () => {
    const report = judge([
      pi(HOUR),
      fetchCreds(DAY, { outcome: 'denied', errorCode: 'AccessDenied' }),
      fetchCreds(DAY + HOUR, { outcome: 'denied', errorCode: 'AccessDenied' }),
      fetchCreds(20 * DAY, { outcome: 'denied', errorCode: 'AccessDenied' }),
      fetchCreds(2 * HOUR),
    ]);

    expect(report.clusters[0]!.warnings).toEqual([
      {
        type: 'pod-identity-fetch-denied',
        message:
          '2 Pod Identity credential fetches failed (AccessDenied) on i-0aaa: check the role trust policy allows sts:AssumeRole and sts:TagSession for pods.eks.amazonaws.com and its aws:RequestTag conditions',
        count: 2,
        last: '2024-05-14T12:00:00Z',
      },
    ]);
    expect(report.warnings).toEqual([]);
  });

  it('reports no fetch warning when every denial is older than S', () => {
    const report = judge([pi(HOUR), fetchCreds(15 * DAY, { outcome: 'denied', errorCode: 'AccessDenied' }), fetchCreds(HOUR)]);

    expect(report.clusters[0]!.warnings).toEqual([]);
  });

  it('counts fetch denials by whole UTC day: one on the day S begins counts', () => {
    const report = judge([pi(HOUR), fetchCreds(14 * DAY + HOUR, { outcome: 'denied', errorCode: 'AccessDenied' })]);

    expect(report.clusters[0]!.warnings.map((w) => [w.type, w.count])).toEqual([['pod-identity-fetch-denied', 1]]);
  });

  it('attributes node-role calls to a cluster through its node group', () => {
    const report = judge(
      [
        pi(HOUR),
        nodeCall(2 * HOUR),
        nodeCall(DAY, { nodeInstanceId: 'i-0bbb', imdsVersion: '1.0' }),
        nodeCall(3 * HOUR, { action: 'sts:GetCallerIdentity' }),
      ],
      { inventory: inventory({ nodegroups: [{ cluster: 'payments', nodegroup: 'ng-1', nodeRoleArn: NODE_ROLE }] }) },
    );

    expect(report.clusters[0]!.warnings).toEqual([
      {
        type: 'node-role-calls',
        message:
          '3 calls with node role payments-nodes outside expected node traffic in payments (s3:ListBuckets, sts:GetCallerIdentity) from i-0aaa, i-0bbb: a pod is falling back to the instance role; some credentials came through IMDSv1',
        count: 3,
        last: '2024-05-15T10:00:00Z',
      },
    ]);
    expect(report.warnings).toEqual([]);
  });

  it('attributes node-role calls to the cluster the role was seen fetching Pod Identity credentials for', () => {
    const report = judge([fetchCreds(5 * DAY), nodeCall(2 * HOUR)], { inventory: emptyInventory() });

    expect(report.clusters).toHaveLength(1);
    expect(report.clusters[0]!.warnings).toEqual([
      {
        type: 'node-role-calls',
        message:
          '1 calls with node role payments-nodes outside expected node traffic in payments (s3:ListBuckets) from i-0aaa: a pod is falling back to the instance role',
        count: 1,
        last: '2024-05-15T10:00:00Z',
      },
    ]);
    expect(report.warnings).toEqual([]);
  });

  it('reports node-role calls of a role no cluster claims as a global warning', () => {
    const report = judge([pi(HOUR), nodeCall(2 * HOUR, { nodeRoleArn: role('orphan-nodes'), nodeInstanceId: 'i-0ddd' })]);

    expect(report.clusters[0]!.warnings).toEqual([]);
    expect(report.warnings).toEqual([
      {
        type: 'node-role-calls',
        message:
          '1 calls with node role orphan-nodes outside expected node traffic in no known cluster (import describe-nodegroup output to attribute it) (s3:ListBuckets) from i-0ddd: a pod is falling back to the instance role',
        count: 1,
        last: '2024-05-15T10:00:00Z',
      },
    ]);
  });

  it('reports no node-role warning for calls older than S', () => {
    const report = judge([pi(HOUR), nodeCall(20 * DAY)], { inventory: inventory({ nodegroups: [{ cluster: 'payments', nodegroup: 'ng-1', nodeRoleArn: NODE_ROLE }] }) });

    expect(report.clusters[0]!.warnings).toEqual([]);
    expect(report.warnings).toEqual([]);
  });

  it('attributes untagged Pod Identity to the one association using its role', () => {
    const report = judge([irsa(20 * DAY), untaggedPi(2 * DAY), untaggedPi(DAY)], { inventory: inventory({ associations: [assoc('billing', 'api', PI_ROLE)] }) });
    const r = row(report, 'billing');

    expect(r).toMatchObject({ verdict: 'READY', firstPodIdentity: '2024-05-13T12:00:00Z', lastPodIdentity: '2024-05-14T12:00:00Z', roles: [role('api-irsa'), PI_ROLE] });
    expect(r.detail).toEqual([
      {
        serviceAccount: 'api',
        roles: [role('api-irsa'), PI_ROLE],
        lastIrsa: '2024-04-25T12:00:00Z',
        lastPodIdentity: '2024-05-14T12:00:00Z',
        irsaAssumes: 1,
        irsaFailed: 0,
        podIdentityAssumes: 2,
        hasAssociation: true,
      },
    ]);
    expect(r.reasons).toContain("Pod Identity of api has no session tags (disableSessionTags): attributed through the association's role");
    expect(report.warnings).toEqual([]);
  });

  it('keeps untagged Pod Identity as a global warning when two associations share the role', () => {
    const report = judge([irsa(20 * DAY), untaggedPi(2 * DAY), untaggedPi(DAY)], {
      inventory: inventory({ associations: [assoc('billing', 'api', PI_ROLE), assoc('ledger', 'api', PI_ROLE)] }),
    });

    expect(row(report, 'billing').verdict).toBe('NOT_STARTED');
    expect(report.warnings).toEqual([
      {
        type: 'untagged-pod-identity',
        message: 'Pod Identity assumed api-pod-identity without session tags (association has disableSessionTags): namespace and service account are not in CloudTrail',
        count: 2,
        last: '2024-05-14T12:00:00Z',
      },
    ]);
  });

  it('does not attribute untagged Pod Identity through an association whose role is unknown (list summary)', () => {
    const report = judge([irsa(20 * DAY), untaggedPi(DAY)], { inventory: inventory({ associations: [assoc('billing', 'api', null)] }) });

    expect(row(report, 'billing').verdict).toBe('NOT_STARTED');
    expect(report.warnings.map((w) => [w.type, w.count])).toEqual([['untagged-pod-identity', 1]]);
  });

  it('reports no untagged warning for assumes older than S', () => {
    expect(judge([untaggedPi(20 * DAY)]).warnings).toEqual([]);
  });
});

describe('reasons', () => {
  it('says to restart the pods when an association exists but only IRSA is seen', () => {
    const r = verdictOf([irsa(HOUR)], { inventory: inventory({ associations: [assoc('billing', 'api', null)] }) });

    expect(r.verdict).toBe('NOT_STARTED');
    expect(r.detail[0]!.hasAssociation).toBe(true);
    expect(r.reasons).toEqual([
      'no successful Pod Identity assume seen',
      'IRSA last used 2024-05-15T11:00:00Z by api',
      'api already has a Pod Identity association but still assumes through IRSA: restart the pods',
    ]);
  });

  it('says to restart the pods of an associated service account still on IRSA in an IN_PROGRESS namespace', () => {
    const r = verdictOf([pi(PI_SINCE), irsa(HOUR)], { inventory: inventory({ associations: [assoc('billing', 'api', null)] }) });

    expect(r.verdict).toBe('IN_PROGRESS');
    expect(r.reasons.at(-1)).toBe('api already has a Pod Identity association but still assumes through IRSA: restart the pods');
  });

  it('does not say to restart pods without an association for that service account', () => {
    const r = verdictOf([irsa(HOUR), irsa(HOUR, 'billing', 'worker')], {
      inventory: inventory({ associations: [assoc('ledger', 'api', null), assoc('billing', 'api', null, SEARCH)] }),
    });

    expect(r.detail.map((d) => d.hasAssociation)).toEqual([false, false]);
    expect(r.reasons).toEqual(['no successful Pod Identity assume seen', 'IRSA last used 2024-05-15T11:00:00Z by api, worker']);
  });

  it('names the service account holding a namespace in its soak', () => {
    const r = verdictOf([pi(PI_SINCE), irsa(2 * DAY, 'billing', 'worker'), irsa(5 * DAY, 'billing', 'api')]);

    expect(r.reasons[1]).toBe('last IRSA assume 2024-05-13T12:00:00Z by worker; soak ends 2024-05-27T12:00:00Z');
    expect(r.roles).toEqual([role('api-irsa'), role('api-pi'), role('worker-irsa')]);
  });
});

describe('parseInventoryDocument', () => {
  const describeCluster = {
    cluster: {
      name: 'payments',
      arn: PAYMENTS_ARN,
      version: '1.29',
      identity: { oidc: { issuer: `https://${PAYMENTS_ISSUER}` } },
      status: 'ACTIVE',
    },
  };
  const listAssociations = {
    associations: [
      {
        clusterName: 'payments',
        namespace: 'billing',
        serviceAccount: 'api',
        associationArn: `arn:aws:eks:${REGION}:${ACCOUNT}:podidentityassociation/payments/a-abcdefghijklmnop1`,
        associationId: 'a-abcdefghijklmnop1',
      },
    ],
  };
  const describeAssociation = {
    association: {
      clusterName: 'payments',
      namespace: 'billing',
      serviceAccount: 'api',
      roleArn: PI_ROLE,
      associationArn: `arn:aws:eks:${REGION}:${ACCOUNT}:podidentityassociation/payments/a-abcdefghijklmnop1`,
      associationId: 'a-abcdefghijklmnop1',
      tags: {},
      createdAt: '2024-04-01T10:00:00.000000+00:00',
      modifiedAt: '2024-04-01T10:00:00.000000+00:00',
      disableSessionTags: true,
      targetRoleArn: role('target'),
      externalId: 'x',
    },
  };
  const describeNodegroup = {
    nodegroup: { nodegroupName: 'ng-1', nodegroupArn: 'arn:…', clusterName: 'payments', nodeRole: NODE_ROLE, status: 'ACTIVE' },
  };

  it('reads describe-cluster: name, ARN, region and account from the ARN, issuer without https://', () => {
    expect(parseInventoryDocument(describeCluster)).toEqual({
      ok: true,
      what: 'cluster',
      inventory: { clusters: [PAYMENTS], associations: [], nodegroups: [] },
    });
  });

  it('reads a describe-cluster without an OIDC identity as a cluster without issuer', () => {
    const parsed = parseInventoryDocument({ cluster: { name: 'payments', arn: PAYMENTS_ARN } });

    expect(parsed.ok && parsed.inventory.clusters).toEqual([{ ...PAYMENTS, oidcIssuer: null }]);
  });

  it('reads list-pod-identity-associations summaries, which name no role', () => {
    expect(parseInventoryDocument(listAssociations)).toEqual({
      ok: true,
      what: 'associations',
      inventory: {
        clusters: [],
        associations: [
          {
            cluster: 'payments',
            clusterArn: PAYMENTS_ARN,
            namespace: 'billing',
            serviceAccount: 'api',
            associationId: 'a-abcdefghijklmnop1',
            roleArn: null,
            targetRoleArn: null,
            disableSessionTags: null,
            createdAt: null,
          },
        ],
        nodegroups: [],
      },
    });
  });

  it('reads describe-pod-identity-association with its role, target role and disableSessionTags', () => {
    expect(parseInventoryDocument(describeAssociation)).toEqual({
      ok: true,
      what: 'association',
      inventory: {
        clusters: [],
        associations: [
          {
            cluster: 'payments',
            clusterArn: PAYMENTS_ARN,
            namespace: 'billing',
            serviceAccount: 'api',
            associationId: 'a-abcdefghijklmnop1',
            roleArn: PI_ROLE,
            targetRoleArn: role('target'),
            disableSessionTags: true,
            createdAt: '2024-04-01T10:00:00.000000+00:00',
          },
        ],
        nodegroups: [],
      },
    });
  });

  it('reads describe-nodegroup', () => {
    expect(parseInventoryDocument(describeNodegroup)).toEqual({
      ok: true,
      what: 'nodegroup',
      inventory: { clusters: [], associations: [], nodegroups: [{ cluster: 'payments', nodegroup: 'ng-1', nodeRoleArn: NODE_ROLE }] },
    });
  });

  it('reads an array of documents, naming each kind once', () => {
    const parsed = parseInventoryDocument([describeCluster, describeNodegroup, [listAssociations, describeCluster]]);

    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.what).toBe('cluster, nodegroup, associations');
    expect(parsed.inventory.clusters).toHaveLength(2);
    expect(parsed.inventory.associations).toHaveLength(1);
    expect(parsed.inventory.nodegroups).toHaveLength(1);
  });

  it.each([
    ['a number', 42, 'expected the JSON of an aws eks command, got number'],
    ['null', null, 'expected the JSON of an aws eks command, got null'],
    ['a string in an array', [describeCluster, 'x'], 'expected the JSON of an aws eks command, got string'],
    [
      'another command\'s output',
      { Roles: [], IsTruncated: false },
      'not the output of an aws eks or aws iam command this accepts (describe-cluster, list-pod-identity-associations, describe-pod-identity-association, describe-nodegroup, describe-addon, get-role, get-role-policy, list-attached-role-policies, get-policy-version, get-account-authorization-details; keys: Roles, IsTruncated)',
    ],
    [
      'an empty object',
      {},
      'not the output of an aws eks or aws iam command this accepts (describe-cluster, list-pod-identity-associations, describe-pod-identity-association, describe-nodegroup, describe-addon, get-role, get-role-policy, list-attached-role-policies, get-policy-version, get-account-authorization-details; keys: none)',
    ],
    ['a cluster without ARN', { cluster: { name: 'payments' } }, 'cluster.name and cluster.arn are required in describe-cluster output'],
    ['an association without namespace', { association: { clusterName: 'payments', serviceAccount: 'api' } }, 'association needs clusterName, namespace and serviceAccount'],
    ['a non-object association', { associations: ['a-1'] }, 'each association must be an object'],
    [
      'a nodegroup without role',
      { nodegroup: { nodegroupName: 'ng-1', clusterName: 'payments' } },
      'nodegroup.clusterName, nodegroupName and nodeRole are required in describe-nodegroup output',
    ],
  ])('rejects %s with a message', (_, doc, reason) => {
    expect(parseInventoryDocument(doc)).toEqual({ ok: false, reason });
  });
});

describe('mergeInventory', () => {
  const parsed = (doc: unknown): Inventory => {
    const p = parseInventoryDocument(doc);
    if (!p.ok) throw new Error(p.reason);
    return p.inventory;
  };
  const associationArn = `arn:aws:eks:${REGION}:${ACCOUNT}:podidentityassociation/payments/a-1`;

  it('keeps the role a describe told when a later list summary lacks it', () => {
    const described = parsed({
      association: { clusterName: 'payments', namespace: 'billing', serviceAccount: 'api', roleArn: PI_ROLE, associationArn, associationId: 'a-1', disableSessionTags: true },
    });
    const listed = parsed({ associations: [{ clusterName: 'payments', namespace: 'billing', serviceAccount: 'api', associationArn, associationId: 'a-1' }] });

    const merged = mergeInventory(described, listed);

    expect(merged.associations).toEqual([
      {
        cluster: 'payments',
        clusterArn: PAYMENTS_ARN,
        namespace: 'billing',
        serviceAccount: 'api',
        associationId: 'a-1',
        roleArn: PI_ROLE,
        targetRoleArn: null,
        disableSessionTags: true,
        createdAt: null,
      },
    ]);
  });

  it('takes a later role over an earlier one', () => {
    const a = parsed({ association: { clusterName: 'payments', namespace: 'billing', serviceAccount: 'api', roleArn: PI_ROLE, associationArn } });
    const b = parsed({ association: { clusterName: 'payments', namespace: 'billing', serviceAccount: 'api', roleArn: role('new'), associationArn } });

    expect(mergeInventory(a, b).associations.map((x) => x.roleArn)).toEqual([role('new')]);
  });

  it('keeps a cluster\'s issuer when a later record of it has none, and replaces node groups by name', () => {
    const first = mergeInventory(emptyInventory(), {
      clusters: [PAYMENTS],
      associations: [],
      nodegroups: [{ cluster: 'payments', nodegroup: 'ng-1', nodeRoleArn: role('old-nodes') }],
    });

    const merged = mergeInventory(first, {
      clusters: [{ ...PAYMENTS, oidcIssuer: null }, SEARCH],
      associations: [],
      nodegroups: [
        { cluster: 'payments', nodegroup: 'ng-1', nodeRoleArn: NODE_ROLE },
        { cluster: 'payments', nodegroup: 'ng-2', nodeRoleArn: NODE_ROLE },
      ],
    });

    expect(merged.clusters).toEqual([PAYMENTS, SEARCH]);
    expect(merged.nodegroups).toEqual([
      { cluster: 'payments', nodegroup: 'ng-1', nodeRoleArn: NODE_ROLE },
      { cluster: 'payments', nodegroup: 'ng-2', nodeRoleArn: NODE_ROLE },
    ]);
  });

  it('lets a merged describe/list inventory attribute untagged Pod Identity', () => {
    const inv = mergeInventory(
      mergeInventory(
        parsed(describeClusterDoc()),
        parsed({ association: { clusterName: 'payments', namespace: 'billing', serviceAccount: 'api', roleArn: PI_ROLE, associationArn } }),
      ),
      parsed({ associations: [{ clusterName: 'payments', namespace: 'billing', serviceAccount: 'api', associationArn }] }),
    );

    const report = judge([untaggedPi(HOUR)], { inventory: inv });

    expect(row(report, 'billing')).toMatchObject({ verdict: 'READY', serviceAccounts: ['api'], lastPodIdentity: '2024-05-15T11:00:00Z' });
    expect(report.warnings).toEqual([]);
  });
});

function describeClusterDoc() {
  return { cluster: { name: 'payments', arn: PAYMENTS_ARN, identity: { oidc: { issuer: `https://${PAYMENTS_ISSUER}` } } } };
}

describe('coverage: a verdict that says safe needs the CloudTrail it rests on', () => {
  const HERE = { account: ACCOUNT, region: REGION };
  const EAST = { account: ACCOUNT, region: 'us-east-1' };
  /** Log files read for every hour from `fromAgo` to `toAgo` before T. */
  const read = (fromAgo: number, toAgo: number, places = [HERE, EAST]) => logCoverage(places, T - fromAgo, T - toAgo);
  const without = (coverage: CoverageDay[], fromAgo: number, toAgo: number) => {
    const hole = new Set(read(fromAgo, toAgo, [HERE]).flatMap((d) => d.fileHours.map((h) => `${d.day}T${h}`)));
    return coverage.map((d) => (d.region !== REGION ? d : { ...d, fileHours: d.fileHours.filter((h) => !hole.has(`${d.day}T${h}`)) }));
  };
  const ready = [pi(PI_SINCE), irsa(20 * DAY)]; // READY on the evidence alone

  it('stands READY when every hour of the soak window was read', () => {
    const report = judge(ready, { coverage: read(30 * DAY, 0) });

    expect(row(report, 'billing')).toMatchObject({ verdict: 'READY', evidenceThrough: ago(0), unknownBecause: [] });
    expect(report.clusters[0]).toMatchObject({ verdict: 'READY', evidenceThrough: ago(0) });
    expect(report.coverage).toEqual([
      { account: ACCOUNT, region: 'us-east-1', from: ago(30 * DAY - HOUR), through: ago(0), gaps: [], sources: ['files'], unreadLogFiles: [], missingDigests: [] },
      { account: ACCOUNT, region: REGION, from: ago(30 * DAY - HOUR), through: ago(0), gaps: [], sources: ['files'], unreadLogFiles: [], missingDigests: [] },
    ]);
  });

  it('is UNKNOWN when nothing of the account and region was read, and says what to read', () => {
    const report = judge(ready, { coverage: [] });

    expect(row(report, 'billing')).toMatchObject({
      verdict: 'UNKNOWN',
      evidenceThrough: null,
      unknownBecause: [`no complete CloudTrail of account ${ACCOUNT} in ${REGION} was read: analyze its trail's log files (or \`cutover-watch backfill --region ${REGION}\`)`],
    });
    expect(report.clusters[0]!.verdict).toBe('UNKNOWN');
  });

  it('is UNKNOWN when the logs stop more than the active window before the as-of (stale), with the last well-founded verdict', () => {
    // Logs read until 10 days ago; judged now, silence since then would otherwise count as soak.
    const report = judge([pi(PI_SINCE + 20 * DAY), irsa(12 * DAY)], { coverage: read(40 * DAY, 10 * DAY) });
    const billing = row(report, 'billing');

    expect(billing.verdict).toBe('UNKNOWN');
    expect(billing.unknownBecause[0]).toMatch(/^stale: CloudTrail of account 111122223333 in us-west-2 was read only up to 2024-05-05T12:00:00Z, 240 h before the as-of/);
    // As of where the logs end, the last IRSA was 2 days before: SOAKING then, not READY now.
    expect(billing.lastWellFounded).toEqual({ verdict: 'SOAKING', through: ago(10 * DAY) });
    expect(billing.evidenceThrough).toBe(ago(10 * DAY));
    expect(report.clusters[0]!.verdict).toBe('UNKNOWN');
  });

  it('speaks as of where the logs end when they end within the active window', () => {
    const report = judge([pi(PI_SINCE), irsa(15 * DAY)], { coverage: read(30 * DAY, 6 * HOUR) });

    // At T the last IRSA is 15 days old (READY); the logs end 6 h earlier, still 14.75 days after it.
    expect(row(report, 'billing')).toMatchObject({ verdict: 'READY', evidenceThrough: ago(6 * HOUR) });
  });

  it('is UNKNOWN with a hole of several days in one region inside the soak window, naming the days and the region', () => {
    const coverage = without(read(40 * DAY, 0), 9 * DAY, 6 * DAY);
    const report = judge([pi(30 * DAY), irsa(25 * DAY)], { coverage });
    const billing = row(report, 'billing');

    expect(billing.verdict).toBe('UNKNOWN');
    expect(billing.unknownBecause).toHaveLength(1);
    expect(billing.unknownBecause[0]).toContain(`a hole in the CloudTrail read for account ${ACCOUNT} in ${REGION}: 2024-05-06 11:00..2024-05-09 14:00 UTC`);
    expect(billing.reasons).toContain('evidence alone: no IRSA assume in the 14-day soak window (last 2024-04-20T12:00:00Z)');
    // Before the hole the namespace was already READY (its last IRSA was 16 days before the hole).
    expect(billing.lastWellFounded).toEqual({ verdict: 'READY', through: '2024-05-06T11:00:00Z' });
    expect(report.clusters[0]).toMatchObject({ verdict: 'UNKNOWN' });
    expect(report.coverage.find((c) => c.region === REGION)!.gaps).toEqual([{ from: '2024-05-06T11:00:00Z', to: '2024-05-09T14:00:00Z' }]);
  });

  it("is UNKNOWN when a log file CloudTrail's digest lists was not read, though other files of its hour were, naming the file", () => {
    // Every hour has records (another file of the hour was read): without the digest, READY.
    const digest = new CoverageAccumulator();
    const missing = { account: ACCOUNT, region: REGION, day: '2024-05-10', token: '20240510T0320Z_MissingFile00001', oldest: Date.parse('2024-05-10T03:05:00Z'), newest: Date.parse('2024-05-10T03:15:00Z'), sha256: null };
    const read = { ...missing, token: '20240510T0350Z_ReadFile0000001', oldest: Date.parse('2024-05-10T03:35:00Z'), newest: Date.parse('2024-05-10T03:45:00Z') };
    digest.addListedFile(missing);
    digest.addListedFile(read);
    digest.addReadFile(read);
    const coverage = [...logCoverage([HERE, EAST], T - 30 * DAY, T), ...digest.days()];
    const report = judge(ready, { coverage });
    const billing = row(report, 'billing');

    expect(judge(ready, { coverage: logCoverage([HERE, EAST], T - 30 * DAY, T) }).namespaces[0]!.verdict).toBe('READY');
    expect(billing.verdict).toBe('UNKNOWN');
    expect(billing.unknownBecause).toEqual([
      expect.stringContaining(
        `a hole in the CloudTrail read for account ${ACCOUNT} in ${REGION}: 2024-05-10 03:00..2024-05-10 04:00 UTC, inside the window this verdict rests on; ` +
          `CloudTrail's digest files list a log file there that was not read: ${ACCOUNT}_CloudTrail_${REGION}_20240510T0320Z_MissingFile00001.json.gz;`,
      ),
    ]);
    expect(report.clusters[0]).toMatchObject({ verdict: 'UNKNOWN' });
    expect(report.coverage.find((c) => c.region === REGION)).toMatchObject({
      gaps: [{ from: '2024-05-10T03:00:00Z', to: '2024-05-10T04:00:00Z' }],
      unreadLogFiles: [`${ACCOUNT}_CloudTrail_${REGION}_20240510T0320Z_MissingFile00001.json.gz`],
    });
    // Read later (its mark may come from another run, under its own day): READY again.
    const later = new CoverageAccumulator();
    later.addReadFile(missing);
    expect(row(judge(ready, { coverage: [...coverage, ...later.days()] }), 'billing').verdict).toBe('READY');
  });

  it('ignores a hole older than the soak window, and one before the last IRSA of a SOAKING namespace', () => {
    const old = judge(ready, { coverage: without(read(40 * DAY, 0), 20 * DAY, 16 * DAY) });
    const soaking = judge([pi(PI_SINCE + 10 * DAY), irsa(5 * DAY)], { coverage: without(read(40 * DAY, 0), 10 * DAY, 8 * DAY) });

    expect(row(old, 'billing').verdict).toBe('READY');
    expect(row(soaking, 'billing').verdict).toBe('SOAKING');
  });

  it('is UNKNOWN after a backfill of fewer days than the soak window', () => {
    const coverage: CoverageDay[] = [];
    // LookupEvents slices for the last 7 days only (exact ranges), in both regions.
    const slices = new CoverageAccumulator();
    for (const p of [HERE, EAST]) slices.addSlice(p.account, p.region, T - 7 * DAY, T);
    coverage.push(...slices.days());
    const report = judge(ready, { coverage });

    expect(row(report, 'billing').verdict).toBe('UNKNOWN');
    expect(row(report, 'billing').unknownBecause[0]).toContain('2024-05-01 12:00..2024-05-08 12:00 UTC');
    expect(report.coverage[0]!.sources).toEqual(['backfill']);
  });

  it('requires us-east-1 where the namespace\'s IRSA was recorded there (global STS endpoint), and notes it was never read otherwise', () => {
    const viaGlobal = [pi(PI_SINCE), irsa(20 * DAY, 'billing', 'api', { region: 'us-east-1' })];
    const eastMissing = judge(viaGlobal, { coverage: read(30 * DAY, 0, [HERE]) });
    const regionalOnly = judge(ready, { coverage: read(30 * DAY, 0, [HERE]) });

    expect(row(eastMissing, 'billing').verdict).toBe('UNKNOWN');
    expect(row(eastMissing, 'billing').unknownBecause[0]).toContain(`account ${ACCOUNT} in us-east-1`);
    expect(row(regionalOnly, 'billing').verdict).toBe('READY');
    expect(row(regionalOnly, 'billing').reasons.at(-1)).toMatch(/^us-east-1 of account 111122223333 was never read: IRSA calls through the global STS endpoint are recorded there/);
  });

  it('counts live heartbeats as coverage while they are at most liveGapHours apart', () => {
    const live = new CoverageAccumulator();
    for (let t = T - 30 * DAY; t <= T; t += 5 * HOUR) live.addLiveEvent(ACCOUNT, REGION, new Date(t).toISOString());
    const steady = judge(ready, { coverage: live.days() });
    const sparse = judge(ready, { coverage: live.days(), liveGapHours: 3 }); // 4 silent hours between heartbeats

    expect(row(steady, 'billing').verdict).toBe('READY');
    expect(row(sparse, 'billing').verdict).toBe('UNKNOWN');
  });

  it('makes READY a PI-only namespace UNKNOWN while its cluster\'s issuer is unknown and unmapped IRSA sits in its region', () => {
    const noIssuer = inventory({ clusters: [{ ...PAYMENTS, oidcIssuer: null }] });
    const report = judge([pi(PI_SINCE), irsa(HOUR, 'billing', 'api', { oidcIssuer: STRAY_ISSUER })], { inventory: noIssuer });
    const mapped = judge([pi(PI_SINCE), irsa(HOUR)], { inventory: inventory() });

    expect(row(report, 'billing')).toMatchObject({ verdict: 'UNKNOWN' });
    expect(row(report, 'billing').unknownBecause[0]).toContain('run `cutover-watch inventory sync --region us-west-2`');
    expect(row(mapped, 'billing').verdict).toBe('IN_PROGRESS');
  });
});

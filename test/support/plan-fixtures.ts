import { parsePolicy } from '../../functions/core/policy';
import { withOwners, type NamespaceSection, type Straggler, type StragglerReport } from '../../functions/core/report';
import type { Verdict } from '../../functions/core/readiness';

/**
 * Hand-made report rows for the plan's tests: one cluster (payments, us-east-1), its stragglers
 * and clean-ups with the steps the report would give them (core/plan.ts, default options), and
 * only the report fields the plan reads.
 */
export const ACCOUNT = '111122223333';
export const CLUSTER_ARN = `arn:aws:eks:us-east-1:${ACCOUNT}:cluster/payments`;
export const ISSUER = 'oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789ABCDEF0123456789';

export function stragglerOf(over: Partial<Straggler>): Straggler {
  const row: Straggler = {
    id: '',
    clusterId: CLUSTER_ARN,
    cluster: 'payments',
    clusterArn: CLUSTER_ARN,
    oidcIssuer: ISSUER,
    namespace: 'orders',
    serviceAccount: 'orders-api',
    role: `arn:aws:iam::${ACCOUNT}:role/orders-api-irsa`,
    namespaceVerdict: over.nextStep === 'clean-up' ? 'READY' : 'NOT_STARTED',
    lastIrsa: '2026-11-19T22:00:00Z',
    lastPodIdentity: null,
    hasAssociation: false,
    associationRole: null,
    associationCreatedAt: null,
    irsaInActiveWindow: true,
    nextStep: 'create-association',
    nextStepText: '',
    ...over,
  };
  row.id = `${row.clusterId}|${row.namespace}|${row.serviceAccount}|${row.role ?? ''}`;
  return row;
}

function namespaceOf(row: Straggler): NamespaceSection {
  const empty = { irsa: [], irsaFailed: [], podIdentity: [], podIdentityFailed: [] };
  return {
    id: `${row.clusterId}|${row.namespace}`,
    clusterId: row.clusterId,
    cluster: row.cluster,
    clusterArn: row.clusterArn,
    oidcIssuer: row.oidcIssuer,
    namespace: row.namespace,
    verdict: row.namespaceVerdict,
    lastIrsa: row.lastIrsa,
    firstPodIdentity: null,
    lastPodIdentity: null,
    soakEndsAt: null,
    soakDaysLeft: null,
    serviceAccounts: [row.serviceAccount],
    reasons: [],
    evidenceThrough: null,
    unknownBecause: [],
    lastWellFounded: null,
    daily: empty,
  };
}

/** A report of one cluster whose OIDC provider has `verdict`, with these rows. */
export function tinyReport(stragglers: Straggler[], readyToCleanUp: Straggler[] = [], verdict: Verdict = 'NOT_STARTED'): StragglerReport {
  const rows = [...stragglers, ...readyToCleanUp];
  const namespaces = [...new Map(rows.map((r) => [r.namespace, namespaceOf(r)])).values()];
  const counts = { UNKNOWN: 0, NOT_STARTED: 0, IN_PROGRESS: 0, SOAKING: 0, READY: 0 };
  return {
    kind: 'cutover-watch-report',
    asOf: '2026-11-20T00:00:00Z',
    soakDays: 14,
    activeHours: 24,
    days: [],
    totals: {
      clusters: 1,
      oidcProvidersReady: verdict === 'READY' ? 1 : 0,
      namespaces: namespaces.length,
      verdicts: counts,
      stragglers: stragglers.length,
      stragglerServiceAccounts: stragglers.length,
      readyToCleanUp: readyToCleanUp.length,
      nextSteps: { 'create-association': 0, 'check-trust-policy': 0, 'restart-pods': 0, 'clean-up': 0 },
    },
    clusters: [
      {
        clusterId: CLUSTER_ARN,
        cluster: 'payments',
        name: 'payments',
        clusterArn: CLUSTER_ARN,
        oidcIssuer: ISSUER,
        verdict,
        namespaceCounts: counts,
        namespaces: namespaces.length,
        blockers: [],
        warnings: [],
        reasons: [],
        nextStep: '',
        steps: { before: [], after: [] },
        stragglers: stragglers.length,
        readyToCleanUp: readyToCleanUp.length,
      },
    ],
    namespaces,
    stragglers,
    readyToCleanUp,
    fleetDaily: { irsa: [], irsaFailed: [], podIdentity: [], podIdentityFailed: [] },
    changes: { previousAsOf: null, notes: [], newlyReady: [], regressions: [], progressed: [], newNamespaces: [], goneNamespaces: [], newStragglers: [], resolvedStragglers: [] },
    warnings: [],
    coverage: [],
    preflight: [],
  };
}

/** Two stragglers, one in a namespace the policy's owners name. */
export function ownedReport(): StragglerReport {
  const policy = parsePolicy(
    { owners: [{ cluster: 'payments', namespaces: ['orders', 'orders-*'], team: 'orders-team', email: 'orders@example.com', slack: '#orders', ticketProject: 'ORD' }] },
    'test policy',
  );
  return withOwners(tinyReport([stragglerOf({}), stragglerOf({ namespace: 'billing', serviceAccount: 'api' })]), policy, { group: true });
}

export const groupByOwnerForTest = (report: StragglerReport) => report.byOwner ?? [];

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyInventory, mergeInventory, parseInventoryDocument, type Inventory, type InventoryAssociation } from '../../functions/core/inventory';
import { preflight, type PreflightFinding, type PreflightKind } from '../../functions/core/preflight';
import type { NamespaceReadiness, ReadinessReport, ServiceAccountEvidence, Verdict } from '../../functions/core/readiness';
import { statementsOf } from '../../functions/core/trust-lint';

/**
 * Each preflight check on the fixture roles of test/fixtures/iam/ (the JSON `aws iam get-role`,
 * `get-role-policy`, `list-attached-role-policies`, `get-policy-version` and `aws eks
 * describe-addon` print), over a hand-made readiness report.
 */
const FIXTURES = path.join(__dirname, '../fixtures/iam');
const ACCOUNT = '111122223333';
const ISSUER = 'oidc.eks.us-east-1.amazonaws.com/id/5C5F5E5D4B3A29180716F5E4D3C2B1A0';
const PAYMENTS = `arn:aws:eks:us-east-1:${ACCOUNT}:cluster/payments-prod`;
const SEARCH = `arn:aws:eks:us-west-2:${ACCOUNT}:cluster/search-prod`;
const LEGACY = 'arn:aws:eks:eu-west-1:444455556666:cluster/legacy-batch';
const role = (name: string, account = ACCOUNT) => `arn:aws:iam::${account}:role/${name}`;
const NOW = '2026-12-02T00:00:00Z';

function cluster(arn: string, issuer: string) {
  const [, , , region, account, rest] = arn.split(':');
  return { cluster: { name: rest!.slice('cluster/'.length), arn, identity: { oidc: { issuer: `https://${issuer}` } }, status: 'ACTIVE' }, region, account };
}

function association(clusterArn: string, namespace: string, serviceAccount: string, roleName: string, disableSessionTags = false): InventoryAssociation {
  const name = clusterArn.slice(clusterArn.lastIndexOf('/') + 1);
  return { cluster: name, clusterArn, namespace, serviceAccount, associationId: `a-${namespace}${serviceAccount}`.slice(0, 19), roleArn: role(roleName, clusterArn.split(':')[4]), targetRoleArn: null, disableSessionTags, createdAt: '2026-11-20T10:00:00Z' };
}

function fixtureInventory(): Inventory {
  let inventory = emptyInventory();
  for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort()) {
    const parsed = parseInventoryDocument(JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')), { fileName: file });
    if (!parsed.ok) throw new Error(`${file}: ${parsed.reason}`);
    inventory = mergeInventory(inventory, parsed.inventory);
  }
  for (const [arn, issuer] of [[PAYMENTS, ISSUER], [SEARCH, 'oidc.eks.us-west-2.amazonaws.com/id/0A1B2C3D4E5F60718293A4B5C6D7E8F9'], [LEGACY, 'oidc.eks.eu-west-1.amazonaws.com/id/9F8E7D6C5B4A39281706F5E4D3C2B1A0']] as const) {
    const parsed = parseInventoryDocument({ cluster: cluster(arn, issuer).cluster });
    if (!parsed.ok) throw new Error(parsed.reason);
    inventory = mergeInventory(inventory, parsed.inventory);
  }
  return mergeInventory(inventory, {
    ...emptyInventory(),
    associations: [
      association(PAYMENTS, 'checkout', 'checkout-api', 'payments-prod-checkout-checkout-api'),
      association(PAYMENTS, 'reporting', 'report-builder', 'payments-prod-reporting-report-builder'),
      association(PAYMENTS, 'notifications', 'notifier', 'payments-prod-notifications-notifier'),
      association(PAYMENTS, 'ledger', 'ledger-api', 'payments-prod-ledger-ledger-api'),
      association(PAYMENTS, 'ledger', 'ledger-sync', 'payments-prod-ledger-ledger-sync', true),
      association(PAYMENTS, 'risk', 'risk-engine', 'payments-prod-shared-s3-reader'),
    ],
  });
}

function sa(serviceAccount: string, parts: Partial<ServiceAccountEvidence> = {}): ServiceAccountEvidence {
  return { serviceAccount, roles: [], lastIrsa: null, lastPodIdentity: null, irsaAssumes: 0, irsaFailed: 0, podIdentityAssumes: 0, hasAssociation: false, sdks: [], ...parts };
}

function row(clusterArn: string, namespace: string, verdict: Verdict, detail: ServiceAccountEvidence[]): NamespaceReadiness {
  const lastIrsa = detail.map((d) => d.lastIrsa).filter((t): t is string => t !== null).sort().at(-1) ?? null;
  const lastPi = detail.map((d) => d.lastPodIdentity).filter((t): t is string => t !== null).sort().at(-1) ?? null;
  return {
    cluster: clusterArn.slice(clusterArn.lastIndexOf('/') + 1),
    clusterArn,
    oidcIssuer: clusterArn === PAYMENTS ? ISSUER : null,
    namespace,
    verdict,
    lastIrsa,
    firstPodIdentity: lastPi,
    lastPodIdentity: lastPi,
    soakDaysLeft: null,
    soakEndsAt: null,
    serviceAccounts: detail.map((d) => d.serviceAccount),
    roles: [...new Set(detail.flatMap((d) => d.roles))],
    reasons: [],
    detail,
    evidenceThrough: NOW,
    unknownBecause: [],
    lastWellFounded: null,
  };
}

function readiness(namespaces: NamespaceReadiness[]): ReadinessReport {
  return { asOf: NOW, soakDays: 14, activeHours: 24, namespaces, clusters: [], coverage: [], warnings: [] };
}

const RECENT = '2026-12-01T21:00:00Z';
const OLD = '2026-11-08T10:00:00Z';

/** payments-prod: one namespace per check; search-prod: Pod Identity works; legacy-batch: never. */
function fleetReadiness(): ReadinessReport {
  return readiness([
    row(PAYMENTS, 'checkout', 'SOAKING', [sa('checkout-api', { roles: [role('payments-prod-checkout-checkout-api')], lastIrsa: '2026-11-25T10:00:00Z', lastPodIdentity: RECENT, hasAssociation: true, sdks: ['go-v1/1.50.38'] })]),
    row(PAYMENTS, 'orders', 'NOT_STARTED', [
      sa('orders-worker', { roles: [role('payments-prod-orders-orders-worker')], lastIrsa: RECENT, sdks: ['go-v1/1.44.122', 'go-v1/1.50.38', '?/curl/8.5.0'] }),
    ]),
    row(PAYMENTS, 'reporting', 'NOT_STARTED', [sa('report-builder', { roles: [role('payments-prod-reporting-report-builder')], lastIrsa: RECENT, hasAssociation: true, sdks: ['boto3/1.34.69'] })]),
    row(PAYMENTS, 'notifications', 'IN_PROGRESS', [sa('notifier', { roles: [role('payments-prod-notifications-notifier')], lastIrsa: RECENT, hasAssociation: true })]),
    row(PAYMENTS, 'ledger', 'READY', [
      sa('ledger-api', { roles: [role('payments-prod-ledger-ledger-api')], lastIrsa: OLD, lastPodIdentity: RECENT, hasAssociation: true, sdks: ['go-v1/1.44.122'] }),
      sa('ledger-sync', { roles: [role('payments-prod-ledger-ledger-sync')], lastIrsa: OLD, lastPodIdentity: RECENT, hasAssociation: true }),
    ]),
    row(PAYMENTS, 'risk', 'IN_PROGRESS', [sa('risk-engine', { roles: [role('payments-prod-shared-s3-reader')], lastIrsa: RECENT, lastPodIdentity: '2026-12-01T22:00:00Z', hasAssociation: true })]),
    row(SEARCH, 'indexer', 'READY', [sa('indexer', { lastIrsa: OLD, lastPodIdentity: RECENT, hasAssociation: true })]),
    row(LEGACY, 'etl-nightly', 'NOT_STARTED', [sa('etl-runner', { roles: [role('legacy-batch-etl-nightly-etl-runner', '444455556666')], lastIrsa: RECENT, sdks: ['botocore/1.34.69'] })]),
  ]);
}

const findings = () => preflight({ readiness: fleetReadiness(), inventory: fixtureInventory() });
const only = (all: PreflightFinding[], kind: PreflightKind) => {
  const hits = all.filter((f) => f.kind === kind);
  expect(hits, kind).toHaveLength(1);
  return hits[0]!;
};
/** The document the fix's update-assume-role-policy command carries, parsed. */
const policyOfCommand = (f: PreflightFinding) => {
  const argv = f.fix.commands[0]!;
  expect(argv.slice(0, 5)).toEqual(['aws', 'iam', 'update-assume-role-policy', '--role-name', f.roleArn!.slice(f.roleArn!.lastIndexOf('/') + 1)]);
  expect(argv[5]).toBe('--policy-document');
  return JSON.parse(argv[6]!);
};

describe('preflight on the fixture roles', () => {
  it('finds each problem once, blockers first, the agent before the namespaces of its cluster', () => {
    const all = findings();
    expect(all.map((f) => `${f.severity} ${f.kind} ${f.cluster}/${f.namespace ?? '-'}/${f.serviceAccount ?? '-'}`)).toEqual([
      'blocker agent-missing legacy-batch/-/-',
      'blocker session-tags-needed payments-prod/ledger/ledger-sync',
      'blocker trust-condition-excludes payments-prod/notifications/notifier',
      'blocker sdk-too-old payments-prod/orders/orders-worker',
      'blocker trust-no-pods-principal payments-prod/orders/orders-worker',
      'blocker trust-no-tag-session payments-prod/reporting/report-builder',
      'blocker agent-not-active search-prod/-/-',
      'warning sdk-unknown payments-prod/orders/orders-worker',
      'warning irsa-wildcard-sub payments-prod/risk/risk-engine',
      'warning irsa-no-aud payments-prod/risk/risk-engine',
      'cleanup oidc-statement-left payments-prod/ledger/-',
    ]);
  });

  it('trust-no-pods-principal: the IRSA-only role of a straggler gets the statement AWS documents, the IRSA one kept', () => {
    const f = only(findings(), 'trust-no-pods-principal');
    expect(f).toMatchObject({ severity: 'blocker', account: ACCOUNT, region: 'us-east-1', roleArn: role('payments-prod-orders-orders-worker') });
    expect(f.summary).toMatch(/^before the association: payments-prod-orders-orders-worker does not trust pods\.eks\.amazonaws\.com/);
    const doc = f.fix.document as Record<string, unknown>;
    expect(policyOfCommand(f)).toEqual(doc);
    expect(statementsOf(doc)).toEqual([
      expect.objectContaining({ Action: 'sts:AssumeRoleWithWebIdentity' }),
      { Sid: 'AllowEksAuthToAssumeRoleForPodIdentity', Effect: 'Allow', Principal: { Service: 'pods.eks.amazonaws.com' }, Action: ['sts:AssumeRole', 'sts:TagSession'] },
    ]);
  });

  it('trust-no-tag-session: sts:TagSession added to the pods statement, nothing else changed', () => {
    const f = only(findings(), 'trust-no-tag-session');
    const before = JSON.parse(readFileSync(path.join(FIXTURES, 'get-role-payments-prod-reporting-report-builder.json'), 'utf8')).Role.AssumeRolePolicyDocument;
    const doc = policyOfCommand(f);
    expect(doc).toEqual(f.fix.document);
    expect(doc.Statement[0]).toEqual(before.Statement[0]);
    expect(doc.Statement[1]).toEqual({ ...before.Statement[1], Action: ['sts:AssumeRole', 'sts:TagSession'] });
    expect(f.evidence).toBe('statement 2 allows sts:AssumeRole');
  });

  it('trust-condition-excludes: each excluding condition named, and widened to admit the cluster', () => {
    const f = only(findings(), 'trust-condition-excludes');
    expect(f.evidence).toContain('StringEquals aws:SourceAccount "444455556666" does not admit 111122223333');
    expect(f.evidence).toContain('StringEquals aws:RequestTag/kubernetes-namespace "notifications-staging" does not admit notifications');
    expect(f.evidence).toContain(`ArnEquals aws:SourceArn "arn:aws:eks:us-east-1:444455556666:cluster/payments-staging" does not admit ${PAYMENTS}`);
    expect(policyOfCommand(f).Statement[0].Condition).toEqual({
      StringEquals: { 'aws:SourceAccount': ['444455556666', ACCOUNT], 'aws:RequestTag/kubernetes-namespace': ['notifications-staging', 'notifications'] },
      ArnEquals: { 'aws:SourceArn': ['arn:aws:eks:us-east-1:444455556666:cluster/payments-staging', PAYMENTS] },
    });
  });

  it('session-tags-needed: the inline and the attached policy that read aws:PrincipalTag, and the command that turns tags back on', () => {
    const f = only(findings(), 'session-tags-needed');
    expect(f.evidence).toBe(
      'inline policy ledger-bucket-by-namespace uses aws:PrincipalTag/kubernetes-namespace; managed policy ledger-queue-by-service-account uses aws:PrincipalTag/kubernetes-service-account',
    );
    expect(f.fix.commands).toEqual([
      ['aws', 'eks', 'update-pod-identity-association', '--cluster-name', 'payments-prod', '--association-id', 'a-ledgerledger-sync', '--no-disable-session-tags', '--region', 'us-east-1'],
    ]);
  });

  it('irsa-wildcard-sub and irsa-no-aud: the statement narrowed to the service account seen using it', () => {
    const all = findings();
    for (const kind of ['irsa-wildcard-sub', 'irsa-no-aud'] as const) {
      const f = only(all, kind);
      expect(f.severity).toBe('warning');
      expect(policyOfCommand(f).Statement[0]).toEqual({
        Sid: 'AnyRiskServiceAccount',
        Effect: 'Allow',
        Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER}` },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringEquals: { [`${ISSUER}:sub`]: 'system:serviceaccount:risk:risk-engine', [`${ISSUER}:aud`]: 'sts.amazonaws.com' } },
      });
    }
  });

  it('oidc-statement-left: the READY namespace\'s role loses its IRSA statement, keeps the pods one', () => {
    const f = only(findings(), 'oidc-statement-left');
    expect(f).toMatchObject({ severity: 'cleanup', cluster: 'payments-prod', namespace: 'ledger', roleArn: role('payments-prod-ledger-ledger-api') });
    expect(f.evidence).toBe(`statement LegacyIrsa: sts:AssumeRoleWithWebIdentity from ${ISSUER}`);
    expect(policyOfCommand(f).Statement).toEqual([{ Sid: 'AllowEksAuthToAssumeRoleForPodIdentity', Effect: 'Allow', Principal: { Service: 'pods.eks.amazonaws.com' }, Action: ['sts:AssumeRole', 'sts:TagSession'] }]);
  });

  it('sdk-too-old and sdk-unknown: per straggler, only the versions that fail, with the command that lists its images', () => {
    const all = findings();
    const old = only(all, 'sdk-too-old');
    expect(old.evidence).toContain('AWS SDK for Go v1 1.44.122 < 1.47.11');
    expect(old.evidence).not.toContain('1.50.38');
    expect(old.fix.text).toBe('upgrade the SDK first: AWS SDK for Go v1 to 1.47.11 or later; rebuild and roll out the image, then switch');
    expect(old.fix.commands[0]!.slice(0, 7)).toEqual(['kubectl', 'get', 'pods', '-n', 'orders', '--field-selector', 'spec.serviceAccountName=orders-worker']);
    expect(only(all, 'sdk-unknown').evidence).toBe('user agent "curl/8.5.0" names no AWS SDK this check knows');
    // ledger-api ran Go v1 1.44.122 through IRSA too, but it is on Pod Identity now (READY): nothing to say.
    expect(all.filter((f) => f.serviceAccount === 'ledger-api' && f.kind.startsWith('sdk'))).toEqual([]);
  });

  it('agent: a DEGRADED add-on is repaired, a cluster with stragglers and no Pod Identity ever gets create-addon first', () => {
    const all = findings();
    expect(only(all, 'agent-not-active')).toMatchObject({
      cluster: 'search-prod',
      region: 'us-west-2',
      evidence: "describe-addon: status DEGRADED, version v1.3.2-eksbuild.2, health: InsufficientNumberOfReplicas: The add-on is unhealthy because it doesn't have the desired number of replicas.",
    });
    const missing = only(all, 'agent-missing');
    expect(missing).toMatchObject({ cluster: 'legacy-batch', account: '444455556666', region: 'eu-west-1', namespace: null });
    expect(missing.fix.commands).toEqual([
      ['aws', 'eks', 'create-addon', '--cluster-name', 'legacy-batch', '--addon-name', 'eks-pod-identity-agent', '--region', 'eu-west-1'],
      ['aws', 'eks', 'wait', 'addon-active', '--cluster-name', 'legacy-batch', '--addon-name', 'eks-pod-identity-agent', '--region', 'eu-west-1'],
    ]);
    expect(all[0]).toBe(missing);
  });

  it('a listed add-on set without the agent is missing even with no straggler; a cluster where Pod Identity works has an agent', () => {
    const inventory = fixtureInventory();
    inventory.clusters = inventory.clusters.map((c) => (c.arn === LEGACY ? { ...c, addonsListed: ['coredns', 'kube-proxy', 'vpc-cni'] } : c.arn === SEARCH ? { ...c, addonsListed: ['vpc-cni'] } : c));
    inventory.addons = [];
    const report = readiness([row(SEARCH, 'indexer', 'READY', [sa('indexer', { lastIrsa: OLD, lastPodIdentity: RECENT, hasAssociation: true })])]);
    const agent = preflight({ readiness: report, inventory }).filter((f) => f.kind.startsWith('agent'));
    expect(agent.map((f) => [f.kind, f.cluster, f.evidence])).toEqual([['agent-missing', 'legacy-batch', 'ListAddons: coredns, kube-proxy, vpc-cni; no Pod Identity assume ever seen in the cluster']]);
  });

  it('the clean fixture role and a role never read say nothing', () => {
    const all = findings();
    expect(all.filter((f) => f.roleArn === role('payments-prod-checkout-checkout-api'))).toEqual([]);
    expect(all.filter((f) => f.roleArn === role('legacy-batch-etl-nightly-etl-runner', '444455556666'))).toEqual([]);
  });

  it('finds nothing in an empty fleet', () => {
    expect(preflight({ readiness: readiness([]), inventory: emptyInventory() })).toEqual([]);
  });

  it('session tags disabled: no TagSession needed, but a RequestTag condition can never hold', () => {
    const inventory = fixtureInventory();
    inventory.associations = inventory.associations.map((a) => (a.serviceAccount === 'report-builder' || a.serviceAccount === 'notifier' ? { ...a, disableSessionTags: true } : a));
    const all = preflight({ readiness: fleetReadiness(), inventory });
    expect(all.filter((f) => f.kind === 'trust-no-tag-session')).toEqual([]);
    const excludes = only(all, 'trust-condition-excludes');
    expect(excludes.evidence).toContain('StringEquals aws:RequestTag/kubernetes-namespace needs a session tag, and the association disables session tags');
    expect(policyOfCommand(excludes).Statement[0].Condition.StringEquals).toEqual({ 'aws:SourceAccount': ['444455556666', ACCOUNT] });
  });
});

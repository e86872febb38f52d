import { describe, expect, it } from 'vitest';
import { alertId, type Alert } from '../../functions/core/alert';
import {
  detect,
  detectionNeeds,
  placeOf,
  spikeKeyOf,
  windowStart,
  type DetectionNeeds,
  type DetectionState,
  type NamespaceState,
} from '../../functions/core/detections';
import type { IdentityEvent } from '../../functions/core/identity-event';
import { ingestBatch } from '../../functions/core/ingest';
import type { Inventory, InventoryAssociation } from '../../functions/core/inventory';
import { defaultPolicy, parsePolicy, type Policy } from '../../functions/core/policy';
import { scopePk } from '../../functions/core/table-schema';
import { identityEvent } from '../support/events';
import { MemoryStore } from '../support/memory-store';

const ACCOUNT = '111122223333';
const REGION = 'us-west-2';
const CLUSTER = 'payments';
const CLUSTER_ARN = `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/${CLUSTER}`;
const ISSUER = `oidc.eks.${REGION}.amazonaws.com/id/PAYMENTS0000000000000000000000001`;
const UNMAPPED_ISSUER = `oidc.eks.${REGION}.amazonaws.com/id/UNKNOWN00000000000000000000000009`;
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const PI_ROLE = role('payments-api-pi');
const IRSA_ROLE = role('payments-api-irsa');
const NODE_ROLE = role('payments-node-role');
const NOW = new Date('2024-05-20T12:00:00Z');

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** `iso` moved by `ms`, written the way CloudTrail writes times (no milliseconds). */
const shift = (iso: string, ms: number): string => new Date(Date.parse(iso) + ms).toISOString().replace('.000Z', 'Z');

const INVENTORY: Inventory = {
  clusters: [{ name: CLUSTER, arn: CLUSTER_ARN, region: REGION, account: ACCOUNT, oidcIssuer: ISSUER }],
  associations: [],
  nodegroups: [],
};

const POLICY = defaultPolicy();
const policyWith = (doc: unknown): Policy => parsePolicy(doc, 'test.policy.json');

function stateWith(s: Partial<DetectionState> = {}): DetectionState {
  return {
    roleFirstSeen: new Map(),
    roleNamespaces: new Set(),
    spikeCounts: new Map(),
    namespaces: new Map(),
    nodeRoleClusters: new Map(),
    inventory: INVENTORY,
    ...s,
  };
}

const base = (eventId: string, eventTime: string): Partial<IdentityEvent> => ({ eventId, eventTime, account: ACCOUNT, region: REGION });

const pi = (eventId: string, eventTime: string, fields: Partial<IdentityEvent> = {}) =>
  identityEvent('pod-identity', {
    ...base(eventId, eventTime),
    cluster: CLUSTER,
    clusterArn: CLUSTER_ARN,
    namespace: 'billing',
    serviceAccount: 'api',
    roleArn: PI_ROLE,
    podName: 'api-1',
    sessionTagsMissing: false,
    ...fields,
  });

const irsa = (eventId: string, eventTime: string, fields: Partial<IdentityEvent> = {}) =>
  identityEvent('irsa', {
    ...base(eventId, eventTime),
    action: 'sts:AssumeRoleWithWebIdentity',
    oidcIssuer: ISSUER,
    namespace: 'billing',
    serviceAccount: 'api',
    roleArn: IRSA_ROLE,
    ...fields,
  });

const deniedFetch = (eventId: string, eventTime: string, fields: Partial<IdentityEvent> = {}) =>
  identityEvent('pod-identity-fetch', {
    ...base(eventId, eventTime),
    outcome: 'denied',
    errorCode: 'AccessDenied',
    action: 'eks-auth:AssumeRoleForPodIdentity',
    cluster: CLUSTER,
    clusterArn: CLUSTER_ARN,
    nodeInstanceId: 'i-0aaa',
    nodeRoleArn: NODE_ROLE,
    ...fields,
  });

const nodeCall = (eventId: string, eventTime: string, fields: Partial<IdentityEvent> = {}) =>
  identityEvent('node-role', {
    ...base(eventId, eventTime),
    action: 's3:ListBuckets',
    nodeInstanceId: 'i-0aaa',
    nodeRoleArn: NODE_ROLE,
    imdsVersion: '2.0',
    userAgent: 'aws-cli/2.15.0',
    ...fields,
  });

const of = (alerts: Alert[], detection: Alert['detection']) => alerts.filter((a) => a.detection === detection);
const byId = (alerts: Alert[]) => [...alerts].sort((a, b) => (a.id < b.id ? -1 : 1));

describe('placeOf', () => {
  it('places a Pod Identity event in the cluster ARN the record names', () => {
    expect(placeOf(pi('e-1', '2024-05-15T09:00:00Z'), INVENTORY)).toEqual({ place: CLUSTER_ARN, cluster: CLUSTER, clusterArn: CLUSTER_ARN });
  });

  it('places an IRSA event in the cluster the inventory maps its issuer to', () => {
    expect(placeOf(irsa('e-1', '2024-05-15T09:00:00Z'), INVENTORY)).toEqual({ place: CLUSTER_ARN, cluster: CLUSTER, clusterArn: CLUSTER_ARN });
  });

  it('places an IRSA event of an unmapped issuer in the issuer, with no cluster', () => {
    expect(placeOf(irsa('e-1', '2024-05-15T09:00:00Z', { oidcIssuer: UNMAPPED_ISSUER }), INVENTORY)).toEqual({
      place: `issuer:${UNMAPPED_ISSUER}`,
      cluster: null,
      clusterArn: null,
    });
  });

  it('places an event with neither cluster ARN nor issuer in `?`, keeping the cluster name it has', () => {
    expect(placeOf(nodeCall('e-1', '2024-05-15T09:00:00Z', { cluster: 'orders' }), INVENTORY)).toEqual({ place: '?', cluster: 'orders', clusterArn: null });
  });
});

describe('spikeKeyOf and windowStart', () => {
  it('keys denied fetches by (cluster, node), IRSA by (issuer, namespace, SA, role), node-role calls by (node role, instance)', () => {
    expect(spikeKeyOf(deniedFetch('e-1', '2024-05-15T09:00:00Z'))).toBe(`fetch|${CLUSTER_ARN}|i-0aaa`);
    expect(spikeKeyOf(irsa('e-2', '2024-05-15T09:00:00Z', { outcome: 'denied' }))).toBe(`irsa|${ISSUER}|billing|api|${IRSA_ROLE}`);
    expect(spikeKeyOf(nodeCall('e-3', '2024-05-15T09:00:00Z', { outcome: 'denied' }))).toBe(`node|${NODE_ROLE}|i-0aaa`);
  });

  it('keys nothing for successes or for denied Pod Identity assumes', () => {
    expect(spikeKeyOf(deniedFetch('e-1', '2024-05-15T09:00:00Z', { outcome: 'success', errorCode: null }))).toBeNull();
    expect(spikeKeyOf(irsa('e-2', '2024-05-15T09:00:00Z'))).toBeNull();
    expect(spikeKeyOf(pi('e-3', '2024-05-15T09:00:00Z', { outcome: 'denied', errorCode: 'AccessDenied' }))).toBeNull();
  });

  it('aligns windows on the epoch: the last second of a window and the first of the next fall apart', () => {
    expect(windowStart('2024-05-15T09:04:59Z', 5)).toBe('2024-05-15T09:00:00.000Z');
    expect(windowStart('2024-05-15T09:05:00Z', 5)).toBe('2024-05-15T09:05:00.000Z');
    expect(windowStart('2024-05-15T23:59:59Z', 24 * 60)).toBe('2024-05-15T00:00:00.000Z');
    expect(windowStart('2024-05-15T13:00:00Z', 6 * 60)).toBe('2024-05-15T12:00:00.000Z');
  });
});

describe('detectionNeeds', () => {
  it('asks for each role, (role, namespace) pair, spike window and node role once, from successes and denials as each needs', () => {
    const events = [
      pi('e-1', '2024-05-15T09:00:00Z'),
      pi('e-2', '2024-05-15T09:01:00Z'),
      pi('e-3', '2024-05-15T09:02:00Z', { namespace: 'reports' }),
      pi('e-4', '2024-05-15T09:03:00Z', { namespace: 'ledger', outcome: 'denied', errorCode: 'AccessDenied' }),
      deniedFetch('e-5', '2024-05-15T09:00:01Z'),
      deniedFetch('e-6', '2024-05-15T09:04:59Z'),
      deniedFetch('e-7', '2024-05-15T09:05:00Z'),
      nodeCall('e-8', '2024-05-15T09:00:00Z'),
      nodeCall('e-9', '2024-05-15T10:00:00Z', { action: 'ec2:DescribeInstances' }),
    ];

    const needs = detectionNeeds(events, INVENTORY, POLICY);

    expect(needs).toEqual<DetectionNeeds>({
      roles: [PI_ROLE],
      roleNamespaces: [
        { roleArn: PI_ROLE, namespace: 'billing' },
        { roleArn: PI_ROLE, namespace: 'reports' },
      ],
      spikes: [
        { key: `fetch|${CLUSTER_ARN}|i-0aaa`, window: '2024-05-15T09:00:00.000Z' },
        { key: `fetch|${CLUSTER_ARN}|i-0aaa`, window: '2024-05-15T09:05:00.000Z' },
      ],
      namespaces: [],
      nodeRoles: [NODE_ROLE],
    });
  });

  it('asks for an IRSA namespace under both its issuer scope and its mapped cluster scope, and under the issuer alone when unmapped', () => {
    const events = [
      irsa('e-1', '2024-05-15T09:00:00Z'),
      irsa('e-2', '2024-05-15T09:01:00Z', { serviceAccount: 'worker', outcome: 'denied', errorCode: 'AccessDenied' }),
      irsa('e-3', '2024-05-15T09:02:00Z', { oidcIssuer: UNMAPPED_ISSUER, namespace: 'ops' }),
    ];

    const needs = detectionNeeds(events, INVENTORY, POLICY);

    expect(needs.namespaces).toEqual([
      { place: CLUSTER_ARN, namespace: 'billing', scopes: [`issuer:${ISSUER}`, `cluster:${CLUSTER_ARN}`] },
      { place: `issuer:${UNMAPPED_ISSUER}`, namespace: 'ops', scopes: [`issuer:${UNMAPPED_ISSUER}`] },
    ]);
    expect(needs.roles).toEqual([IRSA_ROLE]);
    expect(needs.roleNamespaces).toEqual([
      { roleArn: IRSA_ROLE, namespace: 'billing' },
      { roleArn: IRSA_ROLE, namespace: 'ops' },
    ]);
    expect(needs.spikes).toEqual([{ key: `irsa|${ISSUER}|billing|worker|${IRSA_ROLE}`, window: '2024-05-15T09:00:00.000Z' }]);
  });

  it('uses the policy spike window size', () => {
    const needs = detectionNeeds([deniedFetch('e-1', '2024-05-15T09:14:00Z')], INVENTORY, policyWith({ accessDeniedSpike: { windowMinutes: 15 } }));

    expect(needs.spikes).toEqual([{ key: `fetch|${CLUSTER_ARN}|i-0aaa`, window: '2024-05-15T09:00:00.000Z' }]);
  });
});

describe('the owner on an alert', () => {
  it("carries the policy's owner of the namespace, and nothing when no owners rule matches", () => {
    const policy = parsePolicy({ owners: [{ cluster: 'pay*', namespaces: ['default'], team: 'platform', slack: '#platform' }] }, 'p.json');
    const [owned] = detect([pi('e-1', '2024-05-15T09:00:00Z', { namespace: 'default', serviceAccount: 'default' })], stateWith(), policy, NOW);
    expect(owned!.owner).toEqual({ team: 'platform', slack: '#platform' });
    const [unowned] = detect([pi('e-1', '2024-05-15T09:00:00Z', { namespace: 'default', serviceAccount: 'default' })], stateWith(), POLICY, NOW);
    expect(unowned).not.toHaveProperty('owner');
  });
});

describe('unexpected-namespace: deny list, system namespaces, allow rules', () => {
  it('raises a high alert for a Pod Identity assume from the default namespace, dated by the event day', () => {
    const alerts = detect([pi('e-1', '2024-05-15T09:00:00Z', { namespace: 'default', serviceAccount: 'default' })], stateWith(), POLICY, NOW);

    expect(alerts).toHaveLength(1);
    const [alert] = alerts;
    expect(alert).toMatchObject({
      detection: 'unexpected-namespace',
      severity: 'high',
      key: `${CLUSTER_ARN}|default|default|${PI_ROLE}`,
      window: '2024-05-15',
      cluster: CLUSTER,
      clusterArn: CLUSTER_ARN,
      namespace: 'default',
      serviceAccount: 'default',
      roleArn: PI_ROLE,
      nodeRoleArn: null,
      count: 1,
      firstEventTime: '2024-05-15T09:00:00Z',
      lastEventTime: '2024-05-15T09:00:00Z',
      sampleEventIds: ['e-1'],
      raisedAt: '2024-05-20T12:00:00.000Z',
    });
    expect(alert!.id).toBe(alertId('unexpected-namespace', `${CLUSTER_ARN}|default|default|${PI_ROLE}`, '2024-05-15'));
    expect(alert!.summary).toContain('payments-api-pi');
    expect(alert!.summary).toContain('default/default');
    expect(alert!.summary).toContain('deny list (default, *-sandbox)');
    expect(alert!.likelyCause).toContain('aws:RequestTag/kubernetes-namespace');
    expect(alert!.nextStep).toContain('aws eks list-pod-identity-associations --cluster-name payments --namespace default');
  });

  it('matches deny globs: an IRSA assume from team-sandbox names the admitted subject', () => {
    const alerts = detect([irsa('e-1', '2024-05-15T09:00:00Z', { namespace: 'team-sandbox', serviceAccount: 'probe' })], stateWith(), POLICY, NOW);

    expect(alerts.map((a) => [a.detection, a.severity, a.namespace, a.cluster])).toEqual([['unexpected-namespace', 'high', 'team-sandbox', CLUSTER]]);
    expect(alerts[0]!.likelyCause).toContain('system:serviceaccount:team-sandbox:probe');
    expect(alerts[0]!.nextStep).toContain(`${ISSUER}:sub`);
  });

  it('ignores a denied assume from a denied namespace', () => {
    const alerts = detect([pi('e-1', '2024-05-15T09:00:00Z', { namespace: 'default', outcome: 'denied', errorCode: 'AccessDenied' })], stateWith(), POLICY, NOW);

    expect(alerts).toEqual([]);
  });

  it('raises one alert per UTC day for the same finding, growing count, times and samples within the day', () => {
    const events = [
      pi('e-1', '2024-05-15T00:00:00Z', { namespace: 'default' }),
      pi('e-2', '2024-05-15T12:00:00Z', { namespace: 'default' }),
      pi('e-3', '2024-05-15T23:59:59Z', { namespace: 'default' }),
      pi('e-4', '2024-05-16T00:00:00Z', { namespace: 'default' }),
    ];

    const alerts = detect(events, stateWith(), POLICY, NOW);

    expect(alerts.map((a) => [a.window, a.count, a.firstEventTime, a.lastEventTime, a.sampleEventIds])).toEqual([
      ['2024-05-15', 3, '2024-05-15T00:00:00Z', '2024-05-15T23:59:59Z', ['e-1', 'e-2', 'e-3']],
      ['2024-05-16', 1, '2024-05-16T00:00:00Z', '2024-05-16T00:00:00Z', ['e-4']],
    ]);
    expect(alerts[0]!.id).not.toBe(alerts[1]!.id);
  });

  it('raises for a workload role in kube-system and not for a system add-on role there', () => {
    const alerts = detect(
      [
        pi('e-1', '2024-05-15T09:00:00Z', { namespace: 'kube-system', serviceAccount: 'debug' }),
        pi('e-2', '2024-05-15T09:00:01Z', { namespace: 'kube-system', serviceAccount: 'aws-node', roleArn: role('eks-vpc-cni-role') }),
      ],
      stateWith(),
      POLICY,
      NOW,
    );

    expect(alerts.map((a) => [a.serviceAccount, a.severity])).toEqual([['debug', 'high']]);
    expect(alerts[0]!.summary).toContain('kube-system is a system namespace and payments-api-pi is not a system role');
  });

  it('allows a role matched by an allow rule only from that rule\'s namespaces', () => {
    const policy = policyWith({ unexpectedNamespace: { allow: [{ cluster: 'pay*', roles: ['payments-api-*'], namespaces: ['billing', 'billing-*'] }] } });
    const events = [
      pi('e-1', '2024-05-15T09:00:00Z', { namespace: 'billing' }),
      pi('e-2', '2024-05-15T09:00:01Z', { namespace: 'billing-canary' }),
      pi('e-3', '2024-05-15T09:00:02Z', { namespace: 'reports', serviceAccount: 'exporter' }),
    ];

    const alerts = detect(events, stateWith(), policy, NOW);

    expect(alerts.map((a) => [a.namespace, a.serviceAccount, a.severity, a.window])).toEqual([['reports', 'exporter', 'high', '2024-05-15']]);
    expect(alerts[0]!.summary).toContain('payments-api-pi may only be used from billing, billing-*');
  });

  it('matches allow-rule roles by full ARN as well as by name', () => {
    const policy = policyWith({ unexpectedNamespace: { allow: [{ roles: [PI_ROLE], namespaces: ['billing'] }] } });

    const alerts = detect([pi('e-1', '2024-05-15T09:00:00Z', { namespace: 'reports' })], stateWith(), policy, NOW);

    expect(alerts.map((a) => a.namespace)).toEqual(['reports']);
  });

  it('does not apply an allow rule to another cluster or to roles it does not name', () => {
    const otherCluster = policyWith({ unexpectedNamespace: { allow: [{ cluster: 'orders', roles: ['payments-api-*'], namespaces: ['billing'] }] } });
    const otherRole = policyWith({ unexpectedNamespace: { allow: [{ roles: ['orders-*'], namespaces: ['orders'] }] } });
    const event = pi('e-1', '2024-05-15T09:00:00Z', { namespace: 'reports' });

    expect(detect([event], stateWith(), otherCluster, NOW)).toEqual([]);
    expect(detect([event], stateWith(), otherRole, NOW)).toEqual([]);
  });

  it('applies an any-cluster allow rule to an IRSA assume whose issuer the inventory does not map', () => {
    const policy = policyWith({ unexpectedNamespace: { allow: [{ roles: ['payments-api-*'], namespaces: ['billing'] }] } });

    const alerts = detect([irsa('e-1', '2024-05-15T09:00:00Z', { oidcIssuer: UNMAPPED_ISSUER, namespace: 'reports' })], stateWith(), policy, NOW);

    expect(alerts.map((a) => [a.detection, a.namespace, a.cluster, a.oidcIssuer, a.key])).toEqual([
      ['unexpected-namespace', 'reports', null, UNMAPPED_ISSUER, `issuer:${UNMAPPED_ISSUER}|reports|api|${IRSA_ROLE}`],
    ]);
    expect(alerts[0]!.summary).toContain(`in ${UNMAPPED_ISSUER}`);
  });
});

describe('unexpected-namespace: first seen (role, namespace)', () => {
  const firstSeen = '2024-05-08T09:00:00Z';
  const known = () => stateWith({ roleFirstSeen: new Map([[PI_ROLE, firstSeen]]), roleNamespaces: new Set([`${PI_ROLE}|billing`]) });

  it('raises a medium first-seen alert for a new namespace of a role first seen more than learningDays before', () => {
    const alerts = detect([pi('e-1', shift(firstSeen, 7 * DAY + 1000), { namespace: 'reports', serviceAccount: 'exporter' })], known(), POLICY, NOW);

    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      detection: 'unexpected-namespace',
      severity: 'medium',
      window: 'first-seen',
      key: `${CLUSTER_ARN}|reports|exporter|${PI_ROLE}`,
      namespace: 'reports',
      serviceAccount: 'exporter',
      roleArn: PI_ROLE,
      firstEventTime: '2024-05-15T09:00:01Z',
    });
    expect(alerts[0]!.summary).toContain('payments-api-pi, used since 2024-05-08, was assumed from namespace reports (exporter) for the first time, through Pod Identity');
    expect(alerts[0]!.nextStep).toContain('unexpectedNamespace.allow');
  });

  it('stays quiet when the role was first seen exactly learningDays before (still learning)', () => {
    expect(detect([pi('e-1', shift(firstSeen, 7 * DAY), { namespace: 'reports' })], known(), POLICY, NOW)).toEqual([]);
  });

  it('stays quiet within the learning period', () => {
    expect(detect([pi('e-1', shift(firstSeen, 6 * DAY), { namespace: 'reports' })], known(), POLICY, NOW)).toEqual([]);
  });

  it('follows the policy learningDays', () => {
    const policy = policyWith({ unexpectedNamespace: { learningDays: 1 } });

    expect(detect([pi('e-1', shift(firstSeen, DAY), { namespace: 'reports' })], known(), policy, NOW)).toEqual([]);
    expect(detect([pi('e-1', shift(firstSeen, DAY + 1000), { namespace: 'reports' })], known(), policy, NOW).map((a) => a.window)).toEqual(['first-seen']);
  });

  it('stays quiet for a pair the state already knows', () => {
    expect(detect([pi('e-1', '2024-05-30T09:00:00Z', { namespace: 'billing' })], known(), POLICY, NOW)).toEqual([]);
  });

  it('stays quiet for a role never seen before (its first use starts the learning period)', () => {
    expect(detect([pi('e-1', '2024-05-30T09:00:00Z', { namespace: 'reports' })], stateWith(), POLICY, NOW)).toEqual([]);
  });

  it('raises a new pair once per batch: a later event of the same pair in the batch sees it as known', () => {
    const alerts = detect(
      [
        pi('e-1', '2024-05-20T09:00:00Z', { namespace: 'reports' }),
        pi('e-2', '2024-05-20T10:00:00Z', { namespace: 'reports' }),
        pi('e-3', '2024-05-21T09:00:00Z', { namespace: 'reports' }),
      ],
      known(),
      POLICY,
      NOW,
    );

    expect(alerts.map((a) => [a.window, a.count, a.sampleEventIds])).toEqual([['first-seen', 1, ['e-1']]]);
  });

  it('learns a role first seen earlier in the same batch: its new namespace 8 days later raises', () => {
    const alerts = detect(
      [
        pi('e-2', '2024-05-09T09:00:00Z', { namespace: 'reports' }),
        pi('e-1', '2024-05-01T09:00:00Z', { namespace: 'billing' }),
        pi('e-3', '2024-05-03T09:00:00Z', { namespace: 'ledger' }),
      ],
      stateWith(),
      POLICY,
      NOW,
    );

    expect(alerts.map((a) => [a.namespace, a.window, a.severity])).toEqual([['reports', 'first-seen', 'medium']]);
    expect(alerts[0]!.summary).toContain('used since 2024-05-01');
  });

  it('does not learn from denied assumes: the role is still unknown', () => {
    const alerts = detect(
      [pi('e-1', '2024-05-01T09:00:00Z', { outcome: 'denied', errorCode: 'AccessDenied' }), pi('e-2', '2024-05-20T09:00:00Z', { namespace: 'reports' })],
      stateWith(),
      POLICY,
      NOW,
    );

    expect(alerts).toEqual([]);
  });

  it('raises a deny-list alert instead of a first-seen one for a new pair in a denied namespace', () => {
    const alerts = detect([pi('e-1', '2024-05-20T09:00:00Z', { namespace: 'default' })], known(), POLICY, NOW);

    expect(alerts.map((a) => [a.window, a.severity])).toEqual([['2024-05-20', 'high']]);
  });

  it('says IRSA and names the sub condition for a first-seen IRSA pair', () => {
    const state = stateWith({ roleFirstSeen: new Map([[IRSA_ROLE, firstSeen]]) });

    const alerts = detect([irsa('e-1', '2024-05-20T09:00:00Z', { namespace: 'reports' })], state, POLICY, NOW);

    expect(alerts.map((a) => [a.detection, a.window])).toEqual([['unexpected-namespace', 'first-seen']]);
    expect(alerts[0]!.summary).toContain('through IRSA');
    expect(alerts[0]!.likelyCause).toContain('trust policy subject');
    expect(alerts[0]!.nextStep).toContain(`${ISSUER}:sub`);
  });
});

describe('access-denied-spike', () => {
  it('counts access failures only: throttled or failing calls (outcome error) never make a spike', () => {
    const throttled = [1, 2, 3, 4, 5, 6].map((i) => deniedFetch(`t-${i}`, `2024-05-15T09:00:0${i}Z`, { outcome: 'error', errorCode: 'ThrottlingException' }));

    expect(detect(throttled, stateWith(), POLICY, NOW)).toEqual([]);
  });

  const fetches = (n: number, start = '2024-05-15T09:00:00Z', prefix = 'f') =>
    Array.from({ length: n }, (_, i) => deniedFetch(`${prefix}-${i + 1}`, shift(start, i * 1000)));

  it('stays quiet at threshold - 1 denied fetches in a window', () => {
    expect(detect(fetches(4), stateWith(), POLICY, NOW)).toEqual([]);
  });

  it('raises at the threshold, counting the window, naming the node and cluster and the trust-policy causes', () => {
    const alerts = detect(fetches(5), stateWith(), POLICY, NOW);

    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      detection: 'access-denied-spike',
      severity: 'high',
      key: `fetch|${CLUSTER_ARN}|i-0aaa`,
      window: '2024-05-15T09:00:00.000Z',
      cluster: CLUSTER,
      clusterArn: CLUSTER_ARN,
      nodeInstanceId: 'i-0aaa',
      nodeRoleArn: NODE_ROLE,
      action: 'eks-auth:AssumeRoleForPodIdentity',
      count: 5,
      lastEventTime: '2024-05-15T09:00:04Z',
    });
    expect(alerts[0]!.summary).toContain('denied on i-0aaa in payments (5 within 5 min, AccessDenied)');
    expect(alerts[0]!.likelyCause).toContain('sts:TagSession');
    expect(alerts[0]!.likelyCause).toContain('aws:RequestTag/eks-cluster-name');
    expect(alerts[0]!.nextStep).toContain('--cluster-name payments');
  });

  it('keeps one alert per window as more denials arrive, stating the final count, with samples from the window start', () => {
    const alerts = detect(fetches(8), stateWith(), POLICY, NOW);

    expect(alerts.map((a) => [a.count, a.sampleEventIds, a.firstEventTime, a.lastEventTime])).toEqual([
      [8, ['f-1', 'f-2', 'f-3', 'f-4', 'f-5'], '2024-05-15T09:00:00Z', '2024-05-15T09:00:07Z'],
    ]);
    expect(alerts[0]!.summary).toContain('8 within 5 min');
  });

  it('keeps at most five sample event ids', () => {
    const alerts = detect(fetches(7), stateWith(), policyWith({ accessDeniedSpike: { threshold: 1 } }), NOW);

    expect(alerts.map((a) => [a.count, a.sampleEventIds])).toEqual([[7, ['f-1', 'f-2', 'f-3', 'f-4', 'f-5']]]);
  });

  it('does not add up denials of two adjacent windows', () => {
    const events = [...fetches(3, '2024-05-15T09:04:57Z', 'a'), ...fetches(4, '2024-05-15T09:05:00Z', 'b')];

    expect(events.map((e) => e.eventTime)).toContain('2024-05-15T09:04:59Z');
    expect(detect(events, stateWith(), POLICY, NOW)).toEqual([]);
  });

  it('counts denials of the same window from before the batch (state) toward the threshold and the count', () => {
    const state = stateWith({
      spikeCounts: new Map([
        [`fetch|${CLUSTER_ARN}|i-0aaa|2024-05-15T09:00:00.000Z`, 4],
        [`fetch|${CLUSTER_ARN}|i-0aaa|2024-05-15T08:55:00.000Z`, 40],
      ]),
    });

    const alerts = detect(fetches(1, '2024-05-15T09:03:00Z'), state, POLICY, NOW);

    expect(alerts.map((a) => [a.count, a.window, a.sampleEventIds])).toEqual([[5, '2024-05-15T09:00:00.000Z', ['f-1']]]);
    expect(state.spikeCounts.get(`fetch|${CLUSTER_ARN}|i-0aaa|2024-05-15T09:00:00.000Z`)).toBe(4);
  });

  it('stays quiet when prior denials of another window would have reached the threshold', () => {
    const state = stateWith({ spikeCounts: new Map([[`fetch|${CLUSTER_ARN}|i-0aaa|2024-05-15T08:55:00.000Z`, 4]]) });

    expect(detect(fetches(1, '2024-05-15T09:00:00Z'), state, POLICY, NOW)).toEqual([]);
  });

  it('counts each node separately', () => {
    const events = [...fetches(3), ...fetches(2, '2024-05-15T09:01:00Z', 'g').map((e) => ({ ...e, nodeInstanceId: 'i-0bbb' }))];

    expect(detect(events, stateWith(), POLICY, NOW)).toEqual([]);
  });

  it('follows the policy threshold and window size', () => {
    const policy = policyWith({ accessDeniedSpike: { threshold: 2, windowMinutes: 60 } });

    const alerts = detect([deniedFetch('f-1', '2024-05-15T09:00:00Z'), deniedFetch('f-2', '2024-05-15T09:59:59Z')], stateWith(), policy, NOW);

    expect(alerts.map((a) => [a.window, a.count])).toEqual([['2024-05-15T09:00:00.000Z', 2]]);
    expect(alerts[0]!.summary).toContain('2 within 60 min');
  });

  it('keys IRSA denials by service account and names the exact sub and aud to check', () => {
    const denied = (id: string, t: string, sa: string) => irsa(id, t, { outcome: 'denied', errorCode: 'AccessDenied', serviceAccount: sa });
    const events = [
      ...[0, 1, 2, 3, 4].map((i) => denied(`a-${i}`, shift('2024-05-15T09:00:00Z', i * 1000), 'api')),
      ...[0, 1, 2, 3].map((i) => denied(`w-${i}`, shift('2024-05-15T09:00:00Z', i * 1000), 'worker')),
    ];

    const alerts = of(detect(events, stateWith(), POLICY, NOW), 'access-denied-spike');

    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      key: `irsa|${ISSUER}|billing|api|${IRSA_ROLE}`,
      cluster: CLUSTER,
      clusterArn: CLUSTER_ARN,
      oidcIssuer: ISSUER,
      namespace: 'billing',
      serviceAccount: 'api',
      roleArn: IRSA_ROLE,
      count: 5,
    });
    expect(alerts[0]!.summary).toContain('payments-api-irsa denied for system:serviceaccount:billing:api (5 within 5 min, AccessDenied)');
    expect(alerts[0]!.likelyCause).toContain(`${ISSUER}:sub condition must equal system:serviceaccount:billing:api exactly`);
    expect(alerts[0]!.likelyCause).toContain(':aud sts.amazonaws.com');
  });

  it('keys node-role denials by (node role, instance)', () => {
    const denied = (id: string, t: string, instance: string) =>
      nodeCall(id, t, { outcome: 'denied', errorCode: 'AccessDenied', nodeInstanceId: instance, action: `s3:GetObject` });
    const events = [
      ...[0, 1, 2, 3, 4].map((i) => denied(`n-${i}`, shift('2024-05-15T09:00:00Z', i * 1000), 'i-0aaa')),
      ...[0, 1, 2, 3].map((i) => denied(`m-${i}`, shift('2024-05-15T09:00:00Z', i * 1000), 'i-0bbb')),
    ];

    const alerts = of(detect(events, stateWith(), POLICY, NOW), 'access-denied-spike');

    expect(alerts.map((a) => [a.key, a.nodeInstanceId, a.count])).toEqual([[`node|${NODE_ROLE}|i-0aaa`, 'i-0aaa', 5]]);
    expect(alerts[0]!.summary).toContain('payments-node-role denied on i-0aaa');
    expect(alerts[0]!.likelyCause).toContain('fell back to the instance role');
  });
});

describe('node-role-fallthrough', () => {
  it('escalates to critical, and says IMDSv1, when IMDSv1 credentials follow IMDSv2 ones in the same window', () => {
    const alerts = detect(
      [nodeCall('n-1', '2024-05-15T09:00:00Z'), nodeCall('n-2', '2024-05-15T10:00:00Z', { imdsVersion: '1.0' })],
      stateWith(),
      POLICY,
      NOW,
    );

    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ severity: 'critical', count: 2, sampleEventIds: ['n-1', 'n-2'] });
    expect(alerts[0]!.summary).toContain('IMDSv1');
  });

  it('raises one alert per (node role, instance, call) per day, naming instance, cluster and call', () => {
    const state = stateWith({ nodeRoleClusters: new Map([[NODE_ROLE, [CLUSTER]]]) });
    const events = [
      nodeCall('n-1', '2024-05-15T00:00:00Z'),
      nodeCall('n-2', '2024-05-15T13:00:00Z', { nodeInstanceId: 'i-0bbb' }),
      nodeCall('n-3', '2024-05-15T23:59:59Z'),
      nodeCall('n-4', '2024-05-15T10:00:00Z', { action: 'dynamodb:GetItem' }),
      nodeCall('n-5', '2024-05-16T00:00:00Z'),
    ];

    const alerts = detect(events, state, POLICY, NOW);

    expect(alerts.map((a) => [a.detection, a.key, a.window, a.count, a.sampleEventIds, a.lastEventTime, a.severity])).toEqual([
      ['node-role-fallthrough', `${NODE_ROLE}|i-0aaa|s3:ListBuckets`, '2024-05-15T00:00:00.000Z', 2, ['n-1', 'n-3'], '2024-05-15T23:59:59Z', 'high'],
      ['node-role-fallthrough', `${NODE_ROLE}|i-0aaa|dynamodb:GetItem`, '2024-05-15T00:00:00.000Z', 1, ['n-4'], '2024-05-15T10:00:00Z', 'high'],
      ['node-role-fallthrough', `${NODE_ROLE}|i-0bbb|s3:ListBuckets`, '2024-05-15T00:00:00.000Z', 1, ['n-2'], '2024-05-15T13:00:00Z', 'high'],
      ['node-role-fallthrough', `${NODE_ROLE}|i-0aaa|s3:ListBuckets`, '2024-05-16T00:00:00.000Z', 1, ['n-5'], '2024-05-16T00:00:00Z', 'high'],
    ]);
    expect(alerts[1]).toMatchObject({
      cluster: CLUSTER,
      clusterArn: null,
      namespace: null,
      serviceAccount: null,
      roleArn: null,
      nodeRoleArn: NODE_ROLE,
      nodeInstanceId: 'i-0aaa',
      action: 'dynamodb:GetItem',
    });
    expect(alerts[1]!.summary).toBe('dynamodb:GetItem called with the instance role of i-0aaa in payments (success)');
    expect(alerts[1]!.nextStep).toContain('find the pod on i-0aaa (user agent: aws-cli/2.15.0)');
    expect(alerts[2]!.summary).toContain('instance role of i-0bbb');
  });

  it('lists every cluster of a shared node role and sets no single cluster', () => {
    const state = stateWith({ nodeRoleClusters: new Map([[NODE_ROLE, ['orders', CLUSTER]]]) });

    const [alert] = detect([nodeCall('n-1', '2024-05-15T09:00:00Z', { outcome: 'denied', errorCode: 'AccessDenied' })], state, POLICY, NOW).filter(
      (a) => a.detection === 'node-role-fallthrough',
    );

    expect(alert?.cluster).toBeNull();
    expect(alert?.summary).toBe('s3:ListBuckets called with the instance role of i-0aaa in orders, payments (denied AccessDenied)');
  });

  it('names the node role when no cluster is known for it', () => {
    const alerts = detect([nodeCall('n-1', '2024-05-15T09:00:00Z')], stateWith(), POLICY, NOW);

    expect(alerts.map((a) => [a.cluster, a.summary])).toEqual([[null, 's3:ListBuckets called with the instance role of i-0aaa in node role payments-node-role (success)']]);
  });

  it('is critical and says IMDSv1 when the credentials came through IMDS 1.0', () => {
    const alerts = detect([nodeCall('n-1', '2024-05-15T09:00:00Z', { imdsVersion: '1.0' })], stateWith(), POLICY, NOW);

    expect(alerts.map((a) => a.severity)).toEqual(['critical']);
    expect(alerts[0]!.summary).toContain('the credentials came through IMDSv1');
    expect(alerts[0]!.likelyCause).toContain('IMDSv1 answers any process');
    expect(alerts[0]!.nextStep).toContain('HttpTokens=required');
  });

  it('raises an IMDSv1 instance as its own critical alert beside the IMDSv2 instances of the same node role and call', () => {
    const events = [nodeCall('n-1', '2024-05-15T09:00:00Z'), nodeCall('n-2', '2024-05-15T10:00:00Z', { imdsVersion: '1.0', nodeInstanceId: 'i-0ccc' })];

    const alerts = detect(events, stateWith(), POLICY, NOW);

    expect(alerts.map((a) => [a.nodeInstanceId, a.severity, a.count, a.summary.includes('IMDSv1')])).toEqual([
      ['i-0aaa', 'high', 1, false],
      ['i-0ccc', 'critical', 1, true],
    ]);
  });

  it('keeps the IMDSv1 wording and critical severity when an IMDSv2 call on the same instance follows an IMDSv1 one', () => {
    const events = [nodeCall('n-1', '2024-05-15T09:00:00Z', { imdsVersion: '1.0' }), nodeCall('n-2', '2024-05-15T10:00:00Z')];

    const alerts = detect(events, stateWith(), POLICY, NOW);

    expect(alerts.map((a) => [a.severity, a.count, a.sampleEventIds])).toEqual([['critical', 2, ['n-1', 'n-2']]]);
    expect(alerts[0]!.summary).toContain('IMDSv1');
  });

  it('follows the policy windowHours, aligned on the epoch', () => {
    const policy = policyWith({ nodeRoleFallthrough: { windowHours: 6 } });
    const events = [nodeCall('n-1', '2024-05-15T05:59:59Z'), nodeCall('n-2', '2024-05-15T06:00:00Z'), nodeCall('n-3', '2024-05-15T11:59:59Z')];

    const alerts = detect(events, stateWith(), policy, NOW);

    expect(alerts.map((a) => [a.window, a.count])).toEqual([
      ['2024-05-15T00:00:00.000Z', 1],
      ['2024-05-15T06:00:00.000Z', 2],
    ]);
  });
});

describe('irsa-regression', () => {
  const ns = (s: NamespaceState, place = CLUSTER_ARN) => stateWith({ namespaces: new Map([[`${place}|billing`, s]]) });
  const event = '2024-05-15T09:00:00Z';

  it('raises high for IRSA in a namespace that was READY, naming the SA, role, previous IRSA and the restarted soak', () => {
    const state = ns({ firstPodIdentity: '2024-04-01T00:00:00Z', lastIrsa: '2024-04-25T08:00:00Z' });

    const alerts = of(detect([irsa('e-1', event)], state, POLICY, NOW), 'irsa-regression');

    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      severity: 'high',
      key: `${CLUSTER_ARN}|billing|api`,
      window: '2024-05-15',
      cluster: CLUSTER,
      clusterArn: CLUSTER_ARN,
      oidcIssuer: ISSUER,
      namespace: 'billing',
      serviceAccount: 'api',
      roleArn: IRSA_ROLE,
      action: 'sts:AssumeRoleWithWebIdentity',
      count: 1,
      sampleEventIds: ['e-1'],
    });
    expect(alerts[0]!.summary).toBe(
      'IRSA is back in billing (payments), which was READY: api assumed payments-api-irsa through the OIDC provider (previous IRSA 2024-04-25); the soak clock restarts',
    );
    expect(alerts[0]!.nextStep).toContain('kubectl get sa api -n billing');
    expect(alerts[0]!.nextStep).toContain('keep the OIDC trust until 2024-05-29');
  });

  it('raises medium for IRSA in a namespace that was SOAKING', () => {
    const state = ns({ firstPodIdentity: '2024-04-01T00:00:00Z', lastIrsa: '2024-05-12T09:00:00Z' });

    const alerts = of(detect([irsa('e-1', event)], state, POLICY, NOW), 'irsa-regression');

    expect(alerts.map((a) => a.severity)).toEqual(['medium']);
    expect(alerts[0]!.summary).toContain('which was SOAKING');
  });

  it('takes a namespace that never used IRSA but has Pod Identity as READY', () => {
    const alerts = of(detect([irsa('e-1', event)], ns({ firstPodIdentity: '2024-05-01T00:00:00Z', lastIrsa: null }), POLICY, NOW), 'irsa-regression');

    expect(alerts.map((a) => a.severity)).toEqual(['high']);
    expect(alerts[0]!.summary).not.toContain('previous IRSA');
  });

  it('stays quiet when the previous IRSA is exactly activeHours before (the namespace is still in progress)', () => {
    const state = ns({ firstPodIdentity: '2024-04-01T00:00:00Z', lastIrsa: shift(event, -24 * HOUR) });

    expect(of(detect([irsa('e-1', event)], state, POLICY, NOW), 'irsa-regression')).toEqual([]);
  });

  it('raises once the previous IRSA is a second older than the active window', () => {
    const state = ns({ firstPodIdentity: '2024-04-01T00:00:00Z', lastIrsa: shift(event, -24 * HOUR - 1000) });

    expect(of(detect([irsa('e-1', event)], state, POLICY, NOW), 'irsa-regression').map((a) => a.severity)).toEqual(['medium']);
  });

  it('follows the policy activeHours', () => {
    const state = ns({ firstPodIdentity: '2024-04-01T00:00:00Z', lastIrsa: shift(event, -2 * HOUR) });

    expect(of(detect([irsa('e-1', event)], state, policyWith({ soak: { activeHours: 1 } }), NOW), 'irsa-regression')).toHaveLength(1);
  });

  it('stays quiet when the previous IRSA is after the event (late delivery)', () => {
    const state = ns({ firstPodIdentity: '2024-04-01T00:00:00Z', lastIrsa: '2024-05-16T00:00:00Z' });

    expect(of(detect([irsa('e-1', event)], state, POLICY, NOW), 'irsa-regression')).toEqual([]);
  });

  it('stays quiet without Pod Identity, or with Pod Identity first seen after the event', () => {
    expect(of(detect([irsa('e-1', event)], ns({ firstPodIdentity: null, lastIrsa: '2024-04-01T00:00:00Z' }), POLICY, NOW), 'irsa-regression')).toEqual([]);
    expect(of(detect([irsa('e-1', event)], ns({ firstPodIdentity: '2024-05-15T09:00:01Z', lastIrsa: null }), POLICY, NOW), 'irsa-regression')).toEqual([]);
    expect(of(detect([irsa('e-1', event)], stateWith(), POLICY, NOW), 'irsa-regression')).toEqual([]);
  });

  it('sees Pod Identity from earlier in the same batch, whatever the input order', () => {
    const events = [irsa('e-2', '2024-05-15T09:00:00Z'), pi('e-1', '2024-05-15T08:00:00Z')];

    const alerts = of(detect(events, stateWith(), POLICY, NOW), 'irsa-regression');

    expect(alerts.map((a) => [a.key, a.severity, a.sampleEventIds])).toEqual([[`${CLUSTER_ARN}|billing|api`, 'high', ['e-2']]]);
  });

  it('raises only for the first IRSA of a regression: the namespace is in progress for the later ones of the batch', () => {
    const state = ns({ firstPodIdentity: '2024-04-01T00:00:00Z', lastIrsa: '2024-04-20T00:00:00Z' });
    const events = [irsa('e-1', '2024-05-15T09:00:00Z'), irsa('e-2', '2024-05-15T10:00:00Z', { serviceAccount: 'worker' }), irsa('e-3', '2024-05-15T11:00:00Z')];

    const alerts = of(detect(events, state, POLICY, NOW), 'irsa-regression');

    expect(alerts.map((a) => [a.serviceAccount, a.count])).toEqual([['api', 1]]);
  });

  it('places an unmapped issuer\'s namespace in the issuer', () => {
    const state = ns({ firstPodIdentity: '2024-04-01T00:00:00Z', lastIrsa: null }, `issuer:${UNMAPPED_ISSUER}`);

    const alerts = of(detect([irsa('e-1', event, { oidcIssuer: UNMAPPED_ISSUER })], state, POLICY, NOW), 'irsa-regression');

    expect(alerts.map((a) => [a.key, a.cluster, a.clusterArn])).toEqual([[`issuer:${UNMAPPED_ISSUER}|billing|api`, null, null]]);
    expect(alerts[0]!.summary).toContain(`billing (${UNMAPPED_ISSUER})`);
  });
});

describe('irsa-after-association', () => {
  const association = (fields: Partial<InventoryAssociation> = {}): InventoryAssociation => ({
    cluster: CLUSTER,
    clusterArn: CLUSTER_ARN,
    namespace: 'billing',
    serviceAccount: 'api',
    associationId: 'a-0123456789',
    roleArn: PI_ROLE,
    targetRoleArn: null,
    disableSessionTags: null,
    createdAt: '2024-05-14T09:00:00Z',
    ...fields,
  });
  const withAssociation = (a: InventoryAssociation) => stateWith({ inventory: { ...INVENTORY, associations: [a] } });

  it('stays quiet when the association was created exactly activeHours before the IRSA event', () => {
    expect(of(detect([irsa('e-1', '2024-05-15T09:00:00Z')], withAssociation(association()), POLICY, NOW), 'irsa-after-association')).toEqual([]);
  });

  it('raises once per association for IRSA more than activeHours after it, dated by the association', () => {
    const events = [irsa('e-1', '2024-05-15T09:00:01Z'), irsa('e-2', '2024-05-16T10:00:00Z'), irsa('e-3', '2024-05-15T09:30:00Z', { serviceAccount: 'worker' })];

    const alerts = of(detect(events, withAssociation(association()), POLICY, NOW), 'irsa-after-association');

    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      severity: 'low',
      key: `${CLUSTER_ARN}|billing|api`,
      window: '2024-05-14 association a-0123456789',
      cluster: CLUSTER,
      clusterArn: CLUSTER_ARN,
      namespace: 'billing',
      serviceAccount: 'api',
      roleArn: IRSA_ROLE,
      count: 2,
      firstEventTime: '2024-05-15T09:00:01Z',
      lastEventTime: '2024-05-16T10:00:00Z',
      sampleEventIds: ['e-1', 'e-2'],
    });
    expect(alerts[0]!.summary).toBe('billing/api still assumes payments-api-irsa through IRSA, though its Pod Identity association exists since 2024-05-14');
    // the plan's commands, not a restart of every Deployment of the namespace
    expect(alerts[0]!.nextStep).toContain('cutover-watch plan -c payments -n billing');
    expect(alerts[0]!.nextStep).not.toContain('rollout restart deployment -n');
  });

  it('gives a recreated association its own alert', () => {
    const first = detect([irsa('e-1', '2024-05-16T09:00:00Z')], withAssociation(association()), POLICY, NOW);
    const second = detect([irsa('e-1', '2024-05-16T09:00:00Z')], withAssociation(association({ associationId: 'a-9', createdAt: '2024-05-15T01:00:00Z' })), POLICY, NOW);

    const [a] = of(first, 'irsa-after-association');
    const [b] = of(second, 'irsa-after-association');
    expect(b?.window).toBe('2024-05-15 association a-9');
    expect(a?.id).not.toBe(b?.id);
  });

  it('finds an association by cluster name when it has no cluster ARN', () => {
    const alerts = of(detect([irsa('e-1', '2024-05-16T09:00:00Z')], withAssociation(association({ clusterArn: null })), POLICY, NOW), 'irsa-after-association');

    expect(alerts.map((a) => a.key)).toEqual([`${CLUSTER_ARN}|billing|api`]);
  });

  it('stays quiet when createdAt is unknown, the issuer is unmapped, or the service account has no association', () => {
    const later = irsa('e-1', '2024-05-20T09:00:00Z');

    expect(of(detect([later], withAssociation(association({ createdAt: null })), POLICY, NOW), 'irsa-after-association')).toEqual([]);
    expect(of(detect([irsa('e-1', '2024-05-20T09:00:00Z', { oidcIssuer: UNMAPPED_ISSUER })], withAssociation(association()), POLICY, NOW), 'irsa-after-association')).toEqual([]);
    expect(of(detect([later], withAssociation(association({ serviceAccount: 'worker' })), POLICY, NOW), 'irsa-after-association')).toEqual([]);
  });

  it('follows the policy activeHours', () => {
    const alerts = of(detect([irsa('e-1', '2024-05-14T11:00:00Z')], withAssociation(association()), policyWith({ soak: { activeHours: 1 } }), NOW), 'irsa-after-association');

    expect(alerts.map((a) => a.firstEventTime)).toEqual(['2024-05-14T11:00:00Z']);
  });
});

describe('detect: ids, order and severity', () => {
  const mixed = (): IdentityEvent[] => [
    pi('p-1', '2024-05-15T08:00:00Z', { namespace: 'default' }),
    irsa('i-1', '2024-05-15T09:00:00Z'),
    ...[1, 2, 3, 4, 5, 6].map((i) => deniedFetch(`f-${i}`, '2024-05-15T09:01:00Z')),
    nodeCall('n-1', '2024-05-15T09:02:00Z', { nodeInstanceId: 'i-0aaa' }),
    nodeCall('n-2', '2024-05-15T09:02:00Z', { nodeInstanceId: 'i-0bbb', imdsVersion: '1.0' }),
    pi('p-2', '2024-05-15T09:03:00Z', { namespace: 'default' }),
  ];

  it('raises the same alerts with the same ids, counts and samples whatever the input order, ties included', () => {
    const state = stateWith({ namespaces: new Map([[`${CLUSTER_ARN}|billing`, { firstPodIdentity: '2024-04-01T00:00:00Z', lastIrsa: null }]]) });
    const inOrder = detect(mixed(), state, POLICY, NOW);
    const reversed = detect([...mixed()].reverse(), state, POLICY, NOW);
    const shuffled = detect([...mixed()].sort((a, b) => (a.eventId < b.eventId ? 1 : -1)), state, POLICY, NOW);

    expect(byId(reversed)).toEqual(byId(inOrder));
    expect(byId(shuffled)).toEqual(byId(inOrder));
    expect(inOrder.map((a) => [a.detection, a.count, a.sampleEventIds.join(' ')]).sort()).toEqual([
      ['access-denied-spike', 6, 'f-1 f-2 f-3 f-4 f-5'],
      ['irsa-regression', 1, 'i-1'],
      ['node-role-fallthrough', 1, 'n-1'],
      ['node-role-fallthrough', 1, 'n-2'],
      ['unexpected-namespace', 2, 'p-1 p-2'],
    ]);
  });

  it('derives ids from (detection, key, window) alone: a rerun gives the same ids, another day another id', () => {
    const once = detect([pi('e-1', '2024-05-15T09:00:00Z', { namespace: 'default' })], stateWith(), POLICY, NOW);
    const again = detect([pi('e-9', '2024-05-15T18:00:00Z', { namespace: 'default' })], stateWith(), POLICY, new Date('2024-06-01T00:00:00Z'));
    const nextDay = detect([pi('e-1', '2024-05-16T09:00:00Z', { namespace: 'default' })], stateWith(), POLICY, NOW);

    expect(again[0]!.id).toBe(once[0]!.id);
    expect(again[0]!.raisedAt).toBe('2024-06-01T00:00:00.000Z');
    expect(nextDay[0]!.id).not.toBe(once[0]!.id);
    expect(once[0]!.id).toMatch(/^unexpected-namespace:[0-9a-f]{16}$/);
  });

  it('does not change the state it was given', () => {
    const state = stateWith({
      roleFirstSeen: new Map([[PI_ROLE, '2024-05-01T00:00:00Z']]),
      namespaces: new Map([[`${CLUSTER_ARN}|billing`, { firstPodIdentity: null, lastIrsa: null }]]),
    });

    detect([pi('e-1', '2024-04-01T00:00:00Z', { namespace: 'reports' }), irsa('e-2', '2024-05-15T09:00:00Z'), ...mixed()], state, POLICY, NOW);

    expect(state.roleFirstSeen).toEqual(new Map([[PI_ROLE, '2024-05-01T00:00:00Z']]));
    expect(state.roleNamespaces.size).toBe(0);
    expect(state.spikeCounts.size).toBe(0);
    expect(state.namespaces).toEqual(new Map([[`${CLUSTER_ARN}|billing`, { firstPodIdentity: null, lastIrsa: null }]]));
  });

  it('applies policy severity overrides to every finding of a detection', () => {
    const policy = policyWith({ severity: { 'unexpected-namespace': 'low', 'irsa-after-association': 'critical', 'access-denied-spike': 'medium' } });
    const state = stateWith({
      roleFirstSeen: new Map([[PI_ROLE, '2024-04-01T00:00:00Z']]),
      inventory: {
        ...INVENTORY,
        associations: [
          { cluster: CLUSTER, clusterArn: CLUSTER_ARN, namespace: 'billing', serviceAccount: 'api', associationId: 'a-1', roleArn: PI_ROLE, targetRoleArn: null, disableSessionTags: null, createdAt: '2024-05-01T00:00:00Z' },
        ],
      },
    });
    const events = [
      pi('e-1', '2024-05-15T09:00:00Z', { namespace: 'default' }),
      pi('e-2', '2024-05-15T09:00:00Z', { namespace: 'reports' }),
      irsa('e-3', '2024-05-15T09:00:00Z'),
      ...[4, 5, 6, 7, 8].map((i) => deniedFetch(`e-${i}`, '2024-05-15T09:00:00Z')),
      nodeCall('e-9', '2024-05-15T09:00:00Z'),
    ];

    const alerts = detect(events, state, policy, NOW);

    expect(alerts.map((a) => [a.detection, a.window, a.severity]).sort()).toEqual([
      ['access-denied-spike', '2024-05-15T09:00:00.000Z', 'medium'],
      ['irsa-after-association', '2024-05-01 association a-1', 'critical'],
      ['node-role-fallthrough', '2024-05-15T00:00:00.000Z', 'high'],
      ['unexpected-namespace', '2024-05-15', 'low'],
      ['unexpected-namespace', 'first-seen', 'low'],
    ]);
  });

  it('raises nothing for an empty batch', () => {
    expect(detect([], stateWith(), POLICY, NOW)).toEqual([]);
  });
});


describe('detections inside ingestBatch', () => {
  const inventory: Inventory = { ...INVENTORY, nodegroups: [{ cluster: CLUSTER, nodegroup: 'general', nodeRoleArn: NODE_ROLE }] };
  const detection = (port: MemoryStore) => ({ policy: POLICY, inventory, port });
  const batch = (): IdentityEvent[] => [
    pi('p-1', '2024-05-15T08:00:00Z', { namespace: 'default' }),
    ...[1, 2, 3, 4, 5].map((i) => deniedFetch(`f-${i}`, shift('2024-05-15T09:00:00Z', i * 1000))),
    nodeCall('n-1', '2024-05-15T09:30:00Z'),
  ];
  const raised = (alerts: Alert[]) => alerts.map((a) => [a.detection, a.count, a.cluster]).sort();

  it('raises a batch\'s alerts once, and none when the same batch is replayed', async () => {
    const store = new MemoryStore();

    const first = await ingestBatch(batch(), store, NOW, detection(store));
    const replay = await ingestBatch(batch(), store, NOW, detection(store));

    expect(raised(first.alerts)).toEqual([
      ['access-denied-spike', 5, CLUSTER],
      ['node-role-fallthrough', 1, CLUSTER],
      ['unexpected-namespace', 1, CLUSTER],
    ]);
    expect(replay).toMatchObject({ events: 7, replayed: 7, alerts: [] });
    expect(store.recorded.size).toBe(3);
  });

  it('raises nothing twice when a batch is retried after some of its items failed', async () => {
    const store = new MemoryStore();
    store.failing.add(`SPIKE#fetch|${CLUSTER_ARN}|i-0aaa W#2024-05-15T09:00:00.000Z`);
    store.failing.add(`${scopePk(`cluster:${CLUSTER_ARN}`)} SA#default#api`);

    const first = await ingestBatch(batch(), store, NOW, detection(store));
    const retry = await ingestBatch(batch(), store, NOW, detection(store));

    expect(first.failedEventIds.sort()).toEqual(['f-1', 'f-2', 'f-3', 'f-4', 'f-5', 'p-1']);
    expect(raised(first.alerts)).toHaveLength(3);
    // the retry's recovery finishes the first batch from its journal: everything is a replay
    expect(retry).toMatchObject({ replayed: 7, failedEventIds: [], alerts: [] });
    expect(store.recorded.size).toBe(3);
  });

  it('hands the alerts of a batch whose apply threw after its commit to the caller, and raises them once', async () => {
    const store = new MemoryStore();
    store.applyThrows = new Error('ProvisionedThroughputExceededException');

    const first = await ingestBatch(batch(), store, NOW, detection(store));
    const retry = await ingestBatch(batch(), store, NOW, detection(store));
    const again = await ingestBatch(batch(), store, NOW, detection(store));

    expect(first.errors).toEqual([new Error('ProvisionedThroughputExceededException')]);
    expect(raised(first.alerts)).toHaveLength(3);
    expect(store.claimed.size).toBe(7);
    expect(retry).toMatchObject({ events: 7, replayed: 7, alerts: [] });
    expect(again.alerts).toEqual([]);
    expect([...store.recorded.values()].map((a) => a.detection).sort()).toEqual(['access-denied-spike', 'node-role-fallthrough', 'unexpected-namespace']);
  });

  it('carries state between batches: a spike completed by a later batch, a regression against earlier Pod Identity', async () => {
    const store = new MemoryStore();
    await ingestBatch(
      [pi('p-1', '2024-04-01T08:00:00Z'), ...[1, 2, 3].map((i) => deniedFetch(`f-${i}`, shift('2024-05-15T09:00:00Z', i * 1000)))],
      store,
      NOW,
      detection(store),
    );

    const second = await ingestBatch(
      [irsa('i-1', '2024-05-15T09:02:00Z'), deniedFetch('f-4', '2024-05-15T09:03:00Z'), deniedFetch('f-5', '2024-05-15T09:04:59Z')],
      store,
      NOW,
      detection(store),
    );

    expect(second.alerts.map((a) => [a.detection, a.count, a.sampleEventIds, a.severity]).sort()).toEqual([
      ['access-denied-spike', 5, ['f-4', 'f-5'], 'high'],
      ['irsa-regression', 1, ['i-1'], 'high'],
    ]);
  });
});

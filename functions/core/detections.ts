import { alertId, SAMPLE_EVENT_IDS, SEVERITIES, type Alert, type Detection, type Severity } from './alert';
import { PairSet } from './collections';
import { shellCommand } from './display';
import type { IdentityEvent } from './identity-event';
import type { Inventory, InventoryAssociation } from './inventory';
import { ownerOf, policyMatchers, type Policy, type PolicyMatchers } from './policy';
import { placeNamespaceKeys, roleName, roleNamespaceKeys, spikeKeyOf, windowStart } from './keys';
import { flatString } from './string-pool';

export { spikeKeyOf, windowStart };

/**
 * The five detections, as one pure fold over a batch of new (deduplicated) events in time order.
 * What they need to remember lives in the evidence store and arrives as `DetectionState`, read
 * just before the batch; the fold updates its own copy as it goes, so the second event of a batch
 * sees the first.
 *
 * | detection                | fires on                                                              | key, window |
 * |--------------------------|-----------------------------------------------------------------------|-------------|
 * | unexpected-namespace     | a successful assume from a denied / system / not-allowed / new namespace | (place, ns, sa, role), day or `first-seen` |
 * | access-denied-spike      | ≥ threshold denied fetches / IRSA assumes / node-role calls per key   | per key, fixed window |
 * | node-role-fallthrough    | a call with a node role's instance credentials outside node traffic  | (node role, instance, call), windowHours |
 * | irsa-regression          | IRSA in a namespace that was SOAKING or READY                        | (place, ns, sa), day |
 * | irsa-after-association   | IRSA by a service account whose association is older than A          | (cluster, ns, sa), the association |
 */

export interface NamespaceState {
  firstPodIdentity: string | null;
  lastIrsa: string | null;
}

export interface DetectionState {
  /** Role ARN → first successful assume of it, from any namespace, before this batch. */
  roleFirstSeen: Map<string, string>;
  /** `roleArn|namespace` pairs seen before this batch. */
  roleNamespaces: Set<string>;
  /** `spikeKey|windowStart` → denied events counted before this batch. */
  spikeCounts: Map<string, number>;
  /** `place|namespace` → what readiness would have known before this batch. */
  namespaces: Map<string, NamespaceState>;
  /** Node role ARN → cluster names (inventory node groups and observed Pod Identity fetches). */
  nodeRoleClusters: Map<string, string[]>;
  inventory: Inventory;
}

/** What a batch's detections need read from the store (DynamoEvidenceStore.detectionState). */
export interface DetectionNeeds {
  roles: string[];
  roleNamespaces: { roleArn: string; namespace: string }[];
  spikes: { key: string; window: string }[];
  namespaces: { place: string; namespace: string; scopes: string[] }[];
  nodeRoles: string[];
}

const DAY = 86_400_000;
const HOUR = 3_600_000;

/** Where an event's namespace lives: its cluster ARN, or its OIDC issuer when the inventory does not map it. */
export function placeOf(e: IdentityEvent, inventory: Inventory): { place: string; cluster: string | null; clusterArn: string | null } {
  if (e.clusterArn) return { place: e.clusterArn, cluster: e.cluster, clusterArn: e.clusterArn };
  if (e.oidcIssuer) {
    const c = inventory.clusters.find((x) => x.oidcIssuer === e.oidcIssuer);
    if (c) return { place: c.arn, cluster: c.name, clusterArn: c.arn };
    return { place: `issuer:${e.oidcIssuer}`, cluster: null, clusterArn: null };
  }
  return { place: '?', cluster: e.cluster, clusterArn: null };
}

export function spikeWindowOf(e: IdentityEvent, policy: Policy): string {
  return windowStart(e.eventTime, policy.accessDeniedSpike.windowMinutes);
}

export function detectionNeeds(events: readonly IdentityEvent[], inventory: Inventory, policy: Policy): DetectionNeeds {
  const roles = new Set<string>();
  const roleNamespaces: { roleArn: string; namespace: string }[] = [];
  const spikes = new Map<string, { key: string; window: string }>();
  const namespaces: { place: string; namespace: string; scopes: string[] }[] = [];
  const nodeRoles = new Set<string>();
  // Pairs met, by their first part then their second (collections `PairSet`): at 40,000 namespaces
  // a string joining the two and the scopes made for every event were ~0.7 s of a run.
  const pairsMet = new PairSet();
  const namespacesMet = new PairSet();
  for (const e of events) {
    if (e.roleArn && e.namespace && e.outcome === 'success') {
      roles.add(e.roleArn);
      if (pairsMet.add(e.roleArn, e.namespace)) roleNamespaces.push({ roleArn: e.roleArn, namespace: e.namespace });
    }
    const spike = spikeKeyOf(e);
    if (spike) {
      const window = spikeWindowOf(e, policy);
      spikes.set(`${spike}|${window}`, { key: spike, window });
    }
    if (e.kind === 'irsa' && e.namespace) {
      const { place, clusterArn } = placeOf(e, inventory);
      if (namespacesMet.add(place, e.namespace)) {
        const scopes = [...(e.oidcIssuer ? [`issuer:${e.oidcIssuer}`] : []), ...(clusterArn ? [`cluster:${clusterArn}`] : [])];
        namespaces.push({ place, namespace: e.namespace, scopes });
      }
    }
    if (e.kind === 'node-role' && e.nodeRoleArn) nodeRoles.add(e.nodeRoleArn);
  }
  return { roles: [...roles], roleNamespaces, spikes: [...spikes.values()], namespaces, nodeRoles: [...nodeRoles] };
}

const DEFAULT_SEVERITY: Record<Detection, Severity> = {
  'unexpected-namespace': 'high',
  'access-denied-spike': 'high',
  'node-role-fallthrough': 'high',
  'irsa-regression': 'medium',
  'irsa-after-association': 'low',
};

type Draft = Omit<Alert, 'id' | 'raisedAt' | 'count' | 'firstEventTime' | 'lastEventTime' | 'sampleEventIds' | 'severity'> & {
  severity?: Severity;
};

/**
 * The detections that need the inventory to place an IRSA event in its cluster. IRSA of an issuer
 * the inventory does not map yet is parked; once it does, these run over the parked events (in
 * event-time order, as a chronological read would have), so their alerts do not depend on whether
 * the inventory or the logs came first.
 */
export const PLACEMENT_DETECTIONS: ReadonlySet<Detection> = new Set<Detection>(['irsa-regression', 'irsa-after-association']);

/** IRSA events the inventory cannot place yet: what `parkUnplaced` keeps for a later placement. */
export function unplacedIrsa(events: readonly IdentityEvent[], inventory: Inventory): IdentityEvent[] {
  return events.filter((e) => e.kind === 'irsa' && e.namespace !== null && placeOf(e, inventory).clusterArn === null);
}

export function detect(
  events: readonly IdentityEvent[],
  initial: DetectionState,
  policy: Policy,
  now: Date,
  only: ReadonlySet<Detection> | null = null,
): Alert[] {
  const state = cloneState(initial);
  const alerts = new Map<string, Alert>();
  const matchers = policyMatchers(policy);

  const raise = (draft: Draft, e: IdentityEvent): Alert => {
    const id = alertId(draft.detection, draft.key, draft.window);
    const prior = alerts.get(id);
    if (prior) {
      // A worse event in the same window (IMDSv1 after IMDSv2 credentials) escalates the alert and its wording.
      if (draft.severity && SEVERITIES.indexOf(draft.severity) > SEVERITIES.indexOf(prior.severity) && !policy.severity[draft.detection]) {
        Object.assign(prior, { severity: draft.severity, summary: draft.summary, likelyCause: draft.likelyCause, nextStep: draft.nextStep });
      }
      prior.count += 1;
      prior.lastEventTime = e.eventTime > prior.lastEventTime ? e.eventTime : prior.lastEventTime;
      prior.firstEventTime = e.eventTime < prior.firstEventTime ? e.eventTime : prior.firstEventTime;
      if (prior.sampleEventIds.length < SAMPLE_EVENT_IDS) prior.sampleEventIds.push(e.eventId);
      return prior;
    }
    const severity = policy.severity[draft.detection] ?? draft.severity ?? DEFAULT_SEVERITY[draft.detection];
    const alert: Alert = {
      ...draft,
      id,
      severity,
      count: 1,
      firstEventTime: e.eventTime,
      lastEventTime: e.eventTime,
      sampleEventIds: [e.eventId],
      raisedAt: now.toISOString(),
    };
    // The owner only when the policy names one: alerts of a policy without owners stay as they were.
    const owner = ownerOf(policy, draft);
    if (owner !== null) alert.owner = owner;
    alerts.set(id, alert);
    return alert;
  };

  // Ties (CloudTrail times are whole seconds) are broken by eventId, so the input order never matters.
  const sorted = [...events].sort((a, b) => (a.eventTime < b.eventTime ? -1 : a.eventTime > b.eventTime ? 1 : a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
  const runs = (d: Detection) => only === null || only.has(d);
  const [unexpected, spikes, fallthrough, regression, afterAssociation] = [runs('unexpected-namespace'), runs('access-denied-spike'), runs('node-role-fallthrough'), runs('irsa-regression'), runs('irsa-after-association')];
  for (const e of sorted) {
    const where = placeOf(e, state.inventory);
    if (unexpected) unexpectedNamespace(e, where, state, policy, matchers, raise);
    if (spikes) accessDeniedSpike(e, where, state, policy, raise);
    if (fallthrough) nodeRoleFallthrough(e, state, policy, raise);
    if (regression) irsaRegression(e, where, state, policy, raise);
    if (afterAssociation) irsaAfterAssociation(e, where, state, policy, raise);
    remember(e, where.place, state, policy);
  }
  return [...alerts.values()];
}

type Raise = (draft: Draft, e: IdentityEvent) => Alert;
type Where = ReturnType<typeof placeOf>;

/** The fields of an alert about a workload's assume: where, who, which role, which call. */
function workload(e: IdentityEvent, where: Where) {
  return {
    cluster: where.cluster,
    clusterArn: where.clusterArn,
    oidcIssuer: e.oidcIssuer,
    namespace: e.namespace,
    serviceAccount: e.serviceAccount,
    roleArn: e.roleArn,
    nodeRoleArn: null,
    nodeInstanceId: null,
    action: e.action,
  };
}

function unexpectedNamespace(e: IdentityEvent, where: Where, state: Working, policy: Policy, m: PolicyMatchers, raise: Raise): void {
  if ((e.kind !== 'pod-identity' && e.kind !== 'irsa') || e.outcome !== 'success' || !e.namespace || !e.roleArn) return;
  const role = roleName(e.roleArn);
  const u = policy.unexpectedNamespace;
  let why: string | null = null;
  if (m.denyNamespace(e.namespace)) why = `namespace ${e.namespace} is on the deny list (${u.denyNamespaces.join(', ')})`;
  else if (m.systemNamespace(e.namespace) && !m.systemRole(role)) why = `${e.namespace} is a system namespace and ${role} is not a system role`;
  else if (allowRulesRefuse(e, where, role, u, m)) why = `${role} may only be used from ${allowRulesOf(e, where, role, u, m).flatMap((rule) => rule.namespaces).join(', ')}`;
  if (why) {
    raise(
      {
        ...unexpectedNamespaceBase(e, where),
        summary: `${howOf(e)} gave ${e.namespace}/${e.serviceAccount} role ${role} in ${where.cluster ?? e.oidcIssuer}: ${why}`,
        likelyCause:
          e.kind === 'pod-identity'
            ? `a Pod Identity association maps ${e.namespace}/${e.serviceAccount} to ${role} (a copied manifest or Terraform module), and the role's trust policy does not restrict aws:RequestTag/kubernetes-namespace`
            : `the role's trust policy admits system:serviceaccount:${e.namespace}:${e.serviceAccount} (a wildcard sub condition, or a copied annotation)`,
        nextStep: unexpectedNamespaceFix(e, where),
      },
      e,
    );
    return;
  }
  // first seen: a (role, namespace) pair never seen, for a role known for longer than the learning period
  const pair = roleNamespaceKeys.of(e.roleArn, e.namespace);
  const roleSince = state.roleFirstSeen.get(e.roleArn);
  if (state.roleNamespaces.has(pair) || roleSince === undefined) return;
  if (Date.parse(e.eventTime) - Date.parse(roleSince) <= u.learningDays * DAY) return;
  raise(
    {
      ...unexpectedNamespaceBase(e, where),
      severity: 'medium',
      window: 'first-seen',
      summary: `${role}, used since ${roleSince.slice(0, 10)}, was assumed from namespace ${e.namespace} (${e.serviceAccount}) for the first time, through ${howOf(e)}`,
      likelyCause: `a new workload or a new ${e.kind === 'pod-identity' ? 'association' : 'trust policy subject'} reuses an existing role; fine if intended, a privilege path if not`,
      nextStep: `confirm with the owner of ${role} that ${e.namespace}/${e.serviceAccount} should use it; if yes, add it to unexpectedNamespace.allow in the policy file; if not, ${unexpectedNamespaceFix(e, where)}`,
    },
    e,
  );
}

/*
 * The parts of an unexpected-namespace alert, made only when one is raised: nearly every event
 * raises none. Built for each event (or closures that would build them, and arrays of the allow
 * rules), they were most of this detection's time (~0.5 s of a fleet run's main thread) and ~46 MB
 * of its allocations.
 */

/** Whether allow rules apply to this role where the event happened, and none of them allows its namespace. */
function allowRulesRefuse(e: IdentityEvent, where: Where, role: string, u: Policy['unexpectedNamespace'], m: PolicyMatchers): boolean {
  let applies = false;
  for (let i = 0; i < u.allow.length; i += 1) {
    if (!allowRuleApplies(u.allow[i]!, m.allow[i]!, e, where, role)) continue;
    if (m.allow[i]!.namespaces(e.namespace!)) return false;
    applies = true;
  }
  return applies;
}

/** The allow rules that apply to this role where the event happened (for the alert's wording). */
function allowRulesOf(e: IdentityEvent, where: Where, role: string, u: Policy['unexpectedNamespace'], m: PolicyMatchers): Policy['unexpectedNamespace']['allow'] {
  return u.allow.filter((rule, i) => allowRuleApplies(rule, m.allow[i]!, e, where, role));
}

/** An unmapped issuer's cluster is unknown: only an any-cluster rule (`*`, the default) applies to it. */
function allowRuleApplies(rule: Policy['unexpectedNamespace']['allow'][number], match: PolicyMatchers['allow'][number], e: IdentityEvent, where: Where, role: string): boolean {
  return (where.cluster === null ? rule.cluster === '*' : match.cluster(where.cluster)) && (match.roles(role) || match.roles(e.roleArn!));
}

function unexpectedNamespaceBase(e: IdentityEvent, where: Where) {
  return {
    detection: 'unexpected-namespace' as const,
    key: `${where.place}|${e.namespace}|${e.serviceAccount}|${e.roleArn}`,
    ...workload(e, where),
    window: e.eventTime.slice(0, 10),
  };
}

function unexpectedNamespaceFix(e: IdentityEvent, where: Where): string {
  return e.kind === 'pod-identity'
    ? `list the associations for ${e.namespace} (${shellCommand(['aws', 'eks', 'list-pod-identity-associations', '--cluster-name', where.cluster ?? 'CLUSTER', '--namespace', e.namespace!])}) and delete the one that should not exist; constrain the role's trust policy with a condition on aws:RequestTag/kubernetes-namespace`
    : `narrow the role's trust policy: its ${e.oidcIssuer}:sub condition must name only the intended system:serviceaccount:NAMESPACE:SA`;
}

const howOf = (e: IdentityEvent): string => (e.kind === 'pod-identity' ? 'Pod Identity' : 'IRSA');

function accessDeniedSpike(e: IdentityEvent, where: Where, state: Working, policy: Policy, raise: Raise): void {
  const key = spikeKeyOf(e);
  if (!key) return;
  const window = spikeWindowOf(e, policy);
  const counter = `${key}|${window}`;
  const count = (state.spikeCounts.get(counter) ?? 0) + 1;
  state.spikeCounts.set(counter, count);
  state.spikeEvents.set(counter, [...(state.spikeEvents.get(counter) ?? []), e]);
  const { threshold, windowMinutes } = policy.accessDeniedSpike;
  if (count < threshold) return;
  const what = `${count} within ${windowMinutes} min`;
  const common = {
    detection: 'access-denied-spike' as const,
    key,
    window,
    cluster: where.cluster,
    clusterArn: where.clusterArn,
    oidcIssuer: e.oidcIssuer,
    namespace: e.namespace,
    serviceAccount: e.serviceAccount,
    roleArn: e.roleArn,
    nodeRoleArn: e.nodeRoleArn,
    nodeInstanceId: e.nodeInstanceId,
    action: e.action,
  };
  // The alert counts the window, including denials of earlier batches, and its summary says so; its
  // first time and samples start at the window's first denial this batch saw, not at the crossing.
  const counted = (alert: Alert) => {
    alert.count = count;
    alert.summary = alert.summary.replace(/\(\d+ within /, `(${count} within `);
    const seen = state.spikeEvents.get(counter) ?? [];
    if (alert.sampleEventIds.length === 1 && seen.length > 1) {
      alert.firstEventTime = seen[0]!.eventTime;
      alert.sampleEventIds = seen.slice(0, SAMPLE_EVENT_IDS).map((x) => x.eventId);
    }
  };
  if (e.kind === 'pod-identity-fetch') {
    counted(raise(
      {
        ...common,
        summary: `Pod Identity credential fetches denied on ${e.nodeInstanceId ?? 'a node'} in ${e.cluster} (${what}, ${e.errorCode}): pods there get no credentials`,
        likelyCause:
          "the associated role's trust policy refuses pods.eks.amazonaws.com: it lacks sts:TagSession next to sts:AssumeRole, or a condition on aws:RequestTag/eks-cluster-name (or kubernetes-namespace) excludes this cluster",
        nextStep: `find the association of the failing pods (${shellCommand(['aws', 'eks', 'list-pod-identity-associations', '--cluster-name', e.cluster ?? 'CLUSTER'])}) and check its role's trust policy: Principal {"Service": "pods.eks.amazonaws.com"}, Action ["sts:AssumeRole", "sts:TagSession"], and any aws:RequestTag conditions against cluster ${e.cluster}`,
      },
      e,
    ));
  } else if (e.kind === 'irsa') {
    const subject = `system:serviceaccount:${e.namespace}:${e.serviceAccount}`;
    counted(raise(
      {
        ...common,
        summary: `IRSA assumes of ${e.roleArn ? roleName(e.roleArn) : 'a role'} denied for ${subject} (${what}, ${e.errorCode})`,
        likelyCause: `the role's trust policy does not match the token: its ${e.oidcIssuer}:sub condition must equal ${subject} exactly and :aud sts.amazonaws.com, on the OIDC provider of this issuer (or the service account is annotated with the wrong role)`,
        nextStep: `${shellCommand(['aws', 'iam', 'get-role', '--role-name', e.roleArn ? roleName(e.roleArn) : 'ROLE', '--query', 'Role.AssumeRolePolicyDocument'])}, and compare the Federated principal and the sub/aud conditions with ${subject}; check the annotation with ${shellCommand(['kubectl', 'get', 'sa', e.serviceAccount ?? 'SA', '-n', e.namespace ?? 'NAMESPACE', '-o', 'yaml'])}`,
      },
      e,
    ));
  } else {
    counted(raise(
      {
        ...common,
        summary: `calls with node role ${e.nodeRoleArn ? roleName(e.nodeRoleArn) : ''} denied on ${e.nodeInstanceId ?? 'a node'} (${what}, ${e.action})`,
        likelyCause: 'a pod with neither IRSA nor Pod Identity credentials fell back to the instance role, which lacks the permission it needs',
        nextStep: `find the pods on ${e.nodeInstanceId ?? 'the node'} (kubectl get pods -A -o wide | grep the node name) and give the caller's service account a Pod Identity association`,
      },
      e,
    ));
  }
}

function nodeRoleFallthrough(e: IdentityEvent, state: Working, policy: Policy, raise: Raise): void {
  if (e.kind !== 'node-role' || !e.nodeRoleArn) return;
  const window = windowStart(e.eventTime, policy.nodeRoleFallthrough.windowHours * 60);
  const clusters = state.nodeRoleClusters.get(e.nodeRoleArn) ?? [];
  const where = clusters.length > 0 ? clusters.join(', ') : `node role ${roleName(e.nodeRoleArn)}`;
  const imdsV1 = e.imdsVersion === '1.0';
  raise(
    {
      detection: 'node-role-fallthrough',
      severity: imdsV1 ? 'critical' : undefined,
      // Per instance: the pod that falls through runs on one node, and IMDSv1 is a property of that node.
      key: `${e.nodeRoleArn}|${e.nodeInstanceId}|${e.action}`,
      window,
      cluster: clusters.length === 1 ? clusters[0]! : null,
      clusterArn: null,
      oidcIssuer: null,
      namespace: null,
      serviceAccount: null,
      roleArn: null,
      nodeRoleArn: e.nodeRoleArn,
      nodeInstanceId: e.nodeInstanceId,
      action: e.action,
      summary:
        `${e.action} called with the instance role of ${e.nodeInstanceId ?? 'a node'} in ${where} (${e.outcome}${e.errorCode ? ` ${e.errorCode}` : ''})` +
        (imdsV1 ? '; the credentials came through IMDSv1' : ''),
      likelyCause:
        'a pod fell back to the node role through IMDS: its service account has no association (or IRSA annotation), the Pod Identity agent or webhook was not ready when it started, or it runs with hostNetwork' +
        (imdsV1 ? '; IMDSv1 answers any process that can reach 169.254.169.254' : ''),
      nextStep:
        `find the pod on ${e.nodeInstanceId ?? 'the node'} (user agent: ${e.userAgent ?? 'unknown'}), give its service account a Pod Identity association and restart it; ` +
        'block pods from IMDS: require IMDSv2 (HttpTokens=required) with a hop limit of 1',
    },
    e,
  );
}

function irsaRegression(e: IdentityEvent, where: Where, state: Working, policy: Policy, raise: Raise): void {
  if (e.kind !== 'irsa' || !e.namespace) return;
  const prior = state.namespaces.get(placeNamespaceKeys.of(where.place, e.namespace));
  if (!prior?.firstPodIdentity || prior.firstPodIdentity > e.eventTime) return;
  const t = Date.parse(e.eventTime);
  const last = prior.lastIrsa === null ? null : Date.parse(prior.lastIrsa);
  if (last !== null && (last > t || t - last <= policy.soak.activeHours * HOUR)) return;
  // As readiness judges it: READY once the last IRSA is S or more before.
  const was = last === null || t - last >= policy.soak.soakDays * DAY ? 'READY' : 'SOAKING';
  raise(
    {
      detection: 'irsa-regression',
      severity: was === 'READY' ? 'high' : 'medium',
      key: `${where.place}|${e.namespace}|${e.serviceAccount}`,
      window: e.eventTime.slice(0, 10),
      ...workload(e, where),
      summary:
        `IRSA is back in ${e.namespace} (${where.cluster ?? e.oidcIssuer}), which was ${was}: ${e.serviceAccount} assumed ${e.roleArn ? roleName(e.roleArn) : 'a role'} ` +
        `through the OIDC provider${prior.lastIrsa ? ` (previous IRSA ${prior.lastIrsa.slice(0, 10)})` : ''}; the soak clock restarts`,
      likelyCause:
        'a pod started from an old spec still carrying the eks.amazonaws.com/role-arn annotation: a CronJob, a restored backup, a rollback, or a second Deployment using the same service account',
      nextStep:
        `${shellCommand(['kubectl', 'get', 'sa', e.serviceAccount ?? 'SA', '-n', e.namespace ?? 'NAMESPACE', '-o', 'yaml'])} and remove the role-arn annotation; find pods with AWS_WEB_IDENTITY_TOKEN_FILE set in ${e.namespace}; ` +
        `keep the OIDC trust until ${new Date(t + policy.soak.soakDays * DAY).toISOString().slice(0, 10)} at the earliest`,
    },
    e,
  );
}

function irsaAfterAssociation(e: IdentityEvent, where: Where, state: Working, policy: Policy, raise: Raise): void {
  if (e.kind !== 'irsa' || !e.namespace || !e.serviceAccount || !where.clusterArn) return;
  const association = associationsByServiceAccount(state.inventory).get(where.clusterArn)?.get(`${e.namespace}|${e.serviceAccount}`);
  if (!association?.createdAt) return;
  const created = Date.parse(association.createdAt);
  if (Number.isNaN(created) || Date.parse(e.eventTime) - created <= policy.soak.activeHours * HOUR) return;
  raise(
    {
      detection: 'irsa-after-association',
      key: `${where.clusterArn}|${e.namespace}|${e.serviceAccount}`,
      // One finding per association (its pods were not restarted since it was created), dated by it.
      window: `${new Date(created).toISOString().slice(0, 10)} association ${association.associationId ?? ''}`.trim(),
      ...workload(e, where),
      summary: `${e.namespace}/${e.serviceAccount} still assumes ${e.roleArn ? roleName(e.roleArn) : 'its role'} through IRSA, though its Pod Identity association exists since ${association.createdAt.slice(0, 10)}`,
      likelyCause:
        'pods started before the association keep the IRSA environment: the credential source is decided when a pod starts, by the variables EKS injects then',
      // The commands themselves come from the plan (one source): restarting every Deployment of the namespace is not the fix.
      nextStep: `restart only the workloads that run as ${e.serviceAccount}, then remove the role-arn annotation: ${shellCommand(['cutover-watch', 'plan', '-c', where.cluster ?? e.cluster ?? 'CLUSTER', '-n', e.namespace])} prints the commands (kubectl --context, the Deployments, StatefulSets and DaemonSets that use it)`,
    },
    e,
  );
}

/**
 * An inventory's associations by cluster ARN, then `namespace|serviceAccount` (the first of each, as
 * a search in order finds it), made once per inventory: a fleet has thousands of associations and
 * every IRSA event asks. By cluster first: a key with the cluster's ARN in it was ~100 bytes of
 * string each, held for the run (33,671 associations at 40,000 namespaces).
 */
const associationIndexes = new WeakMap<Inventory, Map<string, Map<string, InventoryAssociation>>>();
function associationsByServiceAccount(inventory: Inventory): Map<string, Map<string, InventoryAssociation>> {
  let index = associationIndexes.get(inventory);
  if (index === undefined) {
    const clusterArns = new Map<string, string>();
    for (const c of inventory.clusters) if (!clusterArns.has(c.name)) clusterArns.set(c.name, c.arn);
    index = new Map();
    for (const a of inventory.associations) {
      const clusterArn = `${a.clusterArn ?? clusterArns.get(a.cluster)}`;
      let byName = index.get(clusterArn);
      if (byName === undefined) index.set(clusterArn, (byName = new Map()));
      // flat: held for the run, a key made of pieces was wrappers more
      const key = flatString(`${a.namespace}|${a.serviceAccount}`);
      if (!byName.has(key)) byName.set(key, a);
    }
    associationIndexes.set(inventory, index);
  }
  return index;
}

/** What later events of the same batch must see. */
function remember(e: IdentityEvent, place: string, state: Working, _policy: Policy): void {
  if (e.outcome === 'success' && e.roleArn && e.namespace) {
    state.roleNamespaces.add(roleNamespaceKeys.of(e.roleArn, e.namespace));
    const since = state.roleFirstSeen.get(e.roleArn);
    if (since === undefined || e.eventTime < since) state.roleFirstSeen.set(e.roleArn, e.eventTime);
  }
  if (!e.namespace) return;
  if (e.kind === 'irsa' || (e.kind === 'pod-identity' && e.outcome === 'success')) {
    const key = placeNamespaceKeys.of(place, e.namespace);
    const ns = state.namespaces.get(key) ?? { firstPodIdentity: null, lastIrsa: null };
    if (e.kind === 'irsa' && (ns.lastIrsa === null || e.eventTime > ns.lastIrsa)) ns.lastIrsa = e.eventTime;
    if (e.kind === 'pod-identity' && (ns.firstPodIdentity === null || e.eventTime < ns.firstPodIdentity)) ns.firstPodIdentity = e.eventTime;
    state.namespaces.set(key, ns);
  }
}

/** The fold's own copy of the state, plus what only this batch knows: its denied events per spike window. */
type Working = DetectionState & { spikeEvents: Map<string, IdentityEvent[]> };

function cloneState(s: DetectionState): Working {
  return {
    roleFirstSeen: new Map(s.roleFirstSeen),
    roleNamespaces: new Set(s.roleNamespaces),
    spikeCounts: new Map(s.spikeCounts),
    spikeEvents: new Map(),
    namespaces: new Map([...s.namespaces].map(([k, v]) => [k, { ...v }])),
    nodeRoleClusters: s.nodeRoleClusters,
    inventory: s.inventory,
  };
}

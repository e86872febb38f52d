/**
 * What the tests expect from the fleet: the readiness verdict of every namespace and the detection
 * cases, both computed from the generated records (never written by hand), so they stay right when the
 * seed or the traffic plan changes.
 *
 * Read-only over the records and the topology; no randomness.
 */
import { HOUR, DAY, ctTime, SPIKE_WINDOW_MINUTES, spikeWindow } from './time';
import { SAMPLE_SOAK_DAYS, SAMPLE_ACTIVE_HOURS } from './types';
import type { ExpectedNamespace, ExpectedDetection } from './types';
import type { NodeRole, Node, ServiceAccount, Cluster } from './topology';

// ---------------------------------------------------------------------------------------------
// Expected verdicts, computed from the generated records

function asObj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

export function computeExpected(
  records: readonly Record<string, unknown>[],
  clusters: Cluster[],
  associated: Set<string>,
  end: number,
): ExpectedNamespace[] {
  const issuerToCluster = new Map<string, string>();
  for (const c of clusters) issuerToCluster.set(c.providerArn, c.plan.name);
  interface Acc {
    irsa: number;
    irsaDenied: number;
    lastIrsa: number;
    firstPod: number;
    podAssumes: number;
  }
  const acc = new Map<string, Acc>();
  const get = (k: string): Acc => {
    let a = acc.get(k);
    if (!a) {
      a = { irsa: 0, irsaDenied: 0, lastIrsa: -Infinity, firstPod: Infinity, podAssumes: 0 };
      acc.set(k, a);
    }
    return a;
  };
  for (const rec of records) {
    const ui = asObj(rec.userIdentity);
    const t = Date.parse(String(rec.eventTime));
    if (rec.eventSource !== 'sts.amazonaws.com' || !ui) continue;
    if (rec.eventName === 'AssumeRoleWithWebIdentity' && ui.type === 'WebIdentityUser') {
      const cluster = issuerToCluster.get(String(ui.identityProvider));
      const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(String(ui.userName));
      if (!cluster || !m) continue;
      const a = get(`${cluster}/${m[1]}`);
      a.irsa++;
      if (rec.errorCode) a.irsaDenied++;
      a.lastIrsa = Math.max(a.lastIrsa, t);
    } else if (rec.eventName === 'AssumeRole' && ui.invokedBy === 'pods.eks.amazonaws.com' && !rec.errorCode) {
      const tags = asObj(rec.requestParameters)?.tags;
      if (!Array.isArray(tags)) continue;
      const tag = (k: string) => asObj(tags.find((x) => asObj(x)?.key === k))?.value;
      const cluster = tag('eks-cluster-name');
      const ns = tag('kubernetes-namespace');
      if (typeof cluster !== 'string' || typeof ns !== 'string') continue;
      const a = get(`${cluster}/${ns}`);
      a.podAssumes++;
      a.firstPod = Math.min(a.firstPod, t);
    }
  }

  const days = (ms: number) => (ms / DAY).toFixed(1);
  const out: ExpectedNamespace[] = [];
  for (const c of clusters) {
    for (const ns of c.plan.namespaces) {
      const key = `${c.plan.name}/${ns.name}`;
      const a = get(key);
      const irsaAge = end - a.lastIrsa;
      const irsaText =
        a.irsa === 0
          ? 'no IRSA assume seen'
          : `${a.irsa} IRSA assumes${a.irsaDenied ? ` (${a.irsaDenied} denied)` : ''}, last ${days(irsaAge)} d before end`;
      let verdict: ExpectedNamespace['verdict'];
      let why: string;
      if (a.podAssumes === 0) {
        verdict = 'NOT_STARTED';
        why = `no Pod Identity assume; ${irsaText}${associated.has(key) ? '; association exists but pods were never restarted' : ''}`;
      } else {
        const pod = `${a.podAssumes} Pod Identity assumes since ${days(end - a.firstPod)} d before end`;
        if (irsaAge <= SAMPLE_ACTIVE_HOURS * HOUR) {
          verdict = 'IN_PROGRESS';
          why = `${pod}; IRSA still used within ${SAMPLE_ACTIVE_HOURS} h: ${irsaText}`;
        } else if (irsaAge <= SAMPLE_SOAK_DAYS * DAY) {
          verdict = 'SOAKING';
          why = `${pod}; ${irsaText}, within the ${SAMPLE_SOAK_DAYS}-day soak`;
        } else {
          verdict = 'READY';
          why = `${pod}; ${a.irsa === 0 ? 'no IRSA assume seen' : `${irsaText}, older than the ${SAMPLE_SOAK_DAYS}-day soak`}`;
        }
      }
      out.push({ cluster: c.plan.name, namespace: ns.name, verdict, why });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Expected detections: the planted cases, described from the generated records

export interface PlantedCases {
  payments: Cluster;
  sandbox: ServiceAccount;
  fraud: ServiceAccount;
  riskEngine: ServiceAccount;
  riskBatch: ServiceAccount;
  burstNode: Node;
  burstWindow: number;
  fallthroughRole: NodeRole;
  fallthroughNodes: Node[];
  end: number;
}

/** What the detections read from one record (a reduced normalizer, enough to describe the cases). */
interface Seen {
  t: number;
  kind: 'irsa' | 'pod-identity' | 'fetch' | 'node-call';
  cluster: string | null;
  namespace: string | null;
  serviceAccount: string | null;
  roleArn: string | null;
  denied: boolean;
  instanceId: string | null;
  nodeRoleArn: string | null;
  api: string;
  imds: string | null;
}

function seenOf(records: readonly Record<string, unknown>[], clusters: Cluster[]): Seen[] {
  const byProvider = new Map(clusters.map((c) => [c.providerArn, c.plan.name]));
  const out: Seen[] = [];
  for (const rec of records) {
    const ui = asObj(rec.userIdentity);
    const rp = asObj(rec.requestParameters);
    if (!ui) continue;
    const base = {
      t: Date.parse(String(rec.eventTime)),
      denied: typeof rec.errorCode === 'string',
      api: `${String(rec.eventSource).replace('.amazonaws.com', '')}:${String(rec.eventName)}`,
      instanceId: null,
      nodeRoleArn: null,
      imds: null,
    };
    if (rec.eventName === 'AssumeRoleWithWebIdentity') {
      const cluster = byProvider.get(String(ui.identityProvider));
      const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(String(ui.userName));
      if (!cluster || !m) continue;
      out.push({ ...base, kind: 'irsa', cluster, namespace: m[1] ?? null, serviceAccount: m[2] ?? null, roleArn: String(rp?.roleArn) });
    } else if (rec.eventName === 'AssumeRole' && ui.invokedBy === 'pods.eks.amazonaws.com') {
      const tags = Array.isArray(rp?.tags) ? (rp.tags as unknown[]) : [];
      const tag = (k: string) => {
        const v = asObj(tags.find((x) => asObj(x)?.key === k))?.value;
        return typeof v === 'string' ? v : null;
      };
      out.push({
        ...base,
        kind: 'pod-identity',
        cluster: tag('eks-cluster-name'),
        namespace: tag('kubernetes-namespace'),
        serviceAccount: tag('kubernetes-service-account'),
        roleArn: String(rp?.roleArn),
      });
    } else {
      const sc = asObj(ui.sessionContext);
      if (sc?.ec2RoleDelivery === undefined) continue;
      const fetch = rec.eventName === 'AssumeRoleForPodIdentity';
      out.push({
        ...base,
        kind: fetch ? 'fetch' : 'node-call',
        cluster: fetch ? String(rp?.clusterName) : null,
        namespace: null,
        serviceAccount: null,
        roleArn: null,
        instanceId: String(ui.arn).split('/').pop() ?? null,
        nodeRoleArn: String(asObj(sc.sessionIssuer)?.arn),
        imds: String(sc.ec2RoleDelivery),
      });
    }
  }
  return out.sort((x, y) => x.t - y.t);
}

export function computeExpectedDetections(
  records: readonly Record<string, unknown>[],
  clusters: Cluster[],
  associationTimes: Map<ServiceAccount, number>,
  plant: PlantedCases,
): ExpectedDetection[] {
  const seen = seenOf(records, clusters);
  const cluster = plant.payments.plan.name;
  const times = (xs: Seen[]) => xs.map((x) => ctTime(x.t)).join(', ');
  const span = (xs: Seen[]) => `${ctTime(xs[0]?.t ?? 0)} … ${ctTime(xs[xs.length - 1]?.t ?? 0)}`;
  const mine = (x: Seen, a: ServiceAccount) => x.cluster === cluster && x.namespace === a.namespace && x.serviceAccount === a.plan.name;
  const out: ExpectedDetection[] = [];

  const sandbox = seen.filter((x) => x.kind === 'pod-identity' && mine(x, plant.sandbox));
  const sandboxCreated = associationTimes.get(plant.sandbox) ?? 0;
  out.push({
    detection: 'unexpected-namespace',
    cluster,
    namespace: plant.sandbox.namespace,
    serviceAccount: plant.sandbox.plan.name,
    why:
      `${plant.sandbox.namespace} matches denyNamespaces '*-sandbox': ${plant.sandbox.namespace}/${plant.sandbox.plan.name} assumed the prod role ` +
      `${plant.sandbox.role.name} (of orders/orders-api) through Pod Identity ${sandbox.length} times (${times(sandbox)}); its association exists ` +
      `since ${ctTime(sandboxCreated)}. The (role, namespace) pair is also new for a role seen since the first day.`,
  });

  const riskEngineArn = plant.riskEngine.role.arn;
  const roleSince = seen.find((x) => (x.kind === 'irsa' || x.kind === 'pod-identity') && !x.denied && x.roleArn === riskEngineArn);
  const borrowed = seen.filter((x) => x.kind === 'pod-identity' && mine(x, plant.fraud) && x.roleArn === riskEngineArn);
  out.push({
    detection: 'unexpected-namespace',
    cluster,
    namespace: plant.fraud.namespace,
    serviceAccount: plant.fraud.plan.name,
    why:
      `first seen: role ${plant.riskEngine.role.name}, assumed from ${plant.riskEngine.namespace} since ${ctTime(roleSince?.t ?? 0)} (more than the ` +
      `7-day learning period), assumed from ${plant.fraud.namespace} (${plant.fraud.plan.name}) through Pod Identity for the first time at ` +
      `${ctTime(borrowed[0]?.t ?? 0)} (${borrowed.length} assumes: ${times(borrowed)}; the association was pointed at the wrong role and reverted)`,
  });

  const burst = seen.filter((x) => x.kind === 'fetch' && x.denied);
  const inBurstWindow = burst.filter((x) => x.instanceId === plant.burstNode.instanceId && spikeWindow(x.t) === plant.burstWindow);
  out.push({
    detection: 'access-denied-spike',
    cluster,
    namespace: null,
    serviceAccount: null,
    why:
      `${inBurstWindow.length} denied eks-auth:AssumeRoleForPodIdentity (AccessDenied) from node ${plant.burstNode.instanceId} ` +
      `(node role ${plant.burstNode.role.name}, ${plant.burstNode.group.name}), ${span(inBurstWindow)}, all in the ${SPIKE_WINDOW_MINUTES}-minute ` +
      `window starting ${ctTime(plant.burstWindow)}`,
  });

  const storm = seen.filter((x) => x.kind === 'irsa' && x.denied && x.cluster === cluster && x.serviceAccount === 'inventory-sync');
  const perWindow = new Map<number, Seen[]>();
  for (const x of storm) perWindow.set(spikeWindow(x.t), [...(perWindow.get(spikeWindow(x.t)) ?? []), x]);
  const [stormWindow, stormEvents] = [...perWindow].sort((x, y) => y[1].length - x[1].length)[0] ?? [0, []];
  out.push({
    detection: 'access-denied-spike',
    cluster,
    namespace: 'inventory',
    serviceAccount: 'inventory-sync',
    why:
      `${stormEvents.length} denied sts:AssumeRoleWithWebIdentity (AccessDenied) for system:serviceaccount:inventory:inventory-sync, ` +
      `${span(stormEvents)}, all in the ${SPIKE_WINDOW_MINUTES}-minute window starting ${ctTime(stormWindow)} (a retry storm: trust policy sub mismatch)`,
  });

  const ft = seen.filter((x) => x.kind === 'node-call' && x.nodeRoleArn === plant.fallthroughRole.arn && !/^(ecr|ec2):/.test(x.api));
  const byNode = plant.fallthroughNodes
    .map((n) => {
      const calls = ft.filter((x) => x.instanceId === n.instanceId);
      const imds = [...new Set(calls.map((x) => `IMDSv${x.imds === '1.0' ? 1 : 2}`))].sort().join('/');
      return `${n.instanceId} (${imds}: ${[...new Set(calls.map((x) => x.api))].sort().join(', ')})`;
    })
    .join(' and ');
  out.push({
    detection: 'node-role-fallthrough',
    cluster,
    namespace: null,
    serviceAccount: null,
    why: `${ft.length} calls with node role ${plant.fallthroughRole.name} outside expected node traffic, ${span(ft)}, from ${byNode}`,
  });

  const regression = seen.filter((x) => x.kind === 'irsa' && mine(x, plant.riskBatch) && x.t >= plant.end - DAY);
  const first = regression[0]?.t ?? 0;
  const before = seen.filter((x) => x.t < first && x.cluster === cluster && x.namespace === plant.riskBatch.namespace);
  const lastIrsa = before.filter((x) => x.kind === 'irsa').pop();
  const firstPod = before.find((x) => x.kind === 'pod-identity');
  out.push({
    detection: 'irsa-regression',
    cluster,
    namespace: plant.riskBatch.namespace,
    serviceAccount: plant.riskBatch.plan.name,
    why:
      `${plant.riskBatch.namespace} was READY (Pod Identity since ${ctTime(firstPod?.t ?? 0)}, last IRSA ${ctTime(lastIrsa?.t ?? 0)}); ` +
      `${plant.riskBatch.plan.name} assumed ${plant.riskBatch.role.name} through IRSA at ${times(regression)} (a restored CronJob still annotated for IRSA)`,
  });

  // irsa-after-association: every IRSA assume (denied ones too) more than the active window after the association.
  for (const c of clusters) {
    for (const a of c.serviceAccounts) {
      const created = associationTimes.get(a);
      if (!a.association || created === undefined) continue;
      const late = seen.filter(
        (x) => x.kind === 'irsa' && x.cluster === c.plan.name && x.namespace === a.namespace && x.serviceAccount === a.plan.name && x.t - created > SAMPLE_ACTIVE_HOURS * HOUR,
      );
      if (late.length === 0) continue;
      const days = new Set(late.map((x) => ctTime(x.t).slice(0, 10))).size;
      const story =
        a.plan.associationOnlyFrom !== undefined
          ? 'the "restart the pods" straggler: association created, pods never restarted'
          : a.plan.irsaUntil === null
            ? 'IRSA pods still running next to the Pod Identity ones'
            : `IRSA pods kept running ${(a.plan.podIdFrom ?? 0) - a.plan.irsaUntil} days into the migration`;
      out.push({
        detection: 'irsa-after-association',
        cluster: c.plan.name,
        namespace: a.namespace,
        serviceAccount: a.plan.name,
        why:
          `association created ${ctTime(created)}; ${late.length} IRSA assumes more than ${SAMPLE_ACTIVE_HOURS} h later on ${days} UTC days ` +
          `(${span(late)}): ${a === plant.riskBatch ? 'the migration overlap and the planted irsa-regression' : story}`,
      });
    }
  }
  return out;
}

/**
 * Deterministic sample fleet: 30 days of CloudTrail for three EKS clusters in the middle of an
 * IRSA → EKS Pod Identity migration, plus the EKS inventory JSON an operator would export with
 * the AWS CLI. Used by the `demo` command and by tests.
 *
 * Record shapes follow docs/cloudtrail.md (§1a fetch, §1b companion AssumeRole,
 * §2a/§2b IRSA, §3 node-role calls). Everything secret-looking is fake: access key ids are random,
 * every session token contains the marker `FAKE-SESSION-TOKEN`.
 *
 * `generateSampleFleet` is pure: one seeded PRNG (mulberry32) drives every random choice, time comes
 * only from `options.end`. The cluster topology (OIDC ids, node roles, instance ids, role ids,
 * association ids) is drawn from a second PRNG with a fixed seed, so it is the same for every seed;
 * the seed changes traffic times, counts within their ranges, event/request ids and credentials,
 * never the scenario (the verdicts in `expected`, the cases in `expectedDetections`).
 *
 * Planted detection cases (default policy: 5-minute spike windows aligned on the epoch, threshold 5;
 * deny list `default`, `*-sandbox`; 7-day learning period; 24 h active window):
 * - unexpected-namespace: payments-prod `orders-sandbox/orders-api` uses the prod role of
 *   `orders/orders-api` through Pod Identity (3 assumes in the last 2 days); `fraud-detection/fraud-scorer`
 *   assumes the role of `risk/risk-engine` twice, 3 days before end (first-seen pair).
 * - access-denied-spike: the 12 denied Pod Identity fetches on one ng-2 node, and the denied IRSA
 *   retry storm of `inventory/inventory-sync`, each inside one aligned 5-minute window.
 * - node-role-fallthrough: payments-prod ng-1 node role calls S3/DynamoDB/SQS (one node via IMDSv1).
 * - irsa-regression: `risk/risk-batch` assumes through IRSA 6 h and 5 h before end (risk was READY).
 * - irsa-after-association: every service account that still assumed through IRSA more than 24 h after
 *   its association was created (computed from the records: the straggler `reporting/report-builder`,
 *   `orders/orders-api`, `notifications/notifier`, the two-day overlaps of older migrations, and risk-batch).
 * Every other migration keeps IRSA at most 23 h after its association and IRSA assumes of a service
 * account are never more than 16 h apart while it is on IRSA, so no other case fires.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ALNUM, BASE32, Random, STRUCTURE_SEED } from './sample-fleet/random';
import { SECOND, MINUTE, HOUR, DAY, ctTime, SPIKE_WINDOW_MINUTES, spikeWindow } from './sample-fleet/time';
import { SAMPLE_SOAK_DAYS, SAMPLE_ACTIVE_HOURS } from './sample-fleet/types';
import type { SampleFleetOptions, SampleLogFile, ExpectedNamespace, ExpectedDetection, SampleFleet } from './sample-fleet/types';
import { ACCOUNT_A, FALLTHROUGH_CLUSTER, FALLTHROUGH_NODEGROUP, BURST_NODEGROUP, buildTopology } from './sample-fleet/topology';
import type { NodeRole, Node, Role, ServiceAccount, Cluster } from './sample-fleet/topology';
import { UA, FleetBuilder } from './sample-fleet/records';
import { noisePrincipals, emitNoise } from './sample-fleet/noise';
import { buildInventory } from './sample-fleet/inventory';

export { SAMPLE_SOAK_DAYS, SAMPLE_ACTIVE_HOURS } from './sample-fleet/types';
export type { SampleFleetOptions, SampleLogFile, SampleInventoryFile, ExpectedNamespace, ExpectedDetection, SampleFleet } from './sample-fleet/types';

// ---------------------------------------------------------------------------------------------
// Traffic plan

function timesInDay(b: FleetBuilder, day: number, n: number): number[] {
  const dayStart = b.start + day * DAY;
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(dayStart + Math.floor(b.r.next() * DAY));
  return out.sort((x, y) => x - y);
}

/**
 * n times in day `day`, one uniformly in each of n equal slots. IRSA traffic uses it: with n ≥ 3, two
 * consecutive assumes of a service account are less than 16 h apart, so a namespace whose pods still use
 * IRSA never looks SOAKING (last IRSA older than 24 h) just before one of its own assumes.
 */
function slotTimesInDay(b: FleetBuilder, day: number, n: number): number[] {
  const dayStart = b.start + day * DAY;
  const slot = DAY / n;
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(dayStart + Math.floor(i * slot + b.r.next() * slot));
  return out;
}

function serviceAccountOf(cluster: Cluster, namespace: string, name: string): ServiceAccount {
  const a = cluster.serviceAccounts.find((x) => x.namespace === namespace && x.plan.name === name);
  if (!a) throw new Error(`scenario: ${cluster.plan.name}/${namespace}/${name} missing`);
  return a;
}

export function generateSampleFleet(options: SampleFleetOptions): SampleFleet {
  const seed = options.seed ?? 42;
  const days = options.days ?? 30;
  const end = options.end.getTime();
  if (!Number.isFinite(end)) throw new Error('generateSampleFleet: end is not a valid date');
  if (!Number.isInteger(days) || days < 1) throw new Error('generateSampleFleet: days must be a positive integer');
  const start = end - days * DAY;
  const r = new Random(seed);
  const b = new FleetBuilder(r, start, end);
  const clusters = buildTopology();
  const inWindow = (t: number) => t >= start && t < end;

  // Denied Pod Identity fetch burst: payments-prod, one node of ng-2, 12 calls within 4 minutes, 2 days before end,
  // inside one 5-minute spike window aligned on the epoch (starts 5–60 s into the window, lasts < 235 s).
  const payments = clusters.find((c) => c.plan.name === FALLTHROUGH_CLUSTER);
  if (!payments) throw new Error('scenario: payments-prod missing');
  const burstWindow = spikeWindow(end - 2 * DAY - r.int(30, 180) * MINUTE);
  const burstStart = burstWindow + r.int(5, 60) * SECOND;
  const burstTimes = Array.from({ length: 12 }, () => burstStart + Math.floor(r.next() * 235 * SECOND)).sort((x, y) => x - y);
  const burstEnd = burstTimes[burstTimes.length - 1] ?? burstStart;
  const burstNode = payments.nodeGroups.find((g) => g.plan.name === BURST_NODEGROUP)?.nodes[1];
  if (!burstNode) throw new Error('scenario: burst node missing');
  const inBurst = (c: Cluster, t: number) => c === payments && t >= burstStart - MINUTE && t <= burstEnd + MINUTE;

  // Planted detection cases, all in payments-prod (times drawn up front; records emitted after the regular traffic).
  // unexpected-namespace, deny list: orders-sandbox/orders-api assumes the prod orders-api role, 3 times in the last 2 days.
  const sandbox = serviceAccountOf(payments, 'orders-sandbox', 'orders-api');
  const sandboxTimes = [
    end - 47 * HOUR + r.int(0, 420 * 60) * SECOND,
    end - 30 * HOUR + r.int(0, 600 * 60) * SECOND,
    end - 12 * HOUR + r.int(0, 600 * 60) * SECOND,
  ];
  const sandboxCreated = (sandboxTimes[0] ?? end) - r.int(30, 120) * MINUTE;
  // unexpected-namespace, first seen: fraud-detection/fraud-scorer gets the risk-engine role for a while, 3 days
  // before end (its association was pointed at the wrong role and reverted; no other fraud-scorer fetch meanwhile).
  const fraud = serviceAccountOf(payments, 'fraud-detection', 'fraud-scorer');
  const riskEngine = serviceAccountOf(payments, 'risk', 'risk-engine');
  const fraudFirst = end - 3 * DAY - r.int(120 * 60, 600 * 60) * SECOND;
  const fraudTimes = [fraudFirst, fraudFirst + r.int(20 * 60, 90 * 60) * SECOND];
  const fraudReverted = (fraudTimes[1] ?? fraudFirst) + r.int(15, 25) * MINUTE;
  const fraudQuiet = (acct: ServiceAccount, t: number) => acct === fraud && t >= fraudFirst - 5 * MINUTE && t <= fraudReverted;
  // irsa-regression: a restored CronJob of risk-batch still annotated for IRSA, 6 h and 5 h before end.
  const riskBatch = serviceAccountOf(payments, 'risk', 'risk-batch');
  const regressionTimes = [end - 6 * HOUR + r.int(0, 300) * SECOND, end - 5 * HOUR + r.int(0, 300) * SECOND];

  /** Per service account with an association: when it was created (and modified, when not then). */
  const associationTimes = new Map<ServiceAccount, number>();
  const associationModified = new Map<ServiceAccount, number>();
  /** Per service account with Pod Identity traffic: its start (pod generations count from it). */
  const podIdStarts = new Map<ServiceAccount, number>();

  for (const cluster of clusters) {
    for (const acct of cluster.serviceAccounts) {
      const p = acct.plan;
      if (p.plantedOnly) continue;
      const podJitter = r.int(0, 719) * MINUTE;
      const podIdStart = p.podIdFrom === null ? Infinity : end - p.podIdFrom * DAY - podJitter;
      // The last IRSA pod goes away 4–6 h before its whole day, after the same jitter as the Pod Identity start: the
      // association (0.5–3 h before Pod Identity starts) is 18.5–23 h older than the last IRSA assume when the overlap is
      // one day, and 42.5 h or more when it is two days (irsa-after-association fires only then).
      const irsaEnd = p.irsaUntil === null ? Infinity : end - p.irsaUntil * DAY - podJitter - r.int(240, 359) * MINUTE;
      if (p.podIdFrom !== null) {
        podIdStarts.set(acct, podIdStart);
        associationTimes.set(acct, podIdStart - r.int(30, 180) * MINUTE);
      }
      if (p.associationOnlyFrom !== undefined)
        associationTimes.set(acct, end - p.associationOnlyFrom * DAY - r.int(0, 600) * MINUTE);

      for (let day = 0; day < days; day++) {
        // IRSA while the SA (or a straggler pod of it) is still on IRSA.
        for (const t of slotTimesInDay(b, day, r.int(3, 6))) {
          if (t < irsaEnd) b.irsa(cluster, acct, t, r.chance(1 / 40));
        }
        // Pod Identity: agent fetch by the pod's node, then the companion AssumeRole within a second.
        for (const t of timesInDay(b, day, r.int(2, 4))) {
          if (t < podIdStart || inBurst(cluster, t) || fraudQuiet(acct, t)) continue;
          const pod = r.pick(b.podsAt(cluster, acct, podIdStart, t));
          b.fetch(cluster, pod.node, t, false);
          const tc = t + r.int(120, 900);
          if (tc < end) b.companion(cluster, acct, pod, tc);
        }
      }
      // The very last IRSA assume, shortly before the last IRSA pod went away.
      if (Number.isFinite(irsaEnd)) {
        const t = irsaEnd - r.int(0, 20 * 60) * SECOND;
        if (inWindow(t)) b.irsa(cluster, acct, t, false);
      }
      // A retry storm of denied IRSA assumes (trust policy `sub` does not match): 6–8 within 2 minutes, inside one
      // 5-minute spike window aligned on the epoch (starts 10–120 s into it, lasts < 110 s).
      if (p.deniedStorm) {
        const t0 = spikeWindow(end - 3 * DAY - r.int(0, 720) * MINUTE) + r.int(10, 120) * SECOND;
        const n = r.int(6, 8);
        for (let i = 0; i < n; i++) {
          const t = t0 + Math.floor(r.next() * 110 * SECOND);
          if (inWindow(t)) b.irsa(cluster, acct, t, true);
        }
      }
    }

    // Expected node traffic on every node: ECR pulls, VPC CNI EC2 calls.
    for (const node of cluster.nodes) {
      for (let day = 0; day < days; day++) {
        const counts = [r.int(2, 3), r.int(1, 4), r.int(1, 3), r.int(1, 3)];
        counts.forEach((n, kind) => {
          for (const t of timesInDay(b, day, n)) b.expectedNodeTraffic(cluster, node, t, kind);
        });
      }
    }
  }

  for (const t of burstTimes) if (inWindow(t)) b.fetch(payments, burstNode, t, true);

  // Planted cases: Pod Identity fetch + companion (within a second), IRSA.
  const podIdentity = (acct: ServiceAccount, since: number, t: number, role?: Role) => {
    if (!inWindow(t)) return;
    const pod = r.pick(b.podsAt(payments, acct, since, t));
    b.fetch(payments, pod.node, t, false);
    const tc = t + r.int(120, 900);
    if (tc < end) b.companion(payments, acct, pod, tc, role);
  };
  associationTimes.set(sandbox, sandboxCreated);
  podIdStarts.set(sandbox, sandboxCreated);
  for (const t of sandboxTimes) podIdentity(sandbox, sandboxCreated, t);
  const fraudSince = podIdStarts.get(fraud);
  if (fraudSince === undefined) throw new Error('scenario: fraud-scorer has no Pod Identity');
  for (const t of fraudTimes) podIdentity(fraud, fraudSince, t, riskEngine.role);
  associationModified.set(fraud, fraudReverted);
  for (const t of regressionTimes) if (inWindow(t)) b.irsa(payments, riskBatch, t, false);

  // Node-role fallthrough on payments-prod ng-1, last 5 days: node 0 via IMDSv2, node 1 via IMDSv1 (old CLI).
  const ftGroup = payments.nodeGroups.find((g) => g.plan.name === FALLTHROUGH_NODEGROUP);
  const ftNode0 = ftGroup?.nodes[0];
  const ftNode1 = ftGroup?.nodes[1];
  if (!ftGroup || !ftNode0 || !ftNode1) throw new Error('scenario: fallthrough nodes missing');
  const ftCount = r.int(12, 18);
  const ftKinds: ('A' | 'B' | 'C' | 'D')[] = ['A', 'B', 'C', 'D'];
  for (let i = 0; i < ftCount; i++) {
    const kind = ftKinds[i] ?? r.pick(ftKinds);
    const t = end - 5 * DAY + Math.floor(r.next() * 5 * DAY);
    if (inWindow(t)) b.fallthrough(payments, kind === 'A' || kind === 'B' ? ftNode0 : ftNode1, t, kind);
  }

  // GitHub Actions OIDC (non-EKS web identity; must be ignored): a few deploys per weekday.
  const ghProvider = `arn:aws:iam::${ACCOUNT_A}:oidc-provider/token.actions.githubusercontent.com`;
  const ghRoleName = 'github-actions-payments-deploy';
  const ghRoleId = 'AROA' + new Random(STRUCTURE_SEED ^ 0x6a).chars(BASE32, 17);
  for (let day = 0; day < days; day++) {
    const weekday = new Date(start + day * DAY).getUTCDay();
    const n = weekday === 0 || weekday === 6 ? r.int(0, 1) : r.int(2, 5);
    for (const t of timesInDay(b, day, n)) {
      b.webIdentity(t, 'non-eks-web-identity', {
        account: ACCOUNT_A,
        region: 'us-east-1',
        providerArn: ghProvider,
        subject: 'repo:acme/payments:ref:refs/heads/main',
        roleArn: `arn:aws:iam::${ACCOUNT_A}:role/${ghRoleName}`,
        roleName: ghRoleName,
        roleId: ghRoleId,
        session: 'GitHubActions',
        sourceIp: `198.51.100.${r.int(100, 200)}`,
        userAgent: UA.githubActions,
        denied: false,
        durationSeconds: 3600,
      });
    }
  }

  // Unrelated noise: ~35 % of all records.
  const relevant = b.out.length;
  const noiseCount = Math.round(relevant * 0.55);
  const principals = noisePrincipals();
  // A real trail has records in every hour of every region it logs (nodes, controllers, people):
  // coverage counts on that, so the sample fleet has at least one unrelated record an hour per
  // account and region, out of the noise budget.
  let hourly = 0;
  for (const p of principals) {
    for (const region of new Set(p.regions)) {
      for (let h = Math.floor(start / HOUR) * HOUR; h < end; h += HOUR) {
        emitNoise(b, p, Math.max(start, h) + Math.floor(r.next() * (HOUR - 1)), region);
        hourly += 1;
      }
    }
  }
  for (let i = hourly; i < noiseCount; i++) {
    const p = r.chance(0.65) ? principals[0] : principals[1];
    if (!p) continue;
    emitNoise(b, p, start + Math.floor(r.next() * (end - start)));
  }

  // Files: one per (account, region, hour), records sorted by time.
  const sorted = b.out.filter((x) => inWindow(x.t)).sort((x, y) => x.t - y.t || x.seq - y.seq);
  const groups = new Map<string, { account: string; region: string; hour: number; records: Record<string, unknown>[] }>();
  for (const x of sorted) {
    const hour = Math.floor(x.t / HOUR) * HOUR;
    const k = `${x.account}|${x.region}|${String(hour).padStart(15, '0')}`;
    let g = groups.get(k);
    if (!g) {
      g = { account: x.account, region: x.region, hour, records: [] };
      groups.set(k, g);
    }
    g.records.push(x.record);
  }
  const files: SampleLogFile[] = [...groups.keys()].sort().map((k) => {
    const g = groups.get(k);
    if (!g) throw new Error('unreachable');
    return { key: s3Key(g.account, g.region, g.hour, r.chars(ALNUM, 16)), records: g.records };
  });
  files.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));

  const byCategory: Record<string, number> = {};
  for (const x of sorted) byCategory[x.category] = (byCategory[x.category] ?? 0) + 1;

  const inventory = buildInventory(clusters, associationTimes, associationModified, end);
  const associated = new Set<string>();
  for (const c of clusters)
    for (const a of c.serviceAccounts) if (a.association) associated.add(`${c.plan.name}/${a.namespace}`);
  const allRecords = files.flatMap((f) => f.records);
  const expected = computeExpected(allRecords, clusters, associated, end);
  const expectedDetections = computeExpectedDetections(allRecords, clusters, associationTimes, {
    payments,
    sandbox,
    fraud,
    riskEngine,
    riskBatch,
    burstNode,
    burstWindow,
    fallthroughRole: ftGroup.role,
    fallthroughNodes: [ftNode0, ftNode1],
    end,
  });

  return { files, inventory, expected, expectedDetections, stats: { records: sorted.length, byCategory } };
}

function s3Key(account: string, region: string, hour: number, unique: string): string {
  const iso = new Date(hour).toISOString(); // YYYY-MM-DDTHH:…
  const yyyy = iso.slice(0, 4);
  const mm = iso.slice(5, 7);
  const dd = iso.slice(8, 10);
  const hh = iso.slice(11, 13);
  return `AWSLogs/${account}/CloudTrail/${region}/${yyyy}/${mm}/${dd}/${account}_CloudTrail_${region}_${yyyy}${mm}${dd}T${hh}05Z_${unique}.json.gz`;
}

// ---------------------------------------------------------------------------------------------
// Expected verdicts, computed from the generated records

function asObj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function computeExpected(
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

interface PlantedCases {
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

function computeExpectedDetections(
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

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * Writes every log file gzipped under `dir/logs/<key>` and every inventory file as pretty JSON
 * (4-space indent, like the AWS CLI) under `dir/inventory/<name>`. `files` is the number of log
 * files written (inventory files: `fleet.inventory.length`).
 */
export interface WriteSampleFleetOptions {
  /**
   * Files of these UTC days in this region go to `late/` instead of `logs/`: a sync that missed
   * them, read later (the demo's planted coverage hole). Days are `YYYY-MM-DD`.
   */
  late?: { region: string; days: readonly string[] };
}

export async function writeSampleFleet(
  dir: string,
  fleet: SampleFleet,
  options: WriteSampleFleetOptions = {},
): Promise<{ logDir: string; lateDir: string | null; inventoryDir: string; files: number }> {
  const logDir = join(dir, 'logs');
  const lateDir = options.late ? join(dir, 'late') : null;
  const inventoryDir = join(dir, 'inventory');
  await mkdir(inventoryDir, { recursive: true });
  // S3 keys are AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/…
  const isLate = (key: string) => {
    const parts = key.split('/');
    return options.late !== undefined && parts[3] === options.late.region && options.late.days.includes(parts.slice(4, 7).join('-'));
  };
  const target = (key: string) => join(isLate(key) && lateDir ? lateDir : logDir, key);
  const dirs = new Set(fleet.files.map((f) => dirname(target(f.key))));
  await Promise.all([...dirs].sort().map((d) => mkdir(d, { recursive: true })));
  // Compress on the main thread (small files: faster than the 4-thread zlib pool), write 64 at a time.
  const batch = 64;
  for (let i = 0; i < fleet.files.length; i += batch) {
    await Promise.all(
      fleet.files
        .slice(i, i + batch)
        .map((f) => writeFile(target(f.key), gzipSync(Buffer.from(JSON.stringify({ Records: f.records }), 'utf8')))),
    );
  }
  for (const inv of fleet.inventory) {
    await writeFile(join(inventoryDir, inv.name), JSON.stringify(inv.content, null, 4) + '\n', 'utf8');
  }
  return { logDir, lateDir, inventoryDir, files: fleet.files.length };
}

/**
 * The traffic plan: `generateSampleFleet` draws `days` (default 30) of IRSA and Pod Identity traffic for the
 * topology, the planted detection cases, node traffic, GitHub Actions OIDC and noise, then groups the
 * records into hourly files and computes the inventory and what the tests expect.
 *
 * Every traffic random draw happens here or in the builders it calls, in one fixed order: changing the
 * order of the draws changes every generated fleet.
 */
import { ALNUM, BASE32, Random, STRUCTURE_SEED } from './random';
import { SECOND, MINUTE, HOUR, DAY, spikeWindow } from './time';
import type { SampleFleetOptions, SampleLogFile, SampleFleet } from './types';
import { ACCOUNT_A, FALLTHROUGH_CLUSTER, FALLTHROUGH_NODEGROUP, BURST_NODEGROUP, buildTopology } from './topology';
import type { Role, ServiceAccount, Cluster } from './topology';
import { UA, FleetBuilder } from './records';
import { noisePrincipals, emitNoise } from './noise';
import { buildInventory } from './inventory';
import { computeExpected, computeExpectedDetections } from './expected';
import { s3Key } from './files';

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

import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateSampleFleet, writeSampleFleet } from '../../functions/local/sample-fleet';
import type { ExpectedDetection, SampleFleet } from '../../functions/local/sample-fleet';

type Rec = Record<string, unknown>;

const END = new Date('2026-11-22T14:00:00Z');
const END_MS = END.getTime();
const DAY = 86_400_000;
const HOUR = 3_600_000;
const MINUTE = 60_000;
/** Detection defaults the planted cases are built for. */
const SPIKE_WINDOW = 5 * MINUTE;
const SPIKE_THRESHOLD = 5;
const LEARNING = 7 * DAY;
const ACTIVE = 24 * HOUR;
const aligned = (t: number) => Math.floor(t / SPIKE_WINDOW) * SPIKE_WINDOW;
const iso = (t: number) => new Date(t).toISOString().replace('.000Z', 'Z');

function obj(v: unknown): Rec {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`not an object: ${JSON.stringify(v)}`);
  return v as Rec;
}
const ui = (r: Rec): Rec => obj(r.userIdentity);
const rp = (r: Rec): Rec => obj(r.requestParameters);
const time = (r: Rec): number => Date.parse(String(r.eventTime));
const all = (f: SampleFleet): Rec[] => f.files.flatMap((x) => x.records);
/** `fn` computed once per fleet (or record list): the scans below are read by several tests each. */
function perFleet<K extends object, T>(fn: (k: K) => T): (k: K) => T {
  const cache = new WeakMap<K, T>();
  return (k) => {
    if (!cache.has(k)) cache.set(k, fn(k));
    return cache.get(k)!;
  };
}
/**
 * The fleet's bytes, hashed: every file's JSON in order, then the inventory, the expectations and the
 * stats. File by file: one JSON text of all the files (~22 MB) cost twice the time to build and drop.
 * Each file's text is one JSON object, so their concatenation still tells any two fleets apart.
 */
const hash = perFleet((f: SampleFleet): string => {
  const bytes = createHash('sha256');
  for (const file of f.files) bytes.update(JSON.stringify(file));
  return bytes
    .update(JSON.stringify(f.inventory))
    .update(JSON.stringify(f.expected))
    .update(JSON.stringify(f.expectedDetections))
    .update(JSON.stringify(f.stats))
    .digest('hex');
});

const isFetch = (r: Rec) => r.eventSource === 'eks-auth.amazonaws.com' && r.eventName === 'AssumeRoleForPodIdentity';
const isCompanion = (r: Rec) =>
  r.eventSource === 'sts.amazonaws.com' && r.eventName === 'AssumeRole' && ui(r).invokedBy === 'pods.eks.amazonaws.com';
const isWebIdentity = (r: Rec) => r.eventName === 'AssumeRoleWithWebIdentity';
const isEksIrsa = (r: Rec) => isWebIdentity(r) && /:oidc-provider\/oidc\.eks\./.test(String(ui(r).identityProvider));
const isNodeCall = (r: Rec) => obj(ui(r).sessionContext ?? {}).ec2RoleDelivery !== undefined;
const tagMap = (r: Rec): Map<string, string> => {
  const tags = rp(r).tags;
  const m = new Map<string, string>();
  if (Array.isArray(tags)) for (const t of tags) m.set(String(obj(t).key), String(obj(t).value));
  return m;
};
const inventoryContent = (f: SampleFleet, name: string): Rec => {
  const file = f.inventory.find((x) => x.name === name);
  if (!file) throw new Error(`no inventory file ${name}`);
  return obj(file.content);
};

/** Scenario the generator is meant to produce (checked against the computed `expected`). */
const INTENDED: Record<string, string> = {
  'payments-prod/ledger': 'READY',
  'payments-prod/fraud-detection': 'READY',
  'payments-prod/risk': 'IN_PROGRESS',
  'payments-prod/checkout': 'SOAKING',
  'payments-prod/orders': 'IN_PROGRESS',
  'payments-prod/notifications': 'IN_PROGRESS',
  'payments-prod/inventory': 'NOT_STARTED',
  'payments-prod/reporting': 'NOT_STARTED',
  'payments-prod/orders-sandbox': 'READY',
  'search-prod/indexer': 'READY',
  'search-prod/query-api': 'READY',
  'search-prod/ranking': 'READY',
  'search-prod/crawler': 'READY',
  'search-prod/autocomplete': 'READY',
  'search-prod/embeddings': 'READY',
  'search-prod/search-admin': 'READY',
  'legacy-batch/etl-nightly': 'NOT_STARTED',
  'legacy-batch/billing-export': 'NOT_STARTED',
  'legacy-batch/reconciliation': 'NOT_STARTED',
  'legacy-batch/archive': 'NOT_STARTED',
  'legacy-batch/data-quality': 'NOT_STARTED',
  'legacy-batch/report-gen': 'NOT_STARTED',
};

let fleet: SampleFleet;
let records: Rec[];

beforeAll(() => {
  fleet = generateSampleFleet({ end: END });
  records = all(fleet);
});

/** Last IRSA attempt per cluster/namespace, scanned from the records. */
const lastIrsaByNamespace = perFleet((recs: Rec[]): Map<string, number> => {
  const issuers = new Map<string, string>();
  for (const f of fleet.inventory.filter((x) => x.name.startsWith('describe-cluster-'))) {
    const c = obj(obj(f.content).cluster);
    const issuer = String(obj(obj(c.identity).oidc).issuer).replace(/^https:\/\//, '');
    issuers.set(issuer, String(c.name));
  }
  const out = new Map<string, number>();
  for (const r of recs.filter(isEksIrsa)) {
    const issuer = String(ui(r).identityProvider).replace(/^arn:aws:iam::\d{12}:oidc-provider\//, '');
    const cluster = issuers.get(issuer);
    const ns = String(ui(r).userName).split(':')[2];
    const k = `${cluster}/${ns}`;
    out.set(k, Math.max(out.get(k) ?? 0, time(r)));
  }
  return out;
});

/** One credential-relevant record, as the detections see it (independent of the generator's own parsing). */
interface Ev {
  t: number;
  kind: 'irsa' | 'pod-identity' | 'fetch' | 'node-call';
  ok: boolean;
  cluster: string;
  namespace: string | null;
  serviceAccount: string | null;
  roleArn: string | null;
  node: string | null;
  api: string;
}

const EXPECTED_NODE_APIS = new Set([
  'eks-auth.amazonaws.com:AssumeRoleForPodIdentity',
  'ecr.amazonaws.com:GetAuthorizationToken',
  'ecr.amazonaws.com:BatchGetImage',
  'ec2.amazonaws.com:DescribeInstances',
  'ec2.amazonaws.com:AssignPrivateIpAddresses',
]);

const eventsOf = perFleet((f: SampleFleet): Ev[] => {
  const issuers = new Map<string, string>();
  const nodeRoleCluster = new Map<string, string>();
  for (const file of f.inventory) {
    if (file.name.startsWith('describe-cluster-')) {
      const c = obj(obj(file.content).cluster);
      issuers.set(String(obj(obj(c.identity).oidc).issuer).replace('https://', ''), String(c.name));
    }
  }
  const out: Ev[] = [];
  const recs = all(f);
  // Karpenter node roles have no describe-nodegroup: map every node role through its Pod Identity fetches.
  for (const r of recs.filter(isFetch)) nodeRoleCluster.set(String(obj(obj(ui(r).sessionContext).sessionIssuer).arn), String(rp(r).clusterName));
  for (const r of recs) {
    const api = `${r.eventSource}:${r.eventName}`;
    const base = { t: time(r), ok: r.errorCode === undefined, api };
    if (isEksIrsa(r)) {
      const [, , ns, sa] = String(ui(r).userName).split(':');
      const issuer = String(ui(r).identityProvider).replace(/^arn:aws:iam::\d{12}:oidc-provider\//, '');
      out.push({ ...base, kind: 'irsa', cluster: String(issuers.get(issuer)), namespace: ns ?? null, serviceAccount: sa ?? null, roleArn: String(rp(r).roleArn), node: null });
    } else if (isCompanion(r)) {
      const tags = tagMap(r);
      out.push({
        ...base,
        kind: 'pod-identity',
        cluster: tags.get('eks-cluster-name') ?? String(rp(r).roleArn).split(':role/')[1]?.split('-').slice(0, 2).join('-') ?? '?',
        namespace: tags.get('kubernetes-namespace') ?? null,
        serviceAccount: tags.get('kubernetes-service-account') ?? null,
        roleArn: String(rp(r).roleArn),
        node: null,
      });
    } else if (isNodeCall(r)) {
      const role = String(obj(obj(ui(r).sessionContext).sessionIssuer).arn);
      out.push({
        ...base,
        kind: isFetch(r) ? 'fetch' : 'node-call',
        cluster: isFetch(r) ? String(rp(r).clusterName) : (nodeRoleCluster.get(role) ?? '?'),
        namespace: null,
        serviceAccount: null,
        roleArn: null,
        node: String(ui(r).arn).split('/')[2] ?? null,
      });
    }
  }
  return out.sort((a, b) => a.t - b.t);
});

const dkey = (detection: string, cluster: string, ns: string | null, sa: string | null) => `${detection} ${cluster}/${ns}/${sa}`;

/**
 * The five detections with the default policy, written from their definitions, over the records and the
 * inventory: returns `detection cluster/namespace/serviceAccount` → the event times that fire it.
 */
const detectFromRecords = perFleet((f: SampleFleet): Map<string, number[]> => {
  const fired = new Map<string, number[]>();
  const fire = (k: string, t: number) => fired.set(k, [...(fired.get(k) ?? []), t]);
  const associations = new Map<string, number>();
  for (const file of f.inventory.filter((x) => x.name.startsWith('describe-pod-identity-association-'))) {
    const a = obj(obj(file.content).association);
    associations.set(`${a.clusterName}/${a.namespace}/${a.serviceAccount}`, Date.parse(String(a.createdAt)));
  }
  const roleFirst = new Map<string, number>();
  const pairs = new Set<string>();
  const spikes = new Map<string, number>();
  const ns = new Map<string, { pod: boolean; lastIrsa: number | null }>();
  for (const e of eventsOf(f)) {
    // unexpected-namespace: deny list / system namespace, else a new (role, namespace) pair of a role older than the learning period
    if ((e.kind === 'irsa' || e.kind === 'pod-identity') && e.ok && e.namespace && e.roleArn) {
      const pair = `${e.roleArn}|${e.namespace}`;
      const since = roleFirst.get(e.roleArn);
      if (e.namespace === 'default' || e.namespace.endsWith('-sandbox') || e.namespace === 'kube-system') {
        fire(dkey('unexpected-namespace', e.cluster, e.namespace, e.serviceAccount), e.t);
      } else if (!pairs.has(pair) && since !== undefined && e.t - since >= LEARNING) {
        fire(dkey('unexpected-namespace', e.cluster, e.namespace, e.serviceAccount), e.t);
      }
      pairs.add(pair);
      if (since === undefined) roleFirst.set(e.roleArn, e.t);
    }
    // access-denied-spike: per key, fixed windows aligned on the epoch
    if (!e.ok && e.kind !== 'pod-identity') {
      const key = e.kind === 'irsa' ? `${e.cluster}/${e.namespace}/${e.serviceAccount}/${e.roleArn}` : `${e.kind}/${e.node}`;
      const counter = `${key}|${aligned(e.t)}`;
      const n = (spikes.get(counter) ?? 0) + 1;
      spikes.set(counter, n);
      if (n >= SPIKE_THRESHOLD) fire(dkey('access-denied-spike', e.cluster, e.namespace, e.serviceAccount), e.t);
    }
    // node-role-fallthrough
    if (e.kind === 'node-call' && !EXPECTED_NODE_APIS.has(e.api)) fire(dkey('node-role-fallthrough', e.cluster, null, null), e.t);
    if (e.kind === 'irsa' && e.namespace) {
      // irsa-regression: any IRSA attempt in a namespace with Pod Identity and no IRSA within the active window
      const state = ns.get(`${e.cluster}/${e.namespace}`) ?? { pod: false, lastIrsa: null };
      if (state.pod && (state.lastIrsa === null || e.t - state.lastIrsa > ACTIVE)) fire(dkey('irsa-regression', e.cluster, e.namespace, e.serviceAccount), e.t);
      state.lastIrsa = e.t;
      ns.set(`${e.cluster}/${e.namespace}`, state);
      // irsa-after-association: any IRSA attempt more than the active window after the association
      const created = associations.get(`${e.cluster}/${e.namespace}/${e.serviceAccount}`);
      if (created !== undefined && e.t - created > ACTIVE) fire(dkey('irsa-after-association', e.cluster, e.namespace, e.serviceAccount), e.t);
    }
    if (e.kind === 'pod-identity' && e.ok && e.namespace) {
      const state = ns.get(`${e.cluster}/${e.namespace}`) ?? { pod: false, lastIrsa: null };
      state.pod = true;
      ns.set(`${e.cluster}/${e.namespace}`, state);
    }
  }
  return fired;
});

const expectedKeys = (f: SampleFleet) => f.expectedDetections.map((d: ExpectedDetection) => dkey(d.detection, d.cluster, d.namespace, d.serviceAccount));

describe('determinism', () => {
  it('same (seed, end, days) gives deep-equal output with the same byte hash, independent of the clock', () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
    const randomSpy = vi.spyOn(Math, 'random').mockImplementation(() => {
      throw new Error('Math.random used');
    });
    try {
      // `fleet` was made with the real clock and the defaults (seed 42, 30 days): the same bytes
      // (the hash covers every file, the inventory, the expectations and the stats) under another clock.
      const again = generateSampleFleet({ end: new Date(END_MS), seed: 42, days: 30 });
      expect(hash(again)).toBe(hash(fleet));
      expect(randomSpy).not.toHaveBeenCalled();
    } finally {
      randomSpy.mockRestore();
      vi.useRealTimers();
    }
  });

  it('a different seed changes ids and times but not the scenario (verdicts, detection cases)', () => {
    // One other seed, 7, the one the write-path, crash and handler tests run on (each seed costs a
    // fleet's generation and detection, ~1.5 s)
    const ids = new Set(records.map((r) => r.eventID));
    const other = generateSampleFleet({ end: END, seed: 7 });
    expect(hash(other)).not.toBe(hash(fleet));
    expect(other.expected.map((e) => [e.cluster, e.namespace, e.verdict])).toEqual(fleet.expected.map((e) => [e.cluster, e.namespace, e.verdict]));
    expect(expectedKeys(other)).toEqual(expectedKeys(fleet));
    expect(new Set(detectFromRecords(other).keys())).toEqual(new Set(expectedKeys(other)));
    expect(all(other).filter((r) => ids.has(r.eventID))).toHaveLength(0);
  });

  it('a longer window keeps the scenario and adds traffic', () => {
    const longer = generateSampleFleet({ end: END, days: 35 });
    expect(longer.expected.map((e) => e.verdict)).toEqual(fleet.expected.map((e) => e.verdict));
    expect(expectedKeys(longer)).toEqual(expectedKeys(fleet));
    expect(new Set(detectFromRecords(longer).keys())).toEqual(new Set(expectedKeys(longer)));
    expect(longer.stats.records).toBeGreaterThan(fleet.stats.records);
    expect(Math.min(...all(longer).map(time))).toBeLessThan(END_MS - 30 * DAY);
  });

  it('eventIDs are unique UUID v4 and every record lies in [end - days, end)', () => {
    const ids = records.map((r) => String(r.eventID));
    expect(new Set(ids).size).toBe(ids.length);
    // the offenders, if any, in one assertion each: an expect per record costs seconds over 15k
    expect(ids.filter((id) => !/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id))).toEqual([]);
    expect(records.filter((r) => !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(String(r.eventTime))).map((r) => r.eventTime)).toEqual([]);
    expect(records.filter((r) => time(r) < END_MS - 30 * DAY || time(r) >= END_MS).map((r) => r.eventTime)).toEqual([]);
  });
});

describe('size', () => {
  it('generates 12k–20k records, 8k–12k in scope, 30–40 % noise', () => {
    const { records: total, byCategory } = fleet.stats;
    expect(total).toBe(records.length);
    expect(Object.values(byCategory).reduce((a, b) => a + b, 0)).toBe(total);
    expect(total).toBeGreaterThanOrEqual(12_000);
    expect(total).toBeLessThanOrEqual(20_000);
    const outOfScope = (byCategory.noise ?? 0) + (byCategory['non-eks-web-identity'] ?? 0);
    expect(total - outOfScope).toBeGreaterThanOrEqual(8_000);
    expect(total - outOfScope).toBeLessThanOrEqual(12_000);
    const noiseShare = (byCategory.noise ?? 0) / total;
    expect(noiseShare).toBeGreaterThanOrEqual(0.3);
    expect(noiseShare).toBeLessThanOrEqual(0.4);
    // Speed is the benchmark's to measure (npm run bench), not a test's.
  });
});

describe('scenario', () => {
  it('has 3 clusters, 22 namespaces and exactly the intended verdicts', () => {
    expect(new Set(fleet.expected.map((e) => e.cluster))).toEqual(new Set(['payments-prod', 'search-prod', 'legacy-batch']));
    expect(fleet.expected).toHaveLength(22);
    const got = Object.fromEntries(fleet.expected.map((e) => [`${e.cluster}/${e.namespace}`, e.verdict]));
    expect(got).toEqual(INTENDED);
    expect(new Set(fleet.expected.map((e) => e.verdict))).toEqual(new Set(['NOT_STARTED', 'IN_PROGRESS', 'SOAKING', 'READY']));
    for (const e of fleet.expected) expect(e.why.length).toBeGreaterThan(10);
  });

  it('payments-prod: 9 namespaces, ≥2 READY cut over 18–28 days ago, one SOAKING checkout, ≥2 IN_PROGRESS, ≥2 NOT_STARTED', () => {
    const p = fleet.expected.filter((e) => e.cluster === 'payments-prod');
    expect(p).toHaveLength(9);
    const count = (v: string) => p.filter((e) => e.verdict === v).length;
    expect(count('READY')).toBeGreaterThanOrEqual(2);
    expect(p.filter((e) => e.verdict === 'SOAKING').map((e) => e.namespace)).toEqual(['checkout']);
    expect(count('IN_PROGRESS')).toBeGreaterThanOrEqual(2);
    expect(count('NOT_STARTED')).toBeGreaterThanOrEqual(2);
    const last = lastIrsaByNamespace(records);
    // orders-sandbox is READY without ever using IRSA (Pod Identity from its first pod).
    expect(last.has('payments-prod/orders-sandbox')).toBe(false);
    for (const e of p.filter((x) => x.verdict === 'READY' && x.namespace !== 'orders-sandbox')) {
      const age = Math.floor((END_MS - (last.get(`payments-prod/${e.namespace}`) ?? 0)) / DAY);
      expect(age).toBeGreaterThanOrEqual(18);
      expect(age).toBeLessThanOrEqual(28);
    }
    for (const e of p.filter((x) => x.verdict === 'IN_PROGRESS')) {
      expect(END_MS - (last.get(`payments-prod/${e.namespace}`) ?? 0)).toBeLessThanOrEqual(DAY);
    }
  });

  it('checkout is SOAKING with its last IRSA assume 10 days before end and Pod Identity since', () => {
    const last = lastIrsaByNamespace(records).get('payments-prod/checkout');
    expect(last).toBeDefined();
    expect(Math.floor((END_MS - (last ?? 0)) / DAY)).toBe(10);
    const pod = records.filter(
      (r) => isCompanion(r) && tagMap(r).get('eks-cluster-name') === 'payments-prod' && tagMap(r).get('kubernetes-namespace') === 'checkout',
    );
    expect(pod.length).toBeGreaterThan(20);
    expect(Math.max(...pod.map(time))).toBeGreaterThan(END_MS - DAY);
    expect(fleet.expected.find((e) => e.namespace === 'checkout')?.verdict).toBe('SOAKING');
  });

  it('legacy-batch: 6 namespaces, all NOT_STARTED, IRSA only, no associations', () => {
    const l = fleet.expected.filter((e) => e.cluster === 'legacy-batch');
    expect(l).toHaveLength(6);
    expect(l.every((e) => e.verdict === 'NOT_STARTED')).toBe(true);
    expect(records.some((r) => isFetch(r) && rp(r).clusterName === 'legacy-batch')).toBe(false);
    expect(inventoryContent(fleet, 'list-pod-identity-associations-legacy-batch.json')).toEqual({ associations: [] });
  });

  it('search-prod: 7 namespaces all READY, last IRSA 20–27 days before end, Pod Identity every day since', () => {
    const s = fleet.expected.filter((e) => e.cluster === 'search-prod');
    expect(s).toHaveLength(7);
    expect(s.every((e) => e.verdict === 'READY')).toBe(true);
    const last = lastIrsaByNamespace(records);
    for (const e of s) {
      const lastIrsa = last.get(`search-prod/${e.namespace}`) ?? 0;
      const age = Math.floor((END_MS - lastIrsa) / DAY);
      expect(age).toBeGreaterThanOrEqual(20);
      expect(age).toBeLessThanOrEqual(27);
      const podDays = new Set(
        records
          .filter((r) => isCompanion(r) && tagMap(r).get('kubernetes-namespace') === e.namespace && tagMap(r).get('eks-cluster-name') === 'search-prod')
          .map((r) => Math.floor((END_MS - time(r)) / DAY)),
      );
      for (let d = 0; d < age; d++) expect(podDays.has(d)).toBe(true);
    }
  });

  it('the "restart the pods" straggler: NOT_STARTED namespace with an association and no Pod Identity traffic', () => {
    const list = inventoryContent(fleet, 'list-pod-identity-associations-payments-prod.json');
    const assocNs = new Set((list.associations as Rec[]).map((a) => String(a.namespace)));
    const notStarted = fleet.expected.filter((e) => e.cluster === 'payments-prod' && e.verdict === 'NOT_STARTED');
    const stragglers = notStarted.filter((e) => assocNs.has(e.namespace));
    expect(stragglers.map((e) => e.namespace)).toEqual(['reporting']);
    expect(stragglers[0]?.why).toMatch(/association exists/);
    expect(records.some((r) => isCompanion(r) && tagMap(r).get('kubernetes-namespace') === 'reporting')).toBe(false);
    // IN_PROGRESS namespaces have associations too.
    for (const e of fleet.expected.filter((x) => x.verdict === 'IN_PROGRESS')) expect(assocNs.has(e.namespace)).toBe(true);
  });

  it('associations exist for every service account that ever used Pod Identity, plus the straggler', () => {
    for (const cluster of ['payments-prod', 'search-prod']) {
      const list = inventoryContent(fleet, `list-pod-identity-associations-${cluster}.json`).associations as Rec[];
      const listed = new Set(list.map((a) => `${a.namespace}/${a.serviceAccount}`));
      const used = new Set(
        records
          .filter((r) => isCompanion(r) && String(rp(r).roleArn).includes(`:role/${cluster}-`))
          .map((r) => String(rp(r).roleArn).split(`:role/${cluster}-`)[1]),
      );
      for (const a of list) {
        expect(a).not.toHaveProperty('roleArn');
        expect(a.clusterName).toBe(cluster);
        expect(String(a.associationArn)).toBe(
          `arn:aws:eks:${cluster === 'payments-prod' ? 'us-east-1' : 'us-west-2'}:111122223333:podidentityassociation/${cluster}/${a.associationId}`,
        );
        expect(a.associationId).toMatch(/^a-[a-z0-9]{17}$/);
        const d = obj(inventoryContent(fleet, `describe-pod-identity-association-${cluster}-${a.namespace}-${a.serviceAccount}.json`).association);
        // orders-sandbox's association reuses the prod orders-api role (the planted unexpected-namespace case).
        const roleNs = a.namespace === 'orders-sandbox' ? 'orders' : String(a.namespace);
        expect(d.roleArn).toBe(`arn:aws:iam::111122223333:role/${cluster}-${roleNs}-${a.serviceAccount}`);
        expect(d.associationId).toBe(a.associationId);
        expect(typeof d.disableSessionTags).toBe('boolean');
        expect(Date.parse(String(d.modifiedAt))).toBeGreaterThanOrEqual(Date.parse(String(d.createdAt)));
        if (!(cluster === 'payments-prod' && a.namespace === 'reporting')) expect(used.has(`${roleNs}-${a.serviceAccount}`)).toBe(true);
      }
      expect(listed.size).toBe(list.length);
      expect(list.length).toBe(cluster === 'payments-prod' ? 12 : 9);
      expect(used.size).toBe(cluster === 'payments-prod' ? 10 : 9);
    }
  });
});

describe('record shapes (docs/cloudtrail.md)', () => {
  it('§1a fetch: node role session, ec2RoleDelivery 2.0, HIDDEN token, responseElements null, no resources', () => {
    const fetches = records.filter(isFetch);
    expect(fetches.length).toBeGreaterThan(1000);
    for (const r of fetches) {
      const u = ui(r);
      const sc = obj(u.sessionContext);
      expect(r.eventVersion).toBe('1.09');
      expect(u.type).toBe('AssumedRole');
      expect(String(u.arn)).toMatch(/^arn:aws:sts::\d{12}:assumed-role\/[\w-]+\/i-0[0-9a-f]{16}$/);
      expect(String(u.principalId)).toMatch(/^AROA[A-Z2-7]{17}:i-[0-9a-f]{17}$/);
      expect(String(u.accessKeyId)).toMatch(/^ASIA[A-Z2-7]{16}$/);
      expect(sc.ec2RoleDelivery).toBe('2.0');
      expect(obj(sc.sessionIssuer).type).toBe('Role');
      expect(obj(sc.attributes).mfaAuthenticated).toBe('false');
      expect(r).toHaveProperty('responseElements', null);
      expect(rp(r)).toEqual({ clusterName: expect.any(String), token: 'HIDDEN_DUE_TO_SECURITY_REASONS' });
      expect(r).not.toHaveProperty('resources');
      expect(r.userAgent).toMatch(/^aws-sdk-go-v2\/.* api\/eksauth#/);
      expect(obj(r.tlsDetails).clientProvidedHostHeader).toBe(`eks-auth.${r.awsRegion}.api.aws`);
      expect(r).toMatchObject({ readOnly: true, eventType: 'AwsApiCall', managementEvent: true, eventCategory: 'Management' });
    }
  });

  it('§1b companion AssumeRole: exact identity, six tags in order, 21600 s, fake credentials, no tlsDetails', () => {
    const companions = records.filter((r) => isCompanion(r) && rp(r).tags !== undefined);
    expect(companions.length).toBeGreaterThan(1000);
    const order = ['eks-cluster-arn', 'eks-cluster-name', 'kubernetes-namespace', 'kubernetes-service-account', 'kubernetes-pod-name', 'kubernetes-pod-uid'];
    for (const r of companions) {
      expect(r.userIdentity).toEqual({ type: 'AWSService', invokedBy: 'pods.eks.amazonaws.com' });
      expect(r).toMatchObject({ eventVersion: '1.08', sourceIPAddress: 'pods.eks.amazonaws.com', userAgent: 'pods.eks.amazonaws.com', readOnly: true });
      const p = rp(r);
      const tags = p.tags as Rec[];
      expect(tags.map((t) => t.key)).toEqual(order);
      expect(p.transitiveTagKeys).toEqual(order);
      expect(p.durationSeconds).toBe(21600);
      const t = tagMap(r);
      expect(t.get('eks-cluster-arn')).toMatch(new RegExp(`^arn:aws:eks:${r.awsRegion}:${r.recipientAccountId}:cluster/${t.get('eks-cluster-name')}$`));
      // Two planted cases assume another namespace's role: orders-sandbox (prod orders role) and fraud-scorer (risk-engine role).
      const own = `arn:aws:iam::${r.recipientAccountId}:role/${t.get('eks-cluster-name')}-${t.get('kubernetes-namespace')}-${t.get('kubernetes-service-account')}`;
      const borrowed: Record<string, string> = {
        'orders-sandbox/orders-api': 'arn:aws:iam::111122223333:role/payments-prod-orders-orders-api',
        'fraud-detection/fraud-scorer': 'arn:aws:iam::111122223333:role/payments-prod-risk-risk-engine',
      };
      expect([own, borrowed[`${t.get('kubernetes-namespace')}/${t.get('kubernetes-service-account')}`]]).toContain(p.roleArn);
      expect(t.get('kubernetes-pod-name')).toMatch(new RegExp(`^${t.get('kubernetes-service-account')}-[bcdfghjklmnpqrstvwxz2456789]{9,10}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
      expect(t.get('kubernetes-pod-uid')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(String(p.roleSessionName)).toMatch(/^eks-.{1,10}-.{1,10}-[0-9a-f-]{36}$/);
      const re = obj(r.responseElements);
      const creds = obj(re.credentials);
      expect(String(creds.accessKeyId)).toMatch(/^ASIA/);
      expect(String(creds.sessionToken)).toContain('FAKE-SESSION-TOKEN');
      expect(String(creds.expiration)).toMatch(/^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d\d:\d\d [AP]M$/);
      expect(r.resources).toEqual([{ accountId: r.recipientAccountId, type: 'AWS::IAM::Role', ARN: p.roleArn }]);
      expect(typeof r.sharedEventID).toBe('string');
      expect(r).not.toHaveProperty('tlsDetails');
    }
  });

  it('every companion follows its fetch (same cluster/region) within a second', () => {
    const byRegion = new Map<string, Rec[]>();
    for (const r of records.filter((x) => isFetch(x) && !x.errorCode)) {
      const k = String(r.awsRegion);
      byRegion.set(k, [...(byRegion.get(k) ?? []), r]);
    }
    for (const c of records.filter(isCompanion)) {
      const cluster = String(rp(c).roleArn).split(':role/')[1]?.split('-').slice(0, 2).join('-');
      const tc = time(c);
      const match = (byRegion.get(String(c.awsRegion)) ?? []).some(
        (f) => rp(f).clusterName === cluster && time(f) <= tc && tc - time(f) <= 1000,
      );
      expect(match).toBe(true);
    }
  });

  it('ledger/ledger-sync (disableSessionTags) companions carry no tags and no transitiveTagKeys', () => {
    const untagged = records.filter((r) => isCompanion(r) && rp(r).tags === undefined);
    expect(untagged.length).toBe(fleet.stats.byCategory['pod-identity-assume-untagged']);
    expect(untagged.length).toBeGreaterThan(20);
    for (const r of untagged) {
      expect(rp(r).roleArn).toBe('arn:aws:iam::111122223333:role/payments-prod-ledger-ledger-sync');
      expect(rp(r)).not.toHaveProperty('transitiveTagKeys');
      expect(r.userIdentity).toEqual({ type: 'AWSService', invokedBy: 'pods.eks.amazonaws.com' });
    }
    const d = obj(inventoryContent(fleet, 'describe-pod-identity-association-payments-prod-ledger-ledger-sync.json').association);
    expect(d.disableSessionTags).toBe(true);
  });

  it('§2a IRSA success: WebIdentityUser through the cluster issuer of describe-cluster, fake credentials', () => {
    const issuers = new Map<string, string>();
    for (const c of ['payments-prod', 'search-prod', 'legacy-batch']) {
      const cl = obj(inventoryContent(fleet, `describe-cluster-${c}.json`).cluster);
      const issuer = String(obj(obj(cl.identity).oidc).issuer);
      expect(issuer).toMatch(/^https:\/\/oidc\.eks\.[a-z0-9-]+\.amazonaws\.com\/id\/[0-9A-F]{32}$/);
      expect(cl.arn).toMatch(new RegExp(`^arn:aws:eks:[a-z0-9-]+:\\d{12}:cluster/${c}$`));
      expect(String(cl.endpoint)).toContain(issuer.split('/id/')[1] ?? 'x');
      issuers.set(issuer.replace('https://', ''), c);
    }
    const ok = records.filter((r) => isEksIrsa(r) && !r.errorCode);
    expect(ok.length).toBeGreaterThan(2000);
    for (const r of ok) {
      const u = ui(r);
      const provider = String(u.identityProvider);
      const [, acct, issuer] = /^arn:aws:iam::(\d{12}):oidc-provider\/(.+)$/.exec(provider) ?? [];
      expect(acct).toBe(r.recipientAccountId);
      expect(issuers.has(String(issuer))).toBe(true);
      expect(issuer).toContain(`oidc.eks.${r.awsRegion}.amazonaws.com/id/`);
      expect(String(u.userName)).toMatch(/^system:serviceaccount:[a-z0-9-]+:[a-z0-9-]+$/);
      expect(u.principalId).toBe(`${provider}:sts.amazonaws.com:${u.userName}`);
      expect(Object.keys(u).sort()).toEqual(['identityProvider', 'principalId', 'type', 'userName']);
      const [, , ns, sa] = String(u.userName).split(':');
      expect(rp(r).roleArn).toBe(`arn:aws:iam::${acct}:role/${issuers.get(String(issuer))}-${ns}-${sa}`);
      expect(String(rp(r).roleSessionName)).toMatch(/^(botocore-session-\d{10}|\d{19})$/);
      const re = obj(r.responseElements);
      expect(re.subjectFromWebIdentityToken).toBe(u.userName);
      expect(re.provider).toBe(provider);
      expect(re.audience).toBe('sts.amazonaws.com');
      expect(String(obj(re.credentials).accessKeyId)).toMatch(/^ASIA[A-Z2-7]{16}$/);
      expect(String(obj(re.credentials).sessionToken)).toContain('FAKE-SESSION-TOKEN');
      expect(String(obj(re.assumedRoleUser).arn)).toBe(`arn:aws:sts::${acct}:assumed-role/${String(rp(r).roleArn).split('/')[1]}/${rp(r).roleSessionName}`);
      expect(r.additionalEventData).toEqual({ identityProviderConnectionVerificationMethod: 'IAMTrustStore' });
      expect(r.resources).toEqual([{ accountId: acct, type: 'AWS::IAM::Role', ARN: rp(r).roleArn }]);
      expect(r).toMatchObject({ eventVersion: '1.08', readOnly: true, eventType: 'AwsApiCall', managementEvent: true, eventCategory: 'Management' });
      expect(typeof r.requestID).toBe('string');
    }
  });

  it('§2b IRSA AccessDenied: about 1 in 40, null responseElements, a storm in payments-prod/inventory', () => {
    const irsa = records.filter(isEksIrsa);
    const denied = irsa.filter((r) => r.errorCode);
    const share = denied.length / irsa.length;
    expect(share).toBeGreaterThan(0.015);
    expect(share).toBeLessThan(0.05);
    for (const r of denied) {
      expect(r.errorCode).toBe('AccessDenied');
      expect(r.errorMessage).toBe('An unknown error occurred');
      expect(r).toHaveProperty('responseElements', null);
      expect(String(ui(r).userName)).toMatch(/^system:serviceaccount:/);
      expect(Array.isArray(r.resources)).toBe(true);
    }
    const inv = denied.filter((r) => ui(r).userName === 'system:serviceaccount:inventory:inventory-sync').map(time).sort((a, b) => a - b);
    expect(inv.length).toBeGreaterThanOrEqual(6);
    // at least six of them within two minutes (the retry storm), inside one 5-minute window aligned on the epoch
    expect(inv.some((t, i) => (inv[i + 5] ?? Infinity) - t <= 2 * MINUTE && aligned(t) === aligned(inv[i + 5] ?? 0))).toBe(true);
  });

  it('GitHub Actions web identity is present and maps to no namespace', () => {
    const gh = records.filter((r) => isWebIdentity(r) && !isEksIrsa(r));
    expect(gh.length).toBeGreaterThanOrEqual(30);
    expect(gh.length).toBe(fleet.stats.byCategory['non-eks-web-identity']);
    for (const r of gh) {
      expect(ui(r).identityProvider).toBe('arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com');
      expect(ui(r).userName).toBe('repo:acme/payments:ref:refs/heads/main');
      expect(r.recipientAccountId).toBe('111122223333');
    }
    for (const e of fleet.expected) expect(e.namespace).toMatch(/^[a-z0-9-]+$/);
    expect(fleet.expected.some((e) => e.namespace === 'acme/payments' || e.cluster === 'token.actions.githubusercontent.com')).toBe(false);
  });

  it('every credential in every record is fake', () => {
    let n = 0;
    for (const r of records) {
      const re = r.responseElements;
      if (re && typeof re === 'object' && 'credentials' in re) {
        n++;
        expect(String(obj(obj(re).credentials).sessionToken)).toContain('FAKE-SESSION-TOKEN');
      }
    }
    expect(n).toBeGreaterThan(3000);
  });
});

describe('Pod Identity fetch AccessDenied burst', () => {
  it('12 denied fetches from one payments-prod node within 4 minutes of one aligned 5-minute window, 2 days before end, with no companion', () => {
    const denied = records.filter((r) => isFetch(r) && r.errorCode);
    expect(denied).toHaveLength(12);
    const times = denied.map(time).sort((a, b) => a - b);
    const first = times[0] ?? 0;
    const last = times[times.length - 1] ?? 0;
    expect(last - first).toBeLessThanOrEqual(4 * MINUTE);
    expect(aligned(first)).toBe(aligned(last));
    expect(Math.floor((END_MS - first) / DAY)).toBe(2);
    expect(new Set(denied.map((r) => ui(r).arn)).size).toBe(1);
    for (const r of denied) {
      expect(r.errorCode).toBe('AccessDenied');
      expect(r.errorMessage).toBe('Unauthorized Exception! EKS does not have permissions to assume the associated role.');
      expect(r).toHaveProperty('responseElements', null);
      expect(rp(r).clusterName).toBe('payments-prod');
      expect(r.awsRegion).toBe('us-east-1');
    }
    const companionsInBurst = records.filter(
      (r) => isCompanion(r) && r.awsRegion === 'us-east-1' && time(r) >= first && time(r) <= last + 2000,
    );
    expect(companionsInBurst).toHaveLength(0);
  });
});

describe('planted detection cases (expectedDetections)', () => {
  const companionsOf = (ns: string, sa: string) =>
    records
      .filter((r) => isCompanion(r) && tagMap(r).get('eks-cluster-name') === 'payments-prod' && tagMap(r).get('kubernetes-namespace') === ns && tagMap(r).get('kubernetes-service-account') === sa)
      .sort((a, b) => time(a) - time(b));
  const entry = (detection: string, ns: string | null, sa: string | null) => {
    const e = fleet.expectedDetections.find((d) => d.detection === detection && d.namespace === ns && d.serviceAccount === sa);
    if (!e) throw new Error(`no expected ${detection} for ${ns}/${sa}`);
    return e;
  };
  const describeAssociation = (cluster: string, ns: string, sa: string) =>
    obj(inventoryContent(fleet, `describe-pod-identity-association-${cluster}-${ns}-${sa}.json`).association);

  it('one entry per planted case, and exactly what the detections find in the records', () => {
    const count = (d: string) => fleet.expectedDetections.filter((x) => x.detection === d).length;
    expect(count('unexpected-namespace')).toBe(2);
    expect(count('access-denied-spike')).toBe(2);
    expect(count('node-role-fallthrough')).toBe(1);
    expect(count('irsa-regression')).toBe(1);
    expect(count('irsa-after-association')).toBeGreaterThanOrEqual(1);
    expect(expectedKeys(fleet)).toEqual([
      'unexpected-namespace payments-prod/orders-sandbox/orders-api',
      'unexpected-namespace payments-prod/fraud-detection/fraud-scorer',
      'access-denied-spike payments-prod/null/null',
      'access-denied-spike payments-prod/inventory/inventory-sync',
      'node-role-fallthrough payments-prod/null/null',
      'irsa-regression payments-prod/risk/risk-batch',
      // the straggler and the IN_PROGRESS orders-api (planted), notifier (IN_PROGRESS for 6 days), the migrations whose
      // IRSA pods ran two days past the association, and risk-batch (its overlap and the regression)
      'irsa-after-association payments-prod/risk/risk-batch',
      'irsa-after-association payments-prod/checkout/checkout-api',
      'irsa-after-association payments-prod/orders/orders-api',
      'irsa-after-association payments-prod/notifications/notifier',
      'irsa-after-association payments-prod/reporting/report-builder',
      'irsa-after-association search-prod/indexer/indexer-compactor',
      'irsa-after-association search-prod/crawler/crawler-scheduler',
    ]);
    for (const d of fleet.expectedDetections) expect(d.why.length).toBeGreaterThan(40);
    expect(new Set(detectFromRecords(fleet).keys())).toEqual(new Set(expectedKeys(fleet)));
  });

  it('unexpected-namespace (deny list): orders-sandbox/orders-api assumes the prod orders role through Pod Identity 3 times in the last 2 days', () => {
    const prodRole = 'arn:aws:iam::111122223333:role/payments-prod-orders-orders-api';
    const sandbox = companionsOf('orders-sandbox', 'orders-api');
    expect(sandbox).toHaveLength(3);
    for (const r of sandbox) {
      expect(time(r)).toBeGreaterThanOrEqual(END_MS - 2 * DAY);
      expect(rp(r).roleArn).toBe(prodRole);
      expect([...tagMap(r).keys()]).toHaveLength(6);
      expect(tagMap(r).get('eks-cluster-arn')).toBe('arn:aws:eks:us-east-1:111122223333:cluster/payments-prod');
      expect(tagMap(r).get('kubernetes-pod-name')).toMatch(/^orders-api-/);
      // the agent's fetch, on the node of the pod, within the second before
      expect(records.some((f) => isFetch(f) && !f.errorCode && rp(f).clusterName === 'payments-prod' && time(f) <= time(r) && time(r) - time(f) <= 1000)).toBe(true);
    }
    expect(records.some((r) => isEksIrsa(r) && String(ui(r).userName).includes(':orders-sandbox:'))).toBe(false);
    const list = inventoryContent(fleet, 'list-pod-identity-associations-payments-prod.json').associations as Rec[];
    expect(list.some((a) => a.namespace === 'orders-sandbox' && a.serviceAccount === 'orders-api')).toBe(true);
    const d = describeAssociation('payments-prod', 'orders-sandbox', 'orders-api');
    expect(d.roleArn).toBe(prodRole);
    expect(Date.parse(String(d.createdAt))).toBeLessThan(time(sandbox[0] ?? {}));
    // the deny list matches no other namespace of any successful assume
    const denyListed = new Set(eventsOf(fleet).filter((e) => e.ok && e.namespace && /^(default|kube-system|.*-sandbox)$/.test(e.namespace)).map((e) => e.namespace));
    expect([...denyListed]).toEqual(['orders-sandbox']);
    expect(detectFromRecords(fleet).get(dkey('unexpected-namespace', 'payments-prod', 'orders-sandbox', 'orders-api'))).toEqual(sandbox.map(time));
    for (const r of sandbox) expect(entry('unexpected-namespace', 'orders-sandbox', 'orders-api').why).toContain(String(r.eventTime));
  });

  it('unexpected-namespace (first seen): fraud-scorer assumes the risk-engine role twice, 3 days before end, never before', () => {
    const riskEngine = 'arn:aws:iam::111122223333:role/payments-prod-risk-risk-engine';
    const evs = eventsOf(fleet).filter((e) => e.ok && (e.kind === 'irsa' || e.kind === 'pod-identity'));
    const pair = evs.filter((e) => e.roleArn === riskEngine && e.namespace === 'fraud-detection');
    expect(pair).toHaveLength(2);
    for (const e of pair) {
      expect(e.kind).toBe('pod-identity');
      expect(e.serviceAccount).toBe('fraud-scorer');
      expect(Math.floor((END_MS - e.t) / DAY)).toBe(3);
    }
    const first = pair[0]?.t ?? 0;
    const roleUses = evs.filter((e) => e.roleArn === riskEngine);
    // used by risk/risk-engine for the whole window, by nobody else
    expect(roleUses.filter((e) => e.namespace !== 'fraud-detection').every((e) => e.namespace === 'risk' && e.serviceAccount === 'risk-engine')).toBe(true);
    expect(Math.min(...roleUses.map((e) => e.t))).toBeLessThan(END_MS - 29 * DAY);
    expect(new Set(roleUses.filter((e) => e.t < first).map((e) => Math.floor((END_MS - e.t) / DAY)))).toEqual(
      new Set(Array.from({ length: 27 }, (_, i) => i + 3)),
    );
    // while the association pointed at the wrong role, no fraud-scorer assume with its own role
    const own = companionsOf('fraud-detection', 'fraud-scorer').filter((r) => rp(r).roleArn !== riskEngine).map(time);
    expect(own.filter((t) => t >= first - 5 * MINUTE && t <= (pair[1]?.t ?? 0))).toHaveLength(0);
    const d = describeAssociation('payments-prod', 'fraud-detection', 'fraud-scorer');
    expect(d.roleArn).toBe('arn:aws:iam::111122223333:role/payments-prod-fraud-detection-fraud-scorer');
    expect(Date.parse(String(d.modifiedAt))).toBeGreaterThan(pair[1]?.t ?? Infinity);
    // only the first assume of the pair is new; the sandbox pair is the only other new pair of an old role
    expect(detectFromRecords(fleet).get(dkey('unexpected-namespace', 'payments-prod', 'fraud-detection', 'fraud-scorer'))).toEqual([first]);
    const roleFirst = new Map<string, number>();
    const pairFirst = new Map<string, number>();
    for (const e of evs) {
      if (!e.roleArn || !e.namespace) continue;
      if (!roleFirst.has(e.roleArn)) roleFirst.set(e.roleArn, e.t);
      const k = `${e.roleArn.split('/')[1]}|${e.namespace}`;
      if (!pairFirst.has(k)) pairFirst.set(k, e.t - (roleFirst.get(e.roleArn) ?? e.t));
    }
    expect([...pairFirst].filter(([, lag]) => lag >= LEARNING).map(([k]) => k).sort()).toEqual([
      'payments-prod-orders-orders-api|orders-sandbox',
      'payments-prod-risk-risk-engine|fraud-detection',
    ]);
    expect(entry('unexpected-namespace', 'fraud-detection', 'fraud-scorer').why).toContain(iso(first));
  });

  it('access-denied-spike: the fetch burst and the inventory-sync IRSA storm are the only ≥5 denials in one aligned 5-minute window', () => {
    const denied = records.filter((r) => r.errorCode).map(time).sort((a, b) => a - b);
    const perWindow = new Map<number, number>();
    for (const t of denied) perWindow.set(aligned(t), (perWindow.get(aligned(t)) ?? 0) + 1);
    // whatever the key, only two windows of the whole fleet reach the threshold
    const hot = [...perWindow].filter(([, n]) => n >= SPIKE_THRESHOLD).sort((a, b) => a[0] - b[0]);
    expect(hot).toHaveLength(2);
    // and no 5 denials within 5 minutes (sliding) outside them
    for (let i = 0; i + SPIKE_THRESHOLD - 1 < denied.length; i++) {
      const t = denied[i] ?? 0;
      if ((denied[i + SPIKE_THRESHOLD - 1] ?? Infinity) - t < SPIKE_WINDOW) expect(hot.map(([w]) => w)).toContain(aligned(t));
    }
    const fetches = records.filter((r) => isFetch(r) && r.errorCode);
    const storm = records.filter((r) => isEksIrsa(r) && r.errorCode && ui(r).userName === 'system:serviceaccount:inventory:inventory-sync');
    const fetchWindow = aligned(time(fetches[0] ?? {}));
    const stormWindows = new Map<number, number>();
    for (const r of storm) stormWindows.set(aligned(time(r)), (stormWindows.get(aligned(time(r))) ?? 0) + 1);
    const [stormWindow, stormCount] = [...stormWindows].sort((a, b) => b[1] - a[1])[0] ?? [0, 0];
    expect(stormCount).toBeGreaterThanOrEqual(6);
    expect(hot).toEqual([[stormWindow, stormCount], [fetchWindow, 12]].sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0)));
    // the burst: one ng-2 node of payments-prod
    const node = String(ui(fetches[0] ?? {}).arn);
    expect(node).toMatch(/assumed-role\/eksctl-payments-prod-nodegroup-ng-2-NodeInstanceRole-[A-Za-z0-9]{12}\/i-0[0-9a-f]{16}$/);
    for (const r of fetches) expect(aligned(time(r))).toBe(fetchWindow);
    const burstWhy = entry('access-denied-spike', null, null).why;
    expect(burstWhy).toContain(node.split('/')[2] ?? 'x');
    expect(burstWhy).toContain(`window starting ${iso(fetchWindow)}`);
    expect(entry('access-denied-spike', 'inventory', 'inventory-sync').why).toContain(`${stormCount} denied`);
    expect(entry('access-denied-spike', 'inventory', 'inventory-sync').why).toContain(`window starting ${iso(stormWindow)}`);
  });

  it('node-role-fallthrough: one entry naming the ng-1 node role and its two nodes', () => {
    const ft = eventsOf(fleet).filter((e) => e.kind === 'node-call' && !EXPECTED_NODE_APIS.has(e.api));
    const why = entry('node-role-fallthrough', null, null).why;
    expect(why).toMatch(/eksctl-payments-prod-nodegroup-ng-1-NodeInstanceRole-/);
    expect(why).toContain(`${ft.length} calls`);
    for (const node of new Set(ft.map((e) => e.node))) expect(why).toContain(String(node));
    expect(why).toContain('IMDSv1');
  });

  it('irsa-regression: risk/risk-batch assumes through IRSA 6 h and 5 h before end, 26 days after the last IRSA of risk', () => {
    const risk = eventsOf(fleet).filter((e) => e.cluster === 'payments-prod' && e.namespace === 'risk');
    const late = risk.filter((e) => e.kind === 'irsa' && e.t > END_MS - 20 * DAY);
    expect(late.map((e) => e.serviceAccount)).toEqual(['risk-batch', 'risk-batch']);
    expect(late.every((e) => e.ok)).toBe(true);
    const [t1, t2] = late.map((e) => e.t);
    expect(t1).toBeGreaterThanOrEqual(END_MS - 6 * HOUR);
    expect(t1).toBeLessThanOrEqual(END_MS - 6 * HOUR + 5 * MINUTE);
    expect(t2).toBeGreaterThanOrEqual(END_MS - 5 * HOUR);
    expect(t2).toBeLessThanOrEqual(END_MS - 5 * HOUR + 5 * MINUTE);
    const before = risk.filter((e) => e.t < (t1 ?? 0));
    const lastIrsa = Math.max(...before.filter((e) => e.kind === 'irsa').map((e) => e.t));
    expect(Math.floor((END_MS - lastIrsa) / DAY)).toBe(26);
    // Pod Identity every day since the cutover, so risk was READY just before
    const podDays = new Set(before.filter((e) => e.kind === 'pod-identity' && e.ok).map((e) => Math.floor((END_MS - e.t) / DAY)));
    for (let d = 1; d <= 26; d++) expect(podDays.has(d)).toBe(true);
    expect(detectFromRecords(fleet).get(dkey('irsa-regression', 'payments-prod', 'risk', 'risk-batch'))).toEqual([t1]);
    expect(fleet.expected.find((e) => e.namespace === 'risk')?.verdict).toBe('IN_PROGRESS');
    expect(entry('irsa-regression', 'risk', 'risk-batch').why).toContain(iso(t1 ?? 0));
  });

  it('irsa-after-association: the straggler and orders-api keep using IRSA days after their associations; other migrations stop within 23 h', () => {
    const irsa = eventsOf(fleet).filter((e) => e.kind === 'irsa');
    const flagged = new Set(fleet.expectedDetections.filter((d) => d.detection === 'irsa-after-association').map((d) => `${d.cluster}/${d.namespace}/${d.serviceAccount}`));
    let n = 0;
    for (const file of fleet.inventory.filter((x) => x.name.startsWith('describe-pod-identity-association-'))) {
      const a = obj(obj(file.content).association);
      const who = `${a.clusterName}/${a.namespace}/${a.serviceAccount}`;
      const created = Date.parse(String(a.createdAt));
      const mine = irsa.filter((e) => `${e.cluster}/${e.namespace}/${e.serviceAccount}` === who).map((e) => e.t);
      const late = mine.filter((t) => t - created > ACTIVE);
      if (flagged.has(who)) {
        n++;
        expect(late.length).toBeGreaterThan(0);
        expect(fleet.expectedDetections.find((d) => d.detection === 'irsa-after-association' && `${d.cluster}/${d.namespace}/${d.serviceAccount}` === who)?.why).toContain(`${late.length} IRSA assumes`);
      } else {
        expect(late).toHaveLength(0);
        if (mine.length > 0) expect(Math.max(...mine) - created).toBeLessThanOrEqual(23 * HOUR);
      }
    }
    expect(n).toBe(flagged.size);
    // the straggler: association at least 3 days old, IRSA every day since
    const rb = describeAssociation('payments-prod', 'reporting', 'report-builder');
    const rbCreated = Date.parse(String(rb.createdAt));
    expect(rbCreated).toBeLessThanOrEqual(END_MS - 3 * DAY);
    const rbDays = new Set(irsa.filter((e) => e.serviceAccount === 'report-builder' && e.t > rbCreated).map((e) => Math.floor((END_MS - e.t) / DAY)));
    for (let d = 0; d < Math.floor((END_MS - rbCreated) / DAY); d++) expect(rbDays.has(d)).toBe(true);
    // orders-api (IN_PROGRESS): association created well before its last IRSA assumes
    const oa = Date.parse(String(describeAssociation('payments-prod', 'orders', 'orders-api').createdAt));
    const oaLast = Math.max(...irsa.filter((e) => e.namespace === 'orders' && e.serviceAccount === 'orders-api').map((e) => e.t));
    expect(oaLast - oa).toBeGreaterThan(2 * DAY);
  });
});

describe('node-role traffic', () => {
  const expectedApis = new Set([
    'eks-auth.amazonaws.com:AssumeRoleForPodIdentity',
    'ecr.amazonaws.com:GetAuthorizationToken',
    'ecr.amazonaws.com:BatchGetImage',
    'ec2.amazonaws.com:DescribeInstances',
    'ec2.amazonaws.com:AssignPrivateIpAddresses',
  ]);
  const api = (r: Rec) => `${r.eventSource}:${r.eventName}`;

  it('node-role calls all carry ec2RoleDelivery and an i- session; node roles follow eksctl / Karpenter naming', () => {
    const nodeCalls = records.filter(isNodeCall);
    const roles = new Set<string>();
    for (const r of nodeCalls) {
      const u = ui(r);
      expect(String(u.arn)).toMatch(/\/i-[0-9a-f]{17}$/);
      roles.add(String(obj(obj(u.sessionContext).sessionIssuer).userName));
    }
    expect(roles.size).toBe(4);
    for (const role of roles) {
      expect(role).toMatch(/^(eksctl-(payments-prod|legacy-batch)-nodegroup-ng-[12]-NodeInstanceRole-[A-Za-z0-9]{12}|KarpenterNodeRole-search-prod)$/);
    }
    expect(roles.has('KarpenterNodeRole-search-prod')).toBe(true);
    // node groups: describe-nodegroup only for managed (eksctl) groups, nodeRole matching the records
    const ngFiles = fleet.inventory.filter((f) => f.name.startsWith('describe-nodegroup-'));
    expect(ngFiles.map((f) => f.name).sort()).toEqual([
      'describe-nodegroup-legacy-batch-ng-1.json',
      'describe-nodegroup-payments-prod-ng-1.json',
      'describe-nodegroup-payments-prod-ng-2.json',
    ]);
    for (const f of ngFiles) {
      const ng = obj(obj(f.content).nodegroup);
      expect(ng.status).toBe('ACTIVE');
      expect(roles.has(String(String(ng.nodeRole).split('/')[1]))).toBe(true);
    }
    // instances per role: 3–6
    for (const role of roles) {
      const ids = new Set(nodeCalls.filter((r) => String(ui(r).arn).includes(`/${role}/`)).map((r) => String(ui(r).arn).split('/')[2]));
      expect(ids.size).toBeGreaterThanOrEqual(3);
      expect(ids.size).toBeLessThanOrEqual(6);
    }
  });

  it('expected node traffic (ECR, EC2 CNI) appears on every node role, several per node per day', () => {
    const expectedCalls = records.filter((r) => isNodeCall(r) && expectedApis.has(api(r)) && !isFetch(r));
    expect(expectedCalls.length).toBe(fleet.stats.byCategory['node-expected']);
    const roles = new Set(records.filter(isNodeCall).map((r) => String(obj(obj(ui(r).sessionContext).sessionIssuer).arn)));
    for (const role of roles) {
      const mine = expectedCalls.filter((r) => obj(obj(ui(r).sessionContext).sessionIssuer).arn === role);
      expect(new Set(mine.map(api))).toEqual(new Set([...expectedApis].filter((a) => !a.startsWith('eks-auth'))));
    }
    for (const r of expectedCalls) expect(obj(ui(r).sessionContext).ec2RoleDelivery).toBe('2.0');
  });

  it('fallthrough: 10–20 unexpected calls on one payments-prod node role in the last 5 days, one node via IMDSv1', () => {
    const ft = records.filter((r) => isNodeCall(r) && !expectedApis.has(api(r)));
    expect(ft.length).toBeGreaterThanOrEqual(10);
    expect(ft.length).toBeLessThanOrEqual(20);
    expect(ft.length).toBe(fleet.stats.byCategory['node-fallthrough']);
    const roles = new Set(ft.map((r) => String(obj(obj(ui(r).sessionContext).sessionIssuer).userName)));
    expect(roles.size).toBe(1);
    expect([...roles][0]).toMatch(/^eksctl-payments-prod-nodegroup-ng-1-NodeInstanceRole-/);
    for (const r of ft) expect(time(r)).toBeGreaterThanOrEqual(END_MS - 5 * DAY);
    const apis = new Set(ft.map(api));
    expect(apis).toEqual(new Set(['s3.amazonaws.com:ListBuckets', 'dynamodb.amazonaws.com:DescribeTable', 'sqs.amazonaws.com:ListQueues']));
    for (const r of ft.filter((x) => x.eventName === 'ListBuckets')) {
      expect(r).toMatchObject({ errorCode: 'AccessDenied', errorMessage: 'Access Denied', responseElements: null });
      expect(r.userAgent).toMatch(/^\[aws-cli\//);
    }
    for (const r of ft.filter((x) => x.eventName === 'DescribeTable')) expect(r).not.toHaveProperty('errorCode');
    const v1 = records.filter((r) => isNodeCall(r) && obj(ui(r).sessionContext).ec2RoleDelivery === '1.0');
    expect(v1.length).toBeGreaterThan(0);
    expect(new Set(v1.map((r) => String(ui(r).arn))).size).toBe(1);
    for (const r of v1) expect(expectedApis.has(api(r))).toBe(false);
  });

  it('noise roles are not node roles: no ec2RoleDelivery, no i- session', () => {
    const noiseEc2 = records.filter(
      (r) => r.eventName === 'DescribeInstances' && String(ui(r).arn ?? '').includes('ops-inventory-automation'),
    );
    expect(noiseEc2.length).toBeGreaterThan(100);
    for (const r of noiseEc2) {
      expect(obj(ui(r).sessionContext)).not.toHaveProperty('ec2RoleDelivery');
      expect(String(ui(r).arn)).not.toMatch(/\/i-[0-9a-f]+$/);
    }
    const kinds = new Set(records.filter((r) => !isNodeCall(r)).map((r) => `${r.eventSource}:${r.eventName}`));
    for (const k of [
      'signin.amazonaws.com:ConsoleLogin',
      's3.amazonaws.com:ListBuckets',
      'kms.amazonaws.com:Decrypt',
      'sts.amazonaws.com:GetCallerIdentity',
      'cloudtrail.amazonaws.com:LookupEvents',
    ])
      expect(kinds.has(k)).toBe(true);
    const userAssumes = records.filter((r) => r.eventName === 'AssumeRole' && ui(r).type === 'IAMUser');
    expect(userAssumes.length).toBeGreaterThan(50);
  });
});

describe('S3 layout', () => {
  const KEY =
    /^AWSLogs\/(\d{12})\/CloudTrail\/([a-z]{2}-[a-z]+-\d)\/(\d{4})\/(\d{2})\/(\d{2})\/\1_CloudTrail_\2_(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})Z_[A-Za-z0-9]{16}\.json\.gz$/;

  it('one file per (account, region, hour), keys in the CloudTrail layout, records sorted and matching the key', () => {
    const seen = new Set<string>();
    // what is wrong, file by file, in one assertion: an expect per record costs seconds over 15k
    const problems: string[] = [];
    for (const f of fleet.files) {
      const m = KEY.exec(f.key);
      if (!m) {
        problems.push(`${f.key}: not a CloudTrail key`);
        continue;
      }
      const [, acct, region, y, mo, d, y2, mo2, d2, hh] = m;
      if (`${y2}${mo2}${d2}` !== `${y}${mo}${d}`) problems.push(`${f.key}: its name's day is not its folder's`);
      const hourKey = `${acct}|${region}|${y}${mo}${d}${hh}`;
      if (seen.has(hourKey)) problems.push(`${f.key}: a second file for ${hourKey}`);
      seen.add(hourKey);
      if (f.records.length === 0) problems.push(`${f.key}: no records`);
      let prev = '';
      for (const r of f.records) {
        const at = `${f.key} ${String(r.eventID)}`;
        if (r.recipientAccountId !== acct) problems.push(`${at}: recipientAccountId ${String(r.recipientAccountId)}`);
        if (r.awsRegion !== region) problems.push(`${at}: awsRegion ${String(r.awsRegion)}`);
        if (String(r.eventTime).slice(0, 13) !== `${y}-${mo}-${d}T${hh}`) problems.push(`${at}: eventTime ${String(r.eventTime)} outside the file's hour`);
        if (String(r.eventTime) < prev) problems.push(`${at}: eventTime ${String(r.eventTime)} before the record above it`);
        prev = String(r.eventTime);
      }
    }
    expect(problems).toEqual([]);
    expect(seen.size).toBe(fleet.files.length);
    expect(new Set(fleet.files.map((f) => f.key.split('/')[1]))).toEqual(new Set(['111122223333', '444455556666']));
    expect(new Set(fleet.files.map((f) => f.key.split('/')[3]))).toEqual(new Set(['us-east-1', 'us-west-2', 'eu-west-1']));
  });
});

describe('writeSampleFleet', () => {
  let dir = '';
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes gunzippable {"Records":[…]} files and AWS CLI inventory JSON', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sample-fleet-'));
    // three of the fleet's files, the first, one in the middle and the last (gzipping all 2,800 proves no more)
    const files = [fleet.files[0]!, fleet.files[Math.floor(fleet.files.length / 2)]!, fleet.files[fleet.files.length - 1]!];
    const res = await writeSampleFleet(dir, { ...fleet, files });
    expect(res).toEqual({ logDir: join(dir, 'logs'), lateDir: null, inventoryDir: join(dir, 'inventory'), files: files.length });
    for (const f of files) {
      if (!f) throw new Error('missing file');
      const raw = await readFile(join(res.logDir, f.key));
      expect(raw[0]).toBe(0x1f);
      expect(raw[1]).toBe(0x8b);
      const parsed = JSON.parse(gunzipSync(raw).toString('utf8')) as { Records: Rec[] };
      expect(Object.keys(parsed)).toEqual(['Records']);
      expect(parsed.Records).toEqual(f.records);
    }
    const inv = (await readdir(res.inventoryDir)).sort();
    expect(inv).toEqual(fleet.inventory.map((i) => i.name).sort());
    const text = await readFile(join(res.inventoryDir, 'describe-cluster-payments-prod.json'), 'utf8');
    expect(text.startsWith('{\n    "cluster": {')).toBe(true);
    expect(JSON.parse(text)).toEqual(inventoryContent(fleet, 'describe-cluster-payments-prod.json'));
  });
});

import { describe, expect, it } from 'vitest';
import {
  SCALE_PRESETS,
  generateScaledFile,
  isInScopeCategory,
  planScaledFleet,
  scaledInventory,
  scaledIntents,
  uniqueEventId,
  type ScaledFile,
} from '../../functions/local/sample-fleet/scale';

type Rec = Record<string, unknown>;
const HOUR = 3_600_000;
const obj = (v: unknown): Rec => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`not an object: ${JSON.stringify(v)}`);
  return v as Rec;
};

const TINY = SCALE_PRESETS.tiny;
const plan = planScaledFleet(TINY);
const files: ScaledFile[] = [];
for (let h = 0; h < plan.hours; h++) for (let p = 0; p < plan.places.length; p++) files.push(generateScaledFile(plan, p, h));
const records = files.flatMap((f) => f.records);
const count = (category: string) => files.reduce((a, f) => a + (f.byCategory[category] ?? 0), 0);

describe('scaled sample fleet', () => {
  it('writes one file per account, region and hour, in CloudTrail S3 layout, each with records of that place and hour', () => {
    const KEY = /^AWSLogs\/(\d{12})\/CloudTrail\/([a-z0-9-]+)\/(\d{4})\/(\d{2})\/(\d{2})\/\1_CloudTrail_\2_\3\4\5T(\d{2})05Z_[A-Za-z0-9]{16}\.json\.gz$/;
    expect(files).toHaveLength(plan.places.length * TINY.days * 24);
    expect(new Set(files.map((f) => f.key)).size).toBe(files.length);
    for (const [i, f] of files.entries()) {
      const m = KEY.exec(f.key);
      expect(m, f.key).not.toBeNull();
      const hourStart = plan.start + Math.floor(i / plan.places.length) * HOUR;
      expect(`${m?.[3]}-${m?.[4]}-${m?.[5]}T${m?.[6]}`).toBe(new Date(hourStart).toISOString().slice(0, 13));
      // Every account and region has records every hour: coverage has no holes.
      expect(f.records.length).toBeGreaterThan(0);
      let previous = 0;
      for (const r of f.records) {
        const t = Date.parse(String(r.eventTime));
        expect(t).toBeGreaterThanOrEqual(Math.max(previous, hourStart));
        expect(t).toBeLessThan(hourStart + HOUR);
        previous = t;
        expect(r.recipientAccountId).toBe(m?.[1]);
        expect(r.awsRegion).toBe(m?.[2]);
      }
    }
  });

  it('has the record kinds of the demo fleet, in their shapes, and the unrelated share asked for', () => {
    for (const c of ['pod-identity-fetch', 'pod-identity-assume', 'irsa', 'irsa-denied', 'node-expected', 'node-fallthrough', 'noise']) {
      expect(count(c), c).toBeGreaterThan(0);
    }
    const inScope = files.reduce((a, f) => a + Object.entries(f.byCategory).reduce((b, [k, n]) => b + (isInScopeCategory(k) ? n : 0), 0), 0);
    expect(records.length - inScope).toBeGreaterThan(records.length * (TINY.unrelatedShare - 0.03));
    expect(records.length - inScope).toBeLessThan(records.length * (TINY.unrelatedShare + 0.03));

    const fetch = records.find((r) => r.eventName === 'AssumeRoleForPodIdentity' && r.errorCode === undefined);
    expect(obj(fetch?.requestParameters)).toEqual({ clusterName: expect.stringMatching(/-prod-\d\d$/), token: 'HIDDEN_DUE_TO_SECURITY_REASONS' });
    const companion = records.find((r) => r.eventName === 'AssumeRole' && obj(r.userIdentity).invokedBy === 'pods.eks.amazonaws.com');
    const tags = obj(companion?.requestParameters).tags as { key: string; value: string }[];
    expect(tags.map((t) => t.key)).toEqual([
      'eks-cluster-arn', 'eks-cluster-name', 'kubernetes-namespace', 'kubernetes-service-account', 'kubernetes-pod-name', 'kubernetes-pod-uid',
    ]);
    // Regional IRSA in the cluster's region; global-endpoint IRSA of a us-west-2 cluster in us-east-1 (docs/cloudtrail.md §4c).
    const irsa = records.filter((r) => r.eventName === 'AssumeRoleWithWebIdentity' && String(obj(r.userIdentity).identityProvider).includes('oidc.eks.'));
    const global = irsa.filter((r) => obj(r.tlsDetails).clientProvidedHostHeader === 'sts.amazonaws.com');
    const issuerRegion = (r: Rec) => /oidc\.eks\.([a-z0-9-]+)\.amazonaws\.com\/id\//.exec(String(obj(r.userIdentity).identityProvider))?.[1];
    expect(global.filter((r) => issuerRegion(r) === 'us-west-2').length).toBeGreaterThan(0);
    for (const r of global) {
      expect(r.awsRegion).toBe('us-east-1');
      expect(obj(obj(r.additionalEventData).RequestDetails)).toEqual({ awsServingRegion: issuerRegion(r), endpointType: 'global' });
    }
    for (const r of irsa.filter((x) => !global.includes(x))) {
      expect(obj(r.tlsDetails).clientProvidedHostHeader).toBe(`sts.${String(r.awsRegion)}.amazonaws.com`);
      expect(String(obj(r.userIdentity).identityProvider)).toContain(`oidc.eks.${String(r.awsRegion)}.amazonaws.com/id/`);
    }
    expect(JSON.stringify(records)).not.toMatch(/"sessionToken":"(?!FAKE-SESSION-TOKEN)/);
  });

  it('plans a mix of verdicts and an inventory that places every cluster and association', () => {
    const intents = [...scaledIntents(plan).values()];
    expect(intents).toHaveLength(TINY.clusters * TINY.namespacesPerCluster);
    for (const v of ['NOT_STARTED', 'IN_PROGRESS', 'SOAKING', 'READY']) expect(intents, v).toContain(v);
    const inventory = scaledInventory(plan);
    const clusters = inventory.filter((f) => f.name.startsWith('describe-cluster-'));
    expect(clusters).toHaveLength(TINY.clusters);
    for (const f of clusters) expect(String(obj(obj(obj(obj(f.content).cluster).identity).oidc).issuer)).toMatch(/^https:\/\/oidc\.eks\./);
    const associated = inventory
      .filter((f) => f.name.startsWith('list-pod-identity-associations-'))
      .flatMap((f) => obj(f.content).associations as Rec[]);
    const companions = new Set(
      records
        .filter((r) => r.eventName === 'AssumeRole' && obj(r.userIdentity).invokedBy === 'pods.eks.amazonaws.com')
        .map((r) => {
          const tags = new Map((obj(r.requestParameters).tags as { key: string; value: string }[]).map((t) => [t.key, t.value]));
          return `${tags.get('eks-cluster-name')}/${tags.get('kubernetes-namespace')}/${tags.get('kubernetes-service-account')}`;
        }),
    );
    const listed = new Set(associated.map((a) => `${String(a.clusterName)}/${String(a.namespace)}/${String(a.serviceAccount)}`));
    for (const c of companions) expect(listed).toContain(c);
  });

  it('is deterministic for a seed, whatever order the files are generated in, and differs for another seed', () => {
    const again = planScaledFleet(TINY);
    expect(JSON.stringify(generateScaledFile(again, 1, 40))).toBe(JSON.stringify(files[40 * plan.places.length + 1]));
    expect(JSON.stringify(generateScaledFile(again, 0, 0))).toBe(JSON.stringify(files[0]));
    const other = planScaledFleet({ ...TINY, seed: TINY.seed + 1 });
    expect(JSON.stringify(generateScaledFile(other, 0, 0))).not.toBe(JSON.stringify(files[0]));
    // The scenario (names, intents) does not depend on the seed.
    expect([...scaledIntents(other)]).toEqual([...scaledIntents(plan)]);
  });

  it('refuses options it cannot honour, naming them', () => {
    expect(() => planScaledFleet({ ...TINY, namespacesPerCluster: 0 })).toThrow(/namespacesPerCluster/);
    expect(() => planScaledFleet({ ...TINY, unrelatedShare: 1 })).toThrow(/unrelatedShare/);
    expect(() => planScaledFleet({ ...TINY, end: new Date('2026-11-01T00:30:00Z') })).toThrow(/whole hour/);
  });
});

describe('eventIDs', () => {
  it('are unique across the files of a fleet, though the PRNG streams seeded per file overlap', () => {
    // GIVEN two files of the wide preset whose PRNG streams overlap (mulberry32, seeded per file,
    // drew the same UUIDs for 6 of their records)
    const wide = planScaledFleet(SCALE_PRESETS.wide);
    const place = (account: string, region: string) => wide.places.findIndex((p) => p.account === account && p.region === region);
    const a = generateScaledFile(wide, place('111122223333', 'us-east-1'), 4 * 24 + 22);
    const b = generateScaledFile(wide, place('444455556666', 'eu-west-1'), 4 * 24 + 12);
    // THEN they share no eventID, and each is a version 4 UUID
    const ids = new Set(a.records.map((r) => String(r.eventID)));
    expect(b.records.filter((r) => ids.has(String(r.eventID)))).toEqual([]);
    for (const r of [...a.records, ...b.records]) expect(String(r.eventID)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(records.map((r) => r.eventID)).size).toBe(records.length);
  });

  it('name their file and their place in it, so that the same draw gives distinct ids', () => {
    const drawn = '0123abcd-ef01-4234-9567-89abcdef0123';
    const ids = [uniqueEventId(0, 0, drawn), uniqueEventId(0, 1, drawn), uniqueEventId(1, 0, drawn), uniqueEventId(1, 1, drawn), uniqueEventId(0xffffffff, 0xffffffff, drawn)];
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-ef01-4234-9567-[0-9a-f]{8}0123$/);
  });
});

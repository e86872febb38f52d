import { describe, expect, it } from 'vitest';
import { DetectionStateCache } from '../../functions/adapters/detection-state-cache';
import type { Alert } from '../../functions/core/alert';
import { detectionNeeds, type DetectionState } from '../../functions/core/detections';
import type { IdentityEvent } from '../../functions/core/identity-event';
import { ingestBatch } from '../../functions/core/ingest';
import type { Inventory } from '../../functions/core/inventory';
import { defaultPolicy } from '../../functions/core/policy';
import { identityEvent } from '../support/events';
import { MemoryStore } from '../support/memory-store';

const ACCOUNT = '111122223333';
const REGION = 'us-west-2';
const CLUSTER = 'payments';
const CLUSTER_ARN = `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/${CLUSTER}`;
const ISSUER = `oidc.eks.${REGION}.amazonaws.com/id/PAYMENTS0000000000000000000000001`;
const UNMAPPED_ISSUER = `oidc.eks.${REGION}.amazonaws.com/id/UNKNOWN00000000000000000000000009`;
const NOW = new Date('2024-06-01T00:00:00Z');
const POLICY = defaultPolicy();
const INVENTORY: Inventory = {
  clusters: [{ name: CLUSTER, arn: CLUSTER_ARN, region: REGION, account: ACCOUNT, oidcIssuer: ISSUER }],
  associations: [],
  nodegroups: [],
};

/**
 * A deterministic mix over 40 days that raises every detection the cache feeds: namespaces that
 * appear late (first-seen pairs of old roles), namespaces that move to Pod Identity and see IRSA
 * again (regressions), bursts of denials (spikes), IRSA of a mapped and of an unmapped issuer.
 */
function traffic(count: number, seed: number): IdentityEvent[] {
  let x = seed;
  const next = (n: number) => {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    return Math.floor(x / 65_536) % n; // the high bits: an LCG's low bits repeat with a short period
  };
  const start = Date.parse('2024-04-20T00:00:00Z');
  const at = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
  const events: IdentityEvent[] = [];
  for (let i = 0; i < count; i++) {
    const day = next(40);
    const ns = next(1 + Math.floor(day / 3));
    const namespace = `ns-${ns}`;
    const time = start + day * 86_400_000 + next(86_400) * 1000;
    // Even namespaces move to Pod Identity on day 10; IRSA stops on day 15 and comes back on day 34.
    const migrated = ns % 2 === 0 && day >= 10;
    const irsa = !migrated || day < 15 || (day >= 34 && next(3) === 0);
    const common = { eventTime: at(time), account: ACCOUNT, region: REGION, namespace, serviceAccount: `sa-${next(2)}`, roleArn: `arn:aws:iam::${ACCOUNT}:role/role-${next(4)}` };
    const burst = next(25) === 0 ? 6 : 1;
    for (let b = 0; b < burst; b++) {
      const denied = burst > 1 || next(10) === 0 ? { outcome: 'denied' as const, errorCode: 'AccessDenied' } : {};
      const eventId = `e-${seed}-${i}-${b}`;
      const when = { eventTime: at(time + b * 1000) };
      events.push(
        migrated && (!irsa || next(2) === 0)
          ? identityEvent('pod-identity', { ...common, ...when, ...denied, eventId, cluster: CLUSTER, clusterArn: CLUSTER_ARN, podName: 'pod-1', sessionTagsMissing: false })
          : identityEvent('irsa', { ...common, ...when, ...denied, eventId, action: 'sts:AssumeRoleWithWebIdentity', oidcIssuer: next(6) === 0 ? UNMAPPED_ISSUER : ISSUER }),
      );
    }
  }
  return events;
}

/** Batches in time order, as analyze reads them, each with some events of earlier batches again (overlapping files). */
function batches(events: readonly IdentityEvent[], size: number): IdentityEvent[][] {
  const sorted = [...events].sort((a, b) => (a.eventTime < b.eventTime ? -1 : 1));
  const out: IdentityEvent[][] = [];
  for (let i = 0; i < sorted.length; i += size) out.push([...sorted.slice(i, i + size), ...sorted.slice(Math.max(0, i - 7), i)]);
  return out;
}

const comparable = (s: DetectionState) => ({
  roleFirstSeen: [...s.roleFirstSeen].sort(),
  roleNamespaces: [...s.roleNamespaces].sort(),
  spikeCounts: [...s.spikeCounts].sort(),
  namespaces: [...s.namespaces].sort(),
  nodeRoleClusters: [...s.nodeRoleClusters].sort(),
});
const alertIds = (alerts: readonly Alert[]) => alerts.map((a) => `${a.id} ${a.count}`).sort();

describe('DetectionStateCache', () => {
  it.each([
    ['holding every entry', 1_000_000],
    ['starting over past a small cap', 10],
  ])('answers what the store would, batch after batch, and raises the same alerts (%s)', async (_label, cap) => {
    const plain = new MemoryStore();
    const cached = new MemoryStore();
    const cache = new DetectionStateCache(cached, cap);
    const all = traffic(600, 3);
    for (const batch of batches(all, 40)) {
      const expected = await ingestBatch(batch, plain, NOW, { policy: POLICY, inventory: INVENTORY, port: plain });
      const actual = await ingestBatch(batch, cached, NOW, { policy: POLICY, inventory: INVENTORY, port: cache });
      cache.observe(batch, INVENTORY);

      expect(alertIds(actual.alerts)).toEqual(alertIds(expected.alerts));
      // What the next batch could need, answered from memory where it can be, equals a fresh read.
      const needs = detectionNeeds(all, INVENTORY, POLICY);
      expect(comparable(await cache.detectionState(needs, INVENTORY))).toEqual(comparable(await cached.detectionState(needs, INVENTORY)));
    }
    // The traffic exercised what the cache remembers.
    expect(new Set([...plain.recorded.values()].map((a) => a.detection))).toEqual(new Set(['unexpected-namespace', 'irsa-regression', 'access-denied-spike']));
  });

  it("reads a namespace once per run, and spike counters, roles and their namespaces every batch (the only writer's store holds those items in memory)", async () => {
    const store = new MemoryStore();
    const reads: { namespaces: number; roles: number; pairs: number; spikes: number }[] = [];
    const counting = Object.assign(Object.create(store) as MemoryStore, {
      detectionState: (needs: Parameters<MemoryStore['detectionState']>[0], inventory: Inventory) => {
        reads.push({ namespaces: needs.namespaces.length, roles: needs.roles.length, pairs: needs.roleNamespaces.length, spikes: needs.spikes.length });
        return store.detectionState(needs, inventory);
      },
    });
    const cache = new DetectionStateCache(counting);
    const batch = traffic(200, 5);
    const needs = detectionNeeds(batch, INVENTORY, POLICY);

    await cache.detectionState(needs, INVENTORY);
    await cache.detectionState(needs, INVENTORY);

    expect(reads[0]).toEqual({ namespaces: needs.namespaces.length, roles: needs.roles.length, pairs: needs.roleNamespaces.length, spikes: needs.spikes.length });
    expect(reads[1]).toEqual({ namespaces: 0, roles: needs.roles.length, pairs: needs.roleNamespaces.length, spikes: needs.spikes.length });
    expect(needs.roles.length * needs.roleNamespaces.length * needs.spikes.length).toBeGreaterThan(0);
  });

  it('counts the namespaces it holds, and starts over past its cap', async () => {
    const store = new MemoryStore();
    const asked: number[] = [];
    const counting = Object.assign(Object.create(store) as MemoryStore, {
      detectionState: (needs: Parameters<MemoryStore['detectionState']>[0], inventory: Inventory) => {
        asked.push(needs.namespaces.length);
        return store.detectionState(needs, inventory);
      },
    });
    const needs = detectionNeeds(traffic(200, 5), INVENTORY, POLICY);
    const held = needs.namespaces.length;
    // a cap just under what one batch brings: the next batch finds the cache over it
    const cache = new DetectionStateCache(counting, held - 1);

    await cache.detectionState(needs, INVENTORY);
    expect(cache.size).toBe(held);
    await cache.detectionState(needs, INVENTORY);

    expect(needs.namespaces.length).toBeGreaterThan(0);
    expect(asked).toEqual([needs.namespaces.length, needs.namespaces.length]);
  });
});

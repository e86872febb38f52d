import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import { detectionNeeds, type DetectionNeeds, type DetectionState } from '../../functions/core/detections';
import type { IdentityEvent } from '../../functions/core/identity-event';
import { ingestBatch } from '../../functions/core/ingest';
import type { Inventory } from '../../functions/core/inventory';
import { defaultPolicy } from '../../functions/core/policy';
import { startEmbeddedStore, type EmbeddedStore } from '../../functions/local/embedded-store';
import { identityEvent } from '../support/events';
import { MemoryStore } from '../support/memory-store';

// The detection state as dynalite answers it, against the in-memory reference: a scope many
// namespaces of a batch need is read whole, a few namespaces are read one query each.
let dir: string;
let embedded: EmbeddedStore;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cw-detection-read-'));
  embedded = await startEmbeddedStore(dir);
});
afterAll(async () => {
  await embedded.close();
  await rm(dir, { recursive: true, force: true });
});

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const CLUSTER_ARN = `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/payments-prod`;
const ISSUER = `oidc.eks.${REGION}.amazonaws.com/id/ABCDEF0123456789ABCDEF0123456789`;
const UNMAPPED = `oidc.eks.${REGION}.amazonaws.com/id/FEDCBA9876543210FEDCBA9876543210`;
const INVENTORY: Inventory = {
  clusters: [{ name: 'payments-prod', arn: CLUSTER_ARN, region: REGION, account: ACCOUNT, oidcIssuer: ISSUER }],
  associations: [],
  nodegroups: [],
};
const POLICY = defaultPolicy();
const NOW = new Date('2026-11-30T00:00:00Z');

/** 60 namespaces of the mapped issuer and cluster (two service accounts each), 5 of an unmapped issuer. */
function events(): IdentityEvent[] {
  const out: IdentityEvent[] = [];
  const role = `arn:aws:iam::${ACCOUNT}:role/app`;
  for (let n = 0; n < 65; n++) {
    const namespace = `ns-${n}`;
    const issuer = n < 60 ? ISSUER : UNMAPPED;
    for (const sa of ['api', 'worker']) {
      const day = String(1 + ((n * 7 + sa.length) % 27)).padStart(2, '0');
      const base = { account: ACCOUNT, region: REGION, namespace, serviceAccount: sa, roleArn: role };
      out.push(identityEvent('irsa', { ...base, eventId: `i-${n}-${sa}`, eventTime: `2026-11-${day}T10:00:00Z`, action: 'sts:AssumeRoleWithWebIdentity', oidcIssuer: issuer }));
      if (n % 3 !== 0 && n < 60) {
        out.push(identityEvent('pod-identity', { ...base, eventId: `p-${n}-${sa}`, eventTime: `2026-11-${day}T08:00:00Z`, cluster: 'payments-prod', clusterArn: CLUSTER_ARN, podName: `${sa}-1` }));
      }
    }
  }
  return out;
}

const comparable = (s: DetectionState) => ({
  roleFirstSeen: [...s.roleFirstSeen].sort(),
  roleNamespaces: [...s.roleNamespaces].sort(),
  spikeCounts: [...s.spikeCounts].sort(),
  namespaces: [...s.namespaces].sort(),
  nodeRoleClusters: [...s.nodeRoleClusters].sort(),
});

/** `events()` ingested into a new table (by its only writer, staging or not) and into the in-memory reference. */
async function storedWithReference(tableName: string, options: { staged: boolean }) {
  const store = new DynamoEvidenceStore({ client: embedded.client, tableName, singleWriter: true });
  await store.ensureTable();
  if (options.staged) store.stageWrites();
  const reference = new MemoryStore();
  const all = events();
  await ingestBatch(all, store, NOW, { policy: POLICY, inventory: INVENTORY, port: store });
  await ingestBatch(all, reference, NOW, { policy: POLICY, inventory: INVENTORY, port: reference });
  return { store, reference, all };
}

describe('DynamoEvidenceStore.detectionState', () => {
  it('reads the same state whether a scope is read whole or a namespace at a time', async () => {
    const { store, reference, all } = await storedWithReference('detection-read', { staged: false });

    // Namespaces never seen are asked too: they have no state.
    const unseen = ['ns-new-1', 'ns-new-2'].map((namespace) => ({ place: CLUSTER_ARN, namespace, scopes: [`issuer:${ISSUER}`, `cluster:${CLUSTER_ARN}`] }));
    const needs = detectionNeeds(all, INVENTORY, POLICY);
    const many: DetectionNeeds = { ...needs, namespaces: [...needs.namespaces, ...unseen] };
    const few: DetectionNeeds = { ...needs, namespaces: [...needs.namespaces.filter((n) => ['ns-1', 'ns-3', 'ns-61'].includes(n.namespace)), ...unseen] };
    expect(many.namespaces.length).toBeGreaterThan(60);

    const whole = await store.detectionState(many, INVENTORY);
    const one = await store.detectionState(few, INVENTORY);

    expect(comparable(whole)).toEqual(comparable(await reference.detectionState(many, INVENTORY)));
    expect(comparable(one)).toEqual(comparable(await reference.detectionState(few, INVENTORY)));
    expect(whole.namespaces.get(`${CLUSTER_ARN}|ns-1`)).toEqual(one.namespaces.get(`${CLUSTER_ARN}|ns-1`));
    expect(whole.namespaces.get(`${CLUSTER_ARN}|ns-1`)?.firstPodIdentity).toMatch(/^2026-11-/);
    expect(whole.namespaces.get(`${CLUSTER_ARN}|ns-new-1`)).toEqual({ firstPodIdentity: null, lastIrsa: null });
  });
});

describe('DynamoEvidenceStore.detectionState while a first run stages', () => {
  it("answers the roles' and spikes' state from the stage, asking the table for none of it", async () => {
    // GIVEN the only writer staging a first run into a table with no evidence, one batch merged
    const { store, reference, all } = await storedWithReference('detection-staged', { staged: true });

    // WHEN the next batch asks for the same state
    const needs = detectionNeeds(all, INVENTORY, POLICY);
    expect(needs.roles.length + needs.spikes.length).toBeGreaterThan(0);
    let keyedReads = 0;
    embedded.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'BatchGetItemCommand') keyedReads += 1;
        return next(args);
      },
      { step: 'initialize', name: 'keyed-read-probe' },
    );
    let staged: DetectionState;
    try {
      staged = await store.detectionState(needs, INVENTORY);
    } finally {
      embedded.client.middlewareStack.remove('keyed-read-probe');
    }

    // THEN nothing was asked of the table, and the state is what a store that reads gives
    expect(keyedReads).toBe(0);
    expect(comparable(staged)).toEqual(comparable(await reference.detectionState(needs, INVENTORY)));
    expect(staged.roleFirstSeen.size).toBeGreaterThan(0);
    await store.endStaging();
  });
});

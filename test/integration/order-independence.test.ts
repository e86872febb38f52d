import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import { placeParked } from '../../functions/adapters/placement';
import { readinessReport } from '../../functions/adapters/readiness-query';
import type { Alert } from '../../functions/core/alert';
import type { Inventory } from '../../functions/core/inventory';
import { defaultPolicy } from '../../functions/core/policy';
import type { ReadinessReport } from '../../functions/core/readiness';
import { DEFAULT_TABLE_NAME } from '../../functions/core/table-schema';
import { analyzePaths } from '../../functions/adapters/ingest-pipeline';
import { readInventoryFiles } from '../../functions/local/cli/commands/inventory';
import { startEmbeddedStore, type EmbeddedStore } from '../../functions/local/embedded-store';
import { DEMO_DIR, DEMO_END, demoInto } from '../support/demo';

/**
 * A newcomer analyzes first and imports the inventory second; the docs say the other way round.
 * Both orders must give the same verdicts and raise the same alerts, each once.
 */
const END = new Date(DEMO_END);
const now = () => END;

let work: string;
let logDir: string;
let inventory: Inventory;
const stores: EmbeddedStore[] = [];

async function freshStore(name: string): Promise<DynamoEvidenceStore> {
  const embedded = await startEmbeddedStore(path.join(work, name));
  stores.push(embedded);
  const store = new DynamoEvidenceStore({ client: embedded.client, tableName: DEFAULT_TABLE_NAME, singleWriter: true });
  await store.ensureTable();
  return store;
}

async function analyze(store: DynamoEvidenceStore): Promise<Alert[]> {
  const raised: Alert[] = [];
  await analyzePaths({ paths: [logDir], store, policy: defaultPolicy(), now, onAlerts: async (a) => void raised.push(...a) });
  return raised;
}

const judge = (store: DynamoEvidenceStore) => readinessReport(store, { asOf: END, soakDays: 14, activeHours: 24 });
const ids = (alerts: readonly Alert[]) => alerts.map((a) => a.id).sort();

let importFirst: { readiness: ReadinessReport; alerts: Alert[] };
let analyzeFirst: { before: ReadinessReport; readiness: ReadinessReport; alerts: Alert[]; placed: number; placedAlerts: Alert[]; again: number };

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'cw-order-'));
  // the sample fleet's logs and inventory files (seed 42, ending at END), as the shared demo wrote them
  await demoInto(work, { without: ['late', 'reports'] });
  logDir = path.join(work, DEMO_DIR, 'logs');
  const inventoryDir = path.join(work, DEMO_DIR, 'inventory');
  inventory = await readInventoryFiles((await readdir(inventoryDir)).sort().map((f) => path.join(inventoryDir, f)));

  const a = await freshStore('import-first');
  await a.saveInventory(inventory);
  importFirst = { alerts: await analyze(a), readiness: await judge(a) };

  const b = await freshStore('analyze-first');
  const alerts = await analyze(b);
  const before = await judge(b);
  await b.saveInventory(inventory);
  const placement = await placeParked(b, defaultPolicy(), END);
  const again = await placeParked(b, defaultPolicy(), END);
  analyzeFirst = { before, alerts, readiness: await judge(b), placed: placement.placed, placedAlerts: placement.alerts, again: again.placed + again.alerts.length };
}, 180_000);

afterAll(async () => {
  for (const s of stores) await s.close();
  await rm(work, { recursive: true, force: true });
});

describe('analyze before inventory import', () => {
  it('says UNKNOWN, never READY, for what it cannot place', () => {
    const { before } = analyzeFirst;
    const stillOnIrsa = importFirst.readiness.namespaces.filter((n) => n.verdict !== 'READY').map((n) => `${n.cluster}/${n.namespace}`);

    for (const n of before.namespaces) {
      if (stillOnIrsa.includes(`${n.cluster}/${n.namespace}`)) expect(n.verdict, `${n.cluster}/${n.namespace}`).not.toBe('READY');
    }
    const unplaced = before.namespaces.filter((n) => n.cluster === null);
    expect(unplaced.length).toBeGreaterThan(0);
    for (const n of unplaced) expect(n.verdict).toBe('UNKNOWN');
    expect(before.clusters.every((c) => c.verdict !== 'READY')).toBe(true);
  });

  it('gives the same verdicts once the inventory is imported as importing first', () => {
    expect(analyzeFirst.readiness).toEqual(importFirst.readiness);
  });

  it('raises the same alerts, each once: the inventory-dependent ones when the import places the parked IRSA', () => {
    const detectionsOf = (alerts: Alert[]) => [...new Set(alerts.map((a) => a.detection))].sort();

    expect(ids([...analyzeFirst.alerts, ...analyzeFirst.placedAlerts])).toEqual(ids(importFirst.alerts));
    expect(detectionsOf(analyzeFirst.placedAlerts)).toEqual(['irsa-after-association', 'irsa-regression']);
    expect(analyzeFirst.alerts.some((a) => a.detection === 'irsa-regression' || a.detection === 'irsa-after-association')).toBe(false);
    expect(analyzeFirst.placed).toBeGreaterThan(0);
    expect(analyzeFirst.again).toBe(0);
  });
});

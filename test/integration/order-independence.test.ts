import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import { placeParked } from '../../functions/adapters/placement';
import { readinessReport } from '../../functions/adapters/readiness-query';
import type { Alert } from '../../functions/core/alert';
import type { Inventory } from '../../functions/core/inventory';
import { defaultPolicy } from '../../functions/core/policy';
import type { ReadinessReport } from '../../functions/core/readiness';
import { analyzePaths } from '../../functions/adapters/ingest-pipeline';
import { readInventoryFiles } from '../../functions/local/cli/commands/inventory';
import { DEMO_END, demoInto, sharedDemoOutput } from '../support/demo';
import { embeddedTables } from '../support/embedded-tables';

/**
 * A newcomer analyzes first and imports the inventory second; the docs say the other way round.
 * Both orders must give the same verdicts and raise the same alerts, each once.
 */
const END = new Date(DEMO_END);
const now = () => END;

let logDir: string;
let inventory: Inventory;
// one server, a table for each order
const tables = embeddedTables('order');

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
  // the sample fleet's logs and inventory files (seed 42, ending at END), as the shared demo wrote
  // them: only read here, so read where the demo wrote them rather than copied
  await demoInto(tables.work, { without: ['logs', 'late', 'inventory', 'reports'] });
  logDir = path.join(sharedDemoOutput(), 'logs');
  const inventoryDir = path.join(sharedDemoOutput(), 'inventory');
  inventory = await readInventoryFiles((await readdir(inventoryDir)).sort().map((f) => path.join(inventoryDir, f)));

  // the two orders side by side, each on its own table: each mostly waits for the server's thread
  await Promise.all([
    (async () => {
      const a = await tables.fresh();
      await a.saveInventory(inventory);
      importFirst = { alerts: await analyze(a), readiness: await judge(a) };
    })(),
    (async () => {
      const b = await tables.fresh();
      const alerts = await analyze(b);
      const before = await judge(b);
      await b.saveInventory(inventory);
      const placement = await placeParked(b, defaultPolicy(), END);
      const again = await placeParked(b, defaultPolicy(), END);
      analyzeFirst = { before, alerts, readiness: await judge(b), placed: placement.placed, placedAlerts: placement.alerts, again: again.placed + again.alerts.length };
    })(),
  ]);
}, 180_000);

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

import type { SQSEvent } from 'aws-lambda';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import type { Alert } from '../../functions/core/alert';
import type { EvidenceItem } from '../../functions/core/evidence';
import { DEFAULT_NODE_ROLE_PATTERNS } from '../../functions/core/node-roles';
import { defaultPolicy } from '../../functions/core/policy';
import { cloudTrailEnvelope, matchingRules, rulePatterns } from '../../functions/core/rule-patterns';
import { analyzePaths } from '../../functions/adapters/ingest-pipeline';
import { readInventoryFiles } from '../../functions/local/cli/commands/inventory';
import { startEmbeddedStore, type EmbeddedStore } from '../../functions/local/embedded-store';
import { generateSampleFleet, writeSampleFleet } from '../../functions/local/sample-fleet';
import { INGEST_BATCH_SIZE } from '../../lib/constructs/ingest-function';

// The deployed path (EventBridge envelopes in SQS messages → the ingest Lambda handler) and the
// local path (`analyze` over log files) on the same records must store the same evidence and alerts.
let dir: string;
let embedded: EmbeddedStore;
let written: Awaited<ReturnType<typeof writeSampleFleet>>;
const END = new Date('2026-11-20T00:00:00Z');
const fleet = generateSampleFleet({ seed: 7, end: END });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cw-handler-'));
  embedded = await startEmbeddedStore(path.join(dir, 'store'), { openToAnyClient: true });
  written = await writeSampleFleet(path.join(dir, 'fleet'), fleet);
}, 60_000);
afterAll(async () => {
  await embedded.close();
  await rm(dir, { recursive: true, force: true });
});

async function table(name: string): Promise<DynamoEvidenceStore> {
  const store = new DynamoEvidenceStore({ client: embedded.client, tableName: name });
  await store.ensureTable();
  const files = (await readdir(written.inventoryDir)).map((f) => path.join(written.inventoryDir, f));
  await store.saveInventory(await readInventoryFiles(files));
  return store;
}

/** Everything stored, without what depends on how many writes it took (`version`) or when (`raisedAt`). */
async function contents(store: DynamoEvidenceStore) {
  const snapshot = await store.snapshot({ fromDay: '2000-01-01', namespaceDays: true });
  const items = snapshot.items
    .map(({ version: _v, ...rest }) => rest as EvidenceItem)
    .sort((a, b) => `${a.pk} ${a.sk}`.localeCompare(`${b.pk} ${b.sk}`));
  const alerts = (await store.listAlerts(new Date('2000-01-01'), END)).map((a: Alert) => `${a.id} ${a.detection} ${a.key} ${a.window}`).sort();
  return { items, alerts };
}

describe('the ingest Lambda handler', () => {
  it('stores the same evidence and raises the same alerts as analyze on the same records', async () => {
    // GIVEN two tables with the same inventory
    const local = await table('local');
    const deployed = await table('deployed');
    await analyzePaths({ paths: [written.logDir], store: local, policy: defaultPolicy(), now: () => END });

    // WHEN the records the rules would route arrive as SQS batches of EventBridge events
    process.env['TABLE_NAME'] = 'deployed';
    process.env['AWS_ENDPOINT_URL_DYNAMODB'] = embedded.endpoint;
    process.env['AWS_REGION'] = 'local';
    process.env['AWS_ACCESS_KEY_ID'] = 'local';
    process.env['AWS_SECRET_ACCESS_KEY'] = 'local';
    process.env['POWERTOOLS_METRICS_NAMESPACE'] = 'CutoverWatch';
    process.env['POWERTOOLS_DEV'] = 'true';
    vi.resetModules();
    const silence = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    vi.spyOn(console, 'info').mockImplementation(() => undefined);
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { handler } = await import('../../functions/handlers/ingest');
    const patterns = rulePatterns({ nodeRolePatterns: DEFAULT_NODE_ROLE_PATTERNS });
    const routed = fleet.files
      .flatMap((f) => f.records)
      .sort((a, b) => String(a['eventTime']).localeCompare(String(b['eventTime'])))
      .map(cloudTrailEnvelope)
      .filter((envelope) => matchingRules(envelope, patterns).length > 0);
    let failures = 0;
    // in batches as large as the deployed event source's: INGEST_BATCH_SIZE, but its 6 MB payload
    // ends them near 2,000 of these messages first (about five here: still several batch boundaries)
    const size = Math.min(INGEST_BATCH_SIZE, 2000);
    for (let i = 0; i < routed.length; i += size) {
      const batch: SQSEvent = {
        Records: routed.slice(i, i + size).map((body, n) => ({ messageId: `m-${i + n}`, body: JSON.stringify(body) }) as SQSEvent['Records'][number]),
      };
      failures += (await handler(batch)).batchItemFailures.length;
    }
    silence.mockRestore();

    // THEN
    expect(failures).toBe(0);
    const a = await contents(local);
    const b = await contents(deployed);
    expect(b.items.length).toBeGreaterThan(500);
    expect(b.items).toEqual(a.items);
    expect(b.alerts.length).toBeGreaterThan(10);
    expect(b.alerts).toEqual(a.alerts);
  }, 120_000);
});

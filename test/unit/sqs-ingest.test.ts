/**
 * One SQS batch through the ingest Lambda's core (processSqsBatch), on the in-memory store: what
 * can never parse is parked and acknowledged, what could not be written goes back to SQS as
 * exactly the messages that carried it, and the redelivery counts nothing twice.
 */
import type { SQSEvent } from 'aws-lambda';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import { processSqsBatch } from '../../functions/adapters/sqs-ingest';
import { aggregate } from '../../functions/core/evidence';
import { emptyInventory } from '../../functions/core/inventory';
import { normalizeRecord } from '../../functions/core/normalize';
import { nodeRoleMatcher } from '../../functions/core/node-roles';
import { defaultPolicy } from '../../functions/core/policy';
import { cloudTrailEnvelope } from '../../functions/core/rule-patterns';
import { MemoryStore } from '../support/memory-store';

const NOW = new Date('2026-11-20T00:00:00Z');
/** An IRSA record of 2023-11-08 (namespace argo), and the same with another eventID and namespace. */
const GOOD = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/hostile/time-2099.json', import.meta.url)), 'utf8')).Records[1] as Record<string, unknown>;
const irsa = (eventId: string, namespace: string) => {
  const identity = GOOD['userIdentity'] as Record<string, unknown>;
  return { ...GOOD, eventID: eventId, userIdentity: { ...identity, userName: `system:serviceaccount:${namespace}:worker` } };
};

function store() {
  const memory = new MemoryStore();
  const meta: Record<string, unknown>[] = [];
  const port = Object.assign(memory, { putMeta: async (item: Record<string, unknown>) => void meta.push(item) }) as unknown as DynamoEvidenceStore;
  return { memory, meta, port };
}

const batch = (...bodies: [string, unknown][]): SQSEvent => ({
  Records: bodies.map(([messageId, body]) => ({ messageId, body: typeof body === 'string' ? body : JSON.stringify(body) }) as SQSEvent['Records'][number]),
});

const deps = { policy: defaultPolicy(), inventory: emptyInventory(), nodeRoleArns: [], now: NOW };

describe('processSqsBatch', () => {
  it('parks what can never parse, returns exactly the messages whose evidence was not written, and the redelivery counts once', async () => {
    const { memory, meta, port } = store();
    const ok = irsa('evt-ok', 'orders');
    const throttled = irsa('evt-throttled', 'payments');
    const rejected = { ...irsa('evt-2099', 'orders'), eventTime: '2099-01-01T00:00:00Z' };
    // GIVEN the service account item of one message's namespace fails its first write (throttled)
    const normalized = normalizeRecord(throttled, nodeRoleMatcher(), { now: NOW });
    if (normalized.status !== 'event') throw new Error('fixture is not an event');
    const sa = aggregate([normalized.event]).find((d) => d.item.sk.startsWith('SA#payments#'))!;
    memory.failing.add(`${sa.item.pk} ${sa.item.sk}`);

    const first = await processSqsBatch(
      batch(['m-ok', cloudTrailEnvelope(ok)], ['m-not-json', '{"detail": '], ['m-2099', cloudTrailEnvelope(rejected)], ['m-throttled', cloudTrailEnvelope(throttled)]),
      { ...deps, store: port },
    );

    // THEN only the throttled message goes back; the two that can never parse are parked, not retried
    expect(first.response.batchItemFailures).toEqual([{ itemIdentifier: 'm-throttled' }]);
    expect(first.parked.map((p) => [p.messageId, p.reason.split(':')[0]])).toEqual([
      ['m-not-json', 'body is not JSON'],
      ['m-2099', 'eventTime "2099-01-01T00'],
    ]);
    // parked as their reason only, for 14 days: never the record (STS records carry credentials)
    expect(meta.map((m) => [m['pk'], m['sk']])).toEqual([
      ['PARKED#2026-11-20', 'm-not-json#-'],
      ['PARKED#2026-11-20', 'm-2099#document'],
    ]);
    expect(meta.every((m) => m['expiresAt'] === NOW.getTime() / 1000 + 14 * 86_400)).toBe(true);
    expect(JSON.stringify(meta)).not.toContain('evt-2099');

    // WHEN SQS redelivers the throttled message: its batch was committed, the next one finishes it
    const redelivered = await processSqsBatch(batch(['m-throttled', cloudTrailEnvelope(throttled)]), { ...deps, store: port });
    expect(redelivered.response.batchItemFailures).toEqual([]);
    expect(redelivered.replayed).toBe(1);
    expect(memory.get(sa.item.pk, sa.item.sk)).toMatchObject({ irsaOk: 1 });
    const other = [...memory.items.values()].find((i) => i.sk.startsWith('SA#orders#'));
    expect(other).toMatchObject({ irsaOk: 1 });
  });

  it('returns every message with an event when the batch cannot commit, and the retry counts them once', async () => {
    const { memory, port } = store();
    memory.commitThrows = new Error('ProvisionedThroughputExceededException');
    const messages = batch(['m-1', cloudTrailEnvelope(irsa('evt-1', 'orders'))], ['m-2', cloudTrailEnvelope(irsa('evt-2', 'orders'))], ['m-bad', 'nope']);

    const failed = await processSqsBatch(messages, { ...deps, store: port });
    expect(failed.response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['m-1', 'm-2']);
    expect(failed.retried.every((r) => r.reason === 'ProvisionedThroughputExceededException')).toBe(true);

    const retried = await processSqsBatch(messages, { ...deps, store: port });
    expect(retried.response.batchItemFailures).toEqual([]);
    expect(retried.replayed).toBe(0);
    expect([...memory.items.values()].find((i) => i.sk.startsWith('SA#orders#'))).toMatchObject({ irsaOk: 2 });
  });
});

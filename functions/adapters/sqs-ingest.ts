import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { Alert } from '../core/alert';
import { countedBy } from '../core/collections';
import { CoverageAccumulator } from '../core/coverage';
import { placeOf } from '../core/detections';
import { extractRecords, jsonErrorMessage } from '../core/envelopes';
import type { EventKind, IdentityEvent, Outcome } from '../core/identity-event';
import { ingestBatch } from '../core/ingest';
import type { Inventory } from '../core/inventory';
import { nodeRoleMatcher } from '../core/node-roles';
import { normalizeRecord } from '../core/normalize';
import type { Policy } from '../core/policy';
import type { DynamoEvidenceStore } from './dynamo-evidence-store';

/** A message (or one record in it) that can never be ingested: parked, not retried. */
export interface Parked {
  messageId: string;
  where: string | null;
  reason: string;
}

export interface SqsIngestResult {
  response: SQSBatchResponse;
  events: IdentityEvent[];
  replayed: number;
  alerts: Alert[];
  parked: Parked[];
  skipped: number;
  /** Messages handed back to SQS for a retry, and why. */
  retried: { messageId: string; reason: string }[];
}

export interface SqsIngestDeps {
  store: DynamoEvidenceStore;
  policy: Policy;
  inventory: Inventory;
  /** Node roles known besides the policy's name patterns: configuration, inventory, roles seen fetching. */
  nodeRoleArns: readonly string[];
  now: Date;
}

/** Parked records are kept for this long, so an operator can look at them; never their content. */
const PARKED_TTL_SECONDS = 14 * 86_400;

/**
 * One SQS batch of EventBridge events through the same core as `cutover-watch analyze`.
 *
 * The batch is aggregated per evidence item and committed as one journal (core/ingest.ts), so the
 * invocation writes per item it touches, not per event. A failed item write returns exactly the
 * messages whose events fed it (partial batch response): the journal finishes the item at a
 * later invocation, and the redelivery finds those events counted. So do events another running
 * invocation holds uncommitted (a duplicate delivery). A message that cannot be parsed will never parse,
 * so it is parked (counted, logged by the caller, recorded without its content) and acknowledged
 * rather than left to use up the queue's receive count.
 */
export async function processSqsBatch(event: SQSEvent, deps: SqsIngestDeps): Promise<SqsIngestResult> {
  const matcher = nodeRoleMatcher({
    patterns: deps.policy.nodeRoleFallthrough.nodeRolePatterns,
    expectedCalls: deps.policy.nodeRoleFallthrough.expectedCalls,
    roleArns: [...deps.nodeRoleArns, ...deps.inventory.nodegroups.map((n) => n.nodeRoleArn)],
  });
  const parked: Parked[] = [];
  const events: IdentityEvent[] = [];
  const messagesOf = new Map<string, Set<string>>();
  let skipped = 0;

  for (const message of event.Records) {
    let body: unknown;
    try {
      body = JSON.parse(message.body);
    } catch (e) {
      parked.push({ messageId: message.messageId, where: null, reason: `body is not JSON: ${jsonErrorMessage(e)}` });
      continue;
    }
    for (const item of extractRecords(body, message.messageId)) {
      if (item.type === 'problem') {
        parked.push({ messageId: message.messageId, where: item.where, reason: item.reason });
        continue;
      }
      const result = normalizeRecord(item.record, matcher, { now: deps.now });
      if (result.status === 'skipped') skipped += 1;
      else if (result.status === 'rejected') parked.push({ messageId: message.messageId, where: item.where, reason: result.detail });
      else {
        events.push(result.event);
        const ids = messagesOf.get(result.event.eventId) ?? new Set<string>();
        ids.add(message.messageId);
        messagesOf.set(result.event.eventId, ids);
      }
    }
  }

  const retried: SqsIngestResult['retried'] = [];
  let alerts: Alert[] = [];
  let replayed = 0;
  try {
    // One lease for the batch, its heartbeat and its parked records: every write of the invocation
    // goes in BatchWriteItem requests, and the lease is free again when the invocation returns.
    await deps.store.withWriterLease(async () => {
      try {
        const result = await ingestBatch(events, deps.store, deps.now, { policy: deps.policy, inventory: deps.inventory, port: deps.store });
        alerts = result.alerts;
        replayed = result.replayed;
        const reason = result.errors.map((e) => (e instanceof Error ? e.message : String(e))).join('; ');
        for (const eventId of result.failedEventIds) {
          for (const messageId of messagesOf.get(eventId) ?? []) retried.push({ messageId, reason });
        }
        await recordHeartbeat(events, new Set(result.failedEventIds), deps.store);
      } catch (e) {
        // The batch did not commit (its claims are dropped, here or by the next recovery): every
        // message with an event goes back, and its redelivery counts them.
        retryAll(e);
      }
      await park(parked, deps);
    });
  } catch (e) {
    // No lease (another writer kept it past the wait) or parking failed: the batch is retried whole.
    // Its events may be counted already (a heartbeat that failed after the commit): the retry finds them counted.
    retryAll(e);
    for (const p of parked) retried.push({ messageId: p.messageId, reason: e instanceof Error ? e.message : String(e) });
  }
  function retryAll(e: unknown): void {
    const reason = e instanceof Error ? e.message : String(e);
    for (const ids of messagesOf.values()) for (const messageId of ids) retried.push({ messageId, reason });
  }

  const failedIds = [...new Set(retried.map((r) => r.messageId))];
  return {
    response: { batchItemFailures: failedIds.map((itemIdentifier) => ({ itemIdentifier })) },
    events,
    replayed,
    alerts,
    parked,
    skipped,
    retried,
  };
}

/**
 * The live source of coverage: the hours in which identity events arrived and were stored, per
 * account and region (readiness bridges gaps shorter than the no-events alarm's threshold). A
 * heartbeat that fails to write is retried with the batch: it is what keeps verdicts well-founded.
 */
async function recordHeartbeat(events: readonly IdentityEvent[], failed: ReadonlySet<string>, store: DynamoEvidenceStore): Promise<void> {
  const coverage = new CoverageAccumulator();
  for (const e of events) if (!failed.has(e.eventId)) coverage.addLiveEvent(e.account, e.region, e.eventTime);
  if (coverage.size > 0) await store.recordCoverage(coverage.days());
}

async function park(parked: readonly Parked[], deps: SqsIngestDeps): Promise<void> {
  const day = deps.now.toISOString().slice(0, 10);
  const expiresAt = Math.floor(deps.now.getTime() / 1000) + PARKED_TTL_SECONDS;
  // One put each: parked records are rare (a record that can never parse), and the count is what matters.
  for (const p of parked) {
    await deps.store.putMeta({ pk: `PARKED#${day}`, sk: `${p.messageId}#${p.where ?? '-'}`, reason: p.reason, at: deps.now.toISOString(), expiresAt });
  }
}

/** Counts for the metrics: events by kind and outcome. */
export function countEvents(events: readonly IdentityEvent[]): Map<`${EventKind}|${Outcome}`, number> {
  return countedBy(events, (e): `${EventKind}|${Outcome}` => `${e.kind}|${e.outcome}`);
}

/** Successful assumes per mechanism and cluster (`IrsaAssumes|payments-prod`), for the dashboard. */
export function assumesByCluster(events: readonly IdentityEvent[], inventory: Inventory): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of events) {
    if (e.outcome !== 'success' || (e.kind !== 'irsa' && e.kind !== 'pod-identity')) continue;
    const cluster = placeOf(e, inventory).cluster ?? (e.oidcIssuer ? `unmapped ${e.oidcIssuer.split('/').pop()}` : 'unknown');
    const key = `${e.kind === 'irsa' ? 'IrsaAssumes' : 'PodIdentityAssumes'}|${cluster}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Events per region they were recorded in: the heartbeat metric. */
export function eventsByRegion(events: readonly IdentityEvent[]): Map<string, number> {
  return countedBy(events, (e) => e.region || null);
}

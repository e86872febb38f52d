import type { Alert } from './alert';
import { detect, detectionNeeds, unplacedIrsa, type DetectionNeeds, type DetectionState } from './detections';
import { aggregate, type EvidenceDelta, type EvidenceItem } from './evidence';
import type { Inventory } from './inventory';
import type { Policy } from './policy';
import type { IdentityEvent } from './identity-event';

/** The store as the ingest needs it; DynamoEvidenceStore implements it over DynamoDB or dynalite. */
export interface EvidencePort {
  /** Marks events as counted; returns the ids that were not counted before (the others are replays). */
  claimEvents(eventIds: readonly string[], now: Date): Promise<Set<string>>;
  /** Undoes claims whose evidence could not be written, so a retry counts them again. */
  releaseEvents(eventIds: readonly string[]): Promise<void>;
  apply(deltas: readonly EvidenceDelta[]): Promise<ApplyResult>;
}

export interface ApplyResult {
  written: number;
  unchanged: number;
  failed: { item: EvidenceItem; eventIds: string[]; error: unknown }[];
}

export interface IngestResult {
  events: number;
  /** Seen before (same eventID): timestamps would not move and counts must not. */
  replayed: number;
  itemsWritten: number;
  itemsUnchanged: number;
  /** Events whose evidence could not be written: the caller retries them (SQS) or reports them (CLI). */
  failedEventIds: string[];
  errors: unknown[];
  /** Alerts this batch raised for the first time (replays and retries raise none). */
  alerts: Alert[];
}

/** The store as the detections need it; DynamoEvidenceStore implements it too. */
export interface DetectionPort {
  detectionState(needs: DetectionNeeds, inventory: Inventory): Promise<DetectionState>;
  /** Records alerts by id; returns the ones not recorded before. */
  recordAlerts(alerts: readonly Alert[]): Promise<Alert[]>;
  /** Forgets alerts this batch recorded but could not hand back, so its retry raises them. */
  releaseAlerts(alerts: readonly Alert[]): Promise<void>;
  /** Keeps IRSA events the inventory cannot place yet, keyed by event id (idempotent), for `placeParked`. */
  parkUnplaced(events: readonly IdentityEvent[]): Promise<void>;
}

export interface DetectionOptions {
  policy: Policy;
  inventory: Inventory;
  port: DetectionPort;
}

/**
 * One batch: drop replays, run the detections on the rest, fold it per item, write each item once.
 *
 * Counts are exact under replay because each eventID is claimed once. When an item write fails,
 * the claims of the events that fed it are released so a retry re-applies them; an event that also
 * fed an item that did succeed is then counted twice there (timestamps are unaffected).
 *
 * Alerts are recorded before the evidence they are judged against moves, so a retried batch
 * reaches the same alerts and finds them recorded: each is raised once.
 */
export async function ingestBatch(
  events: readonly IdentityEvent[],
  store: EvidencePort,
  now: Date,
  detection?: DetectionOptions,
): Promise<IngestResult> {
  const unique = [...new Map(events.map((e) => [e.eventId, e])).values()];
  const fresh = await store.claimEvents(
    unique.map((e) => e.eventId),
    now,
  );
  const counted = unique.filter((e) => fresh.has(e.eventId));
  let result: ApplyResult;
  let alerts: Alert[] = [];
  try {
    if (detection && counted.length > 0) {
      const { policy, inventory, port } = detection;
      const state = await port.detectionState(detectionNeeds(counted, inventory, policy), inventory);
      alerts = await port.recordAlerts(detect(counted, state, policy, now));
      // Before the evidence moves: a crash after this replays the batch, and parking again is a no-op.
      await port.parkUnplaced(unplacedIrsa(counted, inventory));
    }
    const options = detection ? { detection: { spikeWindowMinutes: detection.policy.accessDeniedSpike.windowMinutes } } : {};
    result = await store.apply(aggregate(counted, options));
  } catch (error) {
    // Nothing says which items were written: un-claim the batch so a redelivery is not taken for a
    // replay, and un-record its alerts, which no caller will deliver now, so the redelivery raises them.
    if (detection && alerts.length > 0) await detection.port.releaseAlerts(alerts);
    if (counted.length > 0) await store.releaseEvents(counted.map((e) => e.eventId));
    throw error;
  }
  const failedEventIds = [...new Set(result.failed.flatMap((f) => f.eventIds))];
  if (failedEventIds.length > 0) await store.releaseEvents(failedEventIds);
  return {
    events: events.length,
    replayed: events.length - counted.length,
    itemsWritten: result.written,
    itemsUnchanged: result.unchanged,
    failedEventIds,
    errors: result.failed.map((f) => f.error),
    alerts,
  };
}

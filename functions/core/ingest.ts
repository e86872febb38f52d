import type { Alert } from './alert';
import { detect, detectionNeeds, unplacedIrsa, type DetectionNeeds, type DetectionState } from './detections';
import { aggregate, eventsFeeding, type AggregateOptions, type EvidenceDelta, type EvidenceItem } from './evidence';
import type { Inventory } from './inventory';
import type { Policy } from './policy';
import type { IdentityEvent } from './identity-event';
import { guardHour } from './table-schema';

/**
 * The store as the ingest needs it; DynamoEvidenceStore implements it over DynamoDB or dynalite.
 * A batch goes claim → commit (the journal: the commit point) → apply → complete; anything that
 * stops it after the commit is finished by the next `recover`, anything before leaves no trace
 * that counts (see DynamoEvidenceStore for the argument with several writers).
 */
export interface EvidencePort {
  /**
   * Finishes what killed or timed-out writers left: rolls committed journals forward (items,
   * alerts, guards), drops the claims of uncommitted ones. Returns the alerts it recorded.
   */
  recover(now: Date): Promise<Alert[]>;
  /**
   * Reads the replay guards and claims the ids not counted before for a new batch. `inDoubt` are
   * ids another live batch has claimed but not committed yet: neither counted nor replays.
   */
  claimEvents(events: readonly GuardedEvent[], now: Date): Promise<Claim>;
  /**
   * The batch's deltas less those that cannot change the items they merge into, for a store that
   * holds its items exactly (the single writer's stage): they need no journal and no merge. Sound
   * because every merge is a sum, a minimum or maximum, a union or a kept value: a delta that
   * changes nothing after the batches committed before it changes nothing after them in any order,
   * so a roll-forward of those journals without it gives the same items.
   */
  withoutNoOps?(deltas: EvidenceDelta[]): EvidenceDelta[];
  /** Makes the batch durable in one step: after this, it is counted whatever happens. */
  commit(journal: BatchJournal): Promise<void>;
  /** Merges each delta into its item, tagged with the delta's batch so a roll-forward skips it. */
  apply(deltas: readonly EvidenceDelta[]): Promise<ApplyResult>;
  /** Marks the journal's ids counted and drops the journal (its items and alerts are written). */
  complete(journal: BatchJournal): Promise<void>;
  /** Gives up an uncommitted batch (`Claim.batch`): its claims go, so a retry counts its events. */
  abandon(batch: string): Promise<void>;
}

export interface GuardedEvent {
  eventId: string;
  eventTime: string;
}

/**
 * What a replay guard holds: an eventID in its hour. Guards are kept per hour (table-schema), so
 * the same eventID at another hour is another event everywhere, in one batch, one run or across
 * runs alike; were it one event within a run and two across runs, a rerun after a crash would count
 * differently from a clean run. CloudTrail repeats an event with its own eventTime.
 */
export const guardKeyOf = (e: GuardedEvent): string => guardKey(guardHour(e.eventTime), e.eventId);
export const guardKey = (hour: string, eventId: string): string => `${hour} ${eventId}`;
/** The eventID of a guard key. */
export const eventIdOfGuardKey = (key: string): string => key.slice(key.indexOf(' ') + 1);

export interface Claim {
  batch: string;
  /** Guard keys (`guardKeyOf`) this batch counts. */
  fresh: Set<string>;
  /** Guard keys another writer's open batch holds: neither counted nor replays yet. */
  inDoubt: Set<string>;
}

/** What a batch will have written once complete; enough to finish it from scratch. */
export interface BatchJournal {
  batch: string;
  at: string;
  deltas: EvidenceItem[];
  alerts: Alert[];
  /** Counted eventIDs by guard hour (table-schema `guardHour`). */
  guards: Record<string, string[]>;
}

export interface ApplyResult {
  written: number;
  unchanged: number;
  /** Items not written, each as one of the deltas given to `apply`, with why. */
  failed: { item: EvidenceItem; error: unknown }[];
}

export interface IngestResult {
  events: number;
  /** Seen before (same eventID): timestamps would not move and counts must not. */
  replayed: number;
  itemsWritten: number;
  itemsUnchanged: number;
  /**
   * Events whose evidence is not written yet: items that failed after the commit (the journal
   * keeps them and the next recovery writes them) and events another writer holds uncommitted.
   * The caller retries them (SQS: the retry finds them counted) or reports them (CLI).
   */
  failedEventIds: string[];
  errors: unknown[];
  /** Alerts this batch (or the recovery before it) recorded for the first time; replays and retries raise none. */
  alerts: Alert[];
}

/** The store as the detections need it; DynamoEvidenceStore implements it too. */
export interface DetectionPort {
  detectionState(needs: DetectionNeeds, inventory: Inventory): Promise<DetectionState>;
  /** Records alerts by id; returns the ones not recorded before. */
  recordAlerts(alerts: readonly Alert[]): Promise<Alert[]>;
  /** Keeps IRSA events the inventory cannot place yet, keyed by event id (idempotent), for `placeParked`. */
  parkUnplaced(events: readonly IdentityEvent[]): Promise<void>;
}

export interface DetectionOptions {
  policy: Policy;
  inventory: Inventory;
  port: DetectionPort;
}

/**
 * One batch: drop replays, run the detections on the rest, fold it per item, commit it as one
 * journal, then write each item once.
 *
 * Counts are exact whatever stops the batch: before the commit nothing counts (claims are
 * dropped, here or by the next recovery, and a retry counts the events); after it the journal
 * is rolled forward by the next `recover` (the next batch's, or the next process's), and items
 * already written carry the batch's tag so they are not merged twice.
 *
 * Alerts are judged before the evidence moves and recorded after the commit (they are in the
 * journal): a batch killed before its commit raises them on its retry, one killed after has them
 * recorded by the roll-forward, so the store holds each alert once either way.
 */
export async function ingestBatch(
  events: readonly IdentityEvent[],
  store: EvidencePort,
  now: Date,
  detection?: DetectionOptions,
): Promise<IngestResult> {
  const recovered = await store.recover(now);
  const { batch, counted, inDoubt } = await claimBatch(events, store, now);
  const doubtErrors = inDoubt.length > 0 ? [new Error(`${inDoubt.length} events are claimed by another writer's batch that has not committed yet: retry them later`)] : [];
  const replayed = events.length - counted.length - inDoubt.length;
  if (counted.length === 0) {
    return { events: events.length, replayed, itemsWritten: 0, itemsUnchanged: 0, failedEventIds: inDoubt, errors: doubtErrors, alerts: recovered };
  }
  let journal: BatchJournal;
  let deltas: EvidenceDelta[];
  const options: AggregateOptions = detection ? { detection: { spikeWindowMinutes: detection.policy.accessDeniedSpike.windowMinutes } } : {};
  try {
    const alerts = detection ? await detectBatch(counted, detection, now) : [];
    deltas = aggregate(counted, options, batch);
    // At 40,000 namespaces up to ~30,000 of a batch's 66,000 deltas (roles, their namespaces, scopes
    // seen again): a quarter of a batch journal's text. A staged batch writes no journal; there it
    // spares the stage those merges, at a second look at the deltas that do change something: without
    // it, 20,000 namespaces took 0.4–1.3 s longer (three runs alternated, the same writes).
    if (store.withoutNoOps) deltas = store.withoutNoOps(deltas);
    const guards: Record<string, string[]> = {};
    for (const e of counted) (guards[guardHour(e.eventTime)] ??= []).push(e.eventId);
    journal = { batch, at: now.toISOString(), deltas: journalItems(deltas), alerts, guards };
    await store.commit(journal);
  } catch (error) {
    // Nothing counts yet: drop the claims so a retry is not taken for a replay. If that fails too,
    // the next recovery drops them (they belong to a batch without a committed journal).
    await store.abandon(batch).catch(() => undefined);
    throw error;
  }
  // Committed: from here on the batch is durable, and a failure only delays it to the next
  // recovery. It is reported, not thrown, so the caller still delivers the alerts recorded.
  let fresh: Alert[] = [];
  let result: ApplyResult = { written: 0, unchanged: 0, failed: [] };
  const thrown: unknown[] = [];
  try {
    fresh = detection && journal.alerts.length > 0 ? await detection.port.recordAlerts(journal.alerts) : [];
    result = await store.apply(deltas);
    if (result.failed.length === 0) await store.complete(journal);
  } catch (error) {
    thrown.push(error);
  }
  const notWritten = (thrown.length > 0 ? counted : eventsFeeding(counted, result.failed.map((f) => f.item), options)).map((e) => e.eventId);
  const failedEventIds = [...new Set([...notWritten, ...inDoubt])];
  return {
    events: events.length,
    replayed,
    itemsWritten: result.written,
    itemsUnchanged: result.unchanged,
    failedEventIds,
    errors: [...result.failed.map((f) => f.error), ...thrown, ...doubtErrors],
    alerts: [...recovered, ...fresh],
  };
}

/**
 * The deltas' items, for the journal. Its own function: `deltas.map` inlined in `ingestBatch`
 * deoptimized it "out of bounds" at every other batch of a fleet run, and a loop there had it
 * compiled again for the loop (on-stack replacement); this whole function was compiled each time.
 */
function journalItems(deltas: readonly EvidenceDelta[]): EvidenceItem[] {
  const items: EvidenceItem[] = [];
  for (let i = 0; i < deltas.length; i += 1) items.push((deltas[i] as EvidenceDelta).item);
  return items;
}

/**
 * The batch's events less replays (its own and the store's), claimed for a new batch, and the ids
 * another writer holds. Its own function so that the claim's guard keys (~2 MB for a fleet batch)
 * are let go before the journal's commit, which the batch's frame waits through.
 */
async function claimBatch(events: readonly IdentityEvent[], store: EvidencePort, now: Date): Promise<{ batch: string; counted: IdentityEvent[]; inDoubt: string[] }> {
  // Each event's guard key made once (a fleet batch's 20,000 strings), the last of a repeated one kept.
  const byKey = new Map<string, IdentityEvent>();
  for (const e of events) byKey.set(guardKeyOf(e), e);
  const claim = await store.claimEvents([...byKey.values()], now);
  const counted: IdentityEvent[] = [];
  for (const [key, e] of byKey) if (claim.fresh.has(key)) counted.push(e);
  return { batch: claim.batch, counted, inDoubt: [...claim.inDoubt].map(eventIdOfGuardKey) };
}

/**
 * The batch's alerts, from the detection state it needs. Its own function so that the state (a few
 * MB at fleet scale) is let go before the journal's commit, which the batch's frame waits through.
 */
async function detectBatch(counted: readonly IdentityEvent[], { policy, inventory, port }: DetectionOptions, now: Date): Promise<Alert[]> {
  const state = await port.detectionState(detectionNeeds(counted, inventory, policy), inventory);
  const alerts = detect(counted, state, policy, now);
  // Before the commit: a crash after this retries the batch, and parking again is a no-op.
  await port.parkUnplaced(unplacedIrsa(counted, inventory));
  return alerts;
}

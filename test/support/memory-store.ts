import type { Alert } from '../../functions/core/alert';
import type { CoverageDay } from '../../functions/core/coverage';
import { derivedFromMarks, FILE_MARK_SETS } from '../../functions/core/coverage-marks';
import type { DetectionNeeds, DetectionState } from '../../functions/core/detections';
import { mergeItems, type EvidenceDelta, type EvidenceItem } from '../../functions/core/evidence';
import { guardKey, guardKeyOf, type ApplyResult, type BatchJournal, type Claim, type DetectionPort, type EvidencePort, type GuardedEvent } from '../../functions/core/ingest';
import type { IdentityEvent } from '../../functions/core/identity-event';
import type { Inventory } from '../../functions/core/inventory';
import { scopePk } from '../../functions/core/table-schema';

/**
 * The store as a Map with both ports, for tests of the ingest without DynamoDB, with the write
 * path's contract: claims are exact and held per batch until committed, a committed journal is
 * finished by the next `recover`, items remember the batches merged into them. `apply` can throw
 * or fail chosen items once or always, `commit` can throw, detection state is read from the items
 * the way DynamoEvidenceStore reads it, and alerts are recorded by id.
 */
export class MemoryStore implements EvidencePort, DetectionPort {
  readonly items = new Map<string, EvidenceItem>();
  /** Counted eventIDs. */
  readonly claimed = new Set<string>();
  /** Claimed by a batch not completed yet: id → batch. */
  readonly pending = new Map<string, string>();
  readonly journals = new Map<string, BatchJournal>();
  private readonly tags = new Map<string, Set<string>>();
  /** `pk sk` of items whose write fails (once each, unless `failAlways`). */
  readonly failing = new Set<string>();
  failAlways = false;
  applyThrows: Error | null = null;
  commitThrows: Error | null = null;
  readonly recorded = new Map<string, Alert>();
  private batches = 0;

  /** One process, one writer: the lease is always ours. */
  async withWriterLease<T>(write: () => Promise<T>): Promise<T> {
    return write();
  }

  async recover(): Promise<Alert[]> {
    // One writer: a pending claim without a journal belongs to a batch that died before its commit.
    for (const [id, batch] of this.pending) if (!this.journals.has(batch)) this.pending.delete(id);
    const alerts: Alert[] = [];
    for (const journal of [...this.journals.values()]) {
      alerts.push(...(await this.recordAlerts(journal.alerts)));
      const result = await this.apply(journal.deltas.map((item) => ({ item, batch: journal.batch })));
      if (result.failed.length > 0) throw result.failed[0]!.error;
      await this.complete(journal);
    }
    return alerts;
  }

  readonly parked = new Map<string, IdentityEvent>();
  readonly coverage: CoverageDay[] = [];

  async recordCoverage(days: readonly CoverageDay[]): Promise<void> {
    this.coverage.push(...days);
  }

  /** As DynamoEvidenceStore gives them: a day's file marks matched into what readers load (`unreadFiles`). */
  async coverageDays(): Promise<CoverageDay[]> {
    const byDay = new Map<string, { day: CoverageDay; marks: Record<(typeof FILE_MARK_SETS)[number], string[]> }>();
    for (const d of this.coverage) {
      const key = `${d.account}|${d.region}|${d.day}`;
      const entry = byDay.get(key) ?? { day: { account: d.account, region: d.region, day: d.day, fileHours: [], liveHours: [], slices: [] }, marks: { readFiles: [], listedFiles: [], digests: [], previousDigests: [] } };
      entry.day.fileHours.push(...d.fileHours);
      entry.day.liveHours.push(...d.liveHours);
      entry.day.slices.push(...d.slices);
      for (const field of FILE_MARK_SETS) entry.marks[field].push(...(d[field] ?? []));
      byDay.set(key, entry);
    }
    return [...byDay.values()].map(({ day, marks }) => {
      const { unreadFiles, missingDigests } = derivedFromMarks(marks);
      return { ...day, ...(unreadFiles.length > 0 ? { unreadFiles } : {}), ...(missingDigests.length > 0 ? { missingDigests } : {}) };
    });
  }

  async parkUnplaced(events: readonly IdentityEvent[]): Promise<void> {
    for (const e of events) this.parked.set(e.eventId, e);
  }

  async claimEvents(events: readonly GuardedEvent[]): Promise<Claim> {
    this.batches += 1;
    const claim: Claim = { batch: `b${this.batches}`, fresh: new Set(), inDoubt: new Set() };
    // Keyed like the table's guards: an eventID in its hour.
    for (const event of events) {
      const key = guardKeyOf(event);
      if (this.claimed.has(key)) continue;
      const holder = this.pending.get(key);
      if (holder === undefined) {
        this.pending.set(key, claim.batch);
        claim.fresh.add(key);
      } else if (holder !== claim.batch && !this.journals.has(holder)) claim.inDoubt.add(key);
    }
    return claim;
  }

  async commit(journal: BatchJournal): Promise<void> {
    if (this.commitThrows) {
      const error = this.commitThrows;
      this.commitThrows = null;
      throw error;
    }
    this.journals.set(journal.batch, structuredClone(journal));
  }

  async complete(journal: BatchJournal): Promise<void> {
    for (const [hour, ids] of Object.entries(journal.guards)) {
      for (const id of ids) {
        this.claimed.add(guardKey(hour, id));
        this.pending.delete(guardKey(hour, id));
      }
    }
    this.journals.delete(journal.batch);
  }

  async abandon(abandoned: string): Promise<void> {
    for (const [id, batch] of this.pending) if (batch === abandoned) this.pending.delete(id);
  }

  async apply(deltas: readonly EvidenceDelta[]): Promise<ApplyResult> {
    if (this.applyThrows) {
      const error = this.applyThrows;
      this.applyThrows = null;
      throw error;
    }
    const result: ApplyResult = { written: 0, unchanged: 0, failed: [] };
    for (const { item, batch } of deltas) {
      const key = `${item.pk} ${item.sk}`;
      if (this.failing.has(key)) {
        if (!this.failAlways) this.failing.delete(key);
        result.failed.push({ item, error: new Error(`throttled: ${key}`) });
        continue;
      }
      const tags = this.tags.get(key) ?? new Set<string>();
      if (batch !== undefined && tags.has(batch)) {
        result.unchanged += 1;
        continue;
      }
      const stored = this.items.get(key);
      const merged = structuredClone(mergeItems(stored, item));
      if (stored !== undefined && JSON.stringify(stored) === JSON.stringify(merged)) result.unchanged += 1;
      else {
        this.items.set(key, merged);
        if (batch !== undefined) this.tags.set(key, tags.add(batch));
        result.written += 1;
      }
    }
    return result;
  }

  snapshot(): Map<string, EvidenceItem> {
    return structuredClone(this.items);
  }

  get(pk: string, sk: string): EvidenceItem | undefined {
    return this.items.get(`${pk} ${sk}`);
  }

  async detectionState(needs: DetectionNeeds, inventory: Inventory): Promise<DetectionState> {
    const get = (pk: string, sk: string) => this.items.get(`${pk} ${sk}`);
    const state: DetectionState = {
      roleFirstSeen: new Map(),
      roleNamespaces: new Set(),
      spikeCounts: new Map(),
      namespaces: new Map(),
      nodeRoleClusters: new Map(),
      inventory,
    };
    for (const r of needs.roles) {
      const item = get(`ROLE#${r}`, 'ROLE');
      if (item) state.roleFirstSeen.set(r, String(item['firstSeen']));
    }
    for (const p of needs.roleNamespaces) if (get(`ROLE#${p.roleArn}`, `NS#${p.namespace}`)) state.roleNamespaces.add(`${p.roleArn}|${p.namespace}`);
    for (const w of needs.spikes) {
      const item = get(`SPIKE#${w.key}`, `W#${w.window}`);
      if (item) state.spikeCounts.set(`${w.key}|${w.window}`, Number(item['count']));
    }
    for (const { place, namespace, scopes } of needs.namespaces) {
      const items = [...this.items.values()].filter((i) => scopes.some((s) => i.pk === scopePk(s)) && i.sk.startsWith(`SA#${namespace}#`));
      const pick = (field: string, better: (a: string, b: string) => boolean) =>
        items.reduce<string | null>((best, i) => {
          const v = i[field];
          return typeof v === 'string' && (best === null || better(v, best)) ? v : best;
        }, null);
      state.namespaces.set(`${place}|${namespace}`, { firstPodIdentity: pick('piFirstOk', (a, b) => a < b), lastIrsa: pick('irsaLastAttempt', (a, b) => a > b) });
    }
    for (const r of needs.nodeRoles) {
      const names = inventory.nodegroups.filter((n) => n.nodeRoleArn === r).map((n) => n.cluster);
      if (names.length > 0) state.nodeRoleClusters.set(r, [...new Set(names)].sort());
    }
    return state;
  }

  async recordAlerts(alerts: readonly Alert[]): Promise<Alert[]> {
    const fresh = alerts.filter((a) => !this.recorded.has(a.id));
    for (const a of fresh) this.recorded.set(a.id, a);
    return fresh;
  }
}

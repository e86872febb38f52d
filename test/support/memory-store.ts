import type { Alert } from '../../functions/core/alert';
import type { CoverageDay } from '../../functions/core/coverage';
import type { DetectionNeeds, DetectionState } from '../../functions/core/detections';
import { mergeItems, type EvidenceDelta, type EvidenceItem } from '../../functions/core/evidence';
import type { ApplyResult, DetectionPort, EvidencePort } from '../../functions/core/ingest';
import type { IdentityEvent } from '../../functions/core/identity-event';
import type { Inventory } from '../../functions/core/inventory';
import { scopePk } from '../../functions/core/table-schema';

/**
 * The store as a Map with both ports, for tests of the ingest without DynamoDB: claims are exact,
 * apply merges items (and can throw, or fail chosen items once or always), detection state is read
 * from the items the way DynamoEvidenceStore reads it, and alerts are recorded by id.
 */
export class MemoryStore implements EvidencePort, DetectionPort {
  readonly items = new Map<string, EvidenceItem>();
  readonly claimed = new Set<string>();
  readonly released: string[][] = [];
  /** `pk sk` of items whose write fails (once each, unless `failAlways`). */
  readonly failing = new Set<string>();
  failAlways = false;
  applyThrows: Error | null = null;
  readonly recorded = new Map<string, Alert>();

  async claimEvents(eventIds: readonly string[]): Promise<Set<string>> {
    const fresh = new Set<string>();
    for (const id of eventIds) {
      if (!this.claimed.has(id)) {
        this.claimed.add(id);
        fresh.add(id);
      }
    }
    return fresh;
  }

  readonly parked = new Map<string, IdentityEvent>();
  readonly coverage: CoverageDay[] = [];

  async recordCoverage(days: readonly CoverageDay[]): Promise<void> {
    this.coverage.push(...days);
  }

  async parkUnplaced(events: readonly IdentityEvent[]): Promise<void> {
    for (const e of events) this.parked.set(e.eventId, e);
  }

  async releaseEvents(eventIds: readonly string[]): Promise<void> {
    this.released.push([...eventIds]);
    for (const id of eventIds) this.claimed.delete(id);
  }

  async apply(deltas: readonly EvidenceDelta[]): Promise<ApplyResult> {
    if (this.applyThrows) {
      const error = this.applyThrows;
      this.applyThrows = null;
      throw error;
    }
    const result: ApplyResult = { written: 0, unchanged: 0, failed: [] };
    for (const { item, eventIds } of deltas) {
      const key = `${item.pk} ${item.sk}`;
      if (this.failing.has(key)) {
        if (!this.failAlways) this.failing.delete(key);
        result.failed.push({ item, eventIds, error: new Error(`throttled: ${key}`) });
        continue;
      }
      const stored = this.items.get(key);
      const merged = structuredClone(mergeItems(stored, item));
      if (stored !== undefined && JSON.stringify(stored) === JSON.stringify(merged)) result.unchanged += 1;
      else {
        this.items.set(key, merged);
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

  async releaseAlerts(alerts: readonly Alert[]): Promise<void> {
    for (const a of alerts) this.recorded.delete(a.id);
  }
}

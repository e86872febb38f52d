import type { Alert } from '../core/alert';
import { placeOf, type DetectionNeeds, type DetectionState, type NamespaceState } from '../core/detections';
import type { DetectionPort } from '../core/ingest';
import type { IdentityEvent } from '../core/identity-event';
import type { Inventory } from '../core/inventory';
import { flatString } from '../core/string-pool';

/** Entries kept before the cache starts over (about 200 bytes each): memory stays flat whatever the fleet. */
const DEFAULT_MAX_ENTRIES = 250_000;

/**
 * What the detections remember, kept in memory across the batches of one run by the only writer
 * of the store, so a namespace's, role's or (role, namespace) pair's state is read once per run
 * instead of once per batch (at fleet scale every batch touches thousands of namespaces).
 *
 * Exact: an entry starts as what the store held before a batch, and every batch's events are then
 * folded into it (`observe`) the way the store merges them — first Pod Identity and first role
 * use as a minimum, last IRSA as a maximum, pairs as a set union. Those merges are idempotent, so
 * folding a replayed event, already in what was read, changes nothing. Spike counters are sums
 * (a replay would count twice): they are read from the store every batch, like node roles' clusters.
 *
 * Only for a store nobody else writes while the run lasts (the embedded store's process lock): with
 * other writers the store moves under the cache.
 */
export class DetectionStateCache implements DetectionPort {
  /**
   * Place (cluster ARN or issuer) → namespace → state. By place, then name, not under a joined key:
   * at 40,000 namespaces the joined keys took ~4 MB (each a new string, and a wrapper around it).
   */
  private readonly namespaces = new Map<string, Map<string, NamespaceState>>();
  private namespaceCount = 0;
  /** Role → first use, or null: read, and never used before. */
  private readonly roles = new Map<string, string | null>();
  /** `roleArn|namespace` (flat) → whether the pair was seen. */
  private readonly pairs = new Map<string, boolean>();

  constructor(
    private readonly port: DetectionPort,
    private readonly maxEntries = DEFAULT_MAX_ENTRIES,
  ) {}

  get size(): number {
    return this.namespaceCount + this.roles.size + this.pairs.size;
  }

  async detectionState(needs: DetectionNeeds, inventory: Inventory): Promise<DetectionState> {
    // Bounded: past the cap it starts over, and what a batch needs is read again.
    if (this.size > this.maxEntries) this.clear();
    const missing: DetectionNeeds = {
      roles: needs.roles.filter((r) => !this.roles.has(r)),
      roleNamespaces: needs.roleNamespaces.filter((p) => !this.pairs.has(pairKey(p.roleArn, p.namespace))),
      spikes: needs.spikes,
      namespaces: needs.namespaces.filter((n) => this.namespaceState(n.place, n.namespace) === undefined),
      nodeRoles: needs.nodeRoles,
    };
    const read = await this.port.detectionState(missing, inventory);
    for (const role of missing.roles) this.roles.set(role, read.roleFirstSeen.get(role) ?? null);
    for (const p of missing.roleNamespaces) {
      const key = pairKey(p.roleArn, p.namespace);
      this.pairs.set(flatString(key), read.roleNamespaces.has(key));
    }
    for (const n of missing.namespaces) {
      const stored = read.namespaces.get(namespaceKey(n.place, n.namespace));
      this.keepNamespace(n.place, n.namespace, { ...(stored ?? { firstPodIdentity: null, lastIrsa: null }) });
    }

    const state: DetectionState = {
      roleFirstSeen: new Map(),
      roleNamespaces: new Set(),
      spikeCounts: read.spikeCounts,
      namespaces: new Map(),
      nodeRoleClusters: read.nodeRoleClusters,
      inventory,
    };
    for (const role of needs.roles) {
      const first = this.roles.get(role);
      if (typeof first === 'string') state.roleFirstSeen.set(role, first);
    }
    for (const p of needs.roleNamespaces) {
      const key = pairKey(p.roleArn, p.namespace);
      if (this.pairs.get(key) === true) state.roleNamespaces.add(key);
    }
    for (const n of needs.namespaces) {
      const known = this.namespaceState(n.place, n.namespace);
      if (known) state.namespaces.set(namespaceKey(n.place, n.namespace), { ...known });
    }
    return state;
  }

  /**
   * Folds a batch's events into the entries held, once the batch is stored (or journaled: a batch
   * whose items failed is finished by the next batch's recovery, before its detection state is
   * read). Mirrors what the store's items hold (core/evidence `itemsOf`, `detectionItemsOf`).
   */
  observe(events: readonly IdentityEvent[], inventory: Inventory): void {
    for (const e of events) {
      if (e.outcome === 'success' && e.roleArn && e.namespace) {
        if (this.roles.has(e.roleArn)) {
          const first = this.roles.get(e.roleArn) ?? null;
          if (first === null || e.eventTime < first) this.roles.set(e.roleArn, e.eventTime);
        }
        const pair = pairKey(e.roleArn, e.namespace);
        if (this.pairs.has(pair)) this.pairs.set(pair, true);
      }
      if (e.namespace === null) continue;
      if (e.kind === 'pod-identity' && e.outcome === 'success' && e.clusterArn !== null) {
        const ns = this.namespaceState(e.clusterArn, e.namespace);
        if (ns && (ns.firstPodIdentity === null || e.eventTime < ns.firstPodIdentity)) ns.firstPodIdentity = e.eventTime;
      } else if (e.kind === 'irsa' && e.oidcIssuer !== null) {
        const ns = this.namespaceState(placeOf(e, inventory).place, e.namespace);
        if (ns && (ns.lastIrsa === null || e.eventTime > ns.lastIrsa)) ns.lastIrsa = e.eventTime;
      }
    }
  }

  clear(): void {
    this.namespaces.clear();
    this.namespaceCount = 0;
    this.roles.clear();
    this.pairs.clear();
  }

  private namespaceState(place: string, namespace: string): NamespaceState | undefined {
    return this.namespaces.get(place)?.get(namespace);
  }

  private keepNamespace(place: string, namespace: string, state: NamespaceState): void {
    let byName = this.namespaces.get(place);
    if (byName === undefined) this.namespaces.set(place, (byName = new Map()));
    if (!byName.has(namespace)) this.namespaceCount += 1;
    byName.set(namespace, state);
  }

  recordAlerts(alerts: readonly Alert[]): Promise<Alert[]> {
    return this.port.recordAlerts(alerts);
  }

  parkUnplaced(events: readonly IdentityEvent[]): Promise<void> {
    return this.port.parkUnplaced(events);
  }
}

const pairKey = (roleArn: string, namespace: string) => `${roleArn}|${namespace}`;
const namespaceKey = (place: string, namespace: string) => `${place}|${namespace}`;

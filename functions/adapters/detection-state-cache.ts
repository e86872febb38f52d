import type { Alert } from '../core/alert';
import { placeOf, type DetectionNeeds, type DetectionState, type NamespaceState } from '../core/detections';
import type { DetectionPort } from '../core/ingest';
import type { IdentityEvent } from '../core/identity-event';
import { placeNamespaceKeys } from '../core/keys';
import type { Inventory } from '../core/inventory';

/** Entries kept before the cache starts over (about 200 bytes each): memory stays flat whatever the fleet. */
const DEFAULT_MAX_ENTRIES = 250_000;

/**
 * What the detections remember of namespaces, kept in memory across the batches of one run by the
 * only writer of the store, so a namespace's state is read once per run instead of once per batch
 * (at fleet scale every batch touches thousands of namespaces, and the store finds a namespace's
 * state by reading its scope's service accounts).
 *
 * Exact: an entry starts as what the store held before a batch, and every batch's events are then
 * folded into it (`observe`) the way the store merges them — first Pod Identity as a minimum, last
 * IRSA as a maximum. Those merges are idempotent, so folding a replayed event, already in what was
 * read, changes nothing. Spike counters are sums (a replay would count twice): they are read from
 * the store every batch, like node roles' clusters. So are roles and the namespaces that used them:
 * one item each (ROLE#…), which the only writer's store holds in its stage once met and answers from
 * memory; kept here as well, they were ~9 MB more at 40,000 namespaces.
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

  constructor(
    private readonly port: DetectionPort,
    private readonly maxEntries = DEFAULT_MAX_ENTRIES,
  ) {}

  get size(): number {
    return this.namespaceCount;
  }

  async detectionState(needs: DetectionNeeds, inventory: Inventory): Promise<DetectionState> {
    // Bounded: past the cap it starts over, and what a batch needs is read again.
    if (this.size > this.maxEntries) this.clear();
    const missing: DetectionNeeds = { ...needs, namespaces: needs.namespaces.filter((n) => this.namespaceState(n.place, n.namespace) === undefined) };
    const read = await this.port.detectionState(missing, inventory);
    for (const n of missing.namespaces) {
      const stored = read.namespaces.get(placeNamespaceKeys.of(n.place, n.namespace));
      this.keepNamespace(n.place, n.namespace, { ...(stored ?? { firstPodIdentity: null, lastIrsa: null }) });
    }

    const state: DetectionState = { ...read, namespaces: new Map() };
    for (const n of needs.namespaces) {
      const known = this.namespaceState(n.place, n.namespace);
      if (known) state.namespaces.set(placeNamespaceKeys.of(n.place, n.namespace), { ...known });
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


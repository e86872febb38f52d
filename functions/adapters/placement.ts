import type { Alert } from '../core/alert';
import { detect, detectionNeeds, PLACEMENT_DETECTIONS } from '../core/detections';
import type { Policy } from '../core/policy';
import type { DynamoEvidenceStore } from './dynamo-evidence-store';

/**
 * Runs after the inventory changes (import, sync, the scheduled job): IRSA events parked while
 * their issuer mapped to no cluster go through the inventory-dependent detections now that it
 * does, and are then dropped. Their evidence was stored when they were read (readiness places it
 * at read time), so only the alerts were waiting: the same ids a read with the inventory first
 * would have raised, recorded once.
 */
export async function placeParked(store: DynamoEvidenceStore, policy: Policy, now: Date): Promise<{ placed: number; alerts: Alert[] }> {
  const inventory = await store.loadInventory();
  const alerts: Alert[] = [];
  let placed = 0;
  for (const cluster of inventory.clusters) {
    if (!cluster.oidcIssuer) continue;
    const parked = await store.unplacedEvents(cluster.oidcIssuer);
    if (parked.length === 0) continue;
    const events = parked.map((p) => p.event);
    const state = await store.detectionState(detectionNeeds(events, inventory, policy), inventory);
    // Every IRSA of this issuer is among the parked events: the fold rebuilds each namespace's
    // last IRSA from them in time order, as a chronological read would have; Pod Identity, always
    // placed by its session tags, is known from the store.
    for (const [key, ns] of state.namespaces) state.namespaces.set(key, { firstPodIdentity: ns.firstPodIdentity, lastIrsa: null });
    alerts.push(...(await store.recordAlerts(detect(events, state, policy, now, PLACEMENT_DETECTIONS))));
    await store.dropUnplaced(cluster.oidcIssuer, parked.map((p) => p.sk));
    placed += events.length;
  }
  return { placed, alerts };
}

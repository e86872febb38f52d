import type { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import type { EvidenceItem } from '../../functions/core/evidence';

/**
 * Every evidence item of a store as readiness reads it (a snapshot, namespace days included),
 * without what depends on the writes that made it (the lock version, batch tags), in key order:
 * two stores that counted the same events compare equal.
 */
export async function storedEvidence(store: DynamoEvidenceStore): Promise<EvidenceItem[]> {
  const { items } = await store.snapshot({ fromDay: '2000-01-01', namespaceDays: true });
  return items.map(({ version: _v, batches: _b, ...rest }) => rest as EvidenceItem).sort((a, b) => `${a.pk} ${a.sk}`.localeCompare(`${b.pk} ${b.sk}`));
}

import { assessReadiness, type ReadinessReport } from '../core/readiness';
import type { DynamoEvidenceStore } from './dynamo-evidence-store';

/** Reads what the verdicts need (daily counts only for an as-of in the past) and judges. */
export async function readinessReport(
  store: DynamoEvidenceStore,
  options: { asOf: Date; soakDays: number; activeHours: number; cluster?: string; namespace?: string },
): Promise<ReadinessReport> {
  const fromDay = new Date(options.asOf.getTime() - options.soakDays * 86_400_000).toISOString().slice(0, 10);
  let snapshot = await store.snapshot({ fromDay, namespaceDays: false });
  const latest = snapshot.items.reduce((m, i) => {
    const t = i['irsaLastAttempt'] ?? i['piLastOk'];
    return typeof t === 'string' && t > m ? t : m;
  }, '');
  if (latest !== '' && Date.parse(latest) > options.asOf.getTime()) {
    snapshot = await store.snapshot({ fromDay, namespaceDays: true });
  }
  return assessReadiness(snapshot, options);
}

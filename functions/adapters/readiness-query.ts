import { coveredThrough, placeCoverage } from '../core/coverage';
import { assessReadiness, type ReadinessReport } from '../core/readiness';
import type { DynamoEvidenceStore } from './dynamo-evidence-store';

/** Reads what the verdicts need (daily counts only for an as-of in the past) and judges. */
export async function readinessReport(
  store: DynamoEvidenceStore,
  options: { asOf: Date; soakDays: number; activeHours: number; cluster?: string; namespace?: string; liveGapHours?: number },
): Promise<ReadinessReport> {
  const fromDay = new Date(options.asOf.getTime() - options.soakDays * 86_400_000).toISOString().slice(0, 10);
  let snapshot = await store.snapshot({ fromDay, namespaceDays: false });
  const latest = snapshot.items.reduce((m, i) => {
    const t = i['irsaLastAttempt'] ?? i['piLastOk'];
    return typeof t === 'string' && t > m ? t : m;
  }, '');
  // Verdicts are judged where the coverage ends when it ends before the as-of: evidence after that
  // time needs the daily counts too, to be placed before or after it.
  const covered = [...placeCoverage(snapshot.coverage).values()].map((p) => coveredThrough(p, options.asOf.getTime()) ?? 0);
  const judgedFrom = Math.min(options.asOf.getTime(), ...covered);
  if (latest !== '' && Date.parse(latest) > judgedFrom) {
    snapshot = await store.snapshot({ fromDay, namespaceDays: true });
  }
  return assessReadiness(snapshot, options);
}

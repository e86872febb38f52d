import { coveredThrough, placeCoverage } from '../core/coverage';
import { assessReadiness, type EvidenceSnapshot, type ReadinessReport } from '../core/readiness';
import { snapshotOf, type DynamoEvidenceStore } from './dynamo-evidence-store';

export interface ReadinessQuery {
  asOf: Date;
  soakDays: number;
  activeHours: number;
  cluster?: string;
  namespace?: string;
  liveGapHours?: number;
}

/** Reads what the verdicts need (daily counts only for an as-of in the past) and judges. */
export async function readinessReport(store: DynamoEvidenceStore, options: ReadinessQuery): Promise<ReadinessReport> {
  return judgeVerdicts(await readVerdictInputs(store, options, null), options);
}

/**
 * Everything the verdicts are judged on, and with `evidenceFromDay` the snapshot a report draws
 * beside them (every namespace's daily counts from that day), from one read of the store: at
 * thousands of namespaces reading is most of the time, and it was read up to three times. Once it
 * is read, the store can be closed before judging (`judgeVerdicts`): the memory its thread grew
 * serving the reads goes back before the judging's own peak (at 40,000 namespaces readiness peaked
 * at 538–590 MB with the store open, 464–504 MB closed).
 */
export interface VerdictInputs {
  snapshot: EvidenceSnapshot;
  /** With `evidenceFromDay`: every namespace's daily counts from that day, for a report. */
  evidence: EvidenceSnapshot | null;
}

export async function readVerdictInputs(store: DynamoEvidenceStore, options: ReadinessQuery, evidenceFromDay: string | null): Promise<VerdictInputs> {
  const fromDay = new Date(options.asOf.getTime() - options.soakDays * 86_400_000).toISOString().slice(0, 10);
  const reads = await store.snapshotReads(evidenceFromDay !== null && evidenceFromDay < fromDay ? evidenceFromDay : fromDay);
  let snapshot = snapshotOf(reads, { fromDay, namespaceDays: false });
  const latest = snapshot.items.reduce((m, i) => {
    const t = i['irsaLastAttempt'] ?? i['piLastOk'];
    return typeof t === 'string' && t > m ? t : m;
  }, '');
  // Verdicts are judged where the coverage ends when it ends before the as-of: evidence after that
  // time needs the daily counts too, to be placed before or after it.
  const covered = [...placeCoverage(snapshot.coverage).values()].map((p) => coveredThrough(p, options.asOf.getTime()) ?? 0);
  const judgedFrom = Math.min(options.asOf.getTime(), ...covered);
  const needsDays = latest !== '' && Date.parse(latest) > judgedFrom;
  if (needsDays || evidenceFromDay !== null) await store.readNamespaceDays(reads);
  if (needsDays) snapshot = snapshotOf(reads, { fromDay, namespaceDays: true });
  return { snapshot, evidence: evidenceFromDay === null ? null : snapshotOf(reads, { fromDay: evidenceFromDay, namespaceDays: true }) };
}

/**
 * The verdicts on what `readVerdictInputs` read: no store. Judged once: the snapshot's items are
 * let go of as they are judged (`consume`), so that a fleet's items and its verdicts are not held
 * at once.
 */
export function judgeVerdicts(inputs: VerdictInputs, options: ReadinessQuery): ReadinessReport {
  return assessReadiness(inputs.snapshot, { ...options, consume: true });
}

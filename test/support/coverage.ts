import { CoverageAccumulator, type CoverageDay } from '../../functions/core/coverage';

const HOUR = 3_600_000;

/**
 * Coverage as a trail's log files would give it: a record in every hour of `[from, to]` for each
 * account/region. Verdict tests that are not about coverage use it so READY and SOAKING stand.
 */
export function logCoverage(places: readonly { account: string; region: string }[], from: number, to: number): CoverageDay[] {
  const coverage = new CoverageAccumulator();
  for (const { account, region } of places) {
    for (let t = Math.floor(from / HOUR) * HOUR; t <= to; t += HOUR) coverage.addFileRecord(account, region, new Date(t).toISOString());
  }
  return coverage.days();
}

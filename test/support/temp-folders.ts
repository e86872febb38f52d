import { readdirSync, rmSync } from 'node:fs';
import type { Reporter } from 'vitest/node';

/** The run's sample fleets (test/support/sample-fleets.ts), kept in its temp folder for the whole run. */
export const SAMPLE_FLEET_CACHE = 'sample-fleets';

/**
 * Fails the run when a test left something in the run's temp folder, naming it: a test that makes
 * a temp folder removes it (after a failure too). The folder itself goes either way.
 */
export default class TempFolderCheck implements Reporter {
  onTestRunEnd(): void {
    const root = process.env['CUTOVER_WATCH_TEST_TMP'];
    if (!root) return;
    let left: string[] = [];
    try {
      left = readdirSync(root);
    } catch {
      return;
    }
    // tsx keeps its compile cache in the temp folder (tsx-<uid>) when the CDK app is run through it.
    left = left.filter((name) => !/^tsx-\d+$/.test(name) && name !== SAMPLE_FLEET_CACHE);
    rmSync(root, { recursive: true, force: true });
    if (left.length > 0) {
      process.stderr.write(`\nTests left ${left.length} temp entr${left.length === 1 ? 'y' : 'ies'} behind (a test that makes a temp folder must remove it): ${left.sort().join(', ')}\n`);
      process.exitCode = 1;
    }
  }
}

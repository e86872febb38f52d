import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Reporter } from 'vitest/node';

/**
 * Every test's temp folder goes under one folder of the run: `TMPDIR` points there for the test
 * workers and every process they spawn (the CLI, Chromium), so `os.tmpdir()` and `mkdtemp` land in it.
 * Set once per run (the config is loaded again by workers; they inherit the variable).
 */
export function testTempRoot(): string {
  const existing = process.env['CUTOVER_WATCH_TEST_TMP'];
  if (existing) return existing;
  const root = mkdtempSync(path.join(os.tmpdir(), 'cutover-watch-tests-'));
  process.env['CUTOVER_WATCH_TEST_TMP'] = root;
  return root;
}

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
    rmSync(root, { recursive: true, force: true });
    if (left.length > 0) {
      process.stderr.write(`\nTests left ${left.length} temp entr${left.length === 1 ? 'y' : 'ies'} behind (a test that makes a temp folder must remove it): ${left.sort().join(', ')}\n`);
      process.exitCode = 1;
    }
  }
}

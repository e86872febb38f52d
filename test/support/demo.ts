import { execFile } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { sharedDemoRun, type DemoRun } from './shared-demo.mjs';

/**
 * `cutover-watch demo` (what `npm start` runs), spawned once per test run and shared: started in
 * the run's shared folder (test/global-setup.ts) as soon as the run knows a file needs it (see
 * test/support/shared-demo.mjs), the files wait for it, and each gets its own copy of the output,
 * store included, to run commands against. The demo's exit code, stdout and stderr are kept for
 * the tests about the demo itself.
 */
export { BIN } from './spawn-cli';
export { DEMO_END, type DemoRun } from './shared-demo.mjs';
/** Where the demo puts its output, relative to its working directory (the default --dir). */
export const DEMO_DIR = path.join('.cutover-watch', 'demo');

/** What the demo writes beside its store (db, markers, alerts.jsonl): a test may leave them out of its copy. */
export type DemoPart = 'logs' | 'late' | 'inventory' | 'reports';

/** The demo's run, with its output copied to `work/.cutover-watch/demo`, but for the parts `without` names. */
export async function demoInto(work: string, options: { without?: readonly DemoPart[] } = {}): Promise<DemoRun> {
  const run = await sharedDemoRun(inject('sharedFixtures'));
  await copyDemo(path.join(inject('sharedFixtures'), 'demo', DEMO_DIR), path.join(work, DEMO_DIR), options.without ?? []);
  return run;
}

/**
 * The shared demo run's own output folder (after `demoInto`), for tests that only read what lies
 * beside its store (logs, late, inventory): it spares copying the logs' 2,800 files. Never write there.
 */
export const sharedDemoOutput = (): string => path.join(inject('sharedFixtures'), 'demo', DEMO_DIR);

/** The store in a demo folder (db, markers, alerts.jsonl), without the logs and files beside it. */
export const copyDemoStore = (from: string, to: string) => copyDemo(from, to, ['logs', 'late', 'inventory', 'reports']);

async function copyDemo(from: string, to: string, without: readonly DemoPart[]): Promise<void> {
  await mkdir(to, { recursive: true });
  const entries = (await readdir(from)).filter((e) => !(without as readonly string[]).includes(e));
  // cp(1): node's fs.cp takes four times as long over the logs' 2,800 files
  if (entries.length > 0) await promisify(execFile)('cp', ['-R', ...entries.map((e) => path.join(from, e)), to]);
}

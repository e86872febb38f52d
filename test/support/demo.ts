import { spawnCli } from './spawn-cli';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';

/**
 * `cutover-watch demo` (what `npm start` runs), spawned once per test run and shared: the first
 * file that asks runs it into the run's shared folder (test/global-setup.ts), the others wait for
 * it, and each gets its own copy of the output, store included, to run commands against. The
 * demo's exit code, stdout and stderr are kept for the tests about the demo itself.
 */
export { BIN } from './spawn-cli';
export const DEMO_END = '2026-11-20T00:00:00Z';
/** Where the demo puts its output, relative to its working directory (the default --dir). */
export const DEMO_DIR = path.join('.cutover-watch', 'demo');

export interface DemoRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** What the demo writes beside its store (db, markers, alerts.jsonl): a test may leave them out of its copy. */
export type DemoPart = 'logs' | 'late' | 'inventory' | 'reports';

/** The demo's run, with its output copied to `work/.cutover-watch/demo`, but for the parts `without` names. */
export async function demoInto(work: string, options: { without?: readonly DemoPart[] } = {}): Promise<DemoRun> {
  const shared = path.join(inject('sharedFixtures'), 'demo');
  const done = path.join(shared, 'run.json');
  let claimed = true;
  try {
    await mkdir(shared);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    claimed = false;
  }
  if (claimed) {
    const run = await spawnDemo(shared);
    // written last, by rename: a waiting file never reads half of it
    await writeFile(`${done}.tmp`, JSON.stringify(run));
    await rename(`${done}.tmp`, done);
  }
  const run = await waitFor(done);
  await copyDemo(path.join(shared, DEMO_DIR), path.join(work, DEMO_DIR), options.without ?? []);
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

function spawnDemo(cwd: string): Promise<DemoRun> {
  return spawnCli(['demo', '--end', DEMO_END], { cwd });
}

async function waitFor(file: string): Promise<DemoRun> {
  for (;;) {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as DemoRun;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

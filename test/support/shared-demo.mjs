import { spawn } from 'node:child_process';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The run's one `cutover-watch demo` (see test/support/demo.ts), started by whichever asks first:
 * the sequencer (vitest.config.ts), as soon as it knows a test file of the run will need it, so the
 * demo runs beside the first files instead of holding up the files that wait for it; else the
 * first such file. Node built-ins only, and JavaScript (types in shared-demo.d.mts): vitest.config.ts
 * loads it, and a config's imports are to be plain modules with their extension.
 */
export const DEMO_END = '2026-11-20T00:00:00Z';
const BIN = fileURLToPath(new URL('../../bin/cutover-watch.mjs', import.meta.url));

const demoFolder = (shared) => path.join(shared, 'demo');
/** The demo's exit code and output, written last (by rename: a waiting file never reads half of it). */
const runFile = (shared) => path.join(demoFolder(shared), 'run.json');
/** The pid of the demo while it runs, for the run's end to stop a demo no test waited for. */
const pidFile = (shared) => path.join(demoFolder(shared), 'demo.pid');

/**
 * Starts the demo in `<shared>/demo` unless someone already has; returns at once. `env` is the
 * environment of the test workers (the demo's temp folders go where theirs do).
 */
export async function startSharedDemo(shared, env) {
  try {
    await mkdir(demoFolder(shared));
  } catch (e) {
    if (e.code === 'EEXIST') return;
    throw e;
  }
  // `CI=true` as in a pipeline: no progress bar, no colour (what spawnCli does too)
  const child = spawn(process.execPath, [BIN, 'demo', '--end', DEMO_END], { cwd: demoFolder(shared), env: { ...env, CI: 'true' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d.toString()));
  child.stderr.on('data', (d) => (stderr += d.toString()));
  child.stdin.end('');
  await writeFile(pidFile(shared), String(child.pid));
  child.on('error', (e) => finish({ code: null, stdout, stderr: `${stderr}cannot start the demo: ${e.message}\n` }));
  child.on('close', (code) => finish({ code, stdout, stderr }));
  let finished = false;
  function finish(run) {
    if (finished) return;
    finished = true;
    const file = runFile(shared);
    writeFile(`${file}.tmp`, JSON.stringify(run))
      .then(() => rename(`${file}.tmp`, file))
      .then(() => rm(pidFile(shared), { force: true }))
      // a demo stopped at the run's end (stopSharedDemo) may close after its folder went
      .catch((e) => {
        if (e.code !== 'ENOENT') throw e;
      });
  }
}

/** The demo's run, once it has finished (started here if nobody has). */
export async function sharedDemoRun(shared, env = process.env) {
  await startSharedDemo(shared, env);
  for (;;) {
    try {
      return JSON.parse(await readFile(runFile(shared), 'utf8'));
    } catch (e) {
      if (e.code !== 'ENOENT') throw e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * At the run's end: a demo still running (the files that needed it were filtered out, or the run
 * was cut short) is stopped, so its folder can go. Its pid is its own: `startSharedDemo` spawned it.
 */
export async function stopSharedDemo(shared) {
  const pid = Number.parseInt(await readFile(pidFile(shared), 'utf8').catch(() => ''), 10);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid);
  } catch {
    return; // it finished meanwhile
  }
  // it is gone when its pid no longer answers; its `close` then writes run.json, which goes with the folder
  while (isAlive(pid)) await new Promise((r) => setTimeout(r, 50));
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

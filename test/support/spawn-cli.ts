import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Io } from '../../functions/local/cli/io';
import { startEmbeddedStore } from '../../functions/local/embedded-store';
// Loaded with the test file, not by its first in-process command: on a loaded machine loading the
// CLI's modules (transformed on first use) took most of a 30 s test timeout, and a file that only
// spawns pays little for it (its tests load the same SDK and store modules).
import { run } from '../../functions/local/cli/main';

/** How long a spawned CLI may run: under vitest's 30 s test timeout (vitest.config.ts). */
export const SPAWNED_CLI_TIMEOUT_MS = 25_000;

/** The `cutover-watch` command as a user runs it (it rebuilds the bundle when sources are newer). */
export const BIN = fileURLToPath(new URL('../../bin/cutover-watch.mjs', import.meta.url));

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The built CLI in a child process, for what only a process shows: exit codes of the binary,
 * signals, locks between processes. `CI=true` as in a pipeline: no progress bar, no pager, no colour.
 */
export function spawnCli(
  args: readonly string[],
  options: { cwd: string; input?: string; env?: Record<string, string>; /** Runs the CLI through this command (e.g. setpriv as another user). */ via?: readonly string[] },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const [command, ...rest] = [...(options.via ?? []), process.execPath, BIN, ...args];
    // Killed short of the test's own timeout (30 s): a test that times out leaves no CLI running
    // after the run (three hung `analyze` children of a failing run were still alive 42 minutes on).
    const child = spawn(command!, rest, { cwd: options.cwd, env: { ...process.env, CI: 'true', ...options.env }, timeout: SPAWNED_CLI_TIMEOUT_MS, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/**
 * The same CLI in this process (`run(argv, io)`, what the bin runs), for what is about the answers:
 * it spares a node start, a bundle load and an SDK load per command. Input paths resolve against
 * the process's working directory, as a person's shell would: it is `cwd` for the run, and the
 * environment is `process.env` with `env` over it (unset where `undefined`), both restored after.
 */
export async function runInProcess(
  args: readonly string[],
  options: { cwd: string; input?: string; env?: Record<string, string | undefined> },
): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const stdin = new PassThrough();
  stdin.end(options.input ?? '');
  const io: Io = { out: (l) => void out.push(l), err: (l) => void err.push(l), stdin, progressStream: new PassThrough(), interactive: false, cwd: options.cwd, now: () => new Date() };
  const savedCwd = process.cwd();
  const savedEnv = Object.fromEntries(Object.keys(options.env ?? {}).map((k) => [k, process.env[k]]));
  const setEnv = (vars: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(vars)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  process.chdir(options.cwd);
  setEnv(options.env ?? {});
  try {
    const code = await run(args, io);
    return { code, stdout: out.map((l) => `${l}\n`).join(''), stderr: err.map((l) => `${l}\n`).join('') };
  } finally {
    setEnv(savedEnv);
    process.chdir(savedCwd);
  }
}

/**
 * The store in `dir` held open by this process, as a running analyze holds one: commands run in
 * process meanwhile read through its server instead of each starting dynalite (a worker thread and
 * LevelDB opened: about 0.3 s of CPU, most of what a read of the demo store costs). A command that
 * writes is refused the lock before it touches anything (`refusedTheLock`).
 */
export async function holdStore(dir: string): Promise<{ letGo(): Promise<void> }> {
  const store = await startEmbeddedStore(dir);
  return { letGo: () => store.close() };
}

/** Whether a command run in process was refused a store this process holds (`holdStore`). */
export const refusedTheLock = (r: Run): boolean => r.stderr.includes(`is in use by another cutover-watch process (pid ${process.pid})`);

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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
export function spawnCli(args: readonly string[], options: { cwd: string; input?: string; env?: Record<string, string> }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: { ...process.env, CI: 'true', ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

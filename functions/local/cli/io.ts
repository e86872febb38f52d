import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/**
 * Where the CLI speaks. Commands never touch `console` or `process` directly, so tests run
 * `run(argv, io)` in-process with a recording Io and assert on what a person would see.
 */
export interface Io {
  out(line: string): void;
  /**
   * While what `out` wrote waits to leave the process (a pipe whose reader is slower), resolves
   * once it has; undefined when nothing waits. A long document written a piece at a time asks after
   * each piece, so that it is never all queued in memory.
   */
  drained?(): Promise<void> | undefined;
  err(line: string): void;
  /** Standard input, for `-` arguments. */
  stdin: Readable;
  /** The stream progress bars draw on; only used when `interactive`. */
  progressStream: Writable;
  /** A person is watching: draw progress bars. */
  interactive: boolean;
  cwd: string;
  now(): Date;
  /**
   * Set when stdout is a terminal: its size, for tables fitted to its width and the pager. A pipe,
   * a file or a test leaves it out: no colour, no pager, no truncation.
   */
  terminal?: { columns: number; rows: number };
  /** The environment (NO_COLOR, PAGER). @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Shows a long text through the user's pager; resolves false when no pager could be started. */
  page?(text: string, pager: string): Promise<boolean>;
  /** The command as the user typed it, for the commands messages suggest. @default 'cutover-watch' */
  invocation?: string;
}

/** The command to suggest in messages: `cutover-watch analyze PATH`, or `npx cutover-watch …` under npx. */
export function command(io: Pick<Io, 'invocation'>, args: string): string {
  return `${io.invocation ?? 'cutover-watch'} ${args}`;
}

/**
 * How the user started us: npx and npm scripts (npm_command is set by npm for the process it runs)
 * put the bin on a PATH the shell does not have, so the commands we suggest need `npx` there.
 */
export function invocationOf(env: NodeJS.ProcessEnv): string {
  return env['npm_command'] === 'exec' || env['npm_command'] === 'run-script' || env['npm_command'] === 'start' ? 'npx cutover-watch' : 'cutover-watch';
}

/** `cutover-watch readiness | head` closes the pipe early: that is the reader's choice, not an error. */
function quietOnClosedPipe(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

export const processIo = (): Io => (quietOnClosedPipe(), {
  out: (line) => process.stdout.write(`${line}\n`),
  drained: () => (process.stdout.writableNeedDrain ? drainOf(process.stdout) : undefined),
  err: (line) => process.stderr.write(`${line}\n`),
  stdin: process.stdin,
  progressStream: process.stderr,
  interactive: Boolean(process.stderr.isTTY) && !process.env['CI'],
  cwd: process.cwd(),
  now: () => new Date(),
  // COLUMNS and LINES, when set, win: what `stty` and shells export, and what a user sets to try a width.
  ...(process.stdout.isTTY
    ? { terminal: { columns: Number(process.env['COLUMNS']) || process.stdout.columns || 80, rows: Number(process.env['LINES']) || process.stdout.rows || 24 } }
    : {}),
  env: process.env,
  page: pageThrough,
  invocation: invocationOf(process.env),
});

/** Resolves when `stream` has written what it queued, or can write no more (closed, failed). */
function drainOf(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done).off('close', done).off('error', done);
      resolve();
    };
    stream.on('drain', done).on('close', done).on('error', done);
  });
}

/**
 * Writes `text` to the pager's stdin (a shell command line, as git runs $PAGER) and waits for it
 * to exit. A pager that cannot be started (not installed) leaves the text to be printed as is.
 */
function pageThrough(text: string, pager: string): Promise<boolean> {
  return new Promise((resolve) => {
    // LESS=FRX as git sets it: quit at once on one screen, keep colours, leave the text on the screen.
    const child = spawn(pager, { shell: true, stdio: ['pipe', 'inherit', 'inherit'], env: { LESS: 'FRX', ...process.env } });
    let started = false;
    child.on('spawn', () => (started = true));
    child.on('error', () => resolve(false));
    // quitting the pager before the end closes the pipe: that is the reader's choice
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => resolve(started && code !== 127));
    child.stdin.end(text);
  });
}

/** A bad argument, an unreadable input or a missing table: one line for the user, exit code 2. */
export class UsageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UsageError';
  }
}

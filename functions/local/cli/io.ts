import type { Readable, Writable } from 'node:stream';

/**
 * Where the CLI speaks. Commands never touch `console` or `process` directly, so tests run
 * `run(argv, io)` in-process with a recording Io and assert on what a person would see.
 */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** Standard input, for `-` arguments. */
  stdin: Readable;
  /** The stream progress bars draw on; only used when `interactive`. */
  progressStream: Writable;
  /** A person is watching: draw progress bars. */
  interactive: boolean;
  cwd: string;
  now(): Date;
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
  err: (line) => process.stderr.write(`${line}\n`),
  stdin: process.stdin,
  progressStream: process.stderr,
  interactive: Boolean(process.stderr.isTTY) && !process.env['CI'],
  cwd: process.cwd(),
  now: () => new Date(),
});

/** A bad argument, an unreadable input or a missing table: one line for the user, exit code 2. */
export class UsageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UsageError';
  }
}

import { existsSync } from 'node:fs';

/**
 * Deterministic crash and pause points for the crash-consistency and concurrency tests, from one
 * environment variable read here and nowhere else:
 *
 *   CUTOVER_WATCH_FAULT=<step>:<n>
 *
 * makes the process kill itself with SIGKILL the n-th time it reaches `<step>` (one of
 * FAULT_STEPS), exactly as `kill -9` would at that moment (with `analyze --batch-size`, the n-th
 * batch);
 *
 *   CUTOVER_WATCH_FAULT=<step>:<n>:pause:<file>
 *
 * holds the main thread there instead, after saying so on stderr, until `<file>` exists: a writer
 * caught mid-batch, while its store's server (a worker thread) keeps answering readers. Unset, a
 * fault point costs a compare.
 */
export const FAULT_STEPS = [
  /** guards read (and, with several writers, ids claimed); nothing committed */
  'after-claim',
  /** a batch's new alerts are recorded (and owed to the CLI's sinks), not yet handed on for delivery */
  'after-alerts',
  /** the batch's journal is written: the commit point */
  'after-journal',
  /** about half of the batch's items are written */
  'mid-apply',
  /** every item is written, the guards are not */
  'after-apply',
  /** the guards are written, the journal is not deleted yet */
  'after-guards',
] as const;
export type FaultStep = (typeof FAULT_STEPS)[number];

interface FaultSpec {
  step: FaultStep;
  n: number;
  /** Hold until this file exists instead of dying. */
  resumeFile: string | null;
}

const spec = parse(process.env['CUTOVER_WATCH_FAULT']);
let reached = 0;

export function faultPoint(step: FaultStep): void {
  if (spec === null || spec.step !== step) return;
  reached += 1;
  if (reached !== spec.n) return;
  if (spec.resumeFile === null) process.kill(process.pid, 'SIGKILL');
  else pauseUntil(spec.resumeFile, step);
}

/** Blocks this thread (not the process: worker threads run on) until `file` exists. */
function pauseUntil(file: string, step: FaultStep): void {
  process.stderr.write(`cutover-watch: paused at ${step} (CUTOVER_WATCH_FAULT) until ${file} exists\n`);
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  while (!existsSync(file)) Atomics.wait(sleeper, 0, 0, 20);
}

function parse(value: string | undefined): FaultSpec | null {
  if (value === undefined || value === '') return null;
  const match = /^([a-z-]+):(\d+)(?::pause:(.+))?$/.exec(value);
  if (!match || !(FAULT_STEPS as readonly string[]).includes(match[1]!) || Number(match[2]) < 1) {
    throw new Error(`CUTOVER_WATCH_FAULT: expected <step>:<n> or <step>:<n>:pause:<file> with step one of ${FAULT_STEPS.join(', ')} and n ≥ 1, got ${value}`);
  }
  return { step: match[1] as FaultStep, n: Number(match[2]), resumeFile: match[3] ?? null };
}

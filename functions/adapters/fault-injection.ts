/**
 * Deterministic crash points for the crash-consistency tests, from one environment variable read
 * here and nowhere else:
 *
 *   CUTOVER_WATCH_FAULT=<step>:<n>
 *
 * makes the process kill itself with SIGKILL the n-th time it reaches `<step>` (one of
 * FAULT_STEPS), exactly as `kill -9` would at that moment (with `analyze --batch-size`, the n-th
 * batch). Unset, a fault point costs a compare.
 */
export const FAULT_STEPS = [
  /** guards read (and, with several writers, ids claimed); nothing committed */
  'after-claim',
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

const spec = parse(process.env['CUTOVER_WATCH_FAULT']);
let reached = 0;

export function faultPoint(step: FaultStep): void {
  if (spec === null || spec.step !== step) return;
  reached += 1;
  if (reached === spec.n) process.kill(process.pid, 'SIGKILL');
}

function parse(value: string | undefined): { step: FaultStep; n: number } | null {
  if (value === undefined || value === '') return null;
  const match = /^([a-z-]+):(\d+)$/.exec(value);
  if (!match || !(FAULT_STEPS as readonly string[]).includes(match[1]!) || Number(match[2]) < 1) {
    throw new Error(`CUTOVER_WATCH_FAULT: expected <step>:<n> with step one of ${FAULT_STEPS.join(', ')} and n ≥ 1, got ${value}`);
  }
  return { step: match[1] as FaultStep, n: Number(match[2]) };
}

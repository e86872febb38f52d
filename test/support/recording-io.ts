import { PassThrough } from 'node:stream';
import type { Io } from '../../functions/local/cli/io';

/**
 * An Io for running one CLI command in process, as main.ts wires it: lines kept in `out` and
 * `err`, no terminal (no progress bars, no pager), the given working folder and clock.
 */
export function recordingIo(cwd: string, now: () => Date): { io: Io; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (l) => void out.push(l),
    err: (l) => void err.push(l),
    stdin: new PassThrough(),
    progressStream: new PassThrough(),
    interactive: false,
    cwd,
    now,
  };
  return { io, out, err };
}

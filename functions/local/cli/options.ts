import { InvalidArgumentError } from 'commander';
import { globProblem } from '../../core/glob';

/** Commander parsers: a bad value stops the command before anything runs, naming the option. */

/**
 * Times the CLI accepts: CloudTrail started in 2013 and a date far outside this range is a typo
 * (`99999-01-01` would overflow the date arithmetic downstream into "Invalid time value").
 */
export const EARLIEST_TIME = Date.UTC(2000, 0, 1);
export const LATEST_TIME = Date.UTC(2100, 0, 1);
/** Ten years of soak, a year of active window: beyond that a verdict means nothing. */
export const MAX_SOAK_DAYS = 3650;
export const MAX_ACTIVE_HOURS = 8760;

/** `7d`, `-1d`, `2h`, `30m`, `1w`: that long before now. A sign, if any, is `-` (the past). */
const RELATIVE_TIME = /^-?(\d+(?:\.\d+)?)(m|h|d|w)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;

/**
 * A time on the command line: ISO 8601 (`2026-11-20`, `2026-11-20T12:00:00Z`), `now`, or a span
 * before `now` (`7d`, `-1d`, `2h`, `30m`, `1w`), so `--since 7d` and `--as-of -1d` read as said.
 */
export function parseTime(value: string, now: Date = new Date()): Date {
  const trimmed = value.trim();
  if (trimmed === 'now') return new Date(now.getTime());
  const relative = RELATIVE_TIME.exec(trimmed);
  let t: number;
  if (relative) {
    t = now.getTime() - Number(relative[1]) * UNIT_MS[relative[2] as keyof typeof UNIT_MS];
  } else {
    // A bare date means the start of that day in UTC, as CloudTrail times are UTC.
    const text = /^\d{4}-\d{2}-\d{2}$/.test(trimmed) ? `${trimmed}T00:00:00Z` : trimmed;
    t = Date.parse(text);
    if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}/.test(trimmed)) {
      throw new InvalidArgumentError(`expected an ISO 8601 time such as 2026-11-20 or 2026-11-20T12:00:00Z, or a span before now such as 7d, -1d, 2h or 30m, got ${JSON.stringify(value)}`);
    }
  }
  if (t < EARLIEST_TIME || t > LATEST_TIME) throw new InvalidArgumentError(`expected a time between 2000-01-01 and 2100-01-01, got ${JSON.stringify(value)}`);
  return new Date(t);
}

/** The parser for a time option, relative spans taken from the command's clock (`io.now`). */
export const timeArg = (now: () => Date) => (value: string): Date => parseTime(value, now());

export function positiveNumber(value: string): number {
  // Number('') and Number(' ') are 0, Number('0x10') is 16: only plain decimals are numbers here.
  const n = /^\s*(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got ${JSON.stringify(value)}`);
  return n;
}

export function positiveInteger(value: string): number {
  const n = positiveNumber(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected a whole number, got ${JSON.stringify(value)}`);
  return n;
}

/** A positive number of at most `max`: the parser for options whose larger values overflow dates. */
export function positiveUpTo(max: number, unit: string): (value: string) => number {
  return (value) => {
    const n = positiveNumber(value);
    if (n > max) throw new InvalidArgumentError(`expected at most ${max} ${unit}, got ${JSON.stringify(value)}`);
    return n;
  };
}

export const soakDays = positiveUpTo(MAX_SOAK_DAYS, 'days');
export const activeHours = positiveUpTo(MAX_ACTIVE_HOURS, 'hours');

/** One of a fixed list; anything else is a usage error naming the choices. */
export function oneOf<T extends string>(choices: readonly T[]): (value: string) => T {
  return (value) => {
    if (!(choices as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
    return value as T;
  };
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * `--node-role GLOB`, repeatable: each glob is checked as it is parsed, so a typo (`[`, `{a,b}`)
 * stops the command with a usage error naming the option before anything is read or stored,
 * instead of silently matching nothing.
 */
export function collectNodeRole(value: string, previous: string[] = []): string[] {
  const problem = globProblem(value);
  if (problem) throw new InvalidArgumentError(`expected a node role name or ARN glob such as '*NodeInstanceRole*' (only * and ? are wildcards): ${problem}`);
  return [...previous, value];
}

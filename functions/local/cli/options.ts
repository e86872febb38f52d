import { InvalidArgumentError } from 'commander';

/** Commander parsers: a bad value stops the command before anything runs, naming the option. */

export function parseTime(value: string): Date {
  // A bare date means the start of that day in UTC, as CloudTrail times are UTC.
  const text = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value;
  const t = Date.parse(text);
  if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}/.test(value)) {
    throw new InvalidArgumentError(`expected an ISO 8601 time such as 2026-11-20 or 2026-11-20T12:00:00Z, got ${JSON.stringify(value)}`);
  }
  return new Date(t);
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got ${JSON.stringify(value)}`);
  return n;
}

export function positiveInteger(value: string): number {
  const n = positiveNumber(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`expected a whole number, got ${JSON.stringify(value)}`);
  return n;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

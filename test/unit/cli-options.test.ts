import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { activeHours, oneOf, parseTime, positiveInteger, positiveNumber, soakDays } from '../../functions/local/cli/options';

describe('CLI argument parsers', () => {
  it.each([
    ['--soak-days 1e9', () => soakDays('1e9'), /expected at most 3650 days, got "1e9"/],
    ['--active-hours 8761', () => activeHours('8761'), /expected at most 8760 hours/],
    ['--as-of 99999-01-01', () => parseTime('99999-01-01'), /expected an ISO 8601 time .*, got "99999-01-01"/],
    ['--as-of 2200-01-01', () => parseTime('2200-01-01'), /expected a time between 2000-01-01 and 2100-01-01, got "2200-01-01"/],
    ['--as-of 1999-12-31', () => parseTime('1999-12-31'), /between 2000-01-01 and 2100-01-01/],
    ['--as-of last tuesday', () => parseTime('last tuesday'), /expected an ISO 8601 time/],
    ['an empty number', () => positiveNumber(''), /expected a positive number, got ""/],
    ['a hex number', () => positiveNumber('0x10'), /expected a positive number/],
    ['Infinity', () => positiveNumber('Infinity'), /expected a positive number/],
    ['an unsafe integer', () => positiveInteger('1e300'), /expected a whole number/],
    ['an unknown choice', () => oneOf(['a', 'b'])('c'), /expected one of a, b, got "c"/],
  ])('refuses %s with a usage error (exit 2)', (_what, parse, message) => {
    expect(parse).toThrow(InvalidArgumentError);
    expect(parse).toThrow(message);
  });

  it('accepts the values within range', () => {
    expect(soakDays('3650')).toBe(3650);
    expect(soakDays('0.5')).toBe(0.5);
    expect(activeHours('1e3')).toBe(1000);
    expect(parseTime('2026-11-20').toISOString()).toBe('2026-11-20T00:00:00.000Z');
    expect(parseTime('2100-01-01T00:00:00Z').toISOString()).toBe('2100-01-01T00:00:00.000Z');
    expect(positiveInteger('42')).toBe(42);
  });
});

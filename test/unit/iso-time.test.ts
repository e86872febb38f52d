import { describe, expect, it } from 'vitest';
import { isoTime } from '../../functions/core/iso-time';

describe('isoTime', () => {
  it('writes whole seconds as CloudTrail does and keeps milliseconds otherwise, whatever came before', () => {
    const times = [0, 1_500, 0, Date.parse('2026-11-01T00:00:00Z'), Date.parse('2026-11-01T00:00:00Z'), 1_500];
    expect(times.map(isoTime)).toEqual([
      '1970-01-01T00:00:00Z',
      '1970-01-01T00:00:01.500Z',
      '1970-01-01T00:00:00Z',
      '2026-11-01T00:00:00Z',
      '2026-11-01T00:00:00Z',
      '1970-01-01T00:00:01.500Z',
    ]);
  });
});

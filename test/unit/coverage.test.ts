import { describe, expect, it } from 'vitest';
import { CoverageAccumulator } from '../../functions/core/coverage';

// Coverage reads every record of a trail's log files before any is validated: what it takes from
// them must be a plausible account, region and hour, or a record could break the store write or
// prove hours that were never read.
describe('CoverageAccumulator', () => {
  const hours = (account: string | null, region: string | null, eventTime: string) => {
    const coverage = new CoverageAccumulator();
    coverage.addFileRecord(account, region, eventTime);
    coverage.addLiveEvent(account, region, eventTime);
    return coverage.days();
  };

  it('records the hour of a record of a real account and region', () => {
    expect(hours('111122223333', 'eu-west-1', '2026-11-19T23:59:59Z')).toEqual([
      { account: '111122223333', region: 'eu-west-1', day: '2026-11-19', fileHours: ['23'], liveHours: ['23'], slices: [] },
    ]);
    expect(hours('ACCOUNT_ID', 'us-gov-west-1', '2026-11-19T00:00:00Z')).toHaveLength(1);
  });

  it.each([
    ['no account', null, 'eu-west-1', '2026-11-19T10:00:00Z'],
    ['an account of 3,000 characters (past the sort key limit)', '9'.repeat(3000), 'eu-west-1', '2026-11-19T10:00:00Z'],
    ['an account with the key separator and an escape', '1111|x\u001b[2J', 'eu-west-1', '2026-11-19T10:00:00Z'],
    ['a region with a bidi override', '111122223333', 'eu-west-1\u202e', '2026-11-19T10:00:00Z'],
    ['a region of 40 characters', '111122223333', 'x'.repeat(40), '2026-11-19T10:00:00Z'],
    ['hour 47 (two days later)', '111122223333', 'eu-west-1', '2026-11-19T47:00:00Z'],
    ['month 13', '111122223333', 'eu-west-1', '2026-13-01T10:00:00Z'],
    ['day 00', '111122223333', 'eu-west-1', '2026-11-00T10:00:00Z'],
    ['no time', '111122223333', 'eu-west-1', '2026-11-19'],
  ])('leaves out a record with %s', (_what, account, region, eventTime) => {
    expect(hours(account, region, eventTime)).toEqual([]);
  });
});

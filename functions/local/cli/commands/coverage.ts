import type { Command } from 'commander';
import { placeCoverage, summarizeCoverage, type CoverageSummary } from '../../../core/coverage';
import { jsonSafe } from '../../../core/display';
import type { Io } from '../io';
import { activeHours, parseTime, soakDays } from '../options';
import { displaySafe, shortTime, table } from '../render';
import { withStore, withStoreOptions, type StoreOptions } from '../store-options';

interface CoverageFlags extends StoreOptions {
  asOf?: Date;
  soakDays: number;
  liveGapHours: number;
  json?: boolean;
}

const DAY = 86_400_000;
/** Holes listed per account/region before "… and N more". */
const GAPS_SHOWN = 5;

export function coverageCommand(program: Command, io: Io): void {
  withStoreOptions(
    program
      .command('coverage')
      .summary('what CloudTrail was read, per account and region: covered from/through, holes, sources')
      .description(
        'Verdicts that say "safe" (SOAKING, READY) rest on silence: no IRSA assume in a window. Silence is\n' +
          'evidence only where the store holds complete CloudTrail, so coverage is kept per account and region:\n' +
          '  files     the hours that had records in a trail\'s log files (a run\'s first and last hour may be partial)\n' +
          '  backfill  the exact time slices LookupEvents returned\n' +
          '  live      the hours the deployed pipeline received events, bridged while heartbeats are at most\n' +
          '            --live-gap-hours apart\n' +
          'Holes are shown within the soak window before --as-of: older ones decide no verdict.',
      )
      .option('--as-of <time>', 'show coverage up to this ISO 8601 time (default: now)', parseTime)
      .option('--soak-days <days>', 'list holes within this many days before --as-of', soakDays, 14)
      .option('--live-gap-hours <hours>', 'live heartbeats further apart than this leave a hole', activeHours, 6)
      .option('--json', 'print {asOf, coverage: [{account, region, from, through, gaps, sources}]}'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  cutover-watch coverage\n' +
        "  cutover-watch coverage --json | jq '.coverage[] | select(.gaps | length > 0)'\n" +
        '\nA hole means log files of those hours were not read: sync and analyze them, or backfill the region.',
    )
    .action(async (flags: CoverageFlags) => {
      await withStore(flags, io, async ({ store }) => {
        const asOf = flags.asOf ?? io.now();
        const places = placeCoverage(await store.coverageDays(), { liveGapHours: flags.liveGapHours });
        const coverage = summarizeCoverage(places, { asOf: asOf.getTime(), since: asOf.getTime() - flags.soakDays * DAY });
        if (flags.json) io.out(jsonSafe({ asOf: asOf.toISOString(), coverage }, 2));
        else printCoverage(coverage, asOf, io);
      }, { write: false });
    });
}

export function printCoverage(coverage: readonly CoverageSummary[], asOf: Date, io: Io): void {
  if (coverage.length === 0) {
    io.out('no CloudTrail read yet: run `cutover-watch analyze PATH` on a trail\'s log files, or `cutover-watch backfill`');
    return;
  }
  io.out(`as of ${shortTime(asOf.toISOString())} UTC`);
  io.out('');
  io.out(
    table(
      ['ACCOUNT', 'REGION', 'FROM', 'THROUGH', 'BEHIND', 'HOLES', 'SOURCES'],
      coverage.map((c) => [
        c.account,
        c.region,
        shortTime(c.from),
        shortTime(c.through),
        c.through === null ? '-' : hoursBehind(c.through, asOf),
        c.gaps.length,
        c.sources.join(', '),
      ]),
    ),
  );
  const holed = coverage.filter((c) => c.gaps.length > 0);
  if (holed.length === 0) return;
  io.out('');
  io.out('holes (no records read: verdicts that rest on these hours are UNKNOWN until they are read):');
  for (const c of holed) {
    const shown = c.gaps.slice(0, GAPS_SHOWN).map((g) => `${shortTime(g.from)}..${shortTime(g.to)}`);
    // Account and region are what the log files said (coverage counts every record, in scope or not).
    io.out(`  ${displaySafe(`${c.account}/${c.region}`)}: ${shown.join(', ')}${c.gaps.length > GAPS_SHOWN ? ` and ${c.gaps.length - GAPS_SHOWN} more` : ''}`);
  }
}

function hoursBehind(through: string, asOf: Date): string {
  const hours = Math.max(0, (asOf.getTime() - Date.parse(through)) / 3_600_000);
  return hours < 48 ? `${Math.round(hours)}h` : `${Math.round(hours / 24)}d`;
}

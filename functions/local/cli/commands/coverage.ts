import type { Command } from 'commander';
import { placeCoverage, summarizeCoverage, type CoverageSummary } from '../../../core/coverage';
import { command, type Io } from '../io';
import { matcherOf, requireMatches, withFilterOptions, type FilterFlags } from '../filters';
import { activeHours, soakDays, timeArg } from '../options';
import { openView, outputFormat, printDocument, printRows, viewTable, withOutputOptions, type OutputFlags, type OutputFormat, type View } from '../output';
import { displaySafe, shortTime } from '../render';
import { withStore, withStoreOptions, type StoreOptions } from '../store-options';

interface CoverageFlags extends StoreOptions, OutputFlags, Pick<FilterFlags, 'account'> {
  asOf?: Date;
  soakDays: number;
  liveGapHours: number;
}

const DAY = 86_400_000;
/** Holes listed per account/region before "… and N more". */
const GAPS_SHOWN = 5;

export function coverageCommand(program: Command, io: Io): void {
  withOutputOptions(
    withFilterOptions(
      withStoreOptions(
        program
          .command('coverage')
          .summary('what CloudTrail was read, per account and region: covered from/through, holes, sources')
          .description(
            'Verdicts that say "safe" (SOAKING, READY) rest on silence: no IRSA assume in a window. ' +
              'Silence is evidence only where the store holds complete CloudTrail, so coverage is kept per account and region, from three sources:\n' +
              "files: the hours that had records in a trail's log files (a run's first and last hour may be partial).\n" +
              'backfill: the exact time slices LookupEvents returned.\n' +
              'live: the hours the deployed pipeline received events, bridged while heartbeats are at most --live-gap-hours apart.\n' +
              'Holes are shown within the soak window before --as-of: older ones decide no verdict.',
          ),
      ),
      ['account'],
    )
      .option('--as-of <time>', 'show coverage up to this time: ISO 8601, or a span before now such as -1d (default: now)', timeArg(io.now))
      .option('--soak-days <days>', 'list holes within this many days before --as-of', soakDays, 14)
      .option('--live-gap-hours <hours>', 'live heartbeats further apart than this leave a hole', activeHours, 6),
    undefined,
    '{schemaVersion, asOf, coverage: [{account, region, from, through, gaps, sources, unreadLogFiles, missingDigests}]}',
  )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  cutover-watch coverage\n' +
        '  cutover-watch coverage --account 111122223333 --as-of -1d\n' +
        "  cutover-watch coverage -o json | jq '.coverage[] | select(.gaps | length > 0)'\n" +
        '\nA hole means log files of those hours were not read: sync and analyze them, or backfill the region.\n' +
        "Where analyze read CloudTrail's digest files (the CloudTrail-Digest/ folder beside CloudTrail/), a log file they list that was not read is a hole too, named under `unread log files`.\n" +
        '\nExit codes: 0 done; 2 unusable arguments, an --account that matches nothing, or no store.',
    )
    .action(async (flags: CoverageFlags) => {
      const format = outputFormat<OutputFormat>(flags, 'table');
      await withStore(flags, io, async ({ store }) => {
        const asOf = flags.asOf ?? io.now();
        const places = placeCoverage(await store.coverageDays(), { liveGapHours: flags.liveGapHours });
        const all = summarizeCoverage(places, { asOf: asOf.getTime(), since: asOf.getTime() - flags.soakDays * DAY });
        requireMatches('account', flags.account, all.map((c) => c.account), { hint: `run \`${command(io, 'analyze PATH')}\` first` });
        const account = matcherOf(flags.account);
        const coverage = all.filter((c) => !account || account(c.account));
        const view = openView(io, flags);
        try {
          if (format === 'json' || format === 'yaml') await printDocument(view.io, format, { asOf: asOf.toISOString(), coverage });
          else if (format === 'csv' || format === 'md') {
            printRows(view.io, format, ['account', 'region', 'from', 'through', 'holes', 'sources'], coverage.map((c) => [c.account, c.region, c.from, c.through, c.gaps.map((g) => `${g.from}/${g.to}`).join(' '), c.sources.join(' ')]));
          } else printCoverage(coverage, asOf, view.io, view);
        } finally {
          await view.end();
        }
      }, { write: false });
    });
}

export function printCoverage(coverage: readonly CoverageSummary[], asOf: Date, io: Io, view: Pick<View, 'width' | 'colour'> = { colour: false }): void {
  if (coverage.length === 0) {
    io.out(`no CloudTrail read yet: run \`${command(io, 'analyze PATH')}\` on a trail's log files, or \`${command(io, 'backfill')}\``);
    return;
  }
  io.out(`as of ${shortTime(asOf.toISOString())} UTC`);
  io.out('');
  io.out(
    viewTable(
      view,
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
  io.out('holes (hours not read completely: verdicts that rest on them are UNKNOWN until they are read):');
  for (const c of holed) {
    const shown = c.gaps.slice(0, GAPS_SHOWN).map((g) => `${shortTime(g.from)}..${shortTime(g.to)}`);
    // Account and region are what the log files said (coverage counts every record, in scope or not).
    io.out(`  ${displaySafe(`${c.account}/${c.region}`)}: ${shown.join(', ')}${c.gaps.length > GAPS_SHOWN ? ` and ${c.gaps.length - GAPS_SHOWN} more` : ''}`);
  }
  const named = (title: string, names: (c: CoverageSummary) => readonly string[]) => {
    const some = coverage.filter((c) => names(c).length > 0);
    if (some.length === 0) return;
    io.out('');
    io.out(title);
    for (const c of some) {
      const all = names(c);
      io.out(`  ${displaySafe(`${c.account}/${c.region}`)}: ${displaySafe(all.slice(0, GAPS_SHOWN).join(', '))}${all.length > GAPS_SHOWN ? ` and ${all.length - GAPS_SHOWN} more (--json lists them all)` : ''}`);
    }
  };
  named("unread log files (CloudTrail's digest files list them, not read, or read with other bytes; their hours are holes until the originals are analyzed):", (c) => c.unreadLogFiles);
  named("missing digest files (the next digest names them, none was read; the hours they would list are holes until they are analyzed):", (c) => c.missingDigests);
}

function hoursBehind(through: string, asOf: Date): string {
  const hours = Math.max(0, (asOf.getTime() - Date.parse(through)) / 3_600_000);
  return hours < 48 ? `${Math.round(hours)}h` : `${Math.round(hours / 24)}d`;
}

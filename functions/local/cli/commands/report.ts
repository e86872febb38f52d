import { Option, type Command } from 'commander';
import path from 'node:path';
import { filterReport, reportDocument, summarize, withOwners, type StragglerReport } from '../../../core/report';
import { loadPolicy } from '../alert-options';
import { csvLines, markdownLines, REPORT_FORMATS, reportJsonPieces, type ReportFormat } from '../../../core/report-render';
import { gatherReport, prepareOutDir, readReportInputs, render, reportFrom, ReportOutputError, reportFileName, saveSummary, writeFileAtomic, type GatheredReport } from '../../report';
import { UsageError, type Io } from '../io';
import { displaySafe } from '../render';
import { describeFilters, withFilterOptions, type FilterFlags } from '../filters';
import { activeHours, soakDays, timeArg } from '../options';
import { selectReadiness } from './readiness';
import { outputFormat, printDocument, printLines, type OutputFlags } from '../output';
import { withStore, withStoreOptions, type StoreOptions } from '../store-options';

/** -o: the report's formats, `yaml`, and `table`/`wide` for text (the same words as every command). */
const OUTPUTS = ['text', 'table', 'wide', 'md', 'json', 'yaml', 'csv', 'html'] as const;
type ReportOutput = (typeof OUTPUTS)[number];

interface ReportFlags extends StoreOptions, OutputFlags, Pick<FilterFlags, 'cluster' | 'namespace' | 'account'> {
  format?: ReportFormat;
  out?: string;
  asOf?: Date;
  soakDays: number;
  activeHours: number;
  save?: boolean;
  by?: 'owner';
  policy?: string;
}

export function reportCommand(program: Command, io: Io): void {
  withFilterOptions(
    withStoreOptions(
      program
        .command('report')
        .summary('the straggler report: who still uses IRSA, what to do next, what changed (text, md, json, csv, html)')
        .description(
          'Who still uses IRSA and what each of them should do next:\n' +
            "- per cluster: namespaces by verdict, the OIDC provider's verdict, warnings;\n" +
            '- stragglers: every (cluster, namespace, service account, role) still assuming through IRSA in the active window (and every one of a namespace that has not started), with its last IRSA and Pod Identity times, whether an association exists, and the next step: ' +
            'create the association (none exists), check the trust policy (Pod Identity fetches were denied in the cluster in the soak window and the service account has not assumed through Pod Identity since), or restart the pods (the association exists, pods still use IRSA);\n' +
            '- ready to clean up: soak complete, remove the annotation and the OIDC trust statement;\n' +
            '- changes since the previous report (newly READY, regressions, new stragglers), from the summary each report keeps in the store.\n' +
            'Verdicts are those of `readiness` for the same --as-of. text, md, json, yaml and csv print to stdout unless --out is given; html writes one self-contained file (charts, data and Chart.js inline, no network when opened).\n' +
            '-c, -n and --account cut the report to a selection, as they do for `readiness`: clusters, stragglers, namespaces, changes and every total are those of the selection, verdicts stay those judged on the whole fleet, and the report says which filter it was made with (`filters` in json and yaml).',
        )
        .addOption(new Option('-o, --output <format>', 'output format: text (default; also table, wide), md, json (with schemaVersion), yaml, csv, html').choices(OUTPUTS))
        .addOption(new Option('--format <format>', 'same as -o (the report\'s own formats)').choices(REPORT_FORMATS))
        .option('--json', 'same as -o json')
        .option('--out <dir>', 'write cutover-watch-report-<as-of date>.<ext> into this directory (created 0700 if missing; the file is 0600 either way)')
        .option('--as-of <time>', 'report as of this time: ISO 8601, or a span before now such as -1d (default: now)', timeArg(io.now))
        .option('--soak-days <days>', 'soak period S (at most 3650)', soakDays, 14)
        .option('--active-hours <hours>', 'active window A (at most 8760)', activeHours, 24)
        .option('--save', 'keep this report\'s summary as a baseline: later reports compare with the latest one saved before their as-of (the scheduled report job saves; reading never does; not with -c, -n or --account)')
        .addOption(new Option('--by <grouping>', 'add a section per owner (the policy file\'s owners): its namespaces, stragglers and clean-ups').choices(['owner']))
        .option('--policy <file>', 'the policy file whose owners every row shows (default: ./cutover-watch.policy.json when it exists)'),
    ),
    ['cluster', 'namespace', 'account'],
  )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  cutover-watch report                                  plain text, for a terminal or an e-mail\n' +
        '  cutover-watch report --format html --out reports/     a page with charts, one file, opens offline\n' +
        '  cutover-watch report -o csv > stragglers.csv          one row per straggler, for a spreadsheet\n' +
        '  cutover-watch report -o md --out wiki/                for a ticket or a wiki page\n' +
        "  cutover-watch report -o json | jq '.stragglers[] | select(.nextStep==\"create-association\")'\n" +
        "  cutover-watch report -o html --out reports/ --save    the weekly report: kept as the next one's baseline\n" +
        "  cutover-watch report -c 'payments-*' -n checkout -o md   one team's part of it, its totals and changes only\n" +
        '  cutover-watch report --by owner                       a section per owner of the policy file\n' +
        '  cutover-watch report --table cutover-watch-evidence --table-region us-east-1 -o html --out .\n' +
        '\nExit codes: 0 done; 2 unusable arguments (a bad format, --out or --as-of; --save with a filter), a -c/-n/--account that matches nothing, or no store.',
    )
    .action(async (flags: ReportFlags) => {
      if (flags.format !== undefined && flags.output !== undefined && flags.format !== flags.output) {
        throw new UsageError(`--format ${flags.format} and -o ${flags.output} ask for different formats: pass one of them`);
      }
      const output = outputFormat<ReportOutput>({ ...flags, output: flags.output ?? flags.format }, 'text');
      const format: ReportFormat | 'yaml' = output === 'table' || output === 'wide' ? 'text' : output;
      const selection = describeFilters({ cluster: flags.cluster, namespace: flags.namespace, account: flags.account });
      // A baseline of part of the fleet would read as every other namespace gone in the next report.
      if (flags.save && selection !== '') throw new UsageError(`--save keeps a baseline for the whole fleet: a report filtered with ${selection} is never saved (drop --save, or the filter)`);
      const outDir = flags.out === undefined ? null : path.resolve(io.cwd, flags.out);
      const { policy } = await loadPolicy({ policy: flags.policy }, io);
      if (format === 'html' && outDir === null) {
        throw new UsageError(`${flags.format === 'html' ? '--format' : '-o'} html writes a file: pass --out DIR (e.g. --out reports/)`);
      }
      try {
        if (outDir !== null) await prepareOutDir(outDir);
        const settings = { asOf: flags.asOf ?? io.now(), soakDays: flags.soakDays, activeHours: flags.activeHours };
        // The globs are checked as `readiness` checks them (a typo is exit 2 listing what is known).
        // The verdicts are not needed after: what goes on to be rendered is the report without them.
        const checked = ({ report, readiness, problem }: GatheredReport): Pick<GatheredReport, 'report' | 'problem'> => {
          selectReadiness(readiness, flags, io);
          return { report, problem };
        };
        const publish = async ({ report: full, problem }: Pick<GatheredReport, 'report' | 'problem'>): Promise<StragglerReport> => {
          // Cut to the globs; owners only when the policy names some (or --by asks): a report without them stays as it was.
          const cut = filterReport(full, { cluster: flags.cluster, namespace: flags.namespace, account: flags.account });
          const report = policy.owners.length > 0 || flags.by === 'owner' ? withOwners(cut, policy, { group: flags.by === 'owner' }) : cut;
          if (problem) io.err(`cutover-watch: warning: ${displaySafe(problem)}`);
          const name = format === 'yaml' ? reportFileName(report.asOf, 'json').replace(/json$/, 'yaml') : reportFileName(report.asOf, format);
          let file: string | null = null;
          if (format === 'json' || format === 'yaml') {
            // json and yaml carry schemaVersion, like every document the CLI prints; json is written a row at a time
            if (outDir === null) await printDocument(io, format, { ...reportDocument(report) });
            else if (format === 'json') file = await writeFileAtomic(outDir, name, reportJsonPieces(report));
            else {
              const { yamlDocumentPieces } = await import('../yaml-output');
              file = await writeFileAtomic(outDir, name, endingLine(yamlDocumentPieces({ ...reportDocument(report) })));
            }
          } else if (format === 'csv' || format === 'md') {
            // a line at a time: at 40,000 namespaces the CSV is ~50 MB, the Markdown ~11
            const lines = format === 'csv' ? csvLines(report) : markdownLines(report);
            if (outDir === null) await printLines(io, lines);
            else file = await writeFileAtomic(outDir, name, lines);
          } else {
            const content = await render(report, format);
            // io.out ends the line itself
            if (outDir === null) io.out(content.replace(/\n$/, ''));
            else file = await writeFileAtomic(outDir, name, content);
          }
          if (file !== null) io.out(`wrote ${displaySafe(path.relative(io.cwd, file) || file)}`);
          return report;
        };
        if (flags.save) {
          // The summary is saved under the lock taken before anything is read: a store another run holds fails first, not after the report.
          await withStore(flags, io, async ({ store }) => saveSummary(store, summarize(await publish(checked(await gatherReport(store, settings))))), { write: true });
        } else {
          // Read with the store open, built once it is closed: its thread's memory goes before the report's peak.
          await publish(checked(reportFrom(await withStore(flags, io, ({ store }) => readReportInputs(store, settings), { write: false }))));
        }
      } catch (e) {
        if (e instanceof ReportOutputError) throw new UsageError(e.message, { cause: e });
        throw e;
      }
    });
}

/** A document's pieces, then the line break the file ends with. */
function* endingLine(pieces: Iterable<string>): Generator<string> {
  yield* pieces;
  yield '\n';
}

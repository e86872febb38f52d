import { Option, type Command } from 'commander';
import path from 'node:path';
import { summarize } from '../../../core/report';
import { REPORT_FORMATS, type ReportFormat } from '../../../core/report-render';
import { gatherReport, prepareOutDir, render, ReportOutputError, reportFileName, saveSummary, writeFileAtomic } from '../../report';
import { UsageError, type Io } from '../io';
import { displaySafe } from '../render';
import { activeHours, parseTime, soakDays } from '../options';
import { withStore, withStoreOptions, type StoreOptions } from '../store-options';

interface ReportFlags extends StoreOptions {
  format: ReportFormat;
  out?: string;
  asOf?: Date;
  soakDays: number;
  activeHours: number;
  save?: boolean;
}

export function reportCommand(program: Command, io: Io): void {
  withStoreOptions(
    program
      .command('report')
      .summary('the straggler report: who still uses IRSA, what to do next, what changed (text, md, json, csv, html)')
      .description(
        'Who still uses IRSA and what each of them should do next:\n' +
          '- per cluster: namespaces by verdict, the OIDC provider\'s verdict, warnings;\n' +
          '- stragglers: every (cluster, namespace, service account, role) still\n' +
          '  assuming through IRSA in the active window (and every one of a namespace\n' +
          '  that has not started), with its last IRSA and Pod Identity times, whether\n' +
          '  an association exists, and the next step:\n' +
          '    create the association  none exists\n' +
          '    check the trust policy  Pod Identity fetches were denied in the cluster\n' +
          '                            in the soak window and the service account has\n' +
          '                            not assumed through Pod Identity since\n' +
          '    restart the pods        the association exists, pods still use IRSA\n' +
          '- ready to clean up: soak complete, remove the annotation and the OIDC\n' +
          '  trust statement;\n' +
          '- changes since the previous report (newly READY, regressions, new\n' +
          '  stragglers), from the summary each report keeps in the store.\n' +
          'Verdicts are those of `readiness` for the same --as-of. text, md, json and\n' +
          'csv print to stdout unless --out is given; html writes one self-contained\n' +
          'file (charts, data and Chart.js inline, no network when opened).',
      )
      .addOption(new Option('--format <format>', 'output format').choices(REPORT_FORMATS).default('text'))
      .option('--out <dir>', 'write cutover-watch-report-<as-of date>.<ext> into this directory (created 0700 if missing; the file is 0600 either way)')
      .option('--as-of <time>', 'report as of this ISO 8601 time (default: now)', parseTime)
      .option('--soak-days <days>', 'soak period S (at most 3650)', soakDays, 14)
      .option('--active-hours <hours>', 'active window A (at most 8760)', activeHours, 24)
      .option('--save', 'keep this report\'s summary as a baseline: later reports compare with the latest one saved before their as-of (the scheduled report job saves; reading never does)'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  cutover-watch report                                  plain text, for a terminal or an e-mail\n' +
        '  cutover-watch report --format html --out reports/     a page with charts, one file, opens offline\n' +
        '  cutover-watch report --format csv > stragglers.csv    one row per straggler, for a spreadsheet\n' +
        '  cutover-watch report --format md --out wiki/          for a ticket or a wiki page\n' +
        "  cutover-watch report --format json | jq '.stragglers[] | select(.nextStep==\"create-association\")'\n" +
        '  cutover-watch report --format html --out reports/ --save  the weekly report: kept as the next one\'s baseline\n' +
        '  cutover-watch report --table cutover-watch-evidence --region us-east-1 --format html --out .',
    )
    .action(async (flags: ReportFlags) => {
      const outDir = flags.out === undefined ? null : path.resolve(io.cwd, flags.out);
      if (flags.format === 'html' && outDir === null) {
        throw new UsageError('--format html writes a file: pass --out DIR (e.g. --out reports/)');
      }
      try {
        if (outDir !== null) await prepareOutDir(outDir);
        await withStore(flags, io, async ({ store }) => {
          const { report, problem } = await gatherReport(store, {
            asOf: flags.asOf ?? io.now(),
            soakDays: flags.soakDays,
            activeHours: flags.activeHours,
          });
          if (problem) io.err(`cutover-watch: warning: ${displaySafe(problem)}`);
          const content = await render(report, flags.format);
          // io.out ends the line itself: the CSV's last CRLF stays whole
          if (outDir === null) io.out(content.replace(/\n$/, ''));
          else {
            const file = await writeFileAtomic(outDir, reportFileName(report.asOf, flags.format), content);
            io.out(`wrote ${displaySafe(path.relative(io.cwd, file) || file)}`);
          }
          if (flags.save) await saveSummary(store, summarize(report));
        }, { write: flags.save === true });
      } catch (e) {
        if (e instanceof ReportOutputError) throw new UsageError(e.message, { cause: e });
        throw e;
      }
    });
}

import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { analyzePaths, type AnalyzeSummary, type Rejection } from '../../analyze';
import type { Io } from '../io';
import { collect, positiveInteger } from '../options';
import { plural } from '../render';
import { withStore, withStoreOptions, type StoreOptions } from '../store-options';

/** Rejections printed on stderr before the rest go only to the rejects file. */
const REJECTIONS_SHOWN = 20;

interface AnalyzeFlags extends StoreOptions {
  nodeRole?: string[];
  batchSize?: number;
  json?: boolean;
  strict?: boolean;
}

export function analyzeCommand(program: Command, io: Io, setExit: (code: number) => void): void {
  withStoreOptions(
    program
      .command('analyze')
      .summary('read CloudTrail logs into the evidence store')
      .description(
        "Reads CloudTrail log files and directories (recursively, including CloudTrail's S3 layout\n" +
          'AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/*.json.gz) into the evidence store, then prints a\n' +
          'summary. Replaying the same logs is safe: each CloudTrail eventID is counted once.\n' +
          'Rejected records are listed on stderr and appended to <store>/rejects.jsonl.',
      )
      .argument('<path...>', "log files or directories; '-' reads stdin")
      .option('--node-role <glob>', 'node role name or ARN glob (repeatable); replaces the default list', collect)
      .option('--batch-size <n>', 'events per store batch', positiveInteger, 1000)
      .option('--json', 'print the summary as one JSON object')
      .option('--strict', 'exit 1 when any record or file was rejected'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  aws s3 sync s3://my-trail-bucket/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/ logs/\n' +
        '  cutover-watch analyze logs/\n' +
        '  cutover-watch analyze --table cutover-watch-evidence --region us-east-1 logs/   # into a deployed table\n' +
        '\nExit codes: 0 done; 1 evidence could not be stored, or --strict and something was rejected;\n' +
        '2 unusable arguments, no readable input, or the store could not be opened.',
    )
    .action(async (paths: string[], flags: AnalyzeFlags) => {
      await withStore(flags, io, async ({ store, localDir, where }) => {
        const rejectsFile = path.join(localDir, 'rejects.jsonl');
        const rejections: Rejection[] = [];
        const bar = io.interactive && !flags.json ? new cliProgress.SingleBar({
          format: 'analyze {bar} {value}/{total} files | {records} records | ETA {eta_formatted}',
          stream: io.progressStream,
          hideCursor: true,
          clearOnComplete: true,
        }, cliProgress.Presets.shades_classic) : null;
        let records = 0;
        const summary = await analyzePaths({
          paths,
          store,
          nodeRolePatterns: flags.nodeRole,
          batchSize: flags.batchSize,
          now: io.now,
          stdin: io.stdin,
          onFiles: (total) => bar?.start(total, 0, { records: 0 }),
          onFileDone: (_file, done, recordsSoFar) => {
            records = recordsSoFar;
            bar?.update(done, { records });
          },
          onRejection: (r) => rejections.push(r),
        });
        bar?.stop();

        if (rejections.length > 0) {
          await mkdir(localDir, { recursive: true });
          await appendFile(rejectsFile, rejections.map((r) => JSON.stringify({ at: io.now().toISOString(), ...r })).join('\n') + '\n');
          for (const r of rejections.slice(0, REJECTIONS_SHOWN)) io.err(`${r.file}${r.where ? `: ${r.where}` : ''}: ${r.reason}`);
          if (rejections.length > REJECTIONS_SHOWN) io.err(`… and ${rejections.length - REJECTIONS_SHOWN} more`);
          io.err(`${plural(rejections.length, 'rejection')} appended to ${path.relative(io.cwd, rejectsFile)}`);
        }
        if (flags.json) io.out(JSON.stringify({ ...summary, store: where }));
        else printSummary(summary, where, io);

        if (summary.files === 0 && summary.records === 0) setExit(2);
        else if (summary.notStored > 0) setExit(1);
        else if (flags.strict && summary.rejected > 0) setExit(1);
      });
    });
}

export function printSummary(s: AnalyzeSummary, where: string, io: Io): void {
  const rate = s.seconds > 0 ? Math.round(s.records / s.seconds) : s.records;
  io.out(
    `analyzed ${plural(s.files, 'file')}, ${plural(s.records, 'record')} in ${s.seconds.toFixed(1)} s (${rate.toLocaleString('en-US')} records/s) into ${where}`,
  );
  io.out(
    `  in scope ${s.inScope.toLocaleString('en-US')}: ` +
      Object.entries(s.byKind)
        .map(([k, n]) => `${k} ${n.toLocaleString('en-US')}`)
        .join(', '),
  );
  const outcomes = Object.entries(s.byOutcome).filter(([k, n]) => k !== 'success' && n > 0);
  if (outcomes.length > 0) io.out(`  not successful: ${outcomes.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  io.out(
    `  skipped ${Object.values(s.skipped).reduce((a, b) => a + b, 0).toLocaleString('en-US')}: ` +
      Object.entries(s.skipped)
        .map(([k, n]) => `${k} ${n.toLocaleString('en-US')}`)
        .join(', '),
  );
  io.out(`  rejected ${s.rejected}; already counted (replays) ${s.replayed.toLocaleString('en-US')}`);
  if (s.notStored > 0) {
    io.err(`${plural(s.notStored, 'event')} could not be stored: ${[...new Set(s.storeErrors)].slice(0, 3).join('; ')}; run analyze again to retry them`);
  }
}

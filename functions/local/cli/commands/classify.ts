import type { Command } from 'commander';
import { listInputFiles, readRecords, STDIN } from '../../../adapters/cloudtrail-files';
import { jsonSafe } from '../../../core/display';
import { normalizeRecord } from '../../../core/normalize';
import { nodeRoleMatcher } from '../../../core/node-roles';
import { UsageError, type Io } from '../io';
import { collectNodeRole } from '../options';
import { storeDir } from '../store-options';
import { outputFormat, printDocument, withOutputOptions, type OutputFlags } from '../output';
import type { IdentityEvent } from '../../../core/identity-event';
import { displaySafe } from '../render';

export function classifyCommand(program: Command, io: Io, setExit: (code: number) => void): void {
  withOutputOptions(program
    .command('classify')
    .summary('print one normalized IdentityEvent per line (JSON Lines) for every in-scope record')
    .description(
      'Reads CloudTrail records (a log file, .json.gz, a single record, an EventBridge event, a LookupEvents result, or JSON Lines of any of these) and prints one IdentityEvent per in-scope record on stdout, as it reads. ' +
        'Out-of-scope records are skipped silently; rejected records are reported on stderr with file and record index. Nothing is stored.',
    )
    .argument('<file...>', "files or directories to read; '-' reads stdin")
    .option('--node-role <glob>', 'node role name or ARN glob (repeatable); replaces the default list', collectNodeRole)
    .option('--strict', 'exit 1 when any record was rejected'),
    ['jsonl', 'json', 'yaml'], '{schemaVersion, events: [IdentityEvent…]}, printed once every file is read')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  cutover-watch classify trail.json.gz\n' +
        "  aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=AssumeRoleWithWebIdentity | cutover-watch classify -\n" +
        "  cutover-watch classify logs/ | jq -r 'select(.kind==\"irsa\") | .namespace' | sort | uniq -c\n" +
        "  cutover-watch classify -o yaml trail.json.gz\n" +
        '\nExit codes: 0 done; 1 --strict and something was rejected; 2 unusable arguments or unreadable input.',
    )
    .action(async (files: string[], opts: OutputFlags & { nodeRole?: string[]; strict?: boolean }) => {
      const format = outputFormat<'jsonl' | 'json' | 'yaml'>(opts, 'jsonl');
      const events: IdentityEvent[] = [];
      const matcher = nodeRoleMatcher({ patterns: opts.nodeRole });
      // the default store's files (rejects.jsonl, alerts.jsonl…) are not logs, in whatever folder is read
      const { files: inputs, problems } = await listInputFiles(files, { skipFolders: [storeDir({}, io.cwd).dir] });
      // A file that cannot be read at all is exit 2; single bad records only matter with --strict.
      let unreadable = problems.length;
      let rejected = 0;
      // File names come from directory listings (an S3 key may hold any character), reasons quote records.
      for (const p of problems) io.err(displaySafe(`${p.file}: ${p.reason}`));
      if (inputs.length === 0) throw new UsageError(displaySafe(`nothing to read in ${files.join(', ')}`));
      for (const file of inputs) {
        for await (const item of readRecords(file, { stdin: io.stdin })) {
          if (item.type === 'problem') {
            if (item.where === null) unreadable += 1;
            else rejected += 1;
            io.err(displaySafe(`${label(file)}${item.where ? `: ${item.where}` : ''}: ${item.reason}`));
            continue;
          }
          const result = normalizeRecord(item.record, matcher, { now: io.now() });
          if (result.status === 'event') {
            // JSON Lines stream as they are read; a document waits for the last file
            if (format === 'jsonl') io.out(jsonSafe(result.event));
            else events.push(result.event);
          }
          else if (result.status === 'rejected') {
            rejected += 1;
            io.err(displaySafe(`${label(file)}: ${item.where}: rejected (${result.reason}): ${result.detail}`));
          }
        }
      }
      if (format !== 'jsonl') await printDocument(io, format, { events });
      if (unreadable > 0) setExit(2);
      else if (opts.strict && rejected > 0) setExit(1);
    });
}

const label = (file: string) => (file === STDIN ? 'stdin' : file);

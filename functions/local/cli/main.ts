import { Command, CommanderError } from 'commander';
import { StoreError } from '../../adapters/dynamo-evidence-store';
import { displaySafe } from '../../core/display';
import { alertsCommand } from './commands/alerts';
import { backfillCommand } from './commands/backfill';
import { inventorySyncCommand } from './commands/inventory-sync';
import { reportCommand } from './commands/report';
import { analyzeCommand } from './commands/analyze';
import { classifyCommand } from './commands/classify';
import { coverageCommand } from './commands/coverage';
import { demoCommand } from './commands/demo';
import { evidenceCommand } from './commands/evidence';
import { inventoryCommand } from './commands/inventory';
import { planCommand } from './commands/plan';
import { readinessCommand } from './commands/readiness';
import { UsageError, type Io } from './io';
import { SCHEMA_VERSION } from './output';

export const VERSION = '0.1.0';

/**
 * The whole CLI as a function: argv in, exit code out. `bin/cutover-watch.mjs` is the only place
 * that touches `process`.
 */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  let exitCode = 0;
  const setExit = (code: number) => {
    exitCode = Math.max(exitCode, code);
  };
  const program = new Command('cutover-watch')
    .description(
      'Audit the move of EKS workloads from IRSA to EKS Pod Identity, from CloudTrail: which namespaces still use IRSA, which are soaking, and when an OIDC provider can be retired.',
    )
    .version(VERSION)
    .option('--debug', 'print stack traces on errors')
    .addHelpText(
      'after',
      '\nStart here:\n' +
        '  cutover-watch demo                         sample fleet, end to end (what `npm start` runs)\n' +
        '  cutover-watch inventory import eks/*.json  map OIDC issuers to clusters\n' +
        '  cutover-watch analyze logs/                your CloudTrail logs into the local store\n' +
        '  cutover-watch readiness                    verdicts per namespace and cluster\n' +
        '  cutover-watch coverage                     what CloudTrail was read: verdicts rest on it\n' +
        '  cutover-watch plan                         the steps of the switch, with complete commands (-o sh: a script)\n' +
        '  cutover-watch alerts                       what the detections raised, with causes and next steps\n' +
        '\nThe store is .cutover-watch/ in the current directory (--store DIR), or a deployed table (--table NAME --table-region R).\n' +
        'Output: -o table|wide|json|yaml|csv|md on every command that lists (--json is -o json); JSON and YAML carry schemaVersion ' + String(SCHEMA_VERSION) + '.\n' +
        'Exit codes: 0 done; 1 something could not be stored or delivered; 2 unusable arguments, a filter that matches nothing, or no store; 3 readiness --require not met.',
    );
  classifyCommand(program, io, setExit);
  analyzeCommand(program, io, setExit);
  readinessCommand(program, io, setExit);
  coverageCommand(program, io);
  reportCommand(program, io);
  planCommand(program, io);
  alertsCommand(program, io);
  evidenceCommand(program, io);
  inventoryCommand(program, io);
  inventorySyncCommand(program.commands.find((c) => c.name() === 'inventory')!, io, setExit);
  backfillCommand(program, io, setExit);
  demoCommand(program, io);
  return execute(program, argv, io, () => exitCode);
}

/**
 * Parses and runs a program's commands: output routed to `io`, usage and store errors as one line
 * with exit 2, anything else exit 1 (stack trace with --debug). Tests run single commands through it.
 */
export async function execute(program: Command, argv: readonly string[], io: Io, exitCode: () => number): Promise<number> {
  const debug = argv.includes('--debug');
  // Subcommands do not inherit exitOverride or output routing from the program: set them on each.
  for (const command of allCommands(program)) {
    // Commander's errors quote the arguments, which may be file names or globs pasted from anywhere.
    command.exitOverride().configureOutput({
      // Commander wraps what it formats; the text after it (examples, exit codes) is wrapped here.
      writeOut: (s) => io.out(wrapProse(s.trimEnd(), io.terminal?.columns ?? 80)),
      writeErr: (s) => io.err(safeLines(s.trimEnd())),
      // Help wraps to the terminal's width (80 when stdout is not a terminal).
      getOutHelpWidth: () => io.terminal?.columns ?? 80,
      getErrHelpWidth: () => io.terminal?.columns ?? 80,
      // A usage error is one line that says where the help is: `cutover-watch alerts: option … (see cutover-watch alerts --help)`.
      // Commander's only own line break is before "(Did you mean …?)"; any other is the user's argument's.
      outputError: (message, write) =>
        write(`${nameOf(command)}: ${displaySafe(message.replace(/^error: /, '').trim().replace(/\n(?=\(Did you mean)/, ' '))} (see ${invocationOf(command, io)} --help)\n`),
    });
    if (command !== program) command.option('--debug', 'print stack traces on errors');
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode();
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version end in a "error" that is a success.
      return e.exitCode === 0 ? 0 : 2;
    }
    // Messages carry names from records, files and the store: one line each, nothing a terminal acts on.
    if (e instanceof UsageError || e instanceof StoreError) {
      io.err(`cutover-watch: ${displaySafe(e.message)}`);
      if (debug && e.stack) io.err(safeLines(e.stack));
      return 2;
    }
    io.err(`cutover-watch: ${displaySafe(e instanceof Error ? e.message : String(e))}`);
    if (debug && e instanceof Error && e.stack) io.err(safeLines(e.stack));
    else io.err('(run again with --debug for the stack trace)');
    return 1;
  }
}

/**
 * Lines of prose longer than `width` broken at spaces. Indented lines (examples, commands, lists)
 * are left whole: a command broken in two cannot be pasted.
 */
export function wrapProse(text: string, width: number): string {
  return text
    .split('\n')
    .flatMap((line) => {
      if (line.length <= width || /^\s/.test(line)) return [line];
      const lines: string[] = [];
      let current = '';
      for (const word of line.split(' ')) {
        if (current !== '' && current.length + 1 + word.length > width) {
          lines.push(current);
          current = word;
        } else current = current === '' ? word : `${current} ${word}`;
      }
      if (current !== '') lines.push(current);
      return lines;
    })
    .join('\n');
}

/** Text of several lines (help after an error, a stack trace) with each line made display-safe. */
function safeLines(text: string): string {
  return text.split('\n').map(displaySafe).join('\n');
}

/** `cutover-watch inventory sync`. */
function nameOf(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c !== null && c.parent !== null; c = c.parent) names.unshift(c.name());
  return ['cutover-watch', ...names].join(' ');
}

/** The same, as the user would type it (`npx cutover-watch inventory sync` under npx). */
function invocationOf(command: Command, io: Io): string {
  return nameOf(command).replace(/^cutover-watch/, io.invocation ?? 'cutover-watch');
}

function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(allCommands)];
}

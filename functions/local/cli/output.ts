import { Option, type Command } from 'commander';
import { csvField, md } from '../../core/report-render';
import { textInChunks } from '../../core/display';
import { jsonDocument, jsonDocumentLines } from '../../core/json-document';
import { SCHEMA_VERSION } from '../../core/schema-version';
import { UsageError, type Io } from './io';
import { table, type Cell } from './render';

// One constant for the CLI's documents and the report the scheduled job writes (core: the Lambda imports it).
export { SCHEMA_VERSION };

export const OUTPUT_FORMATS = ['table', 'wide', 'json', 'yaml', 'csv', 'md'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface OutputFlags {
  output?: string;
  json?: boolean;
  /** false with --no-color */
  color?: boolean;
  /** false with --no-pager */
  pager?: boolean;
}

export const DEFAULT_PAGER = 'less -FRX';

/**
 * `-o/--output FORMAT` with `--json` as its alias, and `--no-color`/`--no-pager`, the same on
 * every command. `formats` are the ones the command can print (the first is the default).
 */
export function withOutputOptions(command: Command, formats: readonly string[] = OUTPUT_FORMATS, what = ''): Command {
  return command
    .addOption(
      new Option(
        '-o, --output <format>',
        `output format, default ${formats[0]}${formats.includes('wide') ? '; wide: every row, long cells wrapped' : ''}; json and yaml: one document with schemaVersion ${SCHEMA_VERSION}${what ? `, ${what}` : ''}`,
      ).choices(formats),
    )
    .option('--json', 'same as -o json')
    .option('--no-color', 'no colour (colour is only used on a terminal, and never when NO_COLOR is set)')
    .option('--no-pager', `do not page long output on a terminal (the pager is $PAGER, default ${DEFAULT_PAGER})`);
}

/** The format asked for: `-o`, else `--json`, else the command's default. `--json` with another `-o` is a usage error. */
export function outputFormat<F extends string>(flags: OutputFlags, fallback: F): F {
  if (flags.json && flags.output !== undefined && flags.output !== 'json') {
    throw new UsageError(`--json and -o ${flags.output} ask for different formats: pass one of them`);
  }
  return (flags.output ?? (flags.json ? 'json' : fallback)) as F;
}

/** Colour on a terminal only, unless --no-color or NO_COLOR (https://no-color.org: set and not empty). */
export function useColour(io: Io, flags: OutputFlags): boolean {
  const env = io.env ?? process.env;
  return io.terminal !== undefined && flags.color !== false && !env['NO_COLOR'];
}

// JSON documents are core's: the scheduled report Lambda writes the same text.
export { jsonDocument, jsonDocumentLines };

/** Rows as RFC 4180 CSV (CRLF, formula-safe cells: core/report-render/csv.ts). */
export function csvRows(head: readonly string[], rows: readonly (readonly Cell[])[]): string {
  // io.out ends the last line with \n: the \r before it makes the last CRLF whole
  return `${[head, ...rows].map((row) => row.map((c) => csvField(c)).join(',')).join('\r\n')}\r`;
}

/** Rows as a Markdown table, every cell escaped (core/report-render/markdown.ts). */
export function mdRows(head: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const line = (cells: readonly Cell[]) => `| ${cells.map((c) => (c === null ? '-' : md(String(c)))).join(' | ')} |`;
  return [line(head), `|${head.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

/**
 * What a command prints, gathered so that on a terminal a long answer goes through the pager and
 * a short one straight out. `io` is what the command's printers write to.
 */
export interface View {
  io: Io;
  /** The terminal's width for tables; undefined when stdout is not a terminal. */
  width?: number;
  colour: boolean;
  /** Prints what was gathered: through the pager when it is longer than the screen. */
  end(): Promise<void>;
}

export function openView(io: Io, flags: OutputFlags): View {
  const colour = useColour(io, flags);
  const width = io.terminal?.columns;
  if (io.terminal === undefined || io.page === undefined || flags.pager === false) {
    return { io, width, colour, end: async () => undefined };
  }
  const lines: string[] = [];
  const terminal = io.terminal;
  const page = io.page.bind(io);
  return {
    io: { ...io, out: (line: string) => void lines.push(line) },
    width,
    colour,
    end: async () => {
      const text = lines.join('\n');
      const height = lines.reduce((n, l) => n + 1 + (l.match(/\n/g)?.length ?? 0), 0);
      const pager = (io.env ?? process.env)['PAGER'] ?? DEFAULT_PAGER;
      // PAGER= (empty) or cat: the user asked for no pager
      if (height >= terminal.rows && pager.trim() !== '' && pager.trim() !== 'cat' && (await page(`${text}\n`, pager))) return;
      for (const line of lines) io.out(line);
    },
  };
}

/** SGR colours: verdicts and severities, the two things a reader scans a table for. */
const VERDICT_COLOURS: Record<string, string> = { UNKNOWN: '35', NOT_STARTED: '31', IN_PROGRESS: '33', SOAKING: '36', READY: '32' };
const SEVERITY_COLOURS: Record<string, string> = { CRITICAL: '1;31', HIGH: '31', MEDIUM: '33', LOW: '2' };

const STATUS_COLOURS: Record<string, string> = { ...VERDICT_COLOURS, ...SEVERITY_COLOURS };

/** The colour of a cell that is (or starts with) a verdict or a severity, in the given columns. */
export function statusColour(columns: readonly number[], enabled: boolean): ((cell: string, column: number) => string | null) | undefined {
  if (!enabled) return undefined;
  return (cell, column) => {
    if (!columns.includes(column)) return null;
    // a cell cut to `CRITIC…` keeps its colour
    const word = /^[A-Z_]+/.exec(cell)?.[0] ?? '';
    if (word === '') return null;
    const key = Object.keys(STATUS_COLOURS).find((k) => k === word || (cell.startsWith(word) && cell.endsWith('…') && k.startsWith(word)));
    return key === undefined ? null : STATUS_COLOURS[key]!;
  };
}

/** A table for the view: fitted to the terminal, cells cut (`table`) or wrapped (`wide`), coloured in `colourColumns`. */
export function viewTable(
  view: Pick<View, 'width' | 'colour'>,
  head: string[],
  rows: readonly (readonly Cell[])[],
  options: { wide?: boolean; colourColumns?: readonly number[]; flex?: readonly number[] } = {},
): string {
  return table(head, rows, {
    width: view.width,
    flex: options.flex,
    overflow: options.wide ? 'wrap' : 'truncate',
    colour: statusColour(options.colourColumns ?? [], view.colour),
  });
}

/** A row's cells for csv/md: the same cells as the table. */
export function printRows(io: Io, format: 'csv' | 'md', head: readonly string[], rows: readonly (readonly Cell[])[]): void {
  io.out(format === 'csv' ? csvRows(head, rows) : mdRows(head, rows));
}

/**
 * Prints text given in pieces of whole lines (every piece but the last ending with its line
 * break), about a megabyte to a write and waiting for a slow reader after each.
 */
export async function printLines(io: Io, lines: Iterable<string>): Promise<void> {
  for (const chunk of textInChunks(lines)) {
    // io.out ends what it prints with \n: the last line break is its
    io.out(chunk.replace(/\n$/, ''));
    const drained = io.drained?.();
    if (drained !== undefined) await drained;
  }
}

/**
 * Prints a document as json or yaml. Either goes out a piece at a time, waiting for a slow reader
 * (a pipe) to take each one: written at once, or without waiting, all of it sat in memory.
 */
export async function printDocument(io: Io, format: 'json' | 'yaml', doc: Record<string, unknown>): Promise<void> {
  if (format === 'yaml') {
    // the yaml package loads with the first YAML document (its own chunk of the bundle)
    const { yamlDocumentPieces } = await import('./yaml-output');
    await printLines(io, yamlDocumentPieces(doc));
    return;
  }
  for (const lines of jsonDocumentLines(doc)) {
    io.out(lines);
    const drained = io.drained?.();
    if (drained !== undefined) await drained;
  }
}

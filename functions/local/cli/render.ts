import { displaySafe } from '../../core/display';

export { displaySafe };

export type Cell = string | number | null;

export interface TableOptions {
  /**
   * The terminal's width: the table is fitted to it, so no row wraps. Undefined (a pipe, a file,
   * a test) leaves every cell whole.
   */
  width?: number;
  /**
   * How a cell too wide for its column is fitted: `truncate` ends it with `…` (one line per row,
   * the summary views), `wrap` continues it on lines of its own below (every character shown, -o wide).
   * @default 'truncate'
   */
  overflow?: 'truncate' | 'wrap';
  /**
   * Columns that give way first when the table is too wide (free text: summaries, lists of
   * names), down to FLEX_MIN, before every column shares the cut.
   */
  flex?: readonly number[];
  /** An SGR colour code for a cell (`31` red), or null: applied after padding, so widths stay right. */
  colour?: (cell: string, column: number) => string | null;
}

const GAP = 2;
/** A column is not narrowed below this (or its widest cell, if narrower) while another can give. */
const SOFT_MIN = 8;
const HARD_MIN = 3;
const FLEX_MIN = 16;

/**
 * A borderless table: readable in a terminal, a CI log and a pasted ticket alike. Every cell is
 * `displaySafe`, so a name's line break cannot forge a row and its ESC cannot reach the terminal.
 *
 * Written by hand rather than with cli-table3: that library measured 43 s for the readiness table
 * of 20,000 namespaces (its width and wrapping code is quadratic in the cells); this is linear.
 */
export function table(head: string[], rows: readonly (readonly Cell[])[], options: TableOptions = {}): string {
  const cells = rows.map((row) => row.map((cell) => (cell === null ? '-' : displaySafe(String(cell)))));
  // each cell measured once: the table of 20,000 namespaces has 140,000 of them
  const measured = cells.map((row) => row.map(displayWidth));
  const natural = head.map((h, i) => measured.reduce((w, row) => Math.max(w, row[i] ?? 0), displayWidth(h)));
  const widths = options.width === undefined ? natural : fitWidths(natural, head, options.width, options.flex ?? []);
  const wrap = options.overflow === 'wrap';
  const pads = new Map<number, string>();
  const pad = (n: number) => {
    let p = pads.get(n);
    if (p === undefined) pads.set(n, (p = ' '.repeat(n)));
    return p;
  };
  const out: string[] = [];
  const line = (parts: readonly string[], partWidths: readonly number[], colourOf?: (cell: string, column: number) => string | null) => {
    let text = '';
    const last = parts.length - 1;
    for (let i = 0; i <= last; i += 1) {
      const part = parts[i]!;
      const code = colourOf === undefined || part === '' ? null : colourOf(part, i);
      const shown = code === null ? part : `\u001b[${code}m${part}\u001b[0m`;
      text += i === last ? shown : shown + pad(widths[i]! - partWidths[i]! + GAP);
    }
    out.push(text.trimEnd());
  };
  const fitted = (text: string, width: number, i: number) => (width > widths[i]! ? truncate(text, widths[i]!) : text);
  const headCells = head.map((h, i) => fitted(h, displayWidth(h), i));
  line(headCells, headCells.map(displayWidth));
  for (let r = 0; r < cells.length; r += 1) {
    const row = cells[r]!;
    const rowWidths = measured[r]!;
    if (rowWidths.every((w, i) => w <= widths[i]!)) {
      line(row, rowWidths, options.colour);
      continue;
    }
    if (!wrap) {
      const parts = row.map((c, i) => fitted(c, rowWidths[i]!, i));
      line(parts, parts.map(displayWidth), options.colour);
      continue;
    }
    const pieces = row.map((c, i) => (rowWidths[i]! > widths[i]! ? wrapCell(c, widths[i]!) : [c]));
    const height = Math.max(...pieces.map((p) => p.length));
    for (let k = 0; k < height; k += 1) {
      const parts = pieces.map((p) => p[k] ?? '');
      line(parts, parts.map(displayWidth), k === 0 ? options.colour : undefined);
    }
  }
  return out.join('\n');
}

/**
 * Column widths whose sum fits `width`: the widest columns give first, down to a level shared by
 * all that must give (water filling), none below its floor. Too narrow a terminal for even the
 * floors leaves the rows longer than the screen rather than unreadable.
 */
function fitWidths(given: readonly number[], head: readonly string[], width: number, flex: readonly number[]): number[] {
  const room = width - GAP * (given.length - 1);
  const total = (ws: readonly number[]) => ws.reduce((a, b) => a + b, 0);
  if (total(given) <= room) return [...given];
  // the free-text columns give first, as far as FLEX_MIN, the widest of them first
  const natural = [...given];
  let excess = total(natural) - room;
  while (excess > 0) {
    const widest = flex.filter((i) => natural[i]! > FLEX_MIN).sort((a, b) => natural[b]! - natural[a]!)[0];
    if (widest === undefined) break;
    const next = Math.max(FLEX_MIN, ...flex.filter((i) => natural[i]! < natural[widest]!).map((i) => natural[i]!));
    const cut = Math.min(excess, natural[widest]! - next, natural[widest]! - FLEX_MIN);
    natural[widest]! -= Math.max(cut, 1);
    excess -= Math.max(cut, 1);
  }
  if (total(natural) <= room) return natural;
  for (const floorOf of [(i: number) => Math.min(natural[i]!, Math.max(SOFT_MIN, Math.min(displayWidth(head[i]!), 12))), (i: number) => Math.min(natural[i]!, HARD_MIN)]) {
    const floors = natural.map((_, i) => floorOf(i));
    if (total(floors) > room) continue;
    let low = 0;
    let high = Math.max(...natural);
    // the largest level whose capped widths still fit
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      if (total(natural.map((w, i) => Math.max(floors[i]!, Math.min(w, mid)))) <= room) low = mid;
      else high = mid - 1;
    }
    const widths = natural.map((w, i) => Math.max(floors[i]!, Math.min(w, low)));
    // what the level's rounding left over goes to the columns that were cut, left first
    let spare = room - total(widths);
    for (let i = 0; i < widths.length && spare > 0; i += 1) {
      const give = Math.min(spare, given[i]! - widths[i]!);
      widths[i]! += give;
      spare -= give;
    }
    return widths;
  }
  return natural.map((w) => Math.min(w, HARD_MIN));
}

/** The text cut to `width` columns, its last one `…` when anything was cut. */
export function truncate(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  let out = '';
  let used = 0;
  for (const ch of text) {
    const w = charWidth(ch.codePointAt(0)!);
    if (used + w > width - 1) break;
    out += ch;
    used += w;
  }
  return `${out}…`;
}

/** The text in lines of at most `width` columns, broken after a space or comma where there is one. */
function wrapCell(text: string, width: number): string[] {
  if (displayWidth(text) <= width) return [text];
  const lines: string[] = [];
  let rest = text;
  while (displayWidth(rest) > width) {
    const head = [...rest];
    let cut = 0;
    let used = 0;
    while (cut < head.length && used + charWidth(head[cut]!.codePointAt(0)!) <= width) used += charWidth(head[cut++]!.codePointAt(0)!);
    const part = head.slice(0, cut).join('');
    const soft = Math.max(part.lastIndexOf(' '), part.lastIndexOf(','));
    const at = soft > 0 ? soft + 1 : Math.max(cut, 1);
    const piece = soft > 0 ? part.slice(0, at) : head.slice(0, at).join('');
    lines.push(piece.trimEnd());
    rest = (soft > 0 ? rest.slice(piece.length) : head.slice(at).join('')).trimStart();
  }
  if (rest !== '') lines.push(rest);
  return lines;
}

const ASCII = /^[\x20-\x7e]*$/;

/** Terminal columns a display-safe text takes: East Asian wide and emoji 2, combining marks 0. */
export function displayWidth(text: string): number {
  if (ASCII.test(text)) return text.length;
  let width = 0;
  for (const ch of text) width += charWidth(ch.codePointAt(0)!);
  return width;
}

const COMBINING = /\p{Mn}/u;

function charWidth(code: number): number {
  if (code < 0x300) return 1;
  if (COMBINING.test(String.fromCodePoint(code))) return 0;
  const wide =
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x1f300 && code <= 0x1faff) ||
    (code >= 0x20000 && code <= 0x3fffd);
  return wide ? 2 : 1;
}

/** `2026-11-22T10:00:00Z` → `2026-11-22 10:00`; null → `-`. */
export function shortTime(iso: string | null): string {
  return iso === null ? '-' : iso.slice(0, 16).replace('T', ' ');
}

/** How long ago, in the largest unit that reads well: `3h`, `10d`. */
export function age(iso: string | null, now: Date): string {
  if (iso === null) return '-';
  const hours = (now.getTime() - Date.parse(iso)) / 3_600_000;
  if (hours < 1) return `${Math.max(0, Math.round(hours * 60))}m`;
  if (hours < 48) return `${Math.round(hours)}h`;
  return `${Math.round(hours / 24)}d`;
}

export function plural(n: number, word: string): string {
  return `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
}

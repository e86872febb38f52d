import Table from 'cli-table3';
import { displaySafe } from '../../core/display';

export { displaySafe };

/**
 * A borderless, colourless table: readable in a terminal, a CI log and a pasted ticket alike.
 * Every cell is `displaySafe`: cli-table3 would split a cell at a line break into a row of its
 * own (a forged row) and pass ESC sequences straight to the terminal.
 */
export function table(head: string[], rows: (string | number | null)[][]): string {
  const t = new Table({
    head,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 2 },
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '',
      right: '', 'right-mid': '', middle: '',
    },
  });
  for (const row of rows) t.push(row.map((cell) => (cell === null ? '-' : displaySafe(String(cell)))));
  return t
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
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

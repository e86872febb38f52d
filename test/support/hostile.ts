import { execFileSync } from 'node:child_process';

/**
 * Names a hostile record could carry: shell metacharacters, terminal sequences (set the title,
 * clear the screen, an 8-bit CSI), a line break that would forge a table row, a bidi override, a
 * zero-width space, an invisible Unicode tag, a non-breaking space, a spreadsheet formula. None
 * is a valid Kubernetes name; all of them can reach our output from a CloudTrail record.
 */
export const HOSTILE_NAMES = [
  'prod;touch /tmp/x',
  '$(id)',
  '`id`',
  '\u001b]0;title\u0007',
  '\u001b[2J',
  'a\nCLUSTER  FAKE ROW',
  'name\u202egnp.exe',
  'ns\u200bx',
  '=HYPERLINK("http://x")',
  "it's",
  'csi\u009b31m',
  'tag\u{e0041}',
  'nbsp\u00a0',
] as const;

/** What must never reach a terminal, a page or a file raw (line feeds are checked apart). */
export const RAW_UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u00a0\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]|\u{e0041}/u;

/**
 * The argv a POSIX shell makes of each of `lines`, with `printf` (a shell builtin) as the program
 * in front of it: `printf '%s\0' <line>` prints every word NUL-terminated, then a marker word
 * ends the line's list. One shell for all lines keeps the tests fast. PATH is empty, so even where
 * quoting were broken, `;touch /tmp/x` or `$(id)` would find no program to run.
 */
export function shellWordsOf(lines: readonly string[]): string[][] {
  const script = lines.map((line) => `printf '%s\\0' ${line}\nprintf '%s\\0' ${END}\n`).join('');
  const out = execFileSync('/bin/sh', ['-c', script], { env: { PATH: '' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const words = out.split('\0').slice(0, -1);
  const result: string[][] = [[]];
  for (const word of words) {
    if (word === END) result.push([]);
    else result.at(-1)!.push(word);
  }
  return result.slice(0, -1);
}

const END = '--end-of-line-7f3a--';

export const shellWords = (line: string): string[] => shellWordsOf([line])[0] ?? [];

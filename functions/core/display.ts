/**
 * Values from records and from the store, made safe for the places we print them. Pure.
 *
 * Every name we show (cluster, namespace, service account, role, user agent, file name) came from
 * a CloudTrail record, an inventory file or a directory listing, so it is hostile until shown
 * otherwise: an ESC can clear the screen or set the terminal title, a line break can forge a
 * table row, bidi and zero-width characters can make two different namespaces look the same.
 * Kubernetes never allows any of them in a name, so showing them visibly costs nothing real.
 */

/**
 * Characters that are never shown as themselves:
 * - C0 and C1 controls and DEL (ESC, CSI U+009B, BEL, CR, LF, TAB, …): terminal sequences, line breaks;
 * - format characters (\p{Cf}): bidi embeddings, overrides, isolates and marks (U+202A–202E,
 *   U+2066–2069, U+200E/F, U+061C), zero-width space, joiners and word joiner (U+200B–200D,
 *   U+2060), BOM (U+FEFF), soft hyphen, invisible Unicode tags (U+E0000–E007F, "ASCII smuggling");
 * - line and paragraph separators (U+2028/2029): line breaks to some readers;
 * - spaces other than U+0020 (NBSP, U+3000, …): a name with a trailing NBSP looks like the one without;
 * - lone surrogates (\p{Cs}): not text, and printed as U+FFFD they hide what was there.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]|(?! )\p{Zs}/gu;

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * `text` with every control, bidi, zero-width or otherwise invisible character written out:
 * `\n`, `\r`, `\t` for those three, `\x1b` for the other C0/C1 controls, `\u{202e}` for the rest.
 * Ordinary letters of any script, emoji and punctuation are untouched. The result is one line
 * and idempotent: escaping it again changes nothing.
 *
 * A backslash is left as it is: a name that spells `\x1b` looks like one that carried ESC, which
 * misleads no one into anything, while doubling every backslash would garble Windows paths and
 * regular expressions in user agents.
 */
export function displaySafe(text: string): string {
  // Most of what we print is printable ASCII: skip the Unicode-property scan (reports call this per line).
  if (PRINTABLE_ASCII.test(text)) return text;
  return text.replace(UNSAFE, (ch) => {
    if (ch === '\n') return '\\n';
    if (ch === '\r') return '\\r';
    if (ch === '\t') return '\\t';
    const code = ch.codePointAt(0)!;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

/**
 * Characters that JSON may carry raw inside a string but that a terminal, editor or browser
 * acts on: C1 controls, format characters, line separators, odd spaces. `JSON.stringify` already
 * escapes C0 controls and lone surrogates.
 */
const JSON_UNSAFE = /[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}]|(?! )\p{Zs}/gu;

/**
 * `JSON.stringify`, with every character `displaySafe` would rewrite written as a `\uXXXX`
 * escape. Those characters can only occur inside strings, where the escape means the same
 * character: `JSON.parse` gives back exactly the value, while `cat` and `jq .` show nothing a
 * terminal would act on.
 */
export function jsonSafe(value: unknown, indent?: number): string {
  return safeJsonText(JSON.stringify(value, null, indent));
}

/**
 * A JSON array whose elements are made as they are written: `jsonSafePieces` asks for the next
 * one when it has written the last, so only one is held at a time (JSON.stringify, through
 * `toJSON`, makes them all). For rows too many to hold at once beside what they are made from.
 */
export class ArrayAsWritten<T> {
  constructor(private readonly make: () => Iterable<T>) {}
  elements(): Iterable<T> {
    return this.make();
  }
  toJSON(): T[] {
    return [...this.make()];
  }
}

/** The elements of a JSON array's value (an array, or an `ArrayAsWritten` made now); null for anything else. */
export function listElements(value: unknown): Iterable<unknown> | null {
  return Array.isArray(value) ? (value as unknown[]) : value instanceof ArrayAsWritten ? (value.elements() as Iterable<unknown>) : null;
}

/**
 * Pieces of text joined into chunks of about `size` characters or more (the last one shorter):
 * a megabyte to a write, for text made as it is written and never whole in memory.
 */
export function* textInChunks(pieces: Iterable<string>, size = 1_000_000): Generator<string> {
  let held: string[] = [];
  let length = 0;
  for (const piece of pieces) {
    held.push(piece);
    length += piece.length;
    if (length < size) continue;
    yield held.join('');
    held = [];
    length = 0;
  }
  if (held.length > 0) yield held.join('');
}

/**
 * `jsonSafe(value)` in pieces that, joined, are its text: up to `depth` levels of arrays and plain
 * objects are written a member at a time, so that megabytes of JSON are never one string (which
 * JSON.stringify builds in a buffer that grows by doubling). A piece never splits a string, so
 * each is made safe on its own.
 */
export function* jsonSafePieces(value: unknown, depth: number): Generator<string> {
  if (depth > 0 && value instanceof ArrayAsWritten) {
    yield* arrayPieces(value.elements(), depth);
    return;
  }
  if (depth <= 0 || value === null || typeof value !== 'object' || typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    yield safeJsonText(JSON.stringify(value));
    return;
  }
  if (Array.isArray(value)) {
    yield* arrayPieces(value, depth);
    return;
  }
  yield '{';
  let first = true;
  for (const [key, member] of Object.entries(value)) {
    if (unwritable(member)) continue;
    yield `${first ? '' : ','}${safeJsonText(JSON.stringify(key))}:`;
    first = false;
    yield* jsonSafePieces(member, depth - 1);
  }
  yield '}';
}

/**
 * `jsonSafe(value, 2)` with every line after the first indented by `indent` more, in pieces: up
 * to `depth` levels of arrays (an `ArrayAsWritten` made as it goes) and plain objects are written
 * a member at a time, as JSON.stringify lays them out with two spaces. For a document whose one
 * element is itself megabytes (a cluster's plan of thousands of namespaces).
 */
export function* jsonSafePrettyPieces(value: unknown, depth: number, indent = ''): Generator<string> {
  const elements = listElements(value);
  const opened = depth > 0 && value !== null && typeof value === 'object' && (elements !== null || typeof (value as { toJSON?: unknown }).toJSON !== 'function');
  if (!opened) {
    yield safeJsonText(JSON.stringify(value, null, 2)).replaceAll('\n', `\n${indent}`);
    return;
  }
  const inner = `${indent}  `;
  let first = true;
  if (elements !== null) {
    for (const element of elements) {
      yield `${first ? '[' : ','}\n${inner}`;
      first = false;
      // what JSON.stringify cannot write is null in an array
      yield* jsonSafePrettyPieces(unwritable(element) ? null : element, depth - 1, inner);
    }
    yield first ? '[]' : `\n${indent}]`;
    return;
  }
  for (const [key, member] of Object.entries(value as object)) {
    if (unwritable(member)) continue;
    const head = `${first ? '{' : ','}\n${inner}${safeJsonText(JSON.stringify(key))}: `;
    first = false;
    // most members are strings, numbers, null: written with their key, without opening anything
    if (member === null || typeof member !== 'object') yield `${head}${safeJsonText(JSON.stringify(member))}`;
    else {
      yield head;
      yield* jsonSafePrettyPieces(member, depth - 1, inner);
    }
  }
  yield first ? '{}' : `\n${indent}}`;
}

function* arrayPieces(elements: Iterable<unknown>, depth: number): Generator<string> {
  yield '[';
  let first = true;
  for (const element of elements) {
    if (!first) yield ',';
    first = false;
    // what JSON.stringify cannot write is null in an array
    yield* jsonSafePieces(unwritable(element) ? null : element, depth - 1);
  }
  yield ']';
}

/** What JSON.stringify leaves out of an object (and writes as null in an array). */
export const unwritable = (value: unknown): boolean => value === undefined || typeof value === 'function' || typeof value === 'symbol';

function safeJsonText(json: string): string {
  // An astral character (a Unicode tag) is written as its two UTF-16 halves, as JSON spells it.
  return json.replace(JSON_UNSAFE, (ch) =>
    ch
      .split('')
      .map((unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`)
      .join(''),
  );
}

/**
 * Characters a POSIX shell (and bash, zsh, fish) takes literally in an unquoted word. `,` is
 * among them so AWS CLI shorthand (`AttributeKey=EventId,AttributeValue=…`) reads as usual;
 * only `{a,b}` brace expansion gives a comma meaning, and `{` is not in the set.
 */
const SHELL_BARE = /^[A-Za-z0-9_./:=@%+,-]+$/;

/**
 * One argument for a POSIX shell: bare when it is only safe characters, otherwise in single
 * quotes, where nothing is special, with each `'` written as `'\''`: `it's` → `'it'\''s'`.
 * A word starting with `=` is quoted too: zsh expands a bare `=cmd` to the path of `cmd`.
 * The empty string is `''`.
 */
export function shellQuote(arg: string): string {
  if (SHELL_BARE.test(arg) && !arg.startsWith('=')) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/**
 * A command line from its argument vector, every argument quoted by `shellQuote`. Commands we
 * print for a person to run are built only this way, so no name can be left unquoted: pasted
 * into a shell, the line runs exactly `argv`.
 */
export function shellCommand(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

import { jsonSafe, jsonSafePrettyPieces, listElements, unwritable } from './display';
import { SCHEMA_VERSION } from './schema-version';

// The JSON documents cutover-watch writes (`-o json`, the scheduled report's JSON): `schemaVersion`
// first, two-space indentation, display-safe escapes; whole, or in pieces of whole lines.

/** A JSON document as every command prints it: `schemaVersion` first, display-safe escapes. */
export function jsonDocument(doc: Record<string, unknown>): string {
  return jsonSafe({ schemaVersion: SCHEMA_VERSION, ...doc }, 2);
}

/**
 * `jsonDocument(doc)` in pieces of whole lines, `pieces.join('\n')` being that text: a top-level
 * array (or `ArrayAsWritten`, made as it goes) is written an element at a time. At 20,000
 * namespaces `readiness --json` is 38 MB of text, which as one string (and the pieces
 * JSON.stringify builds it from) was the run's peak.
 */
export function* jsonDocumentLines(doc: Record<string, unknown>): Generator<string> {
  const whole: Record<string, unknown> = { schemaVersion: SCHEMA_VERSION, ...doc };
  const members = Object.keys(whole).filter((k) => !unwritable(whole[k]));
  if (members.length === 0) {
    yield '{}';
    return;
  }
  yield '{';
  for (const [i, k] of members.entries()) {
    const value = whole[k];
    const comma = i < members.length - 1 ? ',' : '';
    const name = `  ${jsonSafe(k)}: `;
    const elements = listElements(value);
    if (elements === null) {
      yield `${name}${indented(jsonSafe(value, 2), '  ')}${comma}`;
      continue;
    }
    // An element's comma waits for the next one: an ArrayAsWritten has no length until it is written.
    let last: string | null = null;
    for (const element of elements) {
      yield last === null ? `${name}[` : `${last},`;
      last = null;
      // an element JSON.stringify cannot write (undefined, a function) is null in an array; a large
      // one (a cluster's plan) goes some lines at a time, a small one (a namespace, a row) whole
      const value = unwritable(element) ? null : element;
      const text = holdsManyRows(value) ? wholeLines(jsonSafePrettyPieces(value, 4, '    ')) : [indented(jsonSafe(value, 2), '    ')];
      let first = true;
      for (const lines of text) {
        if (last !== null) yield last;
        last = first ? `    ${lines}` : lines;
        first = false;
      }
    }
    if (last === null) yield `${name}[]${comma}`;
    else yield* [last, `  ]${comma}`];
  }
  yield '}';
}

/** An object with lists of more than `many` members in all (a cluster's namespaces): megabytes of text. */
export function holdsManyRows(value: unknown, many = 1000): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  let rows = 0;
  for (const member of Object.values(value)) if (Array.isArray(member)) rows += member.length;
  return rows > many;
}

/** Text given in pieces, as whole lines of about `size` characters or more: joined with \n, the text. */
function* wholeLines(pieces: Iterable<string>, size = 65_536): Generator<string> {
  let text = '';
  for (const piece of pieces) {
    text += piece;
    if (text.length < size) continue;
    const cut = text.lastIndexOf('\n');
    if (cut < 0) continue;
    yield text.slice(0, cut);
    text = text.slice(cut + 1);
  }
  yield text;
}

/** JSON text nested `by` deeper: its line breaks are all structural (a string's are escaped). */
const indented = (text: string, by: string): string => text.replaceAll('\n', `\n${by}`);


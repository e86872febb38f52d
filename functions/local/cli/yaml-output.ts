import { Scalar, stringify } from 'yaml';
import { listElements } from '../../core/display';
import { holdsManyRows } from '../../core/json-document';
import { SCHEMA_VERSION } from '../../core/schema-version';
import { displaySafe } from './render';

/*
 * Documents as YAML, apart from output.ts: what imports this loads the yaml package (168 KB of the
 * bundle), which only `-o yaml` and YAML reports need.
 */

/** The same document as YAML (the `yaml` package, YAML 1.2), with `schemaVersion` first. */
export function yamlDocument(doc: Record<string, unknown>): string {
  return [...yamlDocumentPieces(doc)].join('');
}

/**
 * `yamlDocument(doc)` in pieces: each member of the document, and each element of a top-level
 * list, stringified on its own and indented as the list's items are. The `yaml` package builds a
 * node for every value before writing any: whole, `readiness -o yaml` at 40,000 namespaces took 1 GB.
 */
export function* yamlDocumentPieces(doc: Record<string, unknown>, options: { manyRows?: number } = {}): Generator<string> {
  const whole: Record<string, unknown> = { schemaVersion: SCHEMA_VERSION, ...doc };
  let held: string | null = null;
  const pieces = function* (): Generator<string> {
    for (const [key, value] of Object.entries(whole)) {
      // left out, as the whole document leaves out a member without a value
      if (value === undefined) continue;
      const elements = listElements(value);
      if (elements === null || (Array.isArray(value) && value.length === 0)) {
        yield yamlText({ [key]: value });
        continue;
      }
      let any = false;
      for (const element of elements) {
        if (!any) yield yamlListHead(key);
        any = true;
        yield* yamlListItem(element, options.manyRows);
      }
      if (!any) yield yamlText({ [key]: [] });
    }
  };
  // The document ends without its last line break (trimmed as the whole text was).
  for (const piece of pieces()) {
    if (held !== null) yield held;
    held = piece;
  }
  if (held !== null) yield held.trimEnd();
}

/**
 * A top-level list's item as the whole document writes it: "  - " before its first line, four
 * spaces before the others that hold text. One holding many rows (a cluster's plan) goes a member
 * at a time, and its long lists an element at a time, six spaces in.
 */
function* yamlListItem(element: unknown, manyRows?: number): Generator<string> {
  if (!holdsManyRows(element, manyRows)) {
    yield yamlText([element]).replace(/^(?=.)/gm, '  ');
    return;
  }
  let first = true;
  for (const [key, value] of Object.entries(element)) {
    if (value === undefined) continue;
    const member = Array.isArray(value) && value.length > 0 ? yamlListHead(key) : yamlText({ [key]: value });
    yield member.replace(/^(?=.)/gm, (_m, offset: number) => (first && offset === 0 ? '  - ' : '    '));
    first = false;
    if (Array.isArray(value) && value.length > 0) for (const row of value) yield yamlText([row]).replace(/^(?=.)/gm, '      ');
  }
}

/** `key:` on a line of its own, as the whole document writes it before the items of a list that is not empty. */
const yamlListHead = (key: string): string => yamlText({ [key]: [] }).replace(/ \[\]\n$/, '\n');

function yamlText(value: unknown): string {
  const text = stringify(value, (_key, v: unknown) => {
    // A string with a character a terminal acts on goes double-quoted, where the escapes below are YAML.
    if (typeof v === 'string' && displaySafe(v) !== v) return Object.assign(new Scalar(v), { type: Scalar.QUOTE_DOUBLE });
    return v;
  }, { lineWidth: 0, aliasDuplicateObjects: false });
  // Only double-quoted scalars can still hold such a character, and `\uXXXX` is their escape.
  return text.replace(YAML_UNSAFE, (ch) => ch.split('').map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''));
}

const YAML_UNSAFE = /[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}\p{Cs}]|(?! )\p{Zs}/gu;

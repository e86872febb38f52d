/**
 * Unwraps the containers CloudTrail records arrive in (log file, EventBridge event, SQS message,
 * LookupEvents result) into bare records. Pure: the caller has already read and parsed the JSON.
 * Container shapes: docs/cloudtrail.md §4a.
 *
 * Nothing here decides whether a record is in scope; anything object-shaped that is not a known
 * container is passed on as a record, and the normalizer accepts, skips or rejects it.
 */

/**
 * One record found in the input, or one reason a part of the input gave none.
 *
 * `where` locates the item inside `file`, outermost first: `line 3, record 2`, `item 2, event 5`.
 * A record that is the whole document has `where: 'document'`; a problem about the whole file
 * (unreadable, not JSON, corrupt gzip) has `where: null`.
 */
export type InputItem =
  | { type: 'record'; file: string; where: string; record: unknown }
  | { type: 'problem'; file: string; where: string | null; reason: string };

export type InputProblem = Extract<InputItem, { type: 'problem' }>;

/** `where` of a record that is the whole parsed document. */
export const WHOLE_DOCUMENT = 'document';

/**
 * Real deliveries nest at most four deep (Lambda SQS event → message → EventBridge event →
 * detail); the limit only stops hostile or corrupt input from exhausting the stack.
 */
const MAX_DEPTH = 32;

/** Turns one parsed JSON document into the CloudTrail records it holds. */
export function extractRecords(doc: unknown, file: string, where?: string): InputItem[] {
  // Pushed one by one rather than spread: a log file can hold hundreds of thousands of records,
  // more than a spread call's argument limit.
  const out: InputItem[] = [];
  for (const item of iterateRecords(doc, file, where)) out.push(item);
  return out;
}

/**
 * The same, one item at a time: a document of millions of tiny elements must not become an
 * array of millions of items on top of the parsed document.
 */
export function iterateRecords(doc: unknown, file: string, where?: string): Generator<InputItem> {
  return extractInto(doc, file, where ?? null, 0);
}

/**
 * The arrays a streaming reader may hand over element by element instead of as one parsed
 * document: a log file's (or Lambda SQS event's) `Records`, LookupEvents output's `Events`, or
 * a top-level array. `extractElement` gives exactly what `iterateRecords` gives for that element
 * of the whole document.
 */
export type StreamedContainer = 'Records' | 'Events' | 'array';

/**
 * `index` counts from 1; `where` is the document's own label (a JSON Lines line), if any.
 * `containerDepth` is the container's nesting depth: 0 gives exactly what `iterateRecords` gives
 * for the document parsed whole; the streaming reader has always counted 1.
 */
export function extractElement(container: StreamedContainer, element: unknown, index: number, file: string, where?: string, containerDepth = 1): Generator<InputItem> {
  return elementOf(container, element, index, file, where ?? null, containerDepth);
}

/** The `where` of an element that could not be parsed or was too large. */
export function elementLabel(container: StreamedContainer, index: number, where?: string): string {
  const segment = container === 'Records' ? `record ${index}` : container === 'Events' ? `event ${index}` : `item ${index}`;
  return label(where ?? null, segment);
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function label(where: string | null, segment: string): string {
  return where === null ? segment : `${where}, ${segment}`;
}

function problem(file: string, where: string | null, reason: string): InputItem {
  return { type: 'problem', file, where, reason };
}

/** A value that must itself be a record: an element of a log file's `Records`, a parsed `CloudTrailEvent`. */
function recordOrProblem(value: unknown, file: string, where: string | null): InputItem {
  if (isObject(value)) return { type: 'record', file, where: where ?? WHOLE_DOCUMENT, record: value };
  return problem(file, where, `not a CloudTrail record, envelope or log file (got ${describeType(value)})`);
}

/**
 * A JSON.parse error message, safe to print. V8 quotes a few characters of the input
 * (`Unexpected token '\u001b', "\u001b[2J..." is not valid JSON`), and a binary file would
 * otherwise put raw control characters, terminal escapes included, into the report.
 */
export function jsonErrorMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, error: jsonErrorMessage(err) };
  }
}

/** An element of a Lambda SQS event's `Records`, which shares its key with a CloudTrail log file. */
function isSqsEventRecord(value: unknown): value is JsonObject & { body: string } {
  return isObject(value) && value['eventSource'] === 'aws:sqs' && typeof value['body'] === 'string';
}

/** `CloudTrailEvent` is a JSON string in LookupEvents output; an already-parsed object is accepted too. */
function hasCloudTrailEvent(value: JsonObject): boolean {
  const inner = value['CloudTrailEvent'];
  return typeof inner === 'string' || isObject(inner);
}

function* extractInto(doc: unknown, file: string, where: string | null, depth: number): Generator<InputItem> {
  if (depth > MAX_DEPTH) {
    yield problem(file, where, `containers nested more than ${MAX_DEPTH} deep`);
    return;
  }

  if (Array.isArray(doc)) {
    for (let i = 0; i < doc.length; i++) yield* elementOf('array', doc[i], i + 1, file, where, depth);
    return;
  }

  if (!isObject(doc)) {
    yield recordOrProblem(doc, file, where);
    return;
  }

  // No CloudTrail record has a top-level `Records`, `Events`, `CloudTrailEvent`, `messageId`
  // or `detail-type` key, so these checks cannot swallow a bare record.
  if ('Records' in doc) {
    const records = doc['Records'];
    if (!Array.isArray(records)) {
      yield problem(file, where, `"Records" is not an array (got ${describeType(records)})`);
      return;
    }
    for (let i = 0; i < records.length; i++) yield* elementOf('Records', records[i], i + 1, file, where, depth);
    return;
  }

  if ('Events' in doc) {
    const events = doc['Events'];
    if (!Array.isArray(events)) {
      yield problem(file, where, `"Events" is not an array (got ${describeType(events)})`);
      return;
    }
    for (let i = 0; i < events.length; i++) yield* elementOf('Events', events[i], i + 1, file, where, depth);
    return;
  }

  if (hasCloudTrailEvent(doc)) {
    yield extractLookupEvent(doc, file, where);
    return;
  }

  if (typeof doc['body'] === 'string' && 'messageId' in doc) {
    yield* extractSqsBody(doc['body'], file, where, depth + 1);
    return;
  }

  // The detail-type string is not checked: the China-partition docs print a different one
  // (docs/cloudtrail.md §4a), and a test or replay tool may write its own.
  if ('detail-type' in doc && 'source' in doc && isObject(doc['detail'])) {
    yield recordOrProblem(doc['detail'], file, where);
    return;
  }

  yield recordOrProblem(doc, file, where);
}

/** One element of a container at `depth` (the container's own depth). */
function* elementOf(container: StreamedContainer, element: unknown, index: number, file: string, where: string | null, depth: number): Generator<InputItem> {
  switch (container) {
    case 'array':
      yield* extractInto(element, file, label(where, `item ${index}`), depth + 1);
      return;
    case 'Records':
      // Decided per element, so a Lambda SQS event never has its messages taken for records.
      if (isSqsEventRecord(element)) yield* extractSqsBody(element.body, file, label(where, `message ${index}`), depth + 1);
      else yield recordOrProblem(element, file, label(where, `record ${index}`));
      return;
    case 'Events': {
      const at = label(where, `event ${index}`);
      if (isObject(element) && hasCloudTrailEvent(element)) yield extractLookupEvent(element, file, at);
      else yield problem(file, at, 'LookupEvents event has no CloudTrailEvent string');
      return;
    }
  }
}

function extractLookupEvent(event: JsonObject, file: string, where: string | null): InputItem {
  const inner = event['CloudTrailEvent'];
  if (typeof inner !== 'string') return recordOrProblem(inner, file, where);
  const parsed = parseJson(inner);
  return parsed.ok ? recordOrProblem(parsed.value, file, where) : problem(file, where, `CloudTrailEvent is not JSON: ${parsed.error}`);
}

function* extractSqsBody(body: string, file: string, where: string | null, depth: number): Generator<InputItem> {
  const parsed = parseJson(body);
  // The body is normally an EventBridge event, but a producer may have sent the bare record.
  if (parsed.ok) yield* extractInto(parsed.value, file, where, depth);
  else yield problem(file, where, `SQS message body is not JSON: ${parsed.error}`);
}

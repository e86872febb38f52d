/**
 * Unwraps the containers CloudTrail records arrive in (log file, EventBridge event, SQS message,
 * LookupEvents result) into bare records. Pure: the caller has already read and parsed the JSON.
 * Container shapes: ../shared/design/CLOUDTRAIL.md section 4a.
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
  const out: InputItem[] = [];
  // Items are pushed into one array rather than returned and spread: a log file can hold
  // hundreds of thousands of records, more than a spread call's argument limit.
  extractInto(out, doc, file, where ?? null, 0);
  return out;
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

function problem(out: InputItem[], file: string, where: string | null, reason: string): void {
  out.push({ type: 'problem', file, where, reason });
}

/** A value that must itself be a record: an element of a log file's `Records`, a parsed `CloudTrailEvent`. */
function pushRecord(out: InputItem[], value: unknown, file: string, where: string | null): void {
  if (isObject(value)) {
    out.push({ type: 'record', file, where: where ?? WHOLE_DOCUMENT, record: value });
  } else {
    problem(out, file, where, `not a CloudTrail record, envelope or log file (got ${describeType(value)})`);
  }
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

function extractInto(out: InputItem[], doc: unknown, file: string, where: string | null, depth: number): void {
  if (depth > MAX_DEPTH) {
    problem(out, file, where, `containers nested more than ${MAX_DEPTH} deep`);
    return;
  }

  if (Array.isArray(doc)) {
    for (let i = 0; i < doc.length; i++) {
      extractInto(out, doc[i], file, label(where, `item ${i + 1}`), depth + 1);
    }
    return;
  }

  if (!isObject(doc)) {
    pushRecord(out, doc, file, where);
    return;
  }

  // No CloudTrail record has a top-level `Records`, `Events`, `CloudTrailEvent`, `messageId`
  // or `detail-type` key, so these checks cannot swallow a bare record.
  if ('Records' in doc) {
    const records = doc['Records'];
    if (!Array.isArray(records)) {
      problem(out, file, where, `"Records" is not an array (got ${describeType(records)})`);
      return;
    }
    for (let i = 0; i < records.length; i++) {
      const element: unknown = records[i];
      // Decided per element, so a Lambda SQS event never has its messages taken for records.
      if (isSqsEventRecord(element)) {
        extractSqsBody(out, element.body, file, label(where, `message ${i + 1}`), depth + 1);
      } else {
        pushRecord(out, element, file, label(where, `record ${i + 1}`));
      }
    }
    return;
  }

  if ('Events' in doc) {
    const events = doc['Events'];
    if (!Array.isArray(events)) {
      problem(out, file, where, `"Events" is not an array (got ${describeType(events)})`);
      return;
    }
    for (let i = 0; i < events.length; i++) {
      const element: unknown = events[i];
      const at = label(where, `event ${i + 1}`);
      if (isObject(element) && hasCloudTrailEvent(element)) {
        extractLookupEvent(out, element, file, at);
      } else {
        problem(out, file, at, 'LookupEvents event has no CloudTrailEvent string');
      }
    }
    return;
  }

  if (hasCloudTrailEvent(doc)) {
    extractLookupEvent(out, doc, file, where);
    return;
  }

  if (typeof doc['body'] === 'string' && 'messageId' in doc) {
    extractSqsBody(out, doc['body'], file, where, depth + 1);
    return;
  }

  // The detail-type string is not checked: the China-partition docs print a different one
  // (CLOUDTRAIL.md 4a), and a test or replay tool may write its own.
  if ('detail-type' in doc && 'source' in doc && isObject(doc['detail'])) {
    pushRecord(out, doc['detail'], file, where);
    return;
  }

  pushRecord(out, doc, file, where);
}

function extractLookupEvent(out: InputItem[], event: JsonObject, file: string, where: string | null): void {
  const inner = event['CloudTrailEvent'];
  if (typeof inner !== 'string') {
    pushRecord(out, inner, file, where);
    return;
  }
  const parsed = parseJson(inner);
  if (parsed.ok) {
    pushRecord(out, parsed.value, file, where);
  } else {
    problem(out, file, where, `CloudTrailEvent is not JSON: ${parsed.error}`);
  }
}

function extractSqsBody(out: InputItem[], body: string, file: string, where: string | null, depth: number): void {
  const parsed = parseJson(body);
  if (parsed.ok) {
    // The body is normally an EventBridge event, but a producer may have sent the bare record.
    extractInto(out, parsed.value, file, where, depth);
  } else {
    problem(out, file, where, `SQS message body is not JSON: ${parsed.error}`);
  }
}

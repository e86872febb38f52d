/**
 * Reading a log file without building every record: 90 % of a trail's records are out of scope, and
 * `JSON.parse` of each one (then `matchingRules` on it) was most of the reading side of analyze.
 *
 * A log file's `Records` elements are scanned byte by byte, once: the scan validates each element
 * exactly as `JSON.parse` would accept it, and keeps only a *skeleton* of it: the fields the rule
 * patterns read (their key tree, `PREFILTER_FIELDS`), the ones the EventBridge envelope is built
 * from, and the ones coverage notes (eventTime, recipientAccountId or userIdentity.accountId,
 * awsRegion). Every value the skeleton keeps is the value `JSON.parse` gives (escapes decoded, the
 * last of duplicate keys winning, a non-object where an object is expected kept whole), so
 * `matchingRules(cloudTrailEnvelope(skeleton))` is `matchingRules(cloudTrailEnvelope(record))`:
 * `matchesPattern` reads nothing outside the pattern's own keys. A record no rule matches is
 * counted out of scope from its skeleton; any other record, and any element the scan is unsure of
 * (not an object, not valid JSON, nested too deep), is parsed in full as before.
 *
 * Pure: bytes in, skeletons out.
 */
import { elementLabel, extractElement, jsonErrorMessage, type InputItem } from './envelopes';
import { WasmRecordScan } from './record-scan';
import { cloudTrailEnvelope, matchesAnyRule, rulePatterns, type EventPattern, type RuleName } from './rule-patterns';
import { SELECTED_FIELDS } from './trail-sql';

/** A key tree: `true` for a value kept whole, a subtree for an object of which only those keys are kept. */
export interface FieldTree {
  [key: string]: FieldTree | true;
}

/**
 * One element of a log file's `Records`, not parsed yet: what the ingest decides on with the rules
 * it holds at that record (they grow as node roles are seen), parsing it only when it may be in scope.
 */
export interface RawRecord {
  type: 'raw';
  file: string;
  /** Position in `Records`, from 1. */
  index: number;
  /** The element's bytes (a view into the file's). */
  bytes: Buffer;
  /** What the rules and coverage read of it; null when it must be parsed (not an object, not JSON, or unsure). */
  skeleton: Record<string, unknown> | null;
  /**
   * The container depth `extractElement` starts from: 0 for a document parsed whole (as
   * `iterateRecords` sees it), 1 for a streamed one (as `JsonStreamSplitter` has always counted).
   */
  depth: 0 | 1;
}

/** The fields of a record read besides the patterns: the envelope's and coverage's (ingest-pipeline `noteCoverage`), and an SQS message's. */
const FIXED_FIELDS: FieldTree = {
  eventSource: true,
  eventName: true,
  eventTime: true,
  awsRegion: true,
  recipientAccountId: true,
  userIdentity: { accountId: true },
};

/** The `detail` key tree of a set of patterns; null when a pattern reads the record in a way a skeleton cannot stand for. */
export function patternFields(patterns: Partial<Record<RuleName, EventPattern>>): FieldTree | null {
  const tree: FieldTree = {};
  for (const pattern of Object.values(patterns)) {
    if (pattern === undefined) continue;
    if (!addEnvelopeKeys(pattern, tree)) return null;
  }
  return tree;
}

/** Envelope keys built from the skeleton's fields (cloudTrailEnvelope): any other one is unknown. */
const ENVELOPE_KEYS = new Set(['version', 'detail-type', 'source', 'account', 'region']);

function addEnvelopeKeys(pattern: EventPattern, tree: FieldTree): boolean {
  for (const [key, value] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!(value as EventPattern[]).every((alternative) => addEnvelopeKeys(alternative, tree))) return false;
    } else if (key === 'detail') {
      // The record as a whole matched against leaf matchers would need all of it.
      if (Array.isArray(value)) return false;
      addKeys(value as EventPattern, tree);
    } else if (!ENVELOPE_KEYS.has(key)) return false;
  }
  return true;
}

function addKeys(pattern: EventPattern, tree: FieldTree): void {
  for (const [key, value] of Object.entries(pattern)) {
    if (key === '$or') {
      for (const alternative of value as EventPattern[]) addKeys(alternative, tree);
      continue;
    }
    if (Array.isArray(value)) tree[key] = true;
    else {
      const existing = tree[key];
      if (existing === true) continue; // kept whole already
      const sub: FieldTree = existing ?? {};
      addKeys(value as EventPattern, sub);
      tree[key] = sub;
    }
  }
}

function mergeTrees(a: FieldTree, b: FieldTree): FieldTree {
  const out: FieldTree = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const existing = out[key];
    if (existing === undefined) out[key] = value;
    else if (existing === true || value === true) out[key] = true;
    else out[key] = mergeTrees(existing, value);
  }
  return out;
}

/** Whether every key of `tree` is kept by `kept` (a subtree kept whole counts as kept). */
function within(tree: FieldTree, kept: FieldTree): boolean {
  return Object.entries(tree).every(([key, value]) => {
    const k = kept[key];
    if (k === undefined) return false;
    if (k === true) return true;
    return value !== true && within(value, k);
  });
}

/**
 * The fields the reader keeps of each record: those of every rule the ingest may hold (the
 * node-role rule appears once a node role is known, so it is included with a placeholder role).
 */
export const PREFILTER_FIELDS: FieldTree = mergeTrees(FIXED_FIELDS, patternFields(rulePatterns({ nodeRoleArns: ['arn:aws:iam::000000000000:role/placeholder'] })) ?? {});

/**
 * What the ingest reads of a record it parses: the fields above (rules, envelope, coverage) and
 * those the normalizer reads (trail-sql `SELECTED_FIELDS`, which the Athena and DuckDB backfills
 * select for the same reason). A reading thread hands such a record over as these fields alone
 * (`writeParsedFields`): a fleet's in-scope record is ~2.3 KB of JSON, half of it credentials,
 * TLS details, resources and request ids that nothing reads, and parsing it whole was the main
 * thread's largest single cost.
 */
export const PARSED_FIELDS: FieldTree = mergeTrees(PREFILTER_FIELDS, treeOfPaths(SELECTED_FIELDS.map((f) => f.path)));

function treeOfPaths(paths: readonly (readonly string[])[]): FieldTree {
  const tree: FieldTree = {};
  for (const path of paths) {
    let at = tree;
    for (const [i, key] of path.entries()) {
      if (i === path.length - 1) at[key] = true;
      else {
        const next = at[key];
        if (next === true) break;
        at = at[key] = next ?? {};
      }
    }
  }
  return tree;
}

/**
 * Whether skeletons of `PREFILTER_FIELDS` can decide these rules. Always true for today's rules;
 * a pattern that reads another field (or the record whole) makes the ingest parse every record.
 */
export function prefilterCovers(patterns: Partial<Record<RuleName, EventPattern>>): boolean {
  const fields = patternFields(patterns);
  return fields !== null && within(fields, PREFILTER_FIELDS);
}

/**
 * True when the full path would count this record out of scope: a record (not an SQS message of
 * a Lambda event) with string eventSource and eventName that no rule matches. `prefilterCovers`
 * must hold for `patterns`.
 */
export function skeletonOutOfScope(skeleton: Record<string, unknown>, patterns: Partial<Record<RuleName, EventPattern>>): boolean {
  if (typeof skeleton['eventSource'] !== 'string' || typeof skeleton['eventName'] !== 'string') return false;
  if (maySqsMessage(skeleton)) return false;
  return !matchesAnyRule(cloudTrailEnvelope(skeleton), patterns);
}

/**
 * Whether the element may be an SQS message of a Lambda event, which the ingest unwraps (its body
 * read) rather than reads as a record (envelopes `isSqsEventRecord`; the skeleton holds its
 * eventSource, not its body, so any `aws:sqs` element counts).
 */
export function maySqsMessage(skeleton: Record<string, unknown>): boolean {
  return skeleton['eventSource'] === 'aws:sqs';
}

/**
 * `skeletonOutOfScope`, remembered per rule set by what of the skeleton the rules can read (the
 * envelope's fields and the patterns' own, not eventTime): a trail repeats the same callers and
 * calls, and matching one record against every pattern costs more than looking it up.
 */
export class OutOfScopeMemo {
  private readonly fields: FieldTree;
  private readonly known = new Map<string, boolean>();
  /** Whether a reading thread's keys (record-skim, over VERDICT_FIELDS) tell these rules' verdicts apart. */
  private readonly keyed: boolean;
  private readonly byKey = new WeakMap<SkimDictionary, (boolean | undefined)[]>();
  private readonly matchesByKey = new WeakMap<SkimDictionary, (boolean | undefined)[]>();

  constructor(private readonly patterns: Partial<Record<RuleName, EventPattern>>) {
    const read = patternFields(patterns) ?? {};
    this.fields = mergeTrees(VERDICT_BASE, read);
    this.keyed = within(read, VERDICT_FIELDS);
  }

  /**
   * `outOfScope` of a record the reading thread keyed (core/record-skim): the same verdict, decided
   * once per key from the key's first skeleton. False (parse it) when these rules read a field the
   * key leaves out, or the key is unknown.
   */
  outOfScopeKey(dictionary: SkimDictionary, key: number): boolean {
    return this.keyVerdict(this.byKey, dictionary, key, this.judgeOutOfScope);
  }

  /**
   * Whether a rule matches each record the reading thread gave this key, as `matchesAnyRule` on the
   * record's envelope would say (the key holds every field the rules read), for a record the ingest
   * reads as a trail's (not an SQS message, which is unwrapped). False when it cannot say: the rules
   * read a field the key leaves out, or the key is unknown.
   */
  matchesKey(dictionary: SkimDictionary, key: number): boolean {
    return this.keyVerdict(this.matchesByKey, dictionary, key, this.judgeMatches);
  }

  private readonly judgeOutOfScope = (skeleton: Record<string, unknown>) => skeletonOutOfScope(skeleton, this.patterns);
  private readonly judgeMatches = (skeleton: Record<string, unknown>) => !maySqsMessage(skeleton) && matchesAnyRule(cloudTrailEnvelope(skeleton), this.patterns);

  /** `judge` of a key's first skeleton, once per key and dictionary; false when the key cannot decide these rules. */
  private keyVerdict(memo: WeakMap<SkimDictionary, (boolean | undefined)[]>, dictionary: SkimDictionary, key: number, judge: (skeleton: Record<string, unknown>) => boolean): boolean {
    if (!this.keyed) return false;
    let verdicts = memo.get(dictionary);
    if (verdicts === undefined) memo.set(dictionary, (verdicts = []));
    let verdict = verdicts[key];
    if (verdict === undefined) {
      const skeleton = dictionary.skeletons.get(key);
      verdict = skeleton !== undefined && judge(skeleton);
      verdicts[key] = verdict;
    }
    return verdict;
  }

  outOfScope(skeleton: Record<string, unknown>): boolean {
    const key = projectionKey(skeleton, this.fields);
    let verdict = this.known.get(key);
    if (verdict === undefined) {
      verdict = skeletonOutOfScope(skeleton, this.patterns);
      // Bounded: a trail of ever-new callers keeps only the recent ones.
      if (this.known.size >= MEMO_ENTRIES) this.known.clear();
      this.known.set(key, verdict);
    }
    return verdict;
  }
}

const MEMO_ENTRIES = 50_000;

/** What any memo's key holds besides the patterns' fields. */
const VERDICT_BASE: FieldTree = { eventSource: true, eventName: true, recipientAccountId: true, awsRegion: true };

/**
 * What a reading thread keys records by (core/record-skim): every field a rule may read, and the
 * envelope's, but not eventTime, which no rule reads and which would make nearly every key new.
 * Records with the same key get the same verdict from any rules whose fields are within it.
 */
export const VERDICT_FIELDS: FieldTree = mergeTrees(VERDICT_BASE, Object.fromEntries(Object.entries(PREFILTER_FIELDS).filter(([name]) => name !== 'eventTime')));

/**
 * Keys a reading thread has sent so far, each with the skeleton of the first record that had it.
 * A thread starts a new dictionary (a new epoch) when one grows past its bound; a file's records
 * keep a reference to the dictionary their keys belong to.
 */
export interface SkimDictionary {
  epoch: number;
  skeletons: Map<number, Record<string, unknown>>;
}

/**
 * A key for the skeleton's values at the tree's keys (the skeleton is already restricted to a
 * wider tree): each present key's name and its value as JSON, nested ones in braces; one string
 * per distinct projection, with no object built.
 */
export function projectionKey(value: Record<string, unknown>, tree: FieldTree): string {
  let key = '{';
  for (const name in tree) {
    if (!Object.hasOwn(value, name)) {
      key += ',';
      continue;
    }
    const sub = tree[name] as FieldTree | true;
    const v = value[name];
    if (typeof v === 'string') key += `"${v.length}:${v},`;
    else if (sub === true || typeof v !== 'object' || v === null || Array.isArray(v)) key += `${JSON.stringify(v)},`;
    else key += `${projectionKey(v as Record<string, unknown>, sub)},`;
  }
  return `${key}}`;
}

/** The items the full path gives for a raw element: it parsed, then unwrapped as `Records` element `index`. */
export function expandRaw(raw: RawRecord): InputItem[] {
  let element: unknown;
  try {
    element = JSON.parse(raw.bytes.toString('utf8'));
  } catch (err) {
    return [{ type: 'problem', file: raw.file, where: elementLabel('Records', raw.index), reason: `not JSON: ${jsonErrorMessage(err)}` }];
  }
  return [...extractElement('Records', element, raw.index, raw.file, undefined, raw.depth)];
}

// ---------------------------------------------------------------------------------------------
// The scanner.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

/** Deeper than this, the scan gives up and the element is parsed (JSON.parse goes much deeper). */
const MAX_SCAN_DEPTH = 128;

/** Thrown (one object, no stack) when the bytes are not what the scan can vouch for. */
const UNSURE = new Error('unsure');

/** A key of a compiled tree: its bytes, its name, its subtree (null for a value kept whole) and its slot. */
interface CompiledKey {
  bytes: Buffer;
  name: string;
  /** `"name":`, as `writeParsedFields` writes the key. */
  quoted: Buffer;
  child: CompiledTree | null;
  /** Where `valueRanges` notes this key's value (a subtree's when it is not an object). */
  slot: number;
}

/**
 * A key tree compiled for byte comparison: a key's bytes are looked up by length, then compared.
 * Every key has a slot, numbered depth first, so that a subtree's keys are the slots `[from, to)`.
 */
interface CompiledTree {
  /** Indexed by a key's length in bytes (an array: looked up for every key of every record). */
  byLength: (CompiledKey[] | undefined)[];
  byName: Map<string, CompiledKey>;
  from: number;
  to: number;
}

function compile(tree: FieldTree, next = { slot: 0 }): CompiledTree {
  const compiled: CompiledTree = { byLength: [], byName: new Map(), from: next.slot, to: next.slot };
  for (const [name, value] of Object.entries(tree)) {
    const slot = next.slot++;
    const child = value === true ? null : compile(value, next);
    const key: CompiledKey = { bytes: Buffer.from(name, 'utf8'), name, quoted: Buffer.from(`${JSON.stringify(name)}:`), child, slot };
    const list = compiled.byLength[key.bytes.length] ?? [];
    list.push(key);
    compiled.byLength[key.bytes.length] = list;
    compiled.byName.set(name, key);
  }
  compiled.to = next.slot;
  return compiled;
}

const isHex = (c: number) => (c >= ZERO && c <= NINE) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

/** The escapes JSON allows after a backslash, besides `u`: " \ / b f n r t. */
const SIMPLE_ESCAPES = new Uint8Array(256);
for (const c of '"\\/bfnrt') SIMPLE_ESCAPES[c.charCodeAt(0)] = 1;

/** What a byte means inside a string: most are plain, and one table load says so. */
const PLAIN = 0;
const END = 1;
const ESCAPE = 2;
const NOT_ALLOWED = 3;
const NON_ASCII = 4;
const STRING_BYTES = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) STRING_BYTES[c] = NOT_ALLOWED;
for (let c = 0x80; c < 0x100; c++) STRING_BYTES[c] = NON_ASCII;
STRING_BYTES[QUOTE] = END;
STRING_BYTES[BACKSLASH] = ESCAPE;

/** What `skipString` saw in the string it skipped: bit 1 an escape, bit 2 a byte outside ASCII. */
let stringFlags = 0;
const ESCAPED = 1;
const HIGH = 2;

/**
 * Skips a string whose opening quote is at `i - 1`; returns the index after its closing quote, or
 * -1 when it is not a valid JSON string (raw control character, bad escape, no end).
 */
function skipString(b: Buffer, i: number, end: number): number {
  let flags = 0;
  while (i < end) {
    const kind = STRING_BYTES[b[i] as number] as number;
    if (kind === PLAIN) {
      i++;
      continue;
    }
    if (kind === END) {
      stringFlags = flags;
      return i + 1;
    }
    if (kind === NOT_ALLOWED) return -1;
    if (kind === NON_ASCII) {
      flags |= HIGH;
      i++;
      continue;
    }
    flags |= ESCAPED;
    const e = i + 1 < end ? (b[i + 1] as number) : -1;
    if (e === 0x75) {
      if (i + 6 > end || !isHex(b[i + 2] as number) || !isHex(b[i + 3] as number) || !isHex(b[i + 4] as number) || !isHex(b[i + 5] as number)) return -1;
      i += 6;
    } else if (e >= 0 && SIMPLE_ESCAPES[e] === 1) i += 2;
    else return -1;
  }
  return -1;
}

const isDigit = (c: number) => c >= ZERO && c <= NINE;

/** Skips a number starting at `i`; returns the index after it, or -1. */
function skipNumber(b: Buffer, i: number, end: number): number {
  let c = i < end ? (b[i] as number) : -1;
  if (c === MINUS) c = ++i < end ? (b[i] as number) : -1;
  if (c === ZERO) c = ++i < end ? (b[i] as number) : -1;
  else if (isDigit(c)) {
    do c = ++i < end ? (b[i] as number) : -1;
    while (isDigit(c));
  } else return -1;
  if (c === DOT) {
    c = ++i < end ? (b[i] as number) : -1;
    if (!isDigit(c)) return -1;
    do c = ++i < end ? (b[i] as number) : -1;
    while (isDigit(c));
  }
  if (c === 0x65 || c === 0x45) {
    c = ++i < end ? (b[i] as number) : -1;
    if (c === PLUS || c === MINUS) c = ++i < end ? (b[i] as number) : -1;
    if (!isDigit(c)) return -1;
    do c = ++i < end ? (b[i] as number) : -1;
    while (isDigit(c));
  }
  return i;
}

function skipLiteral(b: Buffer, i: number, end: number, text: Buffer): number {
  if (i + text.length > end) return -1;
  for (let k = 0; k < text.length; k++) if (b[i + k] !== text[k]) return -1;
  return i + text.length;
}

/** Past a member's key and its colon (`"key" :`), from the key's opening quote; -1 if not there. */
function skipKeyAndColon(b: Buffer, i: number, end: number): number {
  if (i >= end || b[i] !== QUOTE) return -1;
  i = skipString(b, i + 1, end);
  if (i < 0) return -1;
  i = skipSpaces(b, i, end);
  if (i >= end || b[i] !== COLON) return -1;
  return i + 1;
}

function skipSpaces(b: Buffer, i: number, end: number): number {
  while (i < end) {
    const c = b[i] as number;
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else break;
  }
  return i;
}

/** Containers open while skipping: 1 an object, 2 an array. One buffer, reused (single thread). */
const containers = new Uint8Array(MAX_SCAN_DEPTH + 1);

/**
 * Skips (validating) the JSON value starting at `i`, `depth` containers deep already; returns the
 * index after it, or -1 when it is not valid JSON or nests past MAX_SCAN_DEPTH. One loop with an
 * explicit stack: most of a record's bytes are in values no rule reads.
 */
function skipJson(b: Buffer, i: number, end: number, depth: number): number {
  const base = depth;
  for (;;) {
    // A value at i.
    i = skipSpaces(b, i, end);
    if (i >= end) return -1;
    const c = b[i] as number;
    if (c === QUOTE) i = skipString(b, i + 1, end);
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (depth >= MAX_SCAN_DEPTH) return -1;
      i = skipSpaces(b, i + 1, end);
      const close = c === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET;
      if (i < end && b[i] === close) i++;
      else {
        containers[++depth] = c === OPEN_BRACE ? 1 : 2;
        if (c === OPEN_BRACE) {
          // A key and its colon, then the member's value.
          i = skipKeyAndColon(b, i, end);
          if (i < 0) return -1;
        }
        continue;
      }
    } else if (c === 0x74) i = skipLiteral(b, i, end, TRUE);
    else if (c === 0x66) i = skipLiteral(b, i, end, FALSE);
    else if (c === 0x6e) i = skipLiteral(b, i, end, NULL);
    else i = skipNumber(b, i, end);
    if (i < 0) return -1;
    // After a value: a comma (next member or element), or the end of containers.
    for (;;) {
      if (depth === base) return i;
      i = skipSpaces(b, i, end);
      if (i >= end) return -1;
      const d = b[i] as number;
      const inObject = containers[depth] === 1;
      if (d === COMMA) {
        i++;
        if (inObject) {
          i = skipKeyAndColon(b, skipSpaces(b, i, end), end);
          if (i < 0) return -1;
        }
        break;
      }
      if (d !== (inObject ? CLOSE_BRACE : CLOSE_BRACKET)) return -1;
      i++;
      depth--;
    }
  }
}

/**
 * Validates JSON over a buffer and builds skeletons. Single-use per buffer; `pos` moves forward.
 * The grammar is RFC 8259's, which is what `JSON.parse` accepts: whitespace is space, tab, LF and
 * CR only; no raw control character in a string; numbers without leading zeros or a bare dot.
 */
export class JsonScanner {
  pos: number;

  constructor(
    private readonly b: Buffer,
    start: number,
    private readonly end: number,
  ) {
    this.pos = start;
  }

  skipSpace(): void {
    this.pos = skipSpaces(this.b, this.pos, this.end);
  }

  /** The byte at the position, or -1 at the end. */
  peek(): number {
    return this.pos < this.end ? (this.b[this.pos] as number) : -1;
  }

  expect(c: number): void {
    if (this.peek() !== c) throw UNSURE;
    this.pos++;
  }

  /** Reads the exact bytes of `text` (ASCII) at the position, or throws. */
  literal(text: Buffer): void {
    const at = skipLiteral(this.b, this.pos, this.end, text);
    if (at < 0) throw UNSURE;
    this.pos = at;
  }

  /** Skips (validating) one value at the position, `depth` containers deep. */
  skipValue(depth: number): void {
    const at = skipJson(this.b, this.pos, this.end, depth);
    if (at < 0) throw UNSURE;
    this.pos = at;
  }

  /** The value at the position as JSON.parse gives it; validated by skipping first. */
  private wholeValue(depth: number): unknown {
    const start = this.pos;
    const b = this.b;
    if (b[start] === QUOTE) {
      const at = skipString(b, start + 1, this.end);
      if (at < 0) throw UNSURE;
      this.pos = at;
      if (stringFlags === 0) return b.toString('latin1', start + 1, at - 1);
    } else this.skipValue(depth);
    return JSON.parse(b.toString('utf8', start, this.pos));
  }

  /**
   * Skips the object at the position and returns its skeleton: the tree's keys that are present,
   * each with JSON.parse's value (a subtree's value restricted to the subtree's keys when it is an
   * object). Keys are assigned in order, so the last of duplicates wins.
   */
  object(tree: CompiledTree, depth: number): Record<string, unknown> {
    if (depth > MAX_SCAN_DEPTH) throw UNSURE;
    const out: Record<string, unknown> = {};
    if (this.open()) {
      do {
        const entry = this.member(tree);
        if (entry === undefined) this.skipValue(depth);
        else if (entry.child !== null && this.peek() === OPEN_BRACE) out[entry.name] = this.object(entry.child, depth + 1);
        else out[entry.name] = this.wholeValue(depth);
      } while (this.next());
    }
    return out;
  }

  /**
   * `object` without building anything: skips (validating) the object at the position and notes in
   * `ranges` where each value the skeleton would hold lies, slot by slot (`ranges[2 * slot]` its
   * start, `ranges[2 * slot + 1]` its end, both -1 when absent). A subtree's key whose value is an
   * object notes its start and OBJECT, its keys in their own slots; any other value is noted whole.
   * As in the skeleton, the last of duplicate keys wins: a subtree's key seen again clears what
   * was noted under it. `ranges` must start all -1.
   */
  valueRanges(tree: CompiledTree, depth: number, ranges: Int32Array): void {
    if (depth > MAX_SCAN_DEPTH) throw UNSURE;
    if (!this.open()) return;
    do {
      const entry = this.member(tree);
      if (entry === undefined) {
        this.skipValue(depth);
        continue;
      }
      const start = this.pos;
      const at = 2 * entry.slot;
      const child = entry.child;
      if (child !== null) ranges.fill(-1, 2 * child.from, 2 * child.to);
      if (child !== null && this.peek() === OPEN_BRACE) {
        ranges[at] = start;
        ranges[at + 1] = OBJECT;
        this.valueRanges(child, depth + 1, ranges);
      } else {
        if (this.b[start] === QUOTE) {
          const end = skipString(this.b, start + 1, this.end);
          if (end < 0) throw UNSURE;
          this.pos = end;
        } else this.skipValue(depth);
        ranges[at] = start;
        ranges[at + 1] = this.pos;
      }
    } while (this.next());
  }

  /** Past the `{` at the position; false (and past the `}` too) when the object is empty. */
  private open(): boolean {
    this.pos++;
    this.skipSpace();
    if (this.peek() !== CLOSE_BRACE) return true;
    this.pos++;
    return false;
  }

  /** Past a member's key and colon, to its value; the tree's key it names, if any. */
  private member(tree: CompiledTree): CompiledKey | undefined {
    const b = this.b;
    this.skipSpace();
    if (this.peek() !== QUOTE) throw UNSURE;
    const keyStart = this.pos;
    const keyEnd = skipString(b, keyStart + 1, this.end);
    if (keyEnd < 0) throw UNSURE;
    this.pos = keyEnd;
    let entry: CompiledKey | undefined;
    if (stringFlags !== 0) entry = tree.byName.get(JSON.parse(b.toString('utf8', keyStart, keyEnd)) as string);
    else {
      const length = keyEnd - keyStart - 2;
      const candidates = length < tree.byLength.length ? tree.byLength[length] : undefined;
      if (candidates !== undefined) {
        for (const candidate of candidates) {
          let same = true;
          for (let k = 0; k < length; k++) {
            if (b[keyStart + 1 + k] !== candidate.bytes[k]) {
              same = false;
              break;
            }
          }
          if (same) {
            entry = candidate;
            break;
          }
        }
      }
    }
    this.skipSpace();
    this.expect(COLON);
    this.skipSpace();
    return entry;
  }

  /** After a member's value: true past a comma (another member follows), false past the closing `}`. */
  private next(): boolean {
    this.skipSpace();
    const c = this.peek();
    this.pos++;
    if (c === CLOSE_BRACE) return false;
    if (c !== COMMA) throw UNSURE;
    return true;
  }
}

/** In `valueRanges`, the end noted for a subtree's key whose value is an object (its keys are noted in their slots). */
export const OBJECT = -2;

const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL = Buffer.from('null');
const RECORDS_KEY = Buffer.from('"Records"');

const COMPILED_FIELDS = compile(PREFILTER_FIELDS);
/** The tree `scanRecordRangesInJs` (and record-scan.c) notes: what rules read (the key) and what the ingest parses (the fields handed over). */
const RANGE_FIELDS = compile(PARSED_FIELDS);

/**
 * The skeleton of one element's bytes, when they are exactly one JSON object (surrounding
 * whitespace allowed); null otherwise, or when unsure: the element is then parsed.
 */
export function skeletonOf(bytes: Buffer, start = 0, end = bytes.length): Record<string, unknown> | null {
  const scan = new JsonScanner(bytes, start, end);
  try {
    scan.skipSpace();
    if (scan.peek() !== OPEN_BRACE) return null;
    const skeleton = scan.object(COMPILED_FIELDS, 1);
    scan.skipSpace();
    return scan.pos === end ? skeleton : null;
  } catch (err) {
    if (err === UNSURE) return null;
    throw err;
  }
}

/**
 * A whole log file, `{"Records":[…]}` and nothing else, as raw elements, each validated and
 * skeletoned in one pass; null when the bytes are anything else or not valid JSON (a key after
 * `Records`, a duplicate `Records`, a broken element…): the caller then reads the file as before,
 * so a file JSON.parse rejects whole still gives the same problems.
 */
export function recordsDocument(file: string, bytes: Buffer): RawRecord[] | null {
  const out: RawRecord[] = [];
  const whole = scanRecordsDocument(bytes, (from, to, skeleton, index) => {
    out.push({ type: 'raw', file, index, bytes: bytes.subarray(from, to), skeleton, depth: 0 });
  });
  return whole ? out : null;
}

/**
 * The scan `recordsDocument` makes, handing over each element as it is passed: its bytes' range,
 * its skeleton (null when it is not an object) and its position in `Records` from 1. False when
 * the bytes are not such a document, perhaps after some elements were handed over: the caller
 * then drops what it was given and reads the file another way.
 */
export function scanRecordsDocument(bytes: Buffer, visit: (from: number, to: number, skeleton: Record<string, unknown> | null, index: number) => void): boolean {
  return scanElements(bytes, (scan) => scan.object(COMPILED_FIELDS, 2), visit);
}

/** Slots of `PARSED_FIELDS` in the scan's ranges (`scanRecordRangesInJs`), by path (`userIdentity.accountId`). */
export const FIELD_SLOTS: ReadonlyMap<string, number> = slotsByPath(RANGE_FIELDS, '');

function slotsByPath(tree: CompiledTree, prefix: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const key of tree.byName.values()) {
    out.set(prefix + key.name, key.slot);
    if (key.child !== null) for (const [path, slot] of slotsByPath(key.child, `${prefix}${key.name}.`)) out.set(path, slot);
  }
  return out;
}

/**
 * The scan `scanRecordsDocument` makes, handing over for each object element where the values its
 * skeleton would hold lie, and the other fields the ingest parses (`PARSED_FIELDS`; by
 * `JsonScanner.valueRanges`, slots in `FIELD_SLOTS`), instead of the skeleton: nothing is built,
 * and the caller builds a skeleton (`skeletonOf` on the element's bytes) only when these bytes are
 * new to it, and writes the parsed fields (`writeParsedFields`) of a record it hands over.
 * `ranges` is one array, valid during the call only; null for an element that is not an object.
 *
 * In JavaScript: what record-scan.c mirrors (`newRangeScan`), and the scan of a file too large for
 * it. The reading thread's skimmer (record-skim `Skimmer`) runs the WebAssembly one, this one
 * past its bound.
 */
export function scanRecordRangesInJs(bytes: Buffer, visit: (from: number, to: number, ranges: Int32Array | null, index: number) => void): boolean {
  const ranges = new Int32Array(2 * RANGE_FIELDS.to);
  return scanElements(
    bytes,
    (scan) => {
      ranges.fill(-1);
      scan.valueRanges(RANGE_FIELDS, 2, ranges);
      return ranges;
    },
    visit,
  );
}

/** `scanRecordRangesInJs` in WebAssembly (core/record-scan), an instance of its own: its caller keeps a key dictionary in it. */
export function newRangeScan(): WasmRecordScan {
  return new WasmRecordScan(RANGE_FIELDS);
}

/**
 * Writes the JSON of a record's `PARSED_FIELDS` as `scanRecordRangesInJs` noted them in `ranges`
 * (`bytes` the record's file): an object with those of its keys present, in the tree's order,
 * each value its own bytes, an object under a subtree's key written the same way, a subtree's key
 * with any other value written whole. `JSON.parse` of it is the parsed record restricted to those
 * fields, as `JSON.parse` would give them (the scan kept the last of duplicate keys, and validated
 * every byte). `out` must have room for the record's own length; returns where the JSON ends.
 */
export function writeParsedFields(bytes: Buffer, ranges: Int32Array, out: Buffer, at: number): number {
  return writeFields(RANGE_FIELDS, bytes, ranges, out, at);
}

function writeFields(tree: CompiledTree, bytes: Buffer, ranges: Int32Array, out: Buffer, at: number): number {
  out[at++] = OPEN_BRACE;
  let first = true;
  for (const key of tree.byName.values()) {
    const start = ranges[2 * key.slot] as number;
    if (start < 0) continue;
    if (!first) out[at++] = COMMA;
    first = false;
    at = copyBytes(key.quoted, 0, key.quoted.length, out, at);
    const end = ranges[2 * key.slot + 1] as number;
    if (end === OBJECT) at = writeFields(key.child as CompiledTree, bytes, ranges, out, at);
    else at = copyBytes(bytes, start, end, out, at);
  }
  out[at++] = CLOSE_BRACE;
  return at;
}

/**
 * `from.copy(out, at, start, end)`, and where the copy ends: a short run byte by byte, for a
 * record's keys and most of its values are a few dozen bytes, and `Buffer.copy`'s own cost was
 * most of writing an in-scope record's fields (~0.45 s of the reading thread on the fleet preset).
 */
function copyBytes(from: Buffer, start: number, end: number, out: Buffer, at: number): number {
  if (end - start > 256) return at + from.copy(out, at, start, end);
  for (let k = start; k < end; k++) out[at++] = from[k] as number;
  return at;
}

function scanElements<T>(bytes: Buffer, readObject: (scan: JsonScanner) => T, visit: (from: number, to: number, read: T | null, index: number) => void): boolean {
  let start = 0;
  // Windows tools prepend a BOM, which the whole-file path strips too.
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
  const scan = new JsonScanner(bytes, start, bytes.length);
  try {
    scan.skipSpace();
    scan.expect(OPEN_BRACE);
    scan.skipSpace();
    scan.literal(RECORDS_KEY);
    scan.skipSpace();
    scan.expect(COLON);
    scan.skipSpace();
    scan.expect(OPEN_BRACKET);
    scan.skipSpace();
    if (scan.peek() === CLOSE_BRACKET) scan.pos++;
    else {
      for (let index = 1; ; index++) {
        scan.skipSpace();
        const from = scan.pos;
        let read: T | null = null;
        // Depth 2: inside the document and its array, as JSON.parse of the file would nest it.
        if (scan.peek() === OPEN_BRACE) read = readObject(scan);
        else scan.skipValue(2);
        visit(from, scan.pos, read, index);
        scan.skipSpace();
        const c = scan.peek();
        scan.pos++;
        if (c === CLOSE_BRACKET) break;
        if (c !== COMMA) return false;
      }
    }
    scan.skipSpace();
    scan.expect(CLOSE_BRACE);
    scan.skipSpace();
    return scan.pos === bytes.length;
  } catch (err) {
    if (err === UNSURE) return false;
    throw err;
  }
}

/**
 * A log file's records skimmed on the reading thread (adapters/small-file-thread), so that the
 * thread parsing and storing (the main one) no longer scans every byte of every record: 90 % of a
 * trail is out of scope, and that scan, with the skeletons it builds, was a fifth of analyze's
 * main-thread time (and much of its garbage).
 *
 * The thread scans the file exactly as `recordsDocument` does and hands over, per record, where
 * its bytes are, a *key* for what the rules can read of it (its projection on VERDICT_FIELDS, as a
 * small number from a dictionary the thread keeps) and the hour it proves for coverage. It knows
 * nothing of the rules: the main thread decides each key once with the rules it holds when it
 * reaches the record (they grow as node roles are seen), from the key's first skeleton, which
 * comes with the first file that has the key. A record the rules may want is parsed from what
 * the thread hands over of it: the fields the ingest reads (record-prefilter `PARSED_FIELDS`),
 * written from the bytes the scan validated, about half the record.
 *
 * The thread itself builds no skeleton per record: the scan notes where the fields rules read lie,
 * the key is looked up by those bytes in the scan's own dictionary (record-scan.c `keyOf`; by
 * `keyText` in a Map for a file too large for the scan's memory) and the hour by comparing them
 * with the record before's (`FileHours`); a skeleton is built only for bytes new to the dictionary
 * or to the file's hours. Built per record, skeletons, their strings and projections were half the
 * thread's time; the key as a string looked up in a Map, another ~2.2 s of its ~15 s on the fleet
 * preset (~0.5 s in the scan's dictionary).
 *
 * Pure: bytes in, numbers and skeletons out.
 */
import type { FileRecordHour } from './coverage';
import { fileRecordHour } from './coverage';
import { withRoom } from './collections';
import { EventColumnsWriter, type EventColumns } from './event-columns';
import type { IdentityEvent } from './identity-event';
import type { NodeRoleMatcher } from './node-roles';
import { eventTimeWindowOf, identityCallKind, normalizeRecord, type NormalizeOptions } from './normalize';
import { KEY_NEW, KEY_TOO_LONG, MAX_WASM_KEYS } from './record-scan';
import { FIELD_SLOTS, maySqsMessage, newRangeScan, OBJECT, scanRecordRangesInJs, skeletonOf, skeletonOutOfScope, VERDICT_FIELDS, writeParsedFields, type FieldTree, type RawRecord, type SkimDictionary } from './record-prefilter';
import { widestRulePatterns } from './rule-patterns';

/**
 * In `SkimmedRecords.records`: no key (the element is not an object), no hour (no eventTime), or,
 * as a record's start, no bytes (it is out of scope for any rules, see `Skim.bytes`).
 */
export const NONE = 0xffffffff;

/** Per record, four numbers: start and end of its bytes, its key, its hour (index into `hours`). */
export const SKIM_FIELDS_PER_RECORD = 4;

/** What the thread hands over for one file; `keys` are the dictionary's entries new with it. */
export interface Skim {
  records: Uint32Array;
  epoch: number;
  keys: [key: number, skeleton: Record<string, unknown>][];
  hours: FileRecordHour[];
  /**
   * The bytes of the records that any rules might want, one after the other (`records` points into
   * them): a record no rules `rulePatterns` builds can want (no rule's event, and no role's call at
   * all for the node-role rule) is left out, and a record of a trail as its fields the ingest
   * parses (record-prefilter `writeParsedFields`; an SQS message of a Lambda event, which is
   * unwrapped, as its own bytes), so a fleet's log file comes over at a tenth of its size.
   */
  bytes: Buffer;
  /** The records normalized here, when asked (`Normalizing`); null when not asked. */
  events: SkimEvents | null;
}

/**
 * The clock and event time window a skim normalizes with (normalize.ts `NormalizeOptions`, in
 * milliseconds): the caller's, taken when it asked for the read.
 */
export interface Normalizing {
  now: number;
  notBefore: number;
  futureSlackMs: number;
}

/**
 * The records of a file normalized on the reading thread: those normalizeRecord reads without the
 * node roles (Pod Identity's AssumeRole and its credential fetch, web identity), which the ingest
 * would otherwise parse and normalize on its own thread, the one that sets analyze's pace. Only
 * records that became events: any other (skipped, rejected, or one whose outcome depends on the
 * node roles) is the caller's to parse, as before.
 */
export interface SkimEvents extends EventColumns {
  /** Per record of the file: its event's index in the columns, or NONE. */
  of: Uint32Array;
  normalizing: Normalizing;
}

/** `Normalizing` for the caller's options, taken now. */
export function normalizingOf(options: NormalizeOptions): Normalizing {
  const window = eventTimeWindowOf(options);
  return { now: options.now.getTime(), notBefore: window.notBefore.getTime(), futureSlackMs: window.futureSlackMs };
}

/**
 * Whether the events a skim normalized are what normalizeRecord gives with `options`: the same
 * window, and a clock no earlier than the skim's. An eventTime inside the window then stays
 * inside it (its start is fixed, its end only moves later), and nothing else normalizeRecord
 * gives depends on the clock. A caller whose clock is earlier (a test's, or one set back)
 * normalizes the records itself.
 */
export function eventsHold(normalizing: Normalizing, options: NormalizeOptions): boolean {
  const mine = normalizingOf(options);
  return normalizing.notBefore === mine.notBefore && normalizing.futureSlackMs === mine.futureSlackMs && normalizing.now <= mine.now;
}

/** A file's records as the main thread gets them: decided per key, parsed only when in scope. */
export interface SkimmedRecords {
  type: 'skimmed';
  file: string;
  bytes: Buffer;
  records: Uint32Array;
  dictionary: SkimDictionary;
  hours: readonly FileRecordHour[];
  /** Records normalized on the reading thread (`SkimEvents`), if it was asked to. */
  events?: SkimEvents | null;
}

const WIDEST_RULES = widestRulePatterns();

/** A thread's dictionary grows with distinct keys (a trail has a few hundred); past this it starts over. */
const MAX_KEYS = 50_000;
/** The buffer a file's handed-over records are written to, at first (a fleet preset's log file hands over ~95 KB of its ~900). */
const HANDED_BYTES = 256 * 1024;

/** The reading thread's side: one per thread, its dictionary shared by the files it skims. */
export class Skimmer {
  private epoch = 0;
  /** The scan, with the dictionary of keys it looks records up in (record-scan.c `keyOf`). */
  private readonly scan = newRangeScan();
  /** Keys of this epoch so far: the next one's id. */
  private keyCount = 0;
  /** The dictionary of the keys of files too large for the scan's memory (scanned in JavaScript): by `keyText`, ids shared with the scan's. */
  private readonly keys = new Map<string, number>();
  /**
   * Keys made during a file that was then not handed over (not a log file, or the dictionary
   * started over in it): the caller never got them, so the next file that has one hands it over.
   */
  private readonly unsent = new Map<number, Record<string, unknown>>();
  /** Per key of this epoch: out of scope for the widest rules, so for any rules (rule-patterns `widestRulePatterns`). */
  private neverInScope: boolean[] = [];
  /** Per key of this epoch: a record the ingest reads as a trail's (not an SQS message to unwrap), so handed over as its parsed fields. */
  private asParsedFields: boolean[] = [];
  /** Per key of this epoch: one of the identity calls normalizeRecord reads without node roles (`identityCallKind`). */
  private identityCall: boolean[] = [];
  /** Where a file's handed-over bytes are written, then copied out at their length; kept for the next file. */
  private handed = Buffer.allocUnsafeSlow(HANDED_BYTES);

  private readonly maxKeys: number;

  constructor(maxKeys = MAX_KEYS) {
    // the scan's table stays at most half full
    this.maxKeys = Math.min(maxKeys, MAX_WASM_KEYS);
    this.scan.useKeys(VERDICT_SLOTS);
  }

  /**
   * The file's records, or null when it is not a `{"Records":[…]}` document (then it is read whole);
   * with `normalizing`, the identity calls among them normalized too (`SkimEvents`).
   */
  skim(bytes: Buffer, normalizing?: Normalizing): Skim | null {
    let records: Uint32Array = new Uint32Array(SKIM_FIELDS_PER_RECORD * 256);
    let count = 0;
    const events = normalizing === undefined ? null : new EventColumnsWriter();
    let eventOf: Uint32Array | null = events === null ? null : new Uint32Array(256);
    const normalizeOptions: NormalizeOptions | null =
      normalizing === undefined ? null : { now: new Date(normalizing.now), eventTimeWindow: { notBefore: new Date(normalizing.notBefore), futureSlackMs: normalizing.futureSlackMs } };
    const fresh: FreshKey[] = [];
    const hours = new FileHours(bytes);
    const startEpoch = this.epoch;
    let handed = 0;
    /** Keys looked up by the scan (WebAssembly), or, for a file too large for its memory, by their text here. */
    let keyedByScan = true;
    const visit = (from: number, to: number, ranges: Int32Array | null) => {
      records = withRoom(records, (count + 1) * SKIM_FIELDS_PER_RECORD);
      if (eventOf !== null) {
        eventOf = withRoom(eventOf, count + 1);
        eventOf[count] = NONE;
      }
      const at = count * SKIM_FIELDS_PER_RECORD;
      let key = NONE;
      if (ranges === null) {
        records[at + 2] = NONE;
        records[at + 3] = NONE;
      } else {
        // Built only for bytes new to the dictionary or to the file's hours: a few per file.
        let skeleton: Record<string, unknown> | null | undefined;
        const skeletonNow = () => (skeleton === undefined ? (skeleton = skeletonOf(bytes, from, to)) : skeleton);
        key = keyedByScan ? this.scannedKey(skeletonNow, fresh) : this.textKey(keyText(bytes, ranges), skeletonNow, fresh);
        records[at + 2] = key;
        records[at + 3] = hours.of(ranges, skeletonNow);
      }
      if (key !== NONE && this.neverInScope[key] === true) {
        records[at] = NONE;
        records[at + 1] = NONE;
      } else {
        // a record's parsed fields are never longer than the record (each byte written is one of its own)
        if (handed + (to - from) > this.handed.length) this.grow(handed + (to - from));
        records[at] = handed;
        if (key !== NONE && this.asParsedFields[key] === true) handed = writeParsedFields(bytes, ranges as Int32Array, this.handed, handed);
        else handed += bytes.copy(this.handed, handed, from, to);
        records[at + 1] = handed;
        if (eventOf !== null) {
          const event = key !== NONE && this.identityCall[key] === true ? eventOfFields(this.handed, records[at] as number, handed, normalizeOptions as NormalizeOptions) : null;
          if (event !== null) eventOf[count] = (events as EventColumnsWriter).add(event);
        }
      }
      count += 1;
    };
    let whole: boolean | null;
    try {
      whole = this.scan.scan(bytes, visit);
      if (whole === null) {
        keyedByScan = false;
        whole = scanRecordRangesInJs(bytes, visit);
      }
    } catch (err) {
      // the caller reads the file itself (the thread hands over no skim): its keys wait, as below
      for (const { key, skeleton } of fresh) this.unsent.set(key, skeleton);
      throw err;
    }
    // Not handed over: read whole by the caller. The keys it would have handed over wait for the
    // next file that has them. A file during which the dictionary started over has lost its first
    // keys, so it goes the same way.
    if (!whole || this.epoch !== startEpoch) {
      for (const { key, skeleton } of fresh) this.unsent.set(key, skeleton);
      return null;
    }
    const kept = records.slice(0, count * SKIM_FIELDS_PER_RECORD);
    const out = Buffer.allocUnsafeSlow(handed);
    this.handed.copy(out, 0, 0, handed);
    // A file with records of megabytes (up to the reader's cap) would otherwise keep its size here for the run.
    if (this.handed.length > 4 * HANDED_BYTES) this.handed = Buffer.allocUnsafeSlow(HANDED_BYTES);
    const normalized = events === null ? null : { ...events.finish(), of: (eventOf as Uint32Array).slice(0, count), normalizing: normalizing as Normalizing };
    return { records: kept, epoch: this.epoch, keys: fresh.map(({ key, skeleton }) => [key, skeleton]), hours: hours.hours, bytes: out, events: normalized };
  }

  private grow(needed: number): void {
    const grown = Buffer.allocUnsafeSlow(Math.max(needed, 2 * this.handed.length));
    this.handed.copy(grown);
    this.handed = grown;
  }

  /**
   * The key of the record the scan just visited, looked up in the scan's dictionary; a new one
   * made from its skeleton; NONE without one, or when its verdict bytes alone are longer than the
   * dictionary can keep (then the caller parses the record).
   */
  private scannedKey(skeletonNow: () => Record<string, unknown> | null, fresh: FreshKey[]): number {
    for (;;) {
      const found = this.scan.keyOf();
      if (found >= 0) return this.known(found, fresh);
      if (found === KEY_NEW) {
        const skeleton = skeletonNow();
        // Not expected: the bytes scanned as an object. Then the caller parses the record.
        if (skeleton === null) return NONE;
        // the lookup is made again in the new dictionary: the table it would have gone to is cleared
        if (this.keyCount >= this.maxKeys) this.startOver(fresh);
        else {
          const key = this.keyCount++;
          this.scan.addKey(key);
          return this.learn(key, skeleton, fresh);
        }
      } else if (found === KEY_TOO_LONG) return NONE;
      else this.startOver(fresh);
    }
  }

  /** `scannedKey` for a file scanned in JavaScript: the key by its text (`keyText`). */
  private textKey(text: string, skeletonNow: () => Record<string, unknown> | null, fresh: FreshKey[]): number {
    const found = this.keys.get(text);
    if (found !== undefined) return this.known(found, fresh);
    const skeleton = skeletonNow();
    if (skeleton === null) return NONE;
    if (this.keyCount >= this.maxKeys) this.startOver(fresh);
    const key = this.keyCount++;
    this.keys.set(text, key);
    return this.learn(key, skeleton, fresh);
  }

  /** A key of the dictionary, handed over with this file if the caller never got it. */
  private known(key: number, fresh: FreshKey[]): number {
    if (this.unsent.size > 0) {
      const skeleton = this.unsent.get(key);
      if (skeleton !== undefined) {
        this.unsent.delete(key);
        fresh.push({ key, skeleton });
      }
    }
    return key;
  }

  /** A new key: what its skeleton says for any rules, handed over with this file. */
  private learn(key: number, skeleton: Record<string, unknown>, fresh: FreshKey[]): number {
    this.neverInScope[key] = skeletonOutOfScope(skeleton, WIDEST_RULES);
    this.asParsedFields[key] = !maySqsMessage(skeleton);
    const identity = skeleton['userIdentity'];
    const invokedBy = typeof identity === 'object' && identity !== null ? (identity as Record<string, unknown>)['invokedBy'] : undefined;
    // (never an SQS message, which the ingest unwraps: its own eventSource is aws:sqs)
    this.identityCall[key] = this.asParsedFields[key] === true && identityCallKind(skeleton['eventSource'], skeleton['eventName'], invokedBy) !== null;
    fresh.push({ key, skeleton });
    return key;
  }

  /** A new dictionary, its keys counted from 0 again in a new epoch: the file's keys so far are gone with it. */
  private startOver(fresh: FreshKey[]): void {
    this.scan.clearKeys();
    this.keys.clear();
    this.unsent.clear();
    this.keyCount = 0;
    this.neverInScope = [];
    this.asParsedFields = [];
    this.identityCall = [];
    this.epoch += 1;
    fresh.length = 0;
  }
}

/** A key made (or first handed over) with the file being skimmed. */
interface FreshKey {
  key: number;
  skeleton: Record<string, unknown>;
}

/** Thrown by `NO_NODE_ROLES` when consulted: the record's outcome depends on the node roles, so the caller decides it. */
const CONSULTED = new Error('node roles consulted');
const NO_NODE_ROLES: NodeRoleMatcher = {
  isNodeRole: () => {
    throw CONSULTED;
  },
  isExpectedNodeCall: () => {
    throw CONSULTED;
  },
};

/**
 * The event normalizeRecord makes of a record handed over as its parsed fields (the bytes at
 * `from`…`to`, parsed as the caller would parse them), when it makes one without the node roles;
 * null otherwise (skipped, rejected, or a node role's call), for the caller to parse.
 */
function eventOfFields(bytes: Buffer, from: number, to: number, options: NormalizeOptions): IdentityEvent | null {
  let record: unknown;
  try {
    record = JSON.parse(bytes.toString('utf8', from, to));
  } catch {
    return null;
  }
  try {
    const result = normalizeRecord(record, NO_NODE_ROLES, options);
    return result.status === 'event' ? result.event : null;
  } catch (err) {
    if (err === CONSULTED) return null;
    throw err;
  }
}

/** The slots of VERDICT_FIELDS among the scan's ranges (record-prefilter `FIELD_SLOTS`). */
const VERDICT_SLOTS = Int32Array.from(fieldPaths(VERDICT_FIELDS, ''), (path) => FIELD_SLOTS.get(path) as number);

/** Every path of a key tree, a subtree's own included (its slot says: an object, absent, or another value). */
function fieldPaths(tree: FieldTree, prefix: string): string[] {
  return Object.entries(tree).flatMap(([name, sub]) => [prefix + name, ...(sub === true ? [] : fieldPaths(sub, `${prefix}${name}.`))]);
}

/** Where `keyText` writes; grown for a record with long values, and given back after (below). */
const SCRATCH_BYTES = 4096;
let scratch = Buffer.allocUnsafe(SCRATCH_BYTES);

/**
 * A record's key as text: per slot of VERDICT_FIELDS, whether it is absent, an object (its keys in
 * their own slots) or a value, and then the value's bytes with their length. Equal texts are equal
 * bytes, so equal values: the same projection, the same verdict for any rules. (Two texts may
 * stand for one projection, a value written with escapes and without: two keys, one verdict.)
 */
function keyText(bytes: Buffer, ranges: Int32Array): string {
  let n = 0;
  for (let i = 0; i < VERDICT_SLOTS.length; i++) {
    const at = 2 * (VERDICT_SLOTS[i] as number);
    const start = ranges[at] as number;
    const end = ranges[at + 1] as number;
    if (n + 5 + Math.max(0, end - start) > scratch.length) {
      const grown = Buffer.alloc(2 * (n + 5 + Math.max(0, end - start)));
      scratch.copy(grown, 0, 0, n);
      scratch = grown;
    }
    if (start < 0) scratch[n++] = 0;
    else if (end === OBJECT) scratch[n++] = 1;
    else {
      scratch[n++] = 2;
      const length = end - start;
      scratch.writeUInt32LE(length, n);
      n += 4;
      if (length > 32) n += bytes.copy(scratch, n, start, end);
      else for (let k = start; k < end; k++) scratch[n++] = bytes[k] as number;
    }
  }
  const text = scratch.toString('latin1', 0, n);
  // A record with a value of megabytes (up to the reader's cap) would otherwise keep its size here for the run.
  if (scratch.length > 16 * SCRATCH_BYTES) scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  return text;
}

const TIME = FIELD_SLOTS.get('eventTime') as number;
const REGION = FIELD_SLOTS.get('awsRegion') as number;
const RECIPIENT = FIELD_SLOTS.get('recipientAccountId') as number;
const IDENTITY_ACCOUNT = FIELD_SLOTS.get('userIdentity.accountId') as number;
/** The characters of eventTime that name its hour (addFileRecord reads no more). */
const HOUR_CHARACTERS = 13;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * A file's distinct hours (`hours`), each listed once, and each record's index into them. A log file
 * is one account and region, its records minutes apart: most records have the hour of the record
 * before, checked by comparing the bytes of their account, region and eventTime's hour rather
 * than reading the record's fields and naming the hour.
 */
class FileHours {
  readonly hours: FileRecordHour[] = [];
  private readonly ids = new Map<string, number>();
  /** The last record's hour; NONE when its bytes cannot be compared. */
  private lastId = NONE;
  /** Where the last record's fields lie: its ranges, slot by slot as the scan noted them. */
  private last = new Int32Array(0);

  constructor(private readonly bytes: Buffer) {}

  of(ranges: Int32Array, skeletonNow: () => Record<string, unknown> | null): number {
    if (this.lastId !== NONE && this.sameHourAsLast(ranges)) return this.lastId;
    const skeleton = skeletonNow();
    const hour = skeleton === null ? null : fileRecordHour(skeleton);
    if (hour === null) return NONE;
    const [account, region, time] = hour;
    const hourText = time.slice(0, HOUR_CHARACTERS);
    // lengths first, so that no two hours share a name
    const name = `${account === null ? -1 : account.length}:${account ?? ''}${region === null ? -1 : region.length}:${region ?? ''}${hourText}`;
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.hours.length;
      this.hours.push(hour);
      this.ids.set(name, id);
    }
    this.lastId = this.plainHour(ranges) ? id : NONE;
    if (this.last.length !== ranges.length) this.last = new Int32Array(ranges.length);
    this.last.set(ranges);
    return id;
  }

  /**
   * Whether eventTime is a string whose first 13 characters are its first 13 bytes after the quote
   * (ASCII, no escape): then equal bytes there are the same hour, as the string would say.
   */
  private plainHour(ranges: Int32Array): boolean {
    const b = this.bytes;
    const start = ranges[2 * TIME] as number;
    if (start < 0 || b[start] !== QUOTE || (ranges[2 * TIME + 1] as number) < start + HOUR_CHARACTERS + 2) return false;
    for (let k = start + 1; k <= start + HOUR_CHARACTERS; k++) {
      const c = b[k] as number;
      if (c >= 0x80 || c === BACKSLASH || c === QUOTE) return false;
    }
    return true;
  }

  /** Equal bytes for the account (both places it is read from), the region and the hour as the last record's. */
  private sameHourAsLast(ranges: Int32Array): boolean {
    const start = ranges[2 * TIME] as number;
    if (start < 0 || (ranges[2 * TIME + 1] as number) < start + HOUR_CHARACTERS + 2) return false;
    const lastStart = this.last[2 * TIME] as number;
    if (!this.sameBytes(start, start + HOUR_CHARACTERS + 1, lastStart, lastStart + HOUR_CHARACTERS + 1)) return false;
    return (
      this.sameSlot(ranges, REGION) &&
      this.sameSlot(ranges, RECIPIENT) &&
      // The account is recipientAccountId, or userIdentity's when that is absent or null.
      (!this.absentOrNull(this.last[2 * RECIPIENT] as number, this.last[2 * RECIPIENT + 1] as number) || this.sameSlot(ranges, IDENTITY_ACCOUNT))
    );
  }

  /** The field in `slot` holds the same bytes as the last record's, or both lack it. */
  private sameSlot(ranges: Int32Array, slot: number): boolean {
    return this.sameBytes(ranges[2 * slot] as number, ranges[2 * slot + 1] as number, this.last[2 * slot] as number, this.last[2 * slot + 1] as number);
  }

  private absentOrNull(from: number, to: number): boolean {
    return from < 0 || (to - from === 4 && this.bytes[from] === 0x6e);
  }

  /** Two ranges of the file's bytes hold the same bytes, or are both absent (-1). */
  private sameBytes(from: number, to: number, lastFrom: number, lastTo: number): boolean {
    if (from < 0 || lastFrom < 0) return from === lastFrom;
    if (to - from !== lastTo - lastFrom) return false;
    const b = this.bytes;
    for (let k = 0; k < to - from; k++) if (b[from + k] !== b[lastFrom + k]) return false;
    return true;
  }
}

/** Record `i` (from 0) of a skimmed file, unparsed, for the path that parses it. */
export function rawRecordAt(skimmed: SkimmedRecords, i: number): RawRecord {
  const at = i * SKIM_FIELDS_PER_RECORD;
  return {
    type: 'raw',
    file: skimmed.file,
    index: i + 1,
    bytes: skimmed.bytes.subarray(skimmed.records[at], skimmed.records[at + 1]),
    // not needed: the parse path reads the bytes
    skeleton: null,
    depth: 0,
  };
}

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
 * comes with the first file that has the key. A record the rules may want is parsed from its
 * bytes, as before.
 *
 * Pure: bytes in, numbers and skeletons out.
 */
import type { FileRecordHour } from './coverage';
import { fileRecordHour } from './coverage';
import { projectionKey, scanRecordsDocument, skeletonOutOfScope, VERDICT_FIELDS, type RawRecord, type SkimDictionary } from './record-prefilter';
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
   * them), when the file has records no rules `rulePatterns` builds can want (no rule's event, and
   * no role's call at all for the node-role rule): their bytes are left out, and such a file comes
   * over at a tenth of its size. Null: the records point into the file's own bytes.
   */
  bytes: Buffer | null;
}

/** A file's records as the main thread gets them: decided per key, parsed only when in scope. */
export interface SkimmedRecords {
  type: 'skimmed';
  file: string;
  bytes: Buffer;
  records: Uint32Array;
  dictionary: SkimDictionary;
  hours: readonly FileRecordHour[];
}

const WIDEST_RULES = widestRulePatterns();

/** A thread's dictionary grows with distinct keys (a trail has a few hundred); past this it starts over. */
const MAX_KEYS = 50_000;

/** The reading thread's side: one per thread, its dictionary shared by the files it skims. */
export class Skimmer {
  private epoch = 0;
  private readonly keys = new Map<string, number>();
  /** Per key of this epoch: out of scope for the widest rules, so for any rules (rule-patterns `widestRulePatterns`). */
  private neverInScope: boolean[] = [];

  constructor(private readonly maxKeys = MAX_KEYS) {}

  /** The file's records, or null when it is not a `{"Records":[…]}` document (then it is read whole). */
  skim(bytes: Buffer): Skim | null {
    let records = new Uint32Array(SKIM_FIELDS_PER_RECORD * 256);
    let count = 0;
    const fresh: { projection: string; key: number; skeleton: Record<string, unknown> }[] = [];
    const hours = new FileHours();
    const startEpoch = this.epoch;
    const whole = scanRecordsDocument(bytes, (from, to, skeleton) => {
      if ((count + 1) * SKIM_FIELDS_PER_RECORD > records.length) {
        const grown = new Uint32Array(records.length * 2);
        grown.set(records);
        records = grown;
      }
      const at = count * SKIM_FIELDS_PER_RECORD;
      records[at] = from;
      records[at + 1] = to;
      records[at + 2] = skeleton === null ? NONE : this.keyOf(skeleton, fresh);
      records[at + 3] = skeleton === null ? NONE : hours.of(skeleton);
      count += 1;
    });
    // Not handed over: read whole by the caller. Keys it added are dropped, so that no later file
    // uses a key the caller never got. A file during which the dictionary started over has lost its
    // first keys, so it goes the same way.
    if (!whole || this.epoch !== startEpoch) {
      for (const { projection } of fresh) this.keys.delete(projection);
      return null;
    }
    const kept = records.slice(0, count * SKIM_FIELDS_PER_RECORD);
    return { records: kept, epoch: this.epoch, keys: fresh.map(({ key, skeleton }) => [key, skeleton]), hours: hours.hours, bytes: this.leaveOut(bytes, kept) };
  }

  /** The bytes of the records some rules may want, `records` pointed into them; null when all may be. */
  private leaveOut(bytes: Buffer, records: Uint32Array): Buffer | null {
    let length = 0;
    let left = 0;
    for (let at = 0; at < records.length; at += SKIM_FIELDS_PER_RECORD) {
      const key = records[at + 2] as number;
      if (key !== NONE && this.neverInScope[key] === true) left += 1;
      else length += (records[at + 1] as number) - (records[at] as number);
    }
    if (left === 0) return null;
    const out = Buffer.allocUnsafeSlow(length);
    let to = 0;
    for (let at = 0; at < records.length; at += SKIM_FIELDS_PER_RECORD) {
      const key = records[at + 2] as number;
      if (key !== NONE && this.neverInScope[key] === true) {
        records[at] = NONE;
        records[at + 1] = NONE;
        continue;
      }
      const from = records[at] as number;
      const end = records[at + 1] as number;
      bytes.copy(out, to, from, end);
      records[at] = to;
      records[at + 1] = to + end - from;
      to += end - from;
    }
    return out;
  }

  private keyOf(skeleton: Record<string, unknown>, fresh: { projection: string; key: number; skeleton: Record<string, unknown> }[]): number {
    const projection = projectionKey(skeleton, VERDICT_FIELDS);
    let key = this.keys.get(projection);
    if (key === undefined) {
      if (this.keys.size >= this.maxKeys) {
        this.keys.clear();
        this.neverInScope = [];
        this.epoch += 1;
        fresh.length = 0;
      }
      // dense: the newest keys are the ones a dropped file removes again
      key = this.keys.size;
      this.keys.set(projection, key);
      this.neverInScope[key] = skeletonOutOfScope(skeleton, WIDEST_RULES);
      fresh.push({ projection, key, skeleton });
    }
    return key;
  }
}

/**
 * A file's distinct hours (`hours`), each listed once, and each record's index into them. A log file
 * is one account and region, its records minutes apart: most records have the hour of the record
 * before, checked by comparing three short strings rather than naming the hour and looking it up.
 */
class FileHours {
  readonly hours: FileRecordHour[] = [];
  private readonly ids = new Map<string, number>();
  /** The last record's account, region, hour (eventTime's first 13 characters) and index. */
  private lastAccount: string | null = null;
  private lastRegion: string | null = null;
  private lastHour = '';
  private lastId = NONE;

  of(skeleton: Record<string, unknown>): number {
    const hour = fileRecordHour(skeleton);
    if (hour === null) return NONE;
    const [account, region, time] = hour;
    // addFileRecord reads no more of eventTime than its first 13 characters (the hour)
    if (this.lastHour.length === 13 && account === this.lastAccount && region === this.lastRegion && time.startsWith(this.lastHour)) return this.lastId;
    const hourText = time.slice(0, 13);
    // lengths first, so that no two hours share a name
    const name = `${account === null ? -1 : account.length}:${account ?? ''}${region === null ? -1 : region.length}:${region ?? ''}${hourText}`;
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.hours.length;
      this.hours.push(hour);
      this.ids.set(name, id);
    }
    this.lastAccount = account;
    this.lastRegion = region;
    this.lastHour = hourText;
    this.lastId = id;
    return id;
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

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
import { projectionKey, scanRecordsDocument, VERDICT_FIELDS, type RawRecord, type SkimDictionary } from './record-prefilter';

/** In `SkimmedRecords.records`: no key (the element is not an object), or no hour (no eventTime). */
export const NONE = 0xffffffff;

/** Per record, four numbers: start and end of its bytes, its key, its hour (index into `hours`). */
export const SKIM_FIELDS_PER_RECORD = 4;

/** What the thread hands over for one file; `keys` are the dictionary's entries new with it. */
export interface Skim {
  records: Uint32Array;
  epoch: number;
  keys: [key: number, skeleton: Record<string, unknown>][];
  hours: FileRecordHour[];
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

/** A thread's dictionary grows with distinct keys (a trail has a few hundred); past this it starts over. */
const MAX_KEYS = 50_000;

/** The reading thread's side: one per thread, its dictionary shared by the files it skims. */
export class Skimmer {
  private epoch = 0;
  private readonly keys = new Map<string, number>();

  constructor(private readonly maxKeys = MAX_KEYS) {}

  /** The file's records, or null when it is not a `{"Records":[…]}` document (then it is read whole). */
  skim(bytes: Buffer): Skim | null {
    let records = new Uint32Array(SKIM_FIELDS_PER_RECORD * 256);
    let count = 0;
    const fresh: { projection: string; key: number; skeleton: Record<string, unknown> }[] = [];
    const hours: FileRecordHour[] = [];
    const hourIds = new Map<string, number>();
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
      records[at + 3] = skeleton === null ? NONE : hourOf(skeleton, hours, hourIds);
      count += 1;
    });
    // Not handed over: read whole by the caller. Keys it added are dropped, so that no later file
    // uses a key the caller never got. A file during which the dictionary started over has lost its
    // first keys, so it goes the same way.
    if (!whole || this.epoch !== startEpoch) {
      for (const { projection } of fresh) this.keys.delete(projection);
      return null;
    }
    return { records: records.slice(0, count * SKIM_FIELDS_PER_RECORD), epoch: this.epoch, keys: fresh.map(({ key, skeleton }) => [key, skeleton]), hours };
  }

  private keyOf(skeleton: Record<string, unknown>, fresh: { projection: string; key: number; skeleton: Record<string, unknown> }[]): number {
    const projection = projectionKey(skeleton, VERDICT_FIELDS);
    let key = this.keys.get(projection);
    if (key === undefined) {
      if (this.keys.size >= this.maxKeys) {
        this.keys.clear();
        this.epoch += 1;
        fresh.length = 0;
      }
      // dense: the newest keys are the ones a dropped file removes again
      key = this.keys.size;
      this.keys.set(projection, key);
      fresh.push({ projection, key, skeleton });
    }
    return key;
  }
}

/** The record's hour as an index into the file's `hours`, each distinct hour listed once. */
function hourOf(skeleton: Record<string, unknown>, hours: FileRecordHour[], ids: Map<string, number>): number {
  const hour = fileRecordHour(skeleton);
  if (hour === null) return NONE;
  // addFileRecord reads no more of eventTime than its first 13 characters (the hour); lengths
  // first, so that no two hours share a name
  const [account, region, time] = hour;
  const name = `${account === null ? -1 : account.length}:${account ?? ''}${region === null ? -1 : region.length}:${region ?? ''}${time.slice(0, 13)}`;
  let id = ids.get(name);
  if (id === undefined) {
    id = hours.length;
    hours.push(hour);
    ids.set(name, id);
  }
  return id;
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

/**
 * A set of CloudTrail eventIDs that keeps them in the order they were added, as `Set<string>`
 * does, in a fraction of its memory. CloudTrail's eventIDs are lowercase UUIDs: held as a string
 * each, with a `Set` entry, one takes ~80 bytes of heap; here its 16 bytes (up to 24 with the
 * array's room to grow) and 6–12 of index slots (filled to between 35 and 70 %): ~30 in all. Any
 * other id (a test's, an older record's) is kept as it came, as a string, and then the order of
 * all is kept too (4 bytes each).
 *
 * For the only writer's stage (adapters/dynamo-evidence-store): the eventIDs its batches counted,
 * by hour, until the guards are written. At 40,000 namespaces ~450,000 of them took ~32 MB of
 * heap as strings in sets.
 */
export class EventIdSet {
  /** The UUIDs' bytes, 16 per id, in the order they were added. */
  private bytes = new Uint8Array(16 * 64);
  private uuidCount = 0;
  /** Open addressing over the UUIDs: 1 + the UUID's index, 0 for an empty slot. */
  private slots = new Int32Array(128);
  /** Ids that are not lowercase UUIDs. */
  private readonly others: string[] = [];
  private readonly otherIndex = new Map<string, number>();
  /**
   * Every id in the order added, a UUID's index or ~ the other's index (negative); null while every
   * id is a UUID (their order is their index's).
   */
  private order: Int32Array | null = null;
  private count = 0;
  /** One UUID's bytes, parsed into for lookups. */
  private readonly scratch = new Uint8Array(16);

  get size(): number {
    return this.count;
  }

  has(id: string): boolean {
    if (!parseUuid(id, this.scratch)) return this.otherIndex.has(id);
    return this.find(this.scratch) >= 0;
  }

  add(id: string): this {
    if (!parseUuid(id, this.scratch)) {
      if (this.otherIndex.has(id)) return this;
      this.otherIndex.set(id, this.others.length);
      this.others.push(id);
      this.remember(~(this.others.length - 1));
      return this;
    }
    if (this.find(this.scratch) >= 0) return this;
    if ((this.uuidCount + 1) * 10 > this.slots.length * 7) this.growSlots();
    if ((this.uuidCount + 1) * 16 > this.bytes.length) this.bytes = grown(this.bytes, Math.ceil(this.bytes.length * 1.5 / 16) * 16);
    const index = this.uuidCount;
    this.bytes.set(this.scratch, index * 16);
    this.uuidCount += 1;
    this.place(index);
    this.remember(index);
    return this;
  }

  /** The ids as strings, in the order they were added. */
  *values(): IterableIterator<string> {
    for (let i = 0; i < this.count; i += 1) {
      const entry = this.order === null ? i : (this.order[i] as number);
      yield entry < 0 ? (this.others[~entry] as string) : uuidText(this.bytes, entry * 16);
    }
  }

  [Symbol.iterator](): IterableIterator<string> {
    return this.values();
  }

  private remember(entry: number): void {
    if (this.order === null && entry < 0) {
      // the first id that is not a UUID: from now on the order is kept apart
      this.order = new Int32Array(Math.max(64, this.count * 2));
      for (let i = 0; i < this.count; i += 1) this.order[i] = i;
    }
    if (this.order !== null) {
      if (this.count === this.order.length) this.order = grown(this.order, this.order.length * 2);
      this.order[this.count] = entry;
    }
    this.count += 1;
  }

  /** The index of the UUID whose bytes are `uuid`, or -1. */
  private find(uuid: Uint8Array): number {
    const mask = this.slots.length - 1;
    for (let slot = hash(uuid, 0) & mask; ; slot = (slot + 1) & mask) {
      const held = this.slots[slot] as number;
      if (held === 0) return -1;
      if (sameBytes(this.bytes, (held - 1) * 16, uuid)) return held - 1;
    }
  }

  private place(index: number): void {
    const mask = this.slots.length - 1;
    let slot = hash(this.bytes, index * 16) & mask;
    while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
    this.slots[slot] = index + 1;
  }

  private growSlots(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    for (let index = 0; index < this.uuidCount; index += 1) this.place(index);
  }
}

function grown<T extends Uint8Array | Int32Array>(array: T, length: number): T {
  const next = new (array.constructor as new (n: number) => T)(length);
  next.set(array);
  return next;
}

/** Where a UUID's 32 hex digits sit in its 36 characters (8-4-4-4-12). */
const HEX_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
const DASHES = [8, 13, 18, 23];

/** Parses a lowercase UUID into `out`'s 16 bytes; false for anything else (which `out` then may hold part of). */
function parseUuid(id: string, out: Uint8Array): boolean {
  if (id.length !== 36) return false;
  for (const at of DASHES) if (id.charCodeAt(at) !== 45) return false;
  for (let i = 0; i < 16; i += 1) {
    const high = hexValue(id.charCodeAt(HEX_AT[i] as number));
    const low = hexValue(id.charCodeAt((HEX_AT[i] as number) + 1));
    if (high < 0 || low < 0) return false;
    out[i] = (high << 4) | low;
  }
  return true;
}

/** 0–15 for `0-9` and `a-f`; -1 otherwise (uppercase too: it would not come back as it was). */
function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

const HEX_CODES = [...'0123456789abcdef'].map((c) => c.charCodeAt(0));
const textCodes: number[] = Array.from({ length: 36 }, (_, i) => (DASHES.includes(i) ? 45 : 48));

/**
 * The UUID's text, made in one piece: built by `+=`, each id was a rope of some 35 concatenations
 * (~1 KB) until something flattened it, and the guards' write-out makes every staged id at once.
 */
function uuidText(bytes: Uint8Array, at: number): string {
  for (let i = 0; i < 16; i += 1) {
    const byte = bytes[at + i] as number;
    const to = HEX_AT[i] as number;
    textCodes[to] = HEX_CODES[byte >> 4] as number;
    textCodes[to + 1] = HEX_CODES[byte & 15] as number;
  }
  return String.fromCharCode(...textCodes);
}

/** FNV-1a over all 16 bytes: generated ids may share their leading bytes. */
function hash(bytes: Uint8Array, at: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 16; i += 1) {
    h ^= bytes[at + i] as number;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function sameBytes(bytes: Uint8Array, at: number, uuid: Uint8Array): boolean {
  for (let i = 0; i < 16; i += 1) if (bytes[at + i] !== uuid[i]) return false;
  return true;
}

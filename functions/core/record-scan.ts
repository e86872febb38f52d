/**
 * record-prefilter's `scanRecordRangesInJs` in WebAssembly (record-scan.c): the same scan of a log
 * file's `Records`, the same answer, the same elements with the same ranges handed to the same
 * visitor, in the same order (test/unit/record-scan.test.ts holds the two to it).
 *
 * Why: the scan validates every byte of every record, and in JavaScript that was ~11 s of the
 * reading thread's ~19 s busy on the fleet preset (2.9 GiB of JSON). The module skips strings,
 * most of a record's bytes, sixteen at a time.
 *
 * Pure: bytes in, ranges out; the module's memory is this object's own.
 */
import { RECORD_SCAN_WASM } from './record-scan-wasm';

/** A key tree compiled for the scan (record-prefilter's `CompiledTree`): each key's bytes, its slot, its subtree. */
export interface ScanTree {
  byName: ReadonlyMap<string, { bytes: Uint8Array; slot: number; child: ScanTree | null }>;
  /** The tree's slots are `[from, to)`, its subtrees' among them. */
  from: number;
  to: number;
}

type Visit = (from: number, to: number, ranges: Int32Array | null, index: number) => void;

/** What the module needs of the WebAssembly JS API (the project's TypeScript libraries declare no DOM types). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
};

interface ScanExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  setTree(nodes: number, keys: number, keyBytes: number, ranges: number): void;
  start(bytes: number, length: number): number;
  next(slots: number): number;
  elementFrom(): number;
  elementTo(): number;
  heapBase(): number;
  setKeys(slots: number, count: number, entries: number, entryCount: number, arena: number, arenaBytes: number): void;
  clearKeys(): void;
  keyOf(): number;
  addKey(id: number): void;
}

/** What `keyOf` answers besides a key's id (record-scan.c). */
export const KEY_NEW = -1;
export const KEYS_FULL = -2;
export const KEY_TOO_LONG = -3;
/** record-scan.c's Entry: four 32-bit integers. */
const KEY_ENTRY_BYTES = 16;
/** The key table's entries (a power of two); `MAX_WASM_KEYS`, half of them, keeps it at most half full. */
const KEY_ENTRIES = 2 ** 17;
export const MAX_WASM_KEYS = KEY_ENTRIES / 2;
/** Where the keys' bytes are kept: a trail's keys are ~100–200 bytes, and a dictionary that fills it starts over. */
const KEY_ARENA_BYTES = 8 * 2 ** 20;

/** What `next` answers (record-scan.c). */
const UNSURE = 0;
const OBJECT_ELEMENT = 1;
const DOCUMENT_END = 3;

/** Larger files are scanned in JavaScript: WebAssembly's memory never shrinks, and a file of this size would hold it for the thread's life. */
export const MAX_WASM_FILE_BYTES = 16 * 2 ** 20;
const PAGE = 65_536;
/** record-scan.c's MAX_KEY_BYTES: it decodes a key written with escapes into a buffer of this size. */
const MAX_KEY_BYTES = 64;
/** record-scan.c's Node and Key: four 32-bit integers each. */
const ENTRY_BYTES = 16;

let module: object | undefined;

/** `at` rounded up to a table entry's boundary: where each table (and the file) starts in the module's memory. */
const align = (at: number) => Math.ceil(at / ENTRY_BYTES) * ENTRY_BYTES;

export class WasmRecordScan {
  private readonly exports: ScanExports;
  private readonly slots: number;
  private readonly rangesAt: number;
  private inputAt: number;
  private keyed = false;
  private ranges!: Int32Array;
  private memoryBytes!: Uint8Array;

  constructor(tree: ScanTree) {
    module ??= new WebAssembly.Module(Buffer.from(RECORD_SCAN_WASM, 'base64'));
    this.exports = new WebAssembly.Instance(module, {}).exports as unknown as ScanExports;
    this.slots = tree.to;

    // The tree as record-scan.c reads it: nodes in the order they are met, each node's keys together.
    const nodes: ScanTree[] = [tree];
    const nodeTable: number[] = [];
    const keyTable: number[] = [];
    const names: Uint8Array[] = [];
    let nameBytes = 0;
    for (let n = 0; n < nodes.length; n++) {
      const node = nodes[n] as ScanTree;
      nodeTable.push(keyTable.length / 4, node.byName.size, node.from, node.to);
      for (const key of node.byName.values()) {
        if (key.bytes.length > MAX_KEY_BYTES) throw new Error(`record-scan: the key ${Buffer.from(key.bytes).toString()} is longer than ${MAX_KEY_BYTES} bytes`);
        const child = key.child === null ? -1 : nodes.push(key.child) - 1;
        keyTable.push(nameBytes, key.bytes.length, key.slot, child);
        names.push(key.bytes);
        nameBytes += key.bytes.length;
      }
    }
    const nodesAt = align(this.exports.heapBase());
    const keysAt = nodesAt + nodeTable.length * 4;
    const namesAt = keysAt + keyTable.length * 4;
    this.rangesAt = align(namesAt + nameBytes);
    this.inputAt = align(this.rangesAt + 2 * this.slots * 4);
    this.reserve(0);
    new Int32Array(this.exports.memory.buffer, nodesAt, nodeTable.length).set(nodeTable);
    new Int32Array(this.exports.memory.buffer, keysAt, keyTable.length).set(keyTable);
    let at = namesAt;
    for (const name of names) {
      this.memoryBytes.set(name, at);
      at += name.length;
    }
    this.exports.setTree(nodesAt, keysAt, namesAt, this.rangesAt);
  }

  /**
   * `scanRecordRangesInJs(bytes, visit)`: true when `bytes` are a `{"Records":[…]}` document, each element
   * visited; false when they are not, perhaps after some elements were visited (as the JavaScript
   * scan). Null, having visited none, for a file past MAX_WASM_FILE_BYTES.
   */
  scan(bytes: Uint8Array, visit: Visit): boolean | null {
    if (bytes.length > MAX_WASM_FILE_BYTES) return null;
    this.reserve(bytes.length);
    this.memoryBytes.set(bytes, this.inputAt);
    const scan = this.exports;
    if (scan.start(this.inputAt, bytes.length) === 0) return false;
    for (let index = 1; ; index++) {
      const found = scan.next(this.slots);
      if (found === DOCUMENT_END) return true;
      if (found === UNSURE) return false;
      visit(scan.elementFrom(), scan.elementTo(), found === OBJECT_ELEMENT ? this.ranges : null, index);
    }
  }

  /**
   * A dictionary of keys for this scan's elements (record-scan.c `keyOf`): a key is the bytes of
   * the elements' values at `slots` (the verdict fields: record-skim `VERDICT_SLOTS`). Once, before
   * the first file; the file's bytes then go past the dictionary's tables.
   */
  useKeys(slots: Int32Array): void {
    if (this.keyed) throw new Error('record-scan: keys are set once');
    this.keyed = true;
    const slotsAt = this.inputAt;
    const entriesAt = align(slotsAt + slots.length * 4);
    const arenaAt = entriesAt + KEY_ENTRIES * KEY_ENTRY_BYTES;
    this.inputAt = align(arenaAt + KEY_ARENA_BYTES);
    this.reserve(0);
    new Int32Array(this.exports.memory.buffer, slotsAt, slots.length).set(slots);
    this.exports.setKeys(slotsAt, slots.length, entriesAt, KEY_ENTRIES, arenaAt, KEY_ARENA_BYTES);
  }

  /** The id of the key of the object element just visited, or KEY_NEW (then `addKey`), KEYS_FULL or KEY_TOO_LONG. */
  keyOf(): number {
    return this.exports.keyOf();
  }

  /** Keeps the key `keyOf` just answered KEY_NEW for, as `id`. */
  addKey(id: number): void {
    this.exports.addKey(id);
  }

  clearKeys(): void {
    this.exports.clearKeys();
  }

  /** Room for a file of `length` bytes; the views again after the memory grew (growing detaches them). */
  private reserve(length: number): void {
    const memory = this.exports.memory;
    const needed = this.inputAt + length;
    if (needed > memory.buffer.byteLength) memory.grow(Math.ceil((needed - memory.buffer.byteLength) / PAGE));
    if (this.memoryBytes?.buffer !== memory.buffer) {
      this.memoryBytes = new Uint8Array(memory.buffer);
      this.ranges = new Int32Array(memory.buffer, this.rangesAt, 2 * this.slots);
    }
  }
}

/**
 * Evidence items packed one to a string, for a writer that holds many of them at once (the CLI's
 * stage holds every item a run touched until its write-out: 219,532 at 40,000 namespaces).
 *
 * As objects, a service account's item cost ~550 bytes of heap: the object, a property array for
 * its ~20 fields, its two arrays, its timestamps and sort key, each a heap object of its own. Packed,
 * it is one string of ~160 one-byte characters: the recurring strings (namespace, role ARN,
 * cluster…) as their number in a pool of strings held once, numbers as bytes, the names of its
 * fields as the number of its shape (the ordered list of its field names), and its keys not at all
 * (the holder keeps them, and gives them back to `unpack`).
 *
 * Exact: `unpack` gives back an item deep-equal to the one packed, its fields in the same order, a
 * field set to undefined still there, numbers as they were (-0, NaN and non-integers as their eight
 * bytes). An item holding anything else (a nested map, a non-string array element, a character past
 * U+00FF in a string not pooled, a field named `__proto__`) is not packed: `pack` says so and the
 * holder keeps the object.
 *
 * A packed item also carries a `mark` of the holder's, a whole number read without unpacking (the
 * stage's: the write-out generation the item changed in).
 */
import type { AttrValue, EvidenceItem } from './evidence';

const T_POOLED = 1;
const T_STRING = 2;
const T_UINT = 3;
const T_NEGATIVE_INT = 4;
const T_FLOAT = 5;
const T_TRUE = 6;
const T_FALSE = 7;
const T_NULL = 8;
const T_UNDEFINED = 9;
/** A string array: its length, then each element's number in the pool. */
const T_ARRAY = 10;
const T_SHARED_ARRAY = 11;

/** What a field of a shape holds: a key (the holder's), a pooled string, or a value packed inline. */
const KEY = 0;
const POOLED = 1;
const INLINE = 2;

interface Shape {
  id: number;
  names: readonly string[];
  /** Per name: KEY, POOLED or INLINE. */
  kinds: Uint8Array;
  /** False for a field the template cannot hold as its own (`__proto__`): such items stay objects. */
  packable: boolean;
  /** An object with these fields in this order: an unpacked item is a copy of it, laid out once. */
  template: Record<string, undefined>;
}

interface ShapeNode {
  next: Map<string, ShapeNode>;
  shape: Shape | undefined;
}

export class ItemPacker {
  private readonly strings = new Numbering<string>();
  private readonly shapes: Shape[] = [];
  private readonly shapeTree: ShapeNode = { next: new Map(), shape: undefined };
  private readonly sharedArrays = new Numbering<readonly string[]>();
  private buffer = Buffer.allocUnsafe(4096);
  private length = 0;

  /**
   * `pooledFields`: the fields whose strings recur from item to item, held once in the pool (every
   * string array's elements are pooled too: sets of roles, places, instances). A pooled string is
   * never let go while the packer lives: nothing unique per item belongs there.
   */
  constructor(private readonly pooledFields: ReadonlySet<string>) {}

  /** Strings in the pool, for measuring. */
  get pooled(): number {
    return this.strings.size;
  }

  /** `item` as a string carrying `mark`, or undefined when it holds what this packing does not (above). */
  pack(item: EvidenceItem, mark: number): string | undefined {
    if (typeof item.pk !== 'string' || typeof item.sk !== 'string') return undefined;
    // the shape: a walk down a tree of field names (no text to build; names are compared whole)
    let node = this.shapeTree;
    for (const name in item) {
      let next = node.next.get(name);
      if (next === undefined) node.next.set(name, (next = { next: new Map(), shape: undefined }));
      node = next;
    }
    const shape = (node.shape ??= this.newShape(item));
    if (!shape.packable) return undefined;
    this.length = 0;
    this.varint(mark);
    this.varint(shape.id);
    const { names, kinds } = shape;
    for (let i = 0; i < names.length; i += 1) {
      if (kinds[i] === KEY) continue;
      if (!this.value(item[names[i] as string], kinds[i] === POOLED)) return undefined;
    }
    return this.buffer.toString('latin1', 0, this.length);
  }

  /** The item packed in `packed`, under these keys: a new object, the caller's to change. */
  unpack(pk: string, sk: string, packed: string): EvidenceItem {
    const reader = { at: 0 };
    readVarint(packed, reader);
    const shape = this.shapes[readVarint(packed, reader)] as Shape;
    const item: Record<string, AttrValue | undefined> = { ...shape.template };
    const { names, kinds } = shape;
    for (let i = 0; i < names.length; i += 1) {
      const name = names[i] as string;
      if (kinds[i] === KEY) item[name] = name === 'pk' ? pk : sk;
      else item[name] = this.read(packed, reader);
    }
    return item as EvidenceItem;
  }

  /**
   * The item packed in `packed` as DynamoDB's wire values (`{S: …}`, `{N: …}`…), exactly what the
   * document client's marshalling (`removeUndefinedValues`) makes of `unpack`'s object, made
   * without that object: the write-out of a stage sends every changed item, and the SDK's
   * marshalling of each object cost more than the rest of its request. Null for an item holding a
   * number that is not a safe integer (marshalling has rules of its own for those): the caller
   * marshals `unpack`'s object.
   */
  unpackAttributes(pk: string, sk: string, packed: string): Record<string, WireValue> | null {
    const reader = { at: 0 };
    readVarint(packed, reader);
    const shape = this.shapes[readVarint(packed, reader)] as Shape;
    const item: Record<string, WireValue> = {};
    const { names, kinds } = shape;
    for (let i = 0; i < names.length; i += 1) {
      const name = names[i] as string;
      if (kinds[i] === KEY) {
        item[name] = { S: name === 'pk' ? pk : sk };
        continue;
      }
      const tag = packed.charCodeAt(reader.at);
      if (tag === T_FLOAT) return null;
      const value = this.read(packed, reader);
      // removeUndefinedValues: the field is left out
      if (value === undefined) continue;
      item[name] = wireValue(value);
    }
    return item;
  }

  private newShape(item: EvidenceItem): Shape {
    const names = Object.keys(item);
    const template: Record<string, undefined> = {};
    for (const name of names) template[name] = undefined;
    const kinds = Uint8Array.from(names, (name) => (name === 'pk' || name === 'sk' ? KEY : this.pooledFields.has(name) ? POOLED : INLINE));
    // the template copied by spreading: one filled by computed names, past some fields, is a dictionary
    const shape: Shape = { id: this.shapes.length, names, kinds, packable: !names.includes('__proto__'), template: { ...template } };
    this.shapes.push(shape);
    return shape;
  }

  private value(value: AttrValue | undefined, pooled: boolean): boolean {
    switch (typeof value) {
      case 'string':
        return pooled ? (this.pooledString(value), true) : this.inline(value);
      case 'number':
        this.number(value);
        return true;
      case 'boolean':
        this.unit(value ? T_TRUE : T_FALSE);
        return true;
      case 'undefined':
        this.unit(T_UNDEFINED);
        return true;
      default:
        if (value === null) {
          this.unit(T_NULL);
          return true;
        }
        return Array.isArray(value) && this.array(value);
    }
  }

  private array(values: readonly unknown[]): boolean {
    // Indexed, not for…of: every packed item's tags pass here, and the iterator's results were ~50 MB
    // of a fleet run's allocations.
    for (let i = 0; i < values.length; i += 1) if (typeof values[i] !== 'string') return false;
    const strings = values as readonly string[];
    // A frozen array cannot change: every item holding it gets the same one back (the stage's tag sets).
    if (Object.isFrozen(strings)) {
      this.unit(T_SHARED_ARRAY);
      this.varint(this.sharedArrays.id(strings));
      return true;
    }
    this.unit(T_ARRAY);
    this.varint(strings.length);
    for (let i = 0; i < strings.length; i += 1) this.varint(this.strings.id(strings[i]!));
    return true;
  }

  private pooledString(value: string): void {
    this.unit(T_POOLED);
    this.varint(this.strings.id(value));
  }

  private inline(value: string): boolean {
    this.unit(T_STRING);
    this.varint(value.length);
    this.room(value.length);
    const buffer = this.buffer;
    let at = this.length;
    for (let i = 0; i < value.length; i += 1) {
      const c = value.charCodeAt(i);
      if (c > 0xff) return false;
      buffer[at++] = c;
    }
    this.length = at;
    return true;
  }

  private number(value: number): void {
    if (Number.isSafeInteger(value) && !Object.is(value, -0)) {
      this.unit(value < 0 ? T_NEGATIVE_INT : T_UINT);
      this.varint(Math.abs(value));
      return;
    }
    this.unit(T_FLOAT);
    this.room(8);
    FLOAT[0] = value;
    this.buffer.set(FLOAT_BYTES, this.length);
    this.length += 8;
  }

  private varint(value: number): void {
    while (value >= 0x80) {
      this.unit(0x80 | value % 0x80);
      value = Math.floor(value / 0x80);
    }
    this.unit(value);
  }

  private unit(value: number): void {
    if (this.length === this.buffer.length) this.room(1);
    this.buffer[this.length++] = value;
  }

  private room(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + n));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }

  private read(packed: string, reader: { at: number }): AttrValue | undefined {
    const tag = packed.charCodeAt(reader.at++);
    switch (tag) {
      case T_POOLED:
        return this.strings.value(readVarint(packed, reader));
      case T_STRING: {
        const n = readVarint(packed, reader);
        const s = packed.slice(reader.at, reader.at + n);
        reader.at += n;
        return s;
      }
      case T_UINT:
        return readVarint(packed, reader);
      case T_NEGATIVE_INT:
        return -readVarint(packed, reader);
      case T_FLOAT: {
        for (let i = 0; i < 8; i += 1) FLOAT_BYTES[i] = packed.charCodeAt(reader.at + i);
        reader.at += 8;
        return FLOAT[0] as number;
      }
      case T_TRUE:
        return true;
      case T_FALSE:
        return false;
      case T_NULL:
        return null;
      case T_UNDEFINED:
        return undefined;
      case T_ARRAY: {
        const n = readVarint(packed, reader);
        const out: string[] = new Array(n);
        for (let i = 0; i < n; i += 1) out[i] = this.strings.value(readVarint(packed, reader));
        return out;
      }
      case T_SHARED_ARRAY:
        return this.sharedArrays.value(readVarint(packed, reader)) as string[];
      default:
        throw new Error(`packed item: unknown tag ${tag} at ${reader.at - 1}`);
    }
  }
}

/** A value as DynamoDB's wire format has it: what the packing holds, marshalled. */
export type WireValue = { S: string } | { N: string } | { BOOL: boolean } | { NULL: true } | { L: WireValue[] };

/** A value `read` gives (undefined and non-integers aside), as util-dynamodb's `convertToAttr` marshals it. */
function wireValue(value: AttrValue): WireValue {
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number') return { N: String(value) };
  if (typeof value === 'boolean') return { BOOL: value };
  if (value === null) return { NULL: true };
  const list: WireValue[] = new Array((value as string[]).length);
  for (let i = 0; i < list.length; i += 1) list[i] = { S: (value as string[])[i] as string };
  return { L: list };
}

/** The `mark` a packed item carries. */
export function packedMark(packed: string): number {
  return readVarint(packed, { at: 0 });
}

/** Values by number, each numbered once, in the order first met: a packed item holds the number. */
class Numbering<T> {
  private readonly values: T[] = [];
  private readonly ids = new Map<T, number>();

  get size(): number {
    return this.values.length;
  }

  id(value: T): number {
    let id = this.ids.get(value);
    if (id === undefined) {
      id = this.values.push(value) - 1;
      this.ids.set(value, id);
    }
    return id;
  }

  value(id: number): T {
    return this.values[id] as T;
  }
}

const FLOAT = new Float64Array(1);
const FLOAT_BYTES = new Uint8Array(FLOAT.buffer);

function readVarint(packed: string, reader: { at: number }): number {
  let value = 0;
  let scale = 1;
  for (;;) {
    const c = packed.charCodeAt(reader.at++);
    value += (c & 0x7f) * scale;
    if (c < 0x80) return value;
    scale *= 0x80;
  }
}

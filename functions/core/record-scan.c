/*
 * The reading thread's scan of a log file's `Records` (core/record-prefilter `scanRecordRangesInJs`),
 * compiled to WebAssembly: the same grammar, the same ranges, the same answer. JavaScript visited every byte of every record one at a time (~11 s of the
 * reading thread's ~19 s busy over the fleet preset's 2.9 GiB); here strings, most of a record's
 * bytes, are skipped sixteen bytes at a time (WebAssembly's 128-bit SIMD).
 *
 * Mirrors record-prefilter.ts function by function (`skipJson`, `skipString`, `JsonScanner.valueRanges`,
 * `member`, `scanElements`); a change to one is a change to the other, and
 * test/unit/record-scan.test.ts compares the two. Built by scripts/build-record-scan.mjs
 * (clang --target=wasm32) into record-scan-wasm.ts.
 */
#include <stdint.h>
#include <wasm_simd128.h>

typedef uint8_t u8;
typedef int32_t i32;

#define MAX_SCAN_DEPTH 128
#define OBJECT (-2)

/* The compiled key tree, written by the caller (`setTree`): nodes, then keys, then key bytes. */
typedef struct { i32 first_key, key_count, slot_from, slot_to; } Node;
typedef struct { i32 bytes, length, slot, child; } Key;

static Node *nodes;
static Key *keys;
static u8 *key_bytes;
static i32 *ranges;

/* The file being scanned and the scan's position. */
static const u8 *b;
static i32 end_at;
static i32 pos;
/* Why a scan stopped early: the bytes are not what the scan can vouch for. */
static int unsure;

static u8 containers[MAX_SCAN_DEPTH + 2];

static inline int is_digit(int c) { return c >= '0' && c <= '9'; }
static inline int is_hex(int c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

static inline i32 skip_spaces(i32 i) {
  while (i < end_at) {
    u8 c = b[i];
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') i++;
    else break;
  }
  return i;
}

/* The escape at i (a backslash): the index after it, or -1. */
static inline i32 skip_escape(i32 i) {
  i32 e = i + 1 < end_at ? b[i + 1] : -1;
  if (e == 'u') {
    if (i + 6 > end_at || !is_hex(b[i + 2]) || !is_hex(b[i + 3]) || !is_hex(b[i + 4]) || !is_hex(b[i + 5])) return -1;
    return i + 6;
  }
  if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') return i + 2;
  return -1;
}

/* A string whose opening quote is at i - 1: the index after its closing quote, or -1 (raw control character, bad escape, no end). */
static i32 skip_string(i32 i) {
  const v128_t quote = wasm_i8x16_splat('"'), backslash = wasm_i8x16_splat('\\'), space = wasm_i8x16_splat(0x20);
  for (;;) {
    while (i + 16 <= end_at) {
      v128_t v = wasm_v128_load(b + i);
      v128_t special = wasm_v128_or(wasm_v128_or(wasm_i8x16_eq(v, quote), wasm_i8x16_eq(v, backslash)), wasm_u8x16_lt(v, space));
      uint32_t bits = wasm_i8x16_bitmask(special);
      if (bits != 0) {
        i += __builtin_ctz(bits);
        goto found;
      }
      i += 16;
    }
    while (i < end_at && b[i] != '"' && b[i] != '\\' && b[i] >= 0x20) i++;
    if (i >= end_at) return -1;
  found:
    if (b[i] == '"') return i + 1;
    if (b[i] < 0x20) return -1;
    i = skip_escape(i);
    if (i < 0) return -1;
  }
}

static i32 skip_number(i32 i) {
  i32 c = i < end_at ? b[i] : -1;
  if (c == '-') c = ++i < end_at ? b[i] : -1;
  if (c == '0') c = ++i < end_at ? b[i] : -1;
  else if (is_digit(c)) {
    do c = ++i < end_at ? b[i] : -1;
    while (is_digit(c));
  } else return -1;
  if (c == '.') {
    c = ++i < end_at ? b[i] : -1;
    if (!is_digit(c)) return -1;
    do c = ++i < end_at ? b[i] : -1;
    while (is_digit(c));
  }
  if (c == 'e' || c == 'E') {
    c = ++i < end_at ? b[i] : -1;
    if (c == '+' || c == '-') c = ++i < end_at ? b[i] : -1;
    if (!is_digit(c)) return -1;
    do c = ++i < end_at ? b[i] : -1;
    while (is_digit(c));
  }
  return i;
}

static i32 skip_literal(i32 i, const char *text, i32 length) {
  if (i + length > end_at) return -1;
  for (i32 k = 0; k < length; k++)
    if (b[i + k] != (u8)text[k]) return -1;
  return i + length;
}

/* Past a member's key and its colon, from the key's opening quote; -1 if not there. */
static i32 skip_key_and_colon(i32 i) {
  if (i >= end_at || b[i] != '"') return -1;
  i = skip_string(i + 1);
  if (i < 0) return -1;
  i = skip_spaces(i);
  if (i >= end_at || b[i] != ':') return -1;
  return i + 1;
}

/* Skips (validating) the value at i, `depth` containers deep already: the index after it, or -1. */
static i32 skip_json(i32 i, i32 depth) {
  const i32 base = depth;
  for (;;) {
    i = skip_spaces(i);
    if (i >= end_at) return -1;
    u8 c = b[i];
    if (c == '"') i = skip_string(i + 1);
    else if (c == '{' || c == '[') {
      if (depth >= MAX_SCAN_DEPTH) return -1;
      i = skip_spaces(i + 1);
      u8 close = c == '{' ? '}' : ']';
      if (i < end_at && b[i] == close) i++;
      else {
        containers[++depth] = c == '{' ? 1 : 2;
        if (c == '{') {
          i = skip_key_and_colon(i);
          if (i < 0) return -1;
        }
        continue;
      }
    } else if (c == 't') i = skip_literal(i, "true", 4);
    else if (c == 'f') i = skip_literal(i, "false", 5);
    else if (c == 'n') i = skip_literal(i, "null", 4);
    else i = skip_number(i);
    if (i < 0) return -1;
    for (;;) {
      if (depth == base) return i;
      i = skip_spaces(i);
      if (i >= end_at) return -1;
      u8 d = b[i];
      int in_object = containers[depth] == 1;
      if (d == ',') {
        i++;
        if (in_object) {
          i = skip_key_and_colon(skip_spaces(i));
          if (i < 0) return -1;
        }
        break;
      }
      if (d != (in_object ? '}' : ']')) return -1;
      i++;
      depth--;
    }
  }
}

static inline i32 peek(void) { return pos < end_at ? b[pos] : -1; }

static void skip_value(i32 depth) {
  i32 at = skip_json(pos, depth);
  if (at < 0) unsure = 1;
  else pos = at;
}

/* The longest key a tree may hold (record-scan.ts checks): a key decoded past it names none. */
#define MAX_KEY_BYTES 64
static u8 decoded[MAX_KEY_BYTES];

static i32 hex_value(u8 c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }

/*
 * A key with escapes, between its quotes (validated), decoded as JSON.parse would: its length in
 * `decoded`, or -1 when it holds a character past ASCII (or is longer than any tree key), so that it
 * names no key of the tree, whose keys are ASCII.
 */
static i32 decode_key(i32 from, i32 to) {
  i32 n = 0;
  for (i32 i = from; i < to;) {
    i32 c = b[i];
    if (c == '\\') {
      i32 e = b[i + 1];
      if (e == 'u') {
        c = (hex_value(b[i + 2]) << 12) | (hex_value(b[i + 3]) << 8) | (hex_value(b[i + 4]) << 4) | hex_value(b[i + 5]);
        i += 6;
      } else {
        c = e == 'b' ? '\b' : e == 'f' ? '\f' : e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e;
        i += 2;
      }
    } else i++;
    if (c >= 0x80 || n >= MAX_KEY_BYTES) return -1;
    decoded[n++] = (u8)c;
  }
  return n;
}

/* Past a member's key and colon, to its value: the node's key it names (as JSON.parse decodes it), or -1. */
static i32 member(const Node *node) {
  pos = skip_spaces(pos);
  if (peek() != '"') return unsure = 1, -1;
  i32 start = pos + 1;
  i32 after = skip_string(start);
  if (after < 0) return unsure = 1, -1;
  pos = after;
  const u8 *name = b + start;
  i32 length = after - 1 - start;
  for (i32 i = start; i < after - 1; i++) {
    if (b[i] == '\\' || b[i] >= 0x80) {
      length = decode_key(start, after - 1);
      name = decoded;
      break;
    }
  }
  i32 found = -1;
  for (i32 k = node->first_key; k < node->first_key + node->key_count && length >= 0; k++) {
    const Key *key = &keys[k];
    if (key->length != length) continue;
    const u8 *wanted = key_bytes + key->bytes;
    i32 j = 0;
    while (j < length && name[j] == wanted[j]) j++;
    if (j == length) {
      found = k;
      break;
    }
  }
  pos = skip_spaces(pos);
  if (peek() != ':') return unsure = 1, -1;
  pos = skip_spaces(pos + 1);
  return found;
}

/* `JsonScanner.valueRanges`: skips the object at the position, noting where the tree's values lie. */
static void value_ranges(const Node *node, i32 depth) {
  if (depth > MAX_SCAN_DEPTH) {
    unsure = 1;
    return;
  }
  pos = skip_spaces(pos + 1);
  if (peek() == '}') {
    pos++;
    return;
  }
  for (;;) {
    i32 k = member(node);
    if (unsure) return;
    if (k < 0) skip_value(depth);
    else {
      const Key *key = &keys[k];
      i32 start = pos;
      i32 at = 2 * key->slot;
      if (key->child >= 0) {
        const Node *child = &nodes[key->child];
        for (i32 s = 2 * child->slot_from; s < 2 * child->slot_to; s++) ranges[s] = -1;
      }
      if (key->child >= 0 && peek() == '{') {
        ranges[at] = start;
        ranges[at + 1] = OBJECT;
        value_ranges(&nodes[key->child], depth + 1);
      } else {
        if (start < end_at && b[start] == '"') {
          i32 after = skip_string(start + 1);
          if (after < 0) unsure = 1;
          else pos = after;
        } else skip_value(depth);
        ranges[at] = start;
        ranges[at + 1] = pos;
      }
    }
    if (unsure) return;
    pos = skip_spaces(pos);
    i32 c = peek();
    pos++;
    if (c == '}') return;
    if (c != ',') {
      unsure = 1;
      return;
    }
  }
}

/* What `next` found. */
#define UNSURE 0
#define OBJECT_ELEMENT 1
#define OTHER_ELEMENT 2
#define DOCUMENT_END 3

/* Where the last element lies, for the caller. */
static i32 element_from, element_to;
/* Where the scan is in `Records`: before its first element, after an element, or past its `]`. */
#define FIRST 0
#define AFTER_ELEMENT 1
#define PAST_RECORDS 2
static int state;

__attribute__((export_name("setTree"))) void set_tree(Node *node_table, Key *key_table, u8 *bytes, i32 *range_table) {
  nodes = node_table;
  keys = key_table;
  key_bytes = bytes;
  ranges = range_table;
}

/* Starts a file (`length` bytes at `bytes`): 1 when it opens as `{"Records":[`, else 0. */
__attribute__((export_name("start"))) i32 start(const u8 *bytes, i32 length) {
  b = bytes;
  end_at = length;
  unsure = 0;
  pos = 0;
  // Windows tools prepend a BOM, which the whole-file path strips too.
  if (length >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf) pos = 3;
  pos = skip_spaces(pos);
  if (peek() != '{') return 0;
  pos = skip_spaces(pos + 1);
  i32 at = skip_literal(pos, "\"Records\"", 9);
  if (at < 0) return 0;
  pos = skip_spaces(at);
  if (peek() != ':') return 0;
  pos = skip_spaces(pos + 1);
  if (peek() != '[') return 0;
  pos = skip_spaces(pos + 1);
  state = FIRST;
  if (peek() == ']') {
    pos++;
    state = PAST_RECORDS;
  }
  return 1;
}

/*
 * The next element of `Records`, its ranges noted when it is an object; or the document's end (`}`
 * then only whitespace), or UNSURE. As in `scanElements`, an element is handed over before what
 * follows it is read.
 */
__attribute__((export_name("next"))) i32 next(i32 slots) {
  if (state == AFTER_ELEMENT) {
    pos = skip_spaces(pos);
    i32 c = peek();
    pos++;
    if (c == ']') state = PAST_RECORDS;
    else if (c != ',') return UNSURE;
  }
  if (state == PAST_RECORDS) {
    pos = skip_spaces(pos);
    if (peek() != '}') return UNSURE;
    pos = skip_spaces(pos + 1);
    return pos == end_at ? DOCUMENT_END : UNSURE;
  }
  state = AFTER_ELEMENT;
  pos = skip_spaces(pos);
  element_from = pos;
  i32 found;
  if (peek() == '{') {
    for (i32 s = 0; s < 2 * slots; s++) ranges[s] = -1;
    // Depth 2: inside the document and its array, as JSON.parse of the file would nest it.
    value_ranges(&nodes[0], 2);
    found = OBJECT_ELEMENT;
  } else {
    skip_value(2);
    found = OTHER_ELEMENT;
  }
  if (unsure) return UNSURE;
  element_to = pos;
  return found;
}

__attribute__((export_name("elementFrom"))) i32 get_element_from(void) { return element_from; }
__attribute__((export_name("elementTo"))) i32 get_element_to(void) { return element_to; }

/*
 * The skimmer's dictionary of keys (record-skim `Skimmer`): a record's key is the bytes of its
 * verdict fields, slot by slot as `keyText` in record-skim.ts writes them (a tag: 0 absent, 1 an
 * object, 2 a value, then the value's length, four bytes little-endian, and its bytes), looked up
 * here by those bytes, all of them compared. In JavaScript, making that text a string and looking
 * it up in a Map was ~2.2 s of the reading thread's ~15 s busy on the fleet preset.
 */
typedef uint32_t u32;
typedef struct { u32 hash; i32 at, length, id; } Entry;

static const i32 *verdict_slots;
static i32 verdict_count;
static Entry *entries;
static u32 entry_mask;
static u8 *arena;
static i32 arena_bytes, arena_used;
/* The key `keyOf` did not find, for `addKey`: written at the arena's end, its entry's place and hash. */
static i32 pending_length;
static u32 pending_entry, pending_hash;

#define KEY_NEW (-1)
#define KEYS_FULL (-2)
#define KEY_TOO_LONG (-3)

__attribute__((export_name("setKeys"))) void set_keys(const i32 *slots, i32 count, Entry *entry_table, i32 entry_count, u8 *arena_at, i32 arena_size) {
  verdict_slots = slots;
  verdict_count = count;
  entries = entry_table;
  entry_mask = (u32)entry_count - 1;
  arena = arena_at;
  arena_bytes = arena_size;
}

/* Empties the dictionary (an entry of length 0 is free: a key is never shorter than its tags). */
__attribute__((export_name("clearKeys"))) void clear_keys(void) {
  __builtin_memset(entries, 0, (entry_mask + 1) * sizeof(Entry));
  arena_used = 0;
}

static inline u32 read32(const u8 *p) {
  u32 v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

/* Whether `n` bytes at `p` and `q` are equal, sixteen at a time. */
static int same_bytes(const u8 *p, const u8 *q, i32 n) {
  i32 i = 0;
  for (; i + 16 <= n; i += 16) {
    if (!wasm_i8x16_all_true(wasm_i8x16_eq(wasm_v128_load(p + i), wasm_v128_load(q + i)))) return 0;
  }
  for (; i < n; i++) if (p[i] != q[i]) return 0;
  return 1;
}

/* A multiplicative hash of the key's bytes, four at a time (the table compares the bytes whole). */
static u32 hash_bytes(const u8 *p, i32 length) {
  u32 h = 0x9e3779b9u ^ (u32)length;
  i32 i = 0;
  for (; i + 4 <= length; i += 4) {
    h ^= read32(p + i);
    h *= 0x85ebca6bu;
    h ^= h >> 15;
  }
  for (; i < length; i++) h = (h ^ p[i]) * 0xc2b2ae35u;
  h ^= h >> 13;
  h *= 0x27d4eb2fu;
  return h ^ (h >> 16);
}

/*
 * The key of the element `next` just found (an object): its id, or KEY_NEW (then `addKey` gives
 * it one); KEYS_FULL when its bytes do not fit what is left of the arena, KEY_TOO_LONG when they
 * would not fit it empty.
 */
__attribute__((export_name("keyOf"))) i32 key_of(void) {
  i32 length = 0;
  for (i32 k = 0; k < verdict_count; k++) {
    i32 slot = verdict_slots[k];
    i32 from = ranges[2 * slot], to = ranges[2 * slot + 1];
    length += from < 0 || to == OBJECT ? 1 : 5 + (to - from);
    if (length > arena_bytes) return KEY_TOO_LONG;
  }
  if (length > arena_bytes - arena_used) return KEYS_FULL;
  u8 *out = arena + arena_used;
  i32 n = 0;
  for (i32 k = 0; k < verdict_count; k++) {
    i32 slot = verdict_slots[k];
    i32 from = ranges[2 * slot], to = ranges[2 * slot + 1];
    if (from < 0) out[n++] = 0;
    else if (to == OBJECT) out[n++] = 1;
    else {
      i32 value = to - from;
      out[n] = 2;
      __builtin_memcpy(out + n + 1, &value, 4);
      __builtin_memcpy(out + n + 5, b + from, (unsigned long)value);
      n += 5 + value;
    }
  }
  u32 h = hash_bytes(out, n);
  for (u32 e = h & entry_mask;; e = (e + 1) & entry_mask) {
    Entry *entry = &entries[e];
    if (entry->length == 0) {
      pending_entry = e;
      pending_hash = h;
      pending_length = n;
      return KEY_NEW;
    }
    if (entry->hash == h && entry->length == n && same_bytes(arena + entry->at, out, n)) return entry->id;
  }
}

/* Keeps the key `keyOf` just answered KEY_NEW for, as `id`. The caller keeps the table under half full. */
__attribute__((export_name("addKey"))) void add_key(i32 id) {
  Entry *entry = &entries[pending_entry];
  entry->hash = pending_hash;
  entry->at = arena_used;
  entry->length = pending_length;
  entry->id = id;
  arena_used += pending_length;
}

extern u8 __heap_base;
/* Where the caller may place its tables and the file: past the module's own data and stack. */
__attribute__((export_name("heapBase"))) u8 *heap_base(void) { return &__heap_base; }

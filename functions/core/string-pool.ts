/**
 * One copy of each recurring string for what a long run holds in memory. Strings that come out of
 * JSON.parse, a template or the SDK's unmarshalling are each new: a batch of events or a stage of
 * items would keep its cluster ARN, namespace, partition key… once per event or item, copied by every
 * young-generation collection they live through, then promoted. Bounded: a trail of ever-new values
 * keeps only the recent ones.
 */
export class StringPool {
  private readonly known = new Map<string, string>();

  constructor(private readonly limit = 100_000) {}

  /** The pool's string equal to `value`: the first one given, kept flat (`flatString`). */
  string(value: string): string {
    const known = this.known.get(value);
    if (known !== undefined) return known;
    if (this.known.size >= this.limit) this.known.clear();
    const kept = flatString(value);
    this.known.set(kept, kept);
    return kept;
  }

  /** `object` itself, each of `fields` that holds a string now the pool's (an equal string: the same object to its readers). */
  share<T extends object>(object: T, fields: readonly string[]): T {
    const values = object as Record<string, unknown>;
    for (const field of fields) {
      const value = values[field];
      if (typeof value === 'string') values[field] = this.string(value);
    }
    return object;
  }
}

/**
 * `text` as one flat string. A string made by concatenation (a template, `+`, `replace`) is a chain
 * of 32-byte wrappers around its parts, and stays one wrapper around its text once V8 has flattened
 * it, for as long as it lives: 7.5 MB of wrappers among the stage's 219,532 sort keys at 40,000
 * namespaces. `normalize()` gives a one-byte string back flat and as it was (NFC leaves every
 * character up to U+00FF alone); any other string it might change is kept as it is.
 */
export function flatString(text: string): string {
  const normalized = text.normalize();
  return normalized === text ? normalized : text;
}

/**
 * Splits a JSON input too large to parse whole into records, chunk by chunk, holding at most one
 * record at a time. Pure: the caller reads the bytes (cloudtrail-files) and hands them over.
 *
 * Two shapes are streamed:
 * - a document that opens with `{"Records": [` or `{"Events": [` (a CloudTrail log file, a Lambda
 *   SQS event, LookupEvents output), or with `[`: each element of that array is cut out by a
 *   byte-level scanner that tracks strings, escapes and depth, and parsed on its own;
 * - anything else is read as JSON Lines: each line parsed on its own.
 * Content after a streamed document (JSON Lines of log files) is read as JSON Lines too.
 *
 * Every element or line is capped at `maxRecordBytes`: one over it is a problem naming the cap,
 * and the rest goes on. A break the scanner cannot step over (a missing comma between records,
 * a document that ends inside a record) is a last problem: what came before it stays read.
 */
import { elementLabel, extractElement, iterateRecords, jsonErrorMessage, type InputItem, type StreamedContainer } from './envelopes';
import { skeletonOf, type RawRecord } from './record-prefilter';

export interface SplitLimits {
  /** Largest element or line parsed, in bytes. */
  maxRecordBytes: number;
}

/** What a splitter hands over: items, and with `raw`, a log file's elements not parsed yet. */
export type SplitItem = InputItem | RawRecord;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

const isSpace = (c: number) => c === 0x20 || c === NEWLINE || c === 0x0d || c === 0x09;

export function mebibytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${Math.ceil(bytes / 1024)} KiB`;
  const mib = bytes / (1024 * 1024);
  return `${Number.isInteger(mib) ? mib : mib.toFixed(1)} MiB`;
}

/** How the first bytes open: which array to stream, and where its first element starts. */
const STREAMED_OPENING = /^\s*(?:\{\s*"(Records|Events)"\s*:\s*\[|\[)/;

type Mode = 'elements' | 'tail' | 'after' | 'lines' | 'stopped';

export class JsonStreamSplitter<Item extends SplitItem = InputItem> {
  private mode: Mode;
  private readonly container: StreamedContainer | null;
  private line = 1;

  // Element scanning (mode 'elements').
  private index = 0;
  private inElement = false;
  private scalar = false;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** An element ended and no comma has followed yet. */
  private needComma = false;
  /** A comma was read and no element has followed yet. */
  private afterComma = false;
  private parts: Buffer[] = [];
  private partBytes = 0;
  private oversized = false;

  // Line reading (mode 'lines').
  private usableLines = 0;

  /** Bytes of the opening still to skip before scanning. */
  private skip: number;
  /** The next backslash at or after the scan position in the current chunk (n: none), or -1: unknown. */
  private nextBackslash = -1;
  /** Where the element being read starts in the current chunk (0 when it began in an earlier one). */
  private elementStart = 0;

  /**
   * @param head the first bytes of the input (enough to see how it opens; the caller has
   *   already read more than `maxRecordBytes`, or it would have parsed the input whole)
   * @param options.raw hand over a log file's `Records` elements as `RawRecord`s (validated and
   *   skeletoned, not parsed): the ingest parses only those that may be in scope. Only with
   *   `JsonStreamSplitter<SplitItem>`.
   */
  constructor(
    private readonly file: string,
    private readonly limits: SplitLimits,
    head: string,
    private readonly options: { raw?: boolean } = {},
  ) {
    const opening = STREAMED_OPENING.exec(head.slice(0, 4096));
    if (opening === null) {
      this.container = null;
      this.mode = 'lines';
      this.skip = 0;
    } else {
      this.container = (opening[1] as 'Records' | 'Events' | undefined) ?? 'array';
      this.mode = 'elements';
      // The opening's bytes are skipped (JSON whitespace and punctuation: one byte per character).
      const text = opening[0];
      this.skip = Buffer.byteLength(text, 'utf8');
      this.line += (text.match(/\n/g) ?? []).length;
    }
  }

  /** The items the chunk completes. */
  push(chunk: Buffer): Item[] {
    const out: SplitItem[] = [];
    let start = 0;
    if (this.skip > 0) {
      start = Math.min(this.skip, chunk.length);
      this.skip -= start;
    }
    this.scan(chunk, start, out);
    return out as Item[];
  }

  /** True once nothing more can be read from the input: the caller may stop reading it. */
  get done(): boolean {
    return this.mode === 'stopped';
  }

  /** The items the end of input completes, and a problem if it ends where it cannot. */
  end(): Item[] {
    const out: SplitItem[] = [];
    switch (this.mode) {
      case 'elements':
        if (this.inElement && this.scalar && !this.inString) {
          // `[1` at the very end: the element is complete but the array never closes.
          this.finishElement(Buffer.alloc(0), 0, 0, out);
        }
        out.push(this.problem(null, `not JSON: the input ends inside ${this.inElement ? elementLabel(this.containerOf(), this.index) : `the array after ${elementLabel(this.containerOf(), this.index)}`} (truncated?)`));
        break;
      case 'tail':
        out.push(this.problem(null, 'not JSON: the input ends before its top-level object closes (truncated?)'));
        break;
      case 'lines':
        if (this.oversized) out.push(this.oversizedLine());
        else if (this.partBytes > 0) this.finishLine(Buffer.concat(this.parts), out);
        break;
      default:
        break;
    }
    this.mode = 'stopped';
    return out as Item[];
  }

  private containerOf(): StreamedContainer {
    return this.container ?? 'array';
  }

  private problem(where: string | null, reason: string): InputItem {
    return { type: 'problem', file: this.file, where, reason };
  }

  private scan(buf: Buffer, from: number, out: SplitItem[]): void {
    let i = from;
    while (i < buf.length) {
      switch (this.mode) {
        case 'elements':
          i = this.scanElements(buf, i, out);
          break;
        case 'tail':
          i = this.scanTail(buf, i);
          break;
        case 'after':
          i = this.scanAfter(buf, i);
          break;
        case 'lines':
          i = this.scanLines(buf, i, out);
          break;
        case 'stopped':
          return;
      }
    }
    if (this.mode === 'elements' && this.inElement) this.keep(buf.subarray(this.elementStart, buf.length));
    this.elementStart = 0;
  }

  /** Keeps an unfinished element's bytes across chunks, up to the cap. */
  private keep(bytes: Buffer): void {
    if (this.oversized) return;
    this.partBytes += bytes.length;
    if (this.partBytes > this.limits.maxRecordBytes) {
      this.oversized = true;
      this.parts = [];
    } else if (bytes.length > 0) {
      this.parts.push(bytes);
    }
  }

  /** Scans elements from `i`; returns where it stopped (end of buffer, or a mode change). */
  private scanElements(buf: Buffer, i: number, out: SplitItem[]): number {
    const n = buf.length;
    this.nextBackslash = -1;
    while (i < n) {
      if (this.inString) {
        // The hot path: most bytes are inside strings, so jump to the next quote or backslash
        // (memchr) rather than look at every byte. A raw newline is invalid inside a string,
        // so lines are not counted here.
        if (this.escaped) {
          this.escaped = false;
          i++;
          continue;
        }
        if (this.nextBackslash < i) {
          const at = buf.indexOf(BACKSLASH, i);
          this.nextBackslash = at === -1 ? n : at;
        }
        const quote = buf.indexOf(QUOTE, i);
        const end = quote === -1 ? n : quote;
        if (this.nextBackslash < end) i = this.nextBackslash;
        else if (quote === -1) return n;
        else i = quote;
        const c = buf[i] as number;
        i++;
        if (c === BACKSLASH) {
          this.escaped = true;
          continue;
        }
        this.inString = false;
        if (this.inElement && this.depth === 0 && !this.scalar) this.finishElement(buf, this.elementStart, i, out);
        continue;
      }
      const c = buf[i] as number;
      if (this.inElement) {
        if (this.scalar) {
          if (c === COMMA || c === CLOSE_BRACKET || isSpace(c)) {
            this.finishElement(buf, this.elementStart, i, out);
            continue; // the delimiter is read between elements
          }
          i++;
          continue;
        }
        if (c === QUOTE) this.inString = true;
        else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.depth++;
        else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
          if (--this.depth === 0) {
            this.finishElement(buf, this.elementStart, i + 1, out);
            i++;
            continue;
          }
        } else if (c === NEWLINE) this.line++;
        i++;
        continue;
      }
      // Between elements.
      if (isSpace(c)) {
        if (c === NEWLINE) this.line++;
        i++;
      } else if (c === COMMA) {
        if (!this.needComma) return this.stop(out, `not JSON: a comma where ${elementLabel(this.containerOf(), this.index + 1)} should start (line ${this.line})`);
        this.needComma = false;
        this.afterComma = true;
        i++;
      } else if (c === CLOSE_BRACKET) {
        if (this.afterComma) return this.stop(out, `not JSON: the array ends after a comma, where ${elementLabel(this.containerOf(), this.index + 1)} should be (line ${this.line})`);
        // The streamed array is inside the top-level object, whose other keys are skipped.
        this.mode = this.container === 'array' ? 'after' : 'tail';
        this.depth = 1;
        return i + 1;
      } else {
        if (this.needComma) return this.stop(out, `not JSON: no comma after ${elementLabel(this.containerOf(), this.index)} (line ${this.line})`);
        this.index++;
        this.inElement = true;
        this.afterComma = false;
        this.elementStart = i;
        this.depth = 0;
        this.scalar = false;
        if (c === OPEN_BRACE || c === OPEN_BRACKET) this.depth = 1;
        else if (c === QUOTE) this.inString = true;
        else this.scalar = true;
        i++;
      }
    }
    return i;
  }

  private finishElement(buf: Buffer, from: number, to: number, out: SplitItem[]): void {
    const container = this.containerOf();
    const index = this.index;
    if (!this.oversized) this.keep(buf.subarray(from, to));
    if (this.oversized) {
      out.push(this.problem(elementLabel(container, index), `larger than ${mebibytes(this.limits.maxRecordBytes)} (the cap on one record): skipped`));
    } else {
      const bytes = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts);
      if (this.options.raw === true && container === 'Records') {
        out.push({ type: 'raw', file: this.file, index, bytes, skeleton: skeletonOf(bytes), depth: 1 });
        this.resetElement();
        return;
      }
      let element: unknown;
      let error: string | null = null;
      try {
        element = JSON.parse(bytes.toString('utf8'));
      } catch (err) {
        error = jsonErrorMessage(err);
      }
      if (error !== null) out.push(this.problem(elementLabel(container, index), `not JSON: ${error}`));
      else for (const item of extractElement(container, element, index, this.file)) out.push(item);
    }
    this.resetElement();
  }

  private resetElement(): void {
    this.parts = [];
    this.partBytes = 0;
    this.oversized = false;
    this.inElement = false;
    this.scalar = false;
    this.needComma = true;
  }

  private stop(out: SplitItem[], reason: string): number {
    out.push(this.problem(null, `${reason}; the rest of the file is not read`));
    this.mode = 'stopped';
    return Number.MAX_SAFE_INTEGER;
  }

  /** Skips the top-level object's keys after the streamed array, until it closes. */
  private scanTail(buf: Buffer, i: number): number {
    const n = buf.length;
    for (; i < n; i++) {
      const c = buf[i] as number;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) this.inString = false;
      } else if (c === QUOTE) this.inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        if (--this.depth === 0) {
          this.mode = 'after';
          return i + 1;
        }
      } else if (c === NEWLINE) this.line++;
    }
    return i;
  }

  /** After the streamed document: whitespace, or JSON Lines. */
  private scanAfter(buf: Buffer, i: number): number {
    const n = buf.length;
    for (; i < n; i++) {
      const c = buf[i] as number;
      if (c === NEWLINE) this.line++;
      else if (!isSpace(c)) {
        this.mode = 'lines';
        // The document counts as a usable line: what follows is JSON Lines of log files.
        this.usableLines = 1;
        return i;
      }
    }
    return i;
  }

  private scanLines(buf: Buffer, i: number, out: SplitItem[]): number {
    const n = buf.length;
    while (i < n && this.mode === 'lines') {
      const nl = buf.indexOf(NEWLINE, i);
      if (nl === -1) {
        this.keep(buf.subarray(i, n));
        // Not JSON Lines (/dev/zero, a binary file): no need to read on to a newline that may never come.
        if (this.oversized && this.usableLines === 0) out.push(this.oversizedLine());
        return n;
      }
      if (this.oversized) out.push(this.oversizedLine());
      else {
        this.keep(buf.subarray(i, nl));
        if (this.oversized) out.push(this.oversizedLine());
        else this.finishLine(this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts), out);
      }
      this.parts = [];
      this.partBytes = 0;
      this.oversized = false;
      this.line++;
      i = nl + 1;
    }
    return this.mode === 'lines' ? i : n;
  }

  private oversizedLine(): InputItem {
    if (this.usableLines === 0) {
      this.mode = 'stopped';
      return this.problem(null, `not JSON: line ${this.line} is longer than ${mebibytes(this.limits.maxRecordBytes)} (the cap on one record) and the file is not a log file, an array or JSON Lines`);
    }
    return this.problem(`line ${this.line}`, `longer than ${mebibytes(this.limits.maxRecordBytes)} (the cap on one record): skipped`);
  }

  private finishLine(bytes: Buffer, out: SplitItem[]): void {
    const text = bytes.toString('utf8').trim();
    if (text === '') return;
    const where = `line ${this.line}`;
    let doc: unknown;
    try {
      doc = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    } catch (err) {
      // A large file whose first line is not JSON is not JSON Lines: one problem, not one a line.
      if (this.usableLines === 0) {
        out.push(this.problem(null, `not JSON: ${where}: ${jsonErrorMessage(err)}`));
        this.mode = 'stopped';
      } else {
        out.push(this.problem(where, `not JSON: ${jsonErrorMessage(err)}`));
      }
      return;
    }
    if (typeof doc === 'object' && doc !== null) this.usableLines++;
    for (const item of iterateRecords(doc, this.file, where)) out.push(item);
  }
}

/**
 * Files larger than one record's cap are split as they stream. The caps are set small here, so
 * small inputs take the streaming path; chunk boundaries are varied by feeding the splitter
 * directly, one byte or a few bytes at a time.
 */
import { describe, expect, it } from 'vitest';
import type { InputItem } from '../../functions/core/envelopes';
import { iterateRecords } from '../../functions/core/envelopes';
import { JsonStreamSplitter } from '../../functions/core/json-stream';

const CAP = 200;

function rec(id: string, extra: Record<string, unknown> = {}) {
  return { eventID: id, eventSource: 'sts.amazonaws.com', ...extra };
}

/** Splits `text` fed in chunks of `size` bytes. */
function split(text: string | Buffer, size = 7, cap = CAP): InputItem[] {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  const splitter = new JsonStreamSplitter('f.json', { maxRecordBytes: cap }, bytes.subarray(0, 4096).toString('utf8'));
  const out: InputItem[] = [];
  for (let i = 0; i < bytes.length && !splitter.done; i += size) out.push(...splitter.push(bytes.subarray(i, i + size)));
  out.push(...splitter.end());
  return out;
}

const summary = (items: InputItem[]) => items.map((i) => (i.type === 'record' ? [i.where, (i.record as { eventID?: string }).eventID] : [i.where, i.reason]));

describe('JsonStreamSplitter', () => {
  it.each([1, 3, 7, 64, 4096])('gives what a whole parse gives for a log file fed %i bytes at a time', (size) => {
    const doc = { Records: [rec('a', { s: 'quote " and \\\\ backslash, brackets [{ }] and \\u0041' }), rec('b'), rec('c', { n: [1, { x: '}' }] })] };
    const text = JSON.stringify(doc, null, size === 3 ? 2 : undefined);
    expect(split(text, size)).toEqual([...iterateRecords(doc, 'f.json')]);
  });

  it('streams LookupEvents output (Events) and a top-level array like the whole parse does', () => {
    const events = { Events: [{ CloudTrailEvent: JSON.stringify(rec('e1')) }, { EventId: 'x' }], NextToken: 'abc' };
    expect(split(JSON.stringify(events))).toEqual([...iterateRecords(events, 'f.json')]);
    const array = [rec('a1'), 5, 'str', null, [rec('nested')]];
    expect(split(JSON.stringify(array))).toEqual([...iterateRecords(array, 'f.json')]);
  });

  it('skips one record over the cap, naming it and the cap, and reads on', () => {
    const text = JSON.stringify({ Records: [rec('a'), rec('big', { pad: 'x'.repeat(500) }), rec('c')] });
    expect(summary(split(text))).toEqual([
      ['record 1', 'a'],
      ['record 2', 'larger than 200 bytes (the cap on one record): skipped'],
      ['record 3', 'c'],
    ]);
  });

  it('reports a record that is not JSON by its index and reads on', () => {
    const text = '{"Records":[{"eventID":"a"},{"eventID":tru},{"eventID":"c"}]}';
    expect(summary(split(text))).toEqual([
      ['record 1', 'a'],
      ['record 2', expect.stringMatching(/^not JSON: /)],
      ['record 3', 'c'],
    ]);
  });

  it('keeps the records before a truncation and says where the input ended', () => {
    const text = JSON.stringify({ Records: [rec('a'), rec('b'), rec('c')] });
    const items = split(text.slice(0, text.indexOf('"c"')));
    expect(summary(items)).toEqual([
      ['record 1', 'a'],
      ['record 2', 'b'],
      [null, 'not JSON: the input ends inside record 3 (truncated?)'],
    ]);
  });

  it('stops at a missing comma or a doubled one: the scanner cannot tell where records start', () => {
    expect(summary(split('{"Records":[{"eventID":"a"} {"eventID":"b"}]}'))).toEqual([
      ['record 1', 'a'],
      [null, 'not JSON: no comma after record 1 (line 1); the rest of the file is not read'],
    ]);
    expect(summary(split('{"Records":[{"eventID":"a"},,{"eventID":"b"}]}'))).toEqual([
      ['record 1', 'a'],
      [null, 'not JSON: a comma where record 2 should start (line 1); the rest of the file is not read'],
    ]);
  });

  it('reads JSON Lines after a streamed log file, by line', () => {
    const text = `${JSON.stringify({ Records: [rec('a')] })}\n${JSON.stringify(rec('b'))}\n{oops}\n`;
    expect(summary(split(text))).toEqual([
      ['record 1', 'a'],
      ['line 2', 'b'],
      ['line 3', expect.stringMatching(/^not JSON: /)],
    ]);
  });

  it('reads a large JSON Lines file line by line, a line over the cap skipped', () => {
    const text = [JSON.stringify(rec('a')), JSON.stringify(rec('big', { pad: 'x'.repeat(500) })), '', JSON.stringify({ Records: [rec('c')] })].join('\r\n');
    expect(summary(split(text))).toEqual([
      ['line 1', 'a'],
      ['line 2', 'longer than 200 bytes (the cap on one record): skipped'],
      ['line 4, record 1', 'c'],
    ]);
  });

  it('gives one problem and stops for input that is not JSON Lines (/dev/zero, binary)', () => {
    const zeros = split(Buffer.alloc(5000), 1000);
    expect(zeros).toEqual([
      { type: 'problem', file: 'f.json', where: null, reason: expect.stringMatching(/^not JSON: line 1 is longer than 200 bytes/) },
    ]);
    expect(split('hello world\n{"eventID":"a"}\n')).toEqual([{ type: 'problem', file: 'f.json', where: null, reason: expect.stringMatching(/^not JSON: line 1: /) }]);
  });

  it('is done as soon as it stops, so the reader can close the input', () => {
    const splitter = new JsonStreamSplitter('f.json', { maxRecordBytes: 10 }, '');
    expect(splitter.done).toBe(false);
    splitter.push(Buffer.alloc(100));
    expect(splitter.done).toBe(true);
  });
});

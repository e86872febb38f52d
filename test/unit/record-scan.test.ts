import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newRangeScan, scanRecordRangesInJs } from '../../functions/core/record-prefilter';
import { MAX_WASM_FILE_BYTES } from '../../functions/core/record-scan';
import { SKIM_FIELDS_PER_RECORD, Skimmer, type Skim } from '../../functions/core/record-skim';
import { RECORD_SCAN_SOURCE_SHA256 } from '../../functions/core/record-scan-wasm';
import { generateScaledFile, planScaledFleet, SCALE_PRESETS } from '../../functions/local/sample-fleet/scale';
import { recordsDocumentText } from '../support/hard-json';

const SEED = 20261205;

type Scan = (bytes: Buffer, visit: (from: number, to: number, ranges: Int32Array | null, index: number) => void) => boolean | null;

/** What a scan says of `bytes`, and every element it hands its visitor, in order, with the ranges as they were then. */
function visits(scan: Scan, bytes: Buffer): { answer: boolean | null; elements: string[] } {
  const elements: string[] = [];
  const answer = scan(bytes, (from, to, ranges, index) => elements.push(`${index} ${from}-${to} ${ranges === null ? 'not an object' : ranges.join(',')}`));
  return { answer, elements };
}

const wasmScan = newRangeScan();
const inWasm: Scan = (bytes, visit) => wasmScan.scan(bytes, visit);

/** The WebAssembly scan and the JavaScript one say the same of `bytes`, element by element; the answer. */
function expectSame(bytes: Buffer): boolean {
  const wasm = visits(inWasm, bytes);
  expect(wasm.answer).not.toBeNull();
  expect(wasm).toStrictEqual(visits(scanRecordRangesInJs, bytes));
  return wasm.answer as boolean;
}

describe('record-scan (scanRecordRangesInJs in WebAssembly)', () => {
  it('is the module built from record-scan.c as it stands (rebuild: node scripts/build-record-scan.mjs)', () => {
    const source = readFileSync(path.resolve(import.meta.dirname, '../../functions/core/record-scan.c'));
    expect(createHash('sha256').update(source).digest('hex')).toBe(RECORD_SCAN_SOURCE_SHA256);
  });

  it('says what the JavaScript scan says of documents written the hard way, and hands over the same elements and ranges (property)', () => {
    let whole = 0;
    let refused = 0;
    fc.assert(
      fc.property(recordsDocumentText, (bytes) => {
        if (expectSame(bytes)) whole += 1;
        else refused += 1;
      }),
      { seed: SEED, numRuns: 3000 },
    );
    // both kinds, many of each: the property is not about one answer only
    expect(whole).toBeGreaterThan(300);
    expect(refused).toBeGreaterThan(500);
  });

  it('reads the sample fleet’s log files as the JavaScript scan does, and each with one byte changed', () => {
    const plan = planScaledFleet(SCALE_PRESETS.tiny);
    const bytesTried = [0x00, 0x09, 0x20, 0x22, 0x2c, 0x2d, 0x30, 0x3a, 0x5b, 0x5c, 0x5d, 0x65, 0x7b, 0x7d, 0x80, 0xff];
    let files = 0;
    let changed = 0;
    for (let h = 0; h < plan.hours; h += 7) {
      for (let p = 0; p < plan.places.length; p++) {
        const bytes = Buffer.from(JSON.stringify({ Records: generateScaledFile(plan, p, h).records }));
        expect(expectSame(bytes)).toBe(true);
        files += 1;
        // every 97th byte, in turn, one of the bytes that matter to JSON
        for (let at = h; at < bytes.length; at += 97) {
          const copy = Buffer.from(bytes);
          copy[at] = bytesTried[(at + files) % bytesTried.length] as number;
          expectSame(copy);
          changed += 1;
        }
      }
    }
    expect(files).toBeGreaterThan(20);
    expect(changed).toBeGreaterThan(2000);
  });

  it.each([
    ['a key written with escapes names its field', '{"Records":[{"event\\u0053ource":"sts.amazonaws.com","eventName":"AssumeRole","user\\u0049dentity":{"account\\u0049d":"1"}}]}', true],
    ['a key with a simple escape, and one past ASCII', '{"Records":[{"event\\/Source":1,"\\u00e9ventName":2,"évent":3,"eventName\\n":4,"eventName":5}]}', true],
    ['a key escaped as a surrogate pair', '{"Records":[{"\\ud83d\\ude00":1,"eventName":"x"}]}', true],
    ['the last of duplicate keys, a subtree seen again as a value', '{"Records":[{"userIdentity":{"accountId":"1"},"userIdentity":7,"eventName":"a","eventName":"b"}]}', true],
    ['elements that are not objects', '{"Records":[1,"two",[3],null,true,{"eventName":"x"},-0.5e+3]}', true],
    ['a BOM and whitespace everywhere', '\ufeff \n{ "Records" :\t[ { "eventName" : "x" } ,\r\n{ } ] }\n', true],
    ['no records', '{"Records":[]}', true],
    ['a raw control character in a string', '{"Records":[{"eventName":"a\tb"}]}', false],
    ['a bad escape', '{"Records":[{"eventName":"\\x41"}]}', false],
    ['a short \\u escape in a key', '{"Records":[{"event\\u005":"x"}]}', false],
    ['a leading zero', '{"Records":[{"n":01}]}', false],
    ['a number without digits after its dot', '{"Records":[{"n":1.}]}', false],
    ['a literal cut short', '{"Records":[{"n":tru}]}', false],
    ['text after the document', '{"Records":[{"eventName":"x"}]} x', false],
    ['another key after Records', '{"Records":[{"eventName":"x"}],"x":1}', false],
    ['a trailing comma', '{"Records":[{"eventName":"x"},]}', false],
    ['an element followed by a colon', '{"Records":[{"eventName":"x"} "eventVersion":"1.08"}]}', false],
    ['a file cut in a string', '{"Records":[{"eventName":"x', false],
  ])('%s: as the JavaScript scan', (_name, text, answer) => {
    expect(expectSame(Buffer.from(text, 'utf8'))).toBe(answer);
  });

  it('nests as deep as the JavaScript scan and no deeper', () => {
    // Elements sit two containers deep; the scan gives up past 128, in a field it keeps or one it skips.
    for (const depth of [120, 125, 126, 127, 128, 129, 200]) {
      const nested = `${'['.repeat(depth)}1${']'.repeat(depth)}`;
      expectSame(Buffer.from(`{"Records":[{"eventName":"x","other":${nested}}]}`));
      expectSame(Buffer.from(`{"Records":[{"userIdentity":{"sessionContext":{"attributes":${nested}}}}]}`));
      expectSame(Buffer.from(`{"Records":[${nested}]}`));
    }
  });

  it('reads a file larger than its memory, then small ones again, as the JavaScript scan does', () => {
    const record = { eventSource: 'sts.amazonaws.com', eventName: 'AssumeRoleWithWebIdentity', userIdentity: { type: 'WebIdentityUser', accountId: '111122223333' }, requestParameters: { roleArn: 'arn:aws:iam::111122223333:role/app', padding: 'x'.repeat(900) } };
    const large = Buffer.from(JSON.stringify({ Records: Array.from({ length: 4000 }, (_, i) => ({ ...record, eventID: String(i) })) }));
    expect(large.length).toBeGreaterThan(4 * 2 ** 20);
    expect(expectSame(large)).toBe(true);
    expect(expectSame(Buffer.from(JSON.stringify({ Records: [record] })))).toBe(true);
  });

  it('leaves a file past its bound to the JavaScript scan: it visits nothing, and the skimmer, its user, reads every element of it that way', () => {
    const element = JSON.stringify({ eventName: 'x', padding: 'y'.repeat(1000) });
    const count = Math.ceil(MAX_WASM_FILE_BYTES / element.length) + 1;
    const bytes = Buffer.from(`{"Records":[${Array.from({ length: count }, () => element).join(',')}]}`);
    expect(bytes.length).toBeGreaterThan(MAX_WASM_FILE_BYTES);
    expect(visits(inWasm, bytes)).toStrictEqual({ answer: null, elements: [] });
    const js = visits(scanRecordRangesInJs, bytes);
    expect(js.answer).toBe(true);
    const skim = new Skimmer().skim(bytes) as Skim;
    expect(skim.records.length / SKIM_FIELDS_PER_RECORD).toBe(js.elements.length);
  });
});

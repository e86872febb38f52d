import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ArrayAsWritten, displaySafe, jsonSafe, jsonSafePieces, jsonSafePrettyPieces, shellCommand, shellQuote } from '../../functions/core/display';
import { HOSTILE_NAMES, RAW_UNSAFE, shellWords } from '../support/hostile';

describe('displaySafe', () => {
  it.each([
    ['\u001b]0;title\u0007', '\\x1b]0;title\\x07'],
    ['\u001b[2J', '\\x1b[2J'],
    ['a\nCLUSTER  FAKE ROW', 'a\\nCLUSTER  FAKE ROW'],
    ['cr\rtab\t', 'cr\\rtab\\t'],
    ['del\u007f c1\u009b', 'del\\x7f c1\\x9b'],
    ['name\u202egnp.exe', 'name\\u{202e}gnp.exe'],
    ['\u2066isolate\u2069 \u200e\u200f \u061c', '\\u{2066}isolate\\u{2069} \\u{200e}\\u{200f} \\u{61c}'],
    ['ns\u200bx \u200c\u200d \u2060 \ufeff', 'ns\\u{200b}x \\u{200c}\\u{200d} \\u{2060} \\u{feff}'],
    ['line\u2028sep', 'line\\u{2028}sep'],
    ['nbsp\u00a0', 'nbsp\\xa0'],
    ['tag\u{e0041}', 'tag\\u{e0041}'],
    ['lone \ud800 surrogate', 'lone \\u{d800} surrogate'],
  ])('%j → %j', (input, expected) => {
    expect(displaySafe(input)).toBe(expected);
  });

  it('leaves ordinary text of any script untouched', () => {
    for (const text of ['payments-prod', 'prod-zürich', 'Rôle “paiements” — façade', '東京 ✅ 🚨 …', 'arn:aws:iam::111122223333:role/my_role', 'C:\\path\\x1b']) {
      expect(displaySafe(text)).toBe(text);
    }
  });

  it('is idempotent and always one line', () => {
    for (const name of HOSTILE_NAMES) {
      const once = displaySafe(name);
      expect(displaySafe(once)).toBe(once);
      expect(once).not.toMatch(RAW_UNSAFE);
      expect(once).not.toContain('\n');
    }
  });
});

describe('shellQuote and shellCommand', () => {
  it.each([
    ['payments-prod', 'payments-prod'],
    ['arn:aws:iam::111122223333:role/x', 'arn:aws:iam::111122223333:role/x'],
    ['AttributeKey=EventId,AttributeValue=6f1c', 'AttributeKey=EventId,AttributeValue=6f1c'],
    ['eks.amazonaws.com/role-arn-', 'eks.amazonaws.com/role-arn-'],
    ["it's", `'it'\\''s'`],
    ['prod;touch /tmp/x', `'prod;touch /tmp/x'`],
    ['$(id)', `'$(id)'`],
    ['<cluster>', `'<cluster>'`],
    ['=ls', `'=ls'`],
    ['~root', `'~root'`],
    ['*', `'*'`],
    ['', `''`],
  ])('%j → %j', (input, expected) => {
    expect(shellQuote(input)).toBe(expected);
  });

  it('makes every hostile name one argument that a shell gives back exactly', () => {
    const argv = ['aws', 'eks', 'create-pod-identity-association', '--namespace', ...HOSTILE_NAMES, "''", '\\', '"', '!', '', '-n'];
    expect(shellWords(shellCommand(argv))).toEqual(argv);
  });

  it('is what the round trip checks: interpolated unquoted, the same names come back as other words', () => {
    expect(shellWords(`kubectl -n ${'$(id)'}`)).toEqual(['kubectl', '-n']);
    expect(shellWords(`kubectl -n ${"it's a b'"}`)).toEqual(['kubectl', '-n', 'its a b']);
  });
});

describe('jsonSafe', () => {
  it('parses back to the same value, with nothing a terminal acts on in the text', () => {
    const value = { names: HOSTILE_NAMES, nested: [{ n: 1, ok: true, none: null, text: 'Rôle 東京 ✅' }] };
    for (const indent of [undefined, 2]) {
      const text = jsonSafe(value, indent);
      expect(JSON.parse(text)).toEqual(value);
      expect(text).not.toMatch(RAW_UNSAFE);
    }
    expect(jsonSafe('Rôle 東京 ✅')).toBe('"Rôle 東京 ✅"');
    expect(jsonSafe('a\u202eb\u{e0041}')).toBe('"a\\u202eb\\udb40\\udc41"');
  });

  it('in pieces is the same text, whatever the depth it opens', () => {
    const value = {
      names: HOSTILE_NAMES,
      rows: [[1, 'a\u202e', null], [], [{ k: undefined, f: () => 1, d: new Date(0) }]],
      holes: [undefined, () => 1, Symbol('s')],
      empty: {},
      gone: undefined,
      [`key\u2028`]: 'x',
    };
    for (const depth of [0, 1, 2, 3, 8]) {
      const pieces = [...jsonSafePieces(value, depth)];
      expect(pieces.join('')).toBe(jsonSafe(value));
      // opened levels come out a member at a time
      if (depth >= 2) expect(pieces.length).toBeGreaterThan(Object.keys(value).length + value.rows.length);
    }
    expect([...jsonSafePieces('Rôle\u{e0041}', 3)]).toEqual([jsonSafe('Rôle\u{e0041}')]);
  });

  it('pretty, in pieces, is JSON.stringify with two spaces, each line after the first indented as asked', () => {
    const leaf = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom(undefined, () => 1, new Date(0), 'a\u2028b\u{e0041}', new Map([[1, 2]])));
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 3 }), tie('node'), { maxKeys: 4 })),
    })).node;
    fc.assert(
      fc.property(value, fc.integer({ min: 0, max: 5 }), fc.constantFrom('', '  ', '    '), (v, depth, indent) => {
        if (v === undefined || typeof v === 'function') return;
        expect([...jsonSafePrettyPieces(v, depth, indent)].join('')).toBe(jsonSafe(v, 2).replaceAll('\n', `\n${indent}`));
      }),
    );
    const rows = new ArrayAsWritten(() => [{ a: [1, []] }, {}, undefined]);
    expect([...jsonSafePrettyPieces({ rows, n: 1 }, 3)].join('')).toBe(jsonSafe({ rows, n: 1 }, 2));
  });

  it('writes an ArrayAsWritten as the array it makes, an element made only when the last is written', () => {
    let made = 0;
    const rows = new ArrayAsWritten(function* () {
      for (const name of ['a', 'b\u202e', 'c']) {
        made += 1;
        yield { name, hole: undefined, f: () => 1 };
      }
    });
    const value = { head: 1, rows, tail: [2] };
    const whole = jsonSafe(value);
    expect(JSON.parse(whole)).toEqual({ head: 1, rows: [{ name: 'a' }, { name: 'b\u202e' }, { name: 'c' }], tail: [2] });
    for (const depth of [1, 2, 3, 8]) expect([...jsonSafePieces(value, depth)].join('')).toBe(whole);
    made = 0;
    const written: string[] = [];
    for (const piece of jsonSafePieces(value, 3)) {
      written.push(piece);
      if (piece === '"a"') break;
    }
    expect(made).toBe(1);
  });
});

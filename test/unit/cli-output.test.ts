/**
 * The CLI's output convention, pure: tables fitted to a width, -o yaml/csv, the filter set and
 * relative times, summary-first readiness and grouped alerts. No store, no process.
 */
import { InvalidArgumentError, Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { Alert } from '../../functions/core/alert';
import type { NamespaceReadiness, ReadinessReport, Verdict } from '../../functions/core/readiness';
import { groupAlerts } from '../../functions/local/cli/commands/alerts';
import { printReadiness, selectReadiness, SUMMARY_ROWS } from '../../functions/local/cli/commands/readiness';
import { requireMatches, withFilterOptions } from '../../functions/local/cli/filters';
import type { Io } from '../../functions/local/cli/io';
import { wrapProse } from '../../functions/local/cli/main';
import { parseTime } from '../../functions/local/cli/options';
import { csvRows, jsonDocument, jsonDocumentLines, outputFormat, printDocument, printLines, SCHEMA_VERSION, useColour } from '../../functions/local/cli/output';
import { yamlDocument, yamlDocumentPieces } from '../../functions/local/cli/yaml-output';
import fc from 'fast-check';
import { Scalar, stringify } from 'yaml';
import { displaySafe } from '../../functions/core/display';
import { ArrayAsWritten } from '../../functions/core/display';
import { displayWidth, table } from '../../functions/local/cli/render';

const RAW = /[\u0000-\u0008\u000b-\u001a\u001c-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/;
const ANSI = /\u001b\[[0-9;]*m/g;

describe('table', () => {
  const head = ['CLUSTER', 'NAMESPACE', 'VERDICT', 'SERVICE ACCOUNTS'];
  const rows = [
    ['payments-prod', 'checkout', 'SOAKING', 'checkout-api, checkout-worker, checkout-cron, checkout-events'],
    ['search-prod', 'indexer', 'READY', 'indexer'],
  ];

  it('fits the width given: no line longer, the free-text column cut first with …', () => {
    const text = table(head, rows, { width: 60, flex: [3] });
    const lines = text.split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(displayWidth(line)).toBeLessThanOrEqual(60);
    expect(lines[1]).toMatch(/^payments-prod\s+checkout\s+SOAKING\s+checkout-api, .*…$/);
  });

  it('wrapped (-o wide) shows every character, on continuation lines within the column', () => {
    const text = table(head, rows, { width: 60, flex: [3], overflow: 'wrap' });
    for (const line of text.split('\n')) expect(displayWidth(line)).toBeLessThanOrEqual(60);
    for (const name of ['checkout-api', 'checkout-worker', 'checkout-cron', 'checkout-events']) expect(text).toContain(name);
    expect(text).not.toContain('…');
    expect(text.split('\n').length).toBeGreaterThan(3);
  });

  it('leaves every cell whole without a width (a pipe)', () => {
    expect(table(head, rows).split('\n')[1]).toContain('checkout-events');
  });

  it('colours after padding: the columns stay aligned', () => {
    const plain = table(head, rows, { width: 200 });
    const coloured = table(head, rows, { width: 200, colour: (cell, column) => (column === 2 ? '32' : null) });
    expect(coloured).toContain('\u001b[32mSOAKING\u001b[0m');
    expect(coloured.replace(ANSI, '')).toBe(plain);
  });

  it('keeps a hostile name on its row, escaped', () => {
    const text = table(head, [['x\u001b[2J\nforged  row', 'ns\u202e', 'READY', '-']], { width: 80 });
    expect(text.split('\n')).toHaveLength(2);
    expect(text).not.toMatch(RAW);
  });

  it('renders 20,000 rows line for line', () => {
    const many = Array.from({ length: 20_000 }, (_, i) => [`cluster-${i % 40}`, `team-${i}`, 'READY', `sa-${i}`]);
    expect(table(head, many, { width: 100 }).split('\n')).toHaveLength(20_001);
  });
});

describe('times', () => {
  const now = new Date('2026-11-20T12:00:00Z');
  it.each([
    ['7d', '2026-11-13T12:00:00.000Z'],
    ['-1d', '2026-11-19T12:00:00.000Z'],
    ['2h', '2026-11-20T10:00:00.000Z'],
    ['30m', '2026-11-20T11:30:00.000Z'],
    ['1w', '2026-11-13T12:00:00.000Z'],
    ['now', '2026-11-20T12:00:00.000Z'],
    ['2026-11-01', '2026-11-01T00:00:00.000Z'],
  ])('%s is %s', (value, iso) => {
    expect(parseTime(value, now).toISOString()).toBe(iso);
  });

  it.each(['7x', '+1d', 'yesterday', '99999d'])('refuses %s, naming the forms it takes', (value) => {
    expect(() => parseTime(value, now)).toThrow(InvalidArgumentError);
  });
});

describe('documents', () => {
  it('json and yaml carry schemaVersion first and parse back to the same value', () => {
    const doc = { name: 'x\u001b[2J\u202eevil\nline', list: ['a', 'a'], n: 3, none: null };
    const json = JSON.parse(jsonDocument(doc));
    expect(Object.keys(json)[0]).toBe('schemaVersion');
    expect(json).toEqual({ schemaVersion: SCHEMA_VERSION, ...doc });
    const yaml = yamlDocument(doc);
    expect(yaml).not.toMatch(RAW);
    expect(yaml).not.toContain('&');
    expect(parseYaml(yaml)).toEqual({ schemaVersion: SCHEMA_VERSION, ...doc });
  });

  it.each([
    ['rows of nested values', { namespaces: [{ a: [1, { b: [] }], c: {} }, { d: 'x\ny\u001b[2J' }], clusters: [], n: 2 }],
    ['what JSON.stringify leaves out or writes as null', { gone: undefined, fn: () => 1, list: [undefined, () => 1, null, 'a'], d: new Date(0) }],
    ['a lone element, astral and unsafe characters', { rows: [{ s: '\u{e0041}\u202e' }] }],
    ['nothing but the version', {}],
    ['arrays made as they are written', { rows: new ArrayAsWritten(() => [{ a: [1] }, undefined, 'x\u202e']), none: new ArrayAsWritten(() => []), after: 1 }],
    ['an element of many lines (a cluster of thousands of namespaces)', { clusters: [{ name: 'c', namespaces: Array.from({ length: 3000 }, (_, i) => ({ ns: `n${i}`, steps: [{ run: 'x'.repeat(40) }], empty: [] })) }, { name: 'd' }], n: 0 }],
  ])('json written a line group at a time is the same text (%s)', (_case, doc: Record<string, unknown>) => {
    const pieces = [...jsonDocumentLines(doc)];
    expect(pieces.join('\n')).toBe(jsonDocument(doc));
    // each element of a top-level array is a piece of its own: the text is never built whole
    const rows = Object.values(doc).filter(Array.isArray).reduce((n, a) => n + a.length, 0);
    expect(pieces.length).toBeGreaterThanOrEqual(rows + 2);
  });

  it('yaml in pieces is the text one stringify of the whole document gives', () => {
    // the whole document at once, as yamlDocument wrote it before it went a member at a time
    const replacer = (_key: unknown, v: unknown) => (typeof v === 'string' && displaySafe(v) !== v ? Object.assign(new Scalar(v), { type: Scalar.QUOTE_DOUBLE }) : v);
    const whole = (doc: Record<string, unknown>) =>
      stringify({ schemaVersion: SCHEMA_VERSION, ...doc }, replacer, { lineWidth: 0, aliasDuplicateObjects: false })
        .replace(/[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}\p{Cs}]|(?! )\p{Zs}/gu, (ch) => ch.split('').map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''))
        .trimEnd();
    const text = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('a\nb', 'a\n\nb\n', ' lead', 'x: y', '- z', '#c', '\u202e', 'yes', '1.0', '', 'a\tb', 'emoji ✅'));
    const leaf = fc.oneof(text, fc.integer(), fc.double({ noNaN: true }), fc.boolean(), fc.constant(null), fc.constant(undefined));
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('node'), { maxLength: 3 }), fc.dictionary(fc.string({ minLength: 1, maxLength: 3 }), tie('node'), { maxKeys: 3 })),
    })).node;
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('rows', 'clusters', 'n', 'kind', 'empty'), fc.oneof(value, fc.array(value, { maxLength: 4 })), { maxKeys: 4 }), (doc) => {
        expect([...yamlDocumentPieces(doc)].join('')).toBe(whole(doc));
        // every list item that holds a list goes a member and a row at a time, as a cluster's plan does
        expect([...yamlDocumentPieces(doc, { manyRows: 0 })].join('')).toBe(whole(doc));
      }),
      { numRuns: 300 },
    );
    const rows = new ArrayAsWritten(() => [{ a: 'x\ny' }, 'b']);
    expect(yamlDocument({ rows, none: new ArrayAsWritten(() => []) })).toBe(whole({ rows: [{ a: 'x\ny' }, 'b'], none: [] }));
  });

  it('json writes an element of megabytes some lines at a time', () => {
    const doc = { clusters: [{ name: 'c', namespaces: Array.from({ length: 5000 }, (_, i) => ({ ns: `n${i}`, steps: [{ run: 'x'.repeat(80) }] })) }] };
    const pieces = [...jsonDocumentLines(doc)];
    expect(pieces.join('\n')).toBe(jsonDocument(doc));
    expect(pieces.join('\n').length).toBeGreaterThan(800_000);
    expect(Math.max(...pieces.map((p) => p.length))).toBeLessThan(100_000);
  });

  it('json makes an ArrayAsWritten element only once the one before it is printed', () => {
    let made = 0;
    const rows = new ArrayAsWritten(function* () {
      for (const id of [1, 2, 3]) {
        made += 1;
        yield { id };
      }
    });
    const lines = jsonDocumentLines({ rows });
    const seen: string[] = [];
    for (const line of lines) {
      seen.push(line);
      // the first row's line waits for the second (its comma), so two are made when it comes out
      if (line.includes('"id": 1')) break;
    }
    expect(made).toBe(2);
  });

  it('prints lines in large pieces, each line break kept, waiting for a slow reader', async () => {
    const written: string[] = [];
    let waits = 0;
    const io = { out: (text: string) => void written.push(`${text}\n`), drained: () => ((waits += 1), Promise.resolve()) } as unknown as Io;
    const row = `${'x'.repeat(99_998)}\r\n`;
    const lines = ['head\r\n', ...Array.from({ length: 25 }, () => row)];
    await printLines(io, lines);
    expect(written.join('')).toBe(lines.join(''));
    expect(written.length).toBe(3);
    expect(waits).toBe(3);
    written.length = 0;
    await printLines(io, []);
    expect(written).toEqual([]);
  });

  it('json waits for a slow reader after each piece instead of queuing the document', async () => {
    const written: string[] = [];
    let release: (() => void) | undefined;
    const io = {
      out: (line: string) => void written.push(line),
      // the reader is behind after every piece until released
      drained: () => new Promise<void>((resolve) => (release = resolve)),
    } as unknown as Io;
    const doc = { rows: [{ a: 1 }, { b: 2 }, { c: 3 }] };
    const printing = printDocument(io, 'json', doc);
    await new Promise((r) => setImmediate(r));
    expect(written).toEqual(['{']);
    for (let waited = 1; release !== undefined; waited++) {
      const next = release;
      release = undefined;
      next();
      await new Promise((r) => setImmediate(r));
      expect(written).toHaveLength(Math.min(waited + 1, [...jsonDocumentLines(doc)].length));
    }
    await printing;
    expect(written.join('\n')).toBe(jsonDocument(doc));
  });

  it('csv is RFC 4180 with formula-looking text neutralised', () => {
    expect(csvRows(['a', 'b'], [['=cmd()', 'x,y'], [null, 3]])).toBe("a,b\r\n'=cmd(),\"x,y\"\r\n,3\r");
  });

  it('--json and another -o disagree: a usage error', () => {
    expect(outputFormat({ json: true }, 'table')).toBe('json');
    expect(outputFormat({ output: 'yaml' }, 'table')).toBe('yaml');
    expect(() => outputFormat({ json: true, output: 'yaml' }, 'table')).toThrow(/--json and -o yaml/);
  });

  it('colour only on a terminal, never with NO_COLOR or --no-color', () => {
    const io = (env: NodeJS.ProcessEnv, terminal?: { columns: number; rows: number }) => ({ env, terminal }) as unknown as Io;
    const tty = { columns: 80, rows: 24 };
    expect(useColour(io({}, tty), {})).toBe(true);
    expect(useColour(io({}), {})).toBe(false);
    expect(useColour(io({ NO_COLOR: '1' }, tty), {})).toBe(false);
    expect(useColour(io({}, tty), { color: false })).toBe(false);
  });
});

describe('help text', () => {
  it('wraps prose to the width and never breaks an indented example', () => {
    const example = `  cutover-watch readiness -o json | jq -r '.namespaces[] | select(.verdict=="READY") | .namespace'`;
    const text = wrapProse(`${'word '.repeat(40).trim()}\n${example}`, 40);
    const lines = text.split('\n');
    expect(lines.slice(0, -1).every((l) => l.length <= 40)).toBe(true);
    expect(lines.at(-1)).toBe(example);
  });
});

describe('filters', () => {
  const parse = (argv: string[]) => {
    const command = withFilterOptions(new Command('x').exitOverride().configureOutput({ writeErr: () => undefined }), ['cluster', 'verdict', 'detection']);
    command.parse(argv, { from: 'user' });
    return command.opts();
  };

  it('repeatable and comma-separated, globs checked, verdicts in any case', () => {
    expect(parse(['-c', 'a,b*', '-c', 'c', '--verdict', 'ready,not_started'])).toEqual({ cluster: ['a', 'b*', 'c'], verdict: ['READY', 'NOT_STARTED'] });
    expect(() => parse(['-c', 'pay[ments'])).toThrow(/unbalanced \[/);
    expect(() => parse(['--detection', 'nope'])).toThrow(/expected one of unexpected-namespace/);
  });

  it('a glob that names nothing is a usage error listing what is known', () => {
    expect(() => requireMatches('cluster', ['nope'], ['b', 'a'])).toThrow("no cluster matches 'nope' (known: a, b)");
    expect(() => requireMatches('cluster', ['nope'], [], { hint: 'run analyze' })).toThrow("no cluster matches 'nope' (no cluster is known: run analyze)");
    expect(() => requireMatches('cluster', ['PAY*'], ['payments-prod'])).not.toThrow();
  });
});

const namespace = (cluster: string | null, name: string, verdict: Verdict): NamespaceReadiness => ({
  cluster,
  clusterArn: cluster ? `arn:aws:eks:us-east-1:111122223333:cluster/${cluster}` : null,
  oidcIssuer: 'oidc.eks.us-east-1.amazonaws.com/id/AAAA',
  namespace: name,
  verdict,
  lastIrsa: '2026-11-19T10:00:00Z',
  firstPodIdentity: null,
  lastPodIdentity: null,
  soakDaysLeft: null,
  soakEndsAt: null,
  serviceAccounts: ['sa'],
  roles: [],
  reasons: [],
  detail: [],
  evidenceThrough: null,
  unknownBecause: [],
  lastWellFounded: null,
});

const cluster = (name: string) => ({
  cluster: name,
  clusterArn: `arn:aws:eks:us-east-1:111122223333:cluster/${name}`,
  oidcIssuer: null,
  verdict: 'NOT_STARTED' as const,
  namespaceCounts: { UNKNOWN: 0, NOT_STARTED: 0, IN_PROGRESS: 0, SOAKING: 0, READY: 0 },
  blockers: [],
  warnings: [],
  reasons: [],
  evidenceThrough: null,
});

function report(namespaces: NamespaceReadiness[], clusters = [cluster('payments-prod'), cluster('irsa-only')]): ReadinessReport {
  return { asOf: '2026-11-20T00:00:00Z', soakDays: 14, activeHours: 24, namespaces, clusters, coverage: [], warnings: [] };
}

function recording(): { io: Io; out: string[] } {
  const out: string[] = [];
  return { io: { out: (l: string) => void out.push(l), err: () => undefined, now: () => new Date('2026-11-20T00:00:00Z') } as unknown as Io, out };
}

describe('readiness, summary first', () => {
  const full = report([namespace('payments-prod', 'checkout', 'READY'), namespace('payments-prod', 'orders', 'NOT_STARTED'), namespace('irsa-only', 'batch', 'UNKNOWN')]);

  it('selects by glob, verdict and account; a typo in a cluster or a namespace is exit 2 with the known names', () => {
    expect(selectReadiness(full, { cluster: ['pay*'] }).namespaces.map((n) => n.namespace)).toEqual(['checkout', 'orders']);
    expect(selectReadiness(full, { verdict: ['UNKNOWN'] }).namespaces.map((n) => n.namespace)).toEqual(['batch']);
    expect(selectReadiness(full, { account: ['111122223333'] }).namespaces).toHaveLength(3);
    expect(() => selectReadiness(full, { cluster: ['nope'] })).toThrow("no cluster matches 'nope' (known: irsa-only, payments-prod)");
    expect(() => selectReadiness(full, { cluster: ['payments-prod'], namespace: ['chekout'] })).toThrow("no namespace matches 'chekout' in payments-prod (known: checkout, orders)");
  });

  it(`lists the ${SUMMARY_ROWS} worst namespaces after the clusters and says how many were left out`, () => {
    const verdicts: Verdict[] = ['READY', 'SOAKING', 'IN_PROGRESS', 'NOT_STARTED', 'UNKNOWN'];
    const many = report(Array.from({ length: 25 }, (_, i) => namespace('payments-prod', `ns-${String(i).padStart(2, '0')}`, verdicts[i % 5]!)));
    const { io, out } = recording();
    printReadiness(many, io, { reasons: false });
    const text = out.join('\n');
    expect(text.indexOf('OIDC PROVIDER')).toBeLessThan(text.indexOf('NAMESPACE'));
    const rows = text.split('\n').filter((l) => l.startsWith('payments-prod  ns-'));
    expect(rows).toHaveLength(SUMMARY_ROWS);
    expect(rows[0]).toContain('UNKNOWN');
    expect(rows.some((r) => r.includes('READY'))).toBe(false);
    expect(text).toContain(`${SUMMARY_ROWS} of 25 namespaces shown, worst first (5 UNKNOWN, 5 NOT_STARTED, 5 IN_PROGRESS, 5 SOAKING, 5 READY): use -o wide or --all for every one`);
  });
});

describe('alerts, grouped', () => {
  const alert = (i: number, instance: string): Alert => ({
    id: `node-role-fallthrough:${String(i).padStart(16, '0')}`,
    detection: 'node-role-fallthrough',
    severity: i === 3 ? 'critical' : 'high',
    key: `k${i}`,
    window: 'w',
    cluster: 'payments-prod',
    clusterArn: null,
    oidcIssuer: null,
    namespace: null,
    serviceAccount: null,
    roleArn: null,
    nodeRoleArn: 'arn:aws:iam::111122223333:role/node',
    nodeInstanceId: instance,
    action: 's3:ListBuckets',
    count: 2,
    firstEventTime: `2026-11-19T${String(i).padStart(2, '0')}:00:00Z`,
    lastEventTime: `2026-11-19T${String(i).padStart(2, '0')}:30:00Z`,
    sampleEventIds: [],
    summary: `call ${i}`,
    likelyCause: '',
    nextStep: '',
    raisedAt: '2026-11-20T00:00:00Z',
  });

  it('14 node-role alerts from 2 instances are 2 rows, with counts, the worst severity and the latest summary', () => {
    const groups = groupAlerts(Array.from({ length: 14 }, (_, i) => alert(i, i % 2 === 0 ? 'i-0aaa' : 'i-0bbb')));
    expect(groups).toHaveLength(2);
    expect(groups.map((g) => [g.latest.nodeInstanceId, g.alerts, g.events])).toEqual([
      ['i-0aaa', 7, 14],
      ['i-0bbb', 7, 14],
    ]);
    expect(groups[1]!.severity).toBe('critical');
    expect(groups[1]!.latest.summary).toBe('call 13');
  });
});

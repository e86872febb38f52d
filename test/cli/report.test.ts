import { holdStore, runInProcess, type Run } from '../support/spawn-cli';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CSV_COLUMNS } from '../../functions/core/report-render';
import { copyDemoStore, DEMO_DIR, DEMO_END, demoInto } from '../support/demo';

// `cutover-watch report` in this process (`run(argv, io)`, what bin/ runs), in a temporary working
// directory: exit codes, messages, files and the report's content. What only the process shows
// (the bin's exit code, stdout and stderr apart) is test/cli/cli.test.ts's.
const END = DEMO_END;

/** A command in this process, with what it would have printed on stdout and stderr. */
const inProcess = (args: string[]): Promise<Run> => runInProcess(args, { cwd: work });

let work: string;
const store = DEMO_DIR;
const report = (...args: string[]) => inProcess(['report', '--store', store, '--as-of', END, ...args]);
/** `report --format json` of the demo store: no test writes to that store, so it is made once. */
let jsonOfDemo: Promise<Run> | undefined;
const reportJson = () => (jsonOfDemo ??= report('--format', 'json'));
/** The demo store, held open by this file: the commands on it only read it (see holdStore); 'fresh' is written. */
let held: { letGo(): Promise<void> } | undefined;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'cw-cli-report-'));
  const demo = await demoInto(work, { without: ['logs', 'late'] });
  if (demo.code !== 0) throw new Error(`demo failed: ${demo.stderr}`);
  // the demo writes a report but saves no baseline (only --save does): a copy of its store is a
  // store with the same evidence and no report yet
  await copyDemoStore(path.join(work, store), path.join(work, 'fresh'));
  held = await holdStore(path.join(work, store));
}, 180_000);
afterAll(async () => {
  await held?.letGo();
  await rm(work, { recursive: true, force: true });
});

describe('cutover-watch report', () => {
  it('--format json has the numbers of readiness --json for the same as-of', async () => {
    // one at a time: the embedded store admits one process
    const json = await reportJson();
    const readiness = await inProcess(['readiness', '--json', '--store', store, '--as-of', END]);

    expect(json.code).toBe(0);
    expect(json.stderr).toBe('');
    const r = JSON.parse(json.stdout);
    const want = JSON.parse(readiness.stdout);
    expect(r.asOf).toBe(want.asOf);
    const pick = (n: Record<string, unknown>) => [n['cluster'], n['namespace'], n['verdict'], n['lastIrsa'], n['lastPodIdentity'], n['soakDaysLeft']];
    expect(r.namespaces.map(pick)).toEqual(want.namespaces.map(pick));
    const counts = (c: Record<string, unknown>) => [c['cluster'], c['verdict'], c['namespaceCounts']];
    expect(r.clusters.map(counts)).toEqual(want.clusters.map(counts));
    expect(r.totals.verdicts).toEqual({ UNKNOWN: 0, NOT_STARTED: 8, IN_PROGRESS: 3, SOAKING: 1, READY: 10 });
    const steps = new Set((r.stragglers as { nextStep: string }[]).map((s) => s.nextStep));
    expect([...steps].sort()).toEqual(['check-trust-policy', 'create-association', 'restart-pods']);
    expect(r.readyToCleanUp.length).toBeGreaterThan(5);
  });

  it('--format csv prints one RFC 4180 row per straggler and clean-up', async () => {
    const csv = await report('--format', 'csv');
    const json = await reportJson();

    expect(csv.code).toBe(0);
    expect(csv.stdout.endsWith('\r\n')).toBe(true);
    expect(csv.stdout.split('\r\n')[0]).toBe(CSV_COLUMNS.join(','));
    const model = JSON.parse(json.stdout);
    // one line per record except the commands field, which holds one command per line in quotes
    const rows = csv.stdout.match(/^[a-z][^,\r\n]*,arn:aws:eks:/gm) ?? [];
    expect(rows).toHaveLength(model.stragglers.length + model.readyToCleanUp.length);
    expect(csv.stdout).toContain('payments-prod,arn:aws:eks:us-east-1:111122223333:cluster/payments-prod,');
    expect(csv.stdout).toMatch(/,inventory-sync,arn:aws:iam::111122223333:role\/payments-prod-inventory-inventory-sync,NOT_STARTED,/);
  });

  it('compares with the latest report saved before its as-of; only --save keeps one, reading never moves it', async () => {
    const WEEK_BEFORE = '2026-11-13T00:00:00Z';
    const first = await inProcess(['report', '--store', 'fresh', '--as-of', WEEK_BEFORE, '--save']);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('CHANGES: this is the first report, there is no previous one to compare with');

    for (let i = 0; i < 2; i++) {
      // read twice without --save: the baseline stays the saved one
      const later = await inProcess(['report', '--store', 'fresh', '--as-of', END, '--format', 'md']);
      expect(later.code).toBe(0);
      expect(later.stdout).toContain('Compared with the report as of 2026-11-13 00:00 UTC.');
    }

    const before = await inProcess(['report', '--store', 'fresh', '--as-of', '2026-11-10T00:00:00Z', '--format', 'json']);
    expect(JSON.parse(before.stdout).changes.previousAsOf).toBeNull();
  });

  it('--out writes one file named after the as-of day and prints where', async () => {
    const run = await report('--format', 'html', '--out', 'reports');

    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(`wrote ${path.join('reports', 'cutover-watch-report-2026-11-20.html')}`);
    expect(await readdir(path.join(work, 'reports'))).toEqual(['cutover-watch-report-2026-11-20.html']);
    const html = await readFile(path.join(work, 'reports', 'cutover-watch-report-2026-11-20.html'), 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('payments-prod');

    const csv = await report('--format', 'csv', '--out', 'reports');
    expect(csv.code).toBe(0);
    expect((await readdir(path.join(work, 'reports'))).sort()).toEqual(['cutover-watch-report-2026-11-20.csv', 'cutover-watch-report-2026-11-20.html']);
  });

  it('--out writes exactly what it prints, in every format written a line or a row at a time', async () => {
    for (const format of ['json', 'yaml', 'csv', 'md', 'text']) {
      const printed = await report('-o', format);
      const written = await report('-o', format, '--out', `same-${format}`);
      expect(written.code, written.stderr).toBe(0);
      const files = await readdir(path.join(work, `same-${format}`));
      expect(files).toEqual([`cutover-watch-report-2026-11-20.${format === 'text' ? 'txt' : format}`]);
      expect(await readFile(path.join(work, `same-${format}`, files[0]!), 'utf8'), format).toBe(printed.stdout);
      expect(printed.stdout.length).toBeGreaterThan(1000);
    }
  });

  it('--help teaches with examples', async () => {
    const run = await inProcess(['report', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: cutover-watch report/);
    expect(run.stdout).toContain('--format <format>');
    expect(run.stdout).toContain('cutover-watch report --format html --out reports/');
  });
});

describe('cutover-watch report with bad input', () => {
  const oneLine = (run: Run) => run.stderr.trim().split('\n')[0]!;

  it('rejects an unknown format with exit 2, naming the formats', async () => {
    const run = await report('--format', 'pdf');
    expect(run.code).toBe(2);
    expect(oneLine(run)).toMatch(/option '--format <format>' argument 'pdf' is invalid\. Allowed choices are text, md, json, csv, html/);
    expect(run.stdout).toBe('');
  });

  it('says html needs --out', async () => {
    const run = await report('--format', 'html');
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe('cutover-watch: --format html writes a file: pass --out DIR (e.g. --out reports/)');
    expect(run.stdout).toBe('');
  });

  it('rejects an --out it cannot write, in one line, writing nothing', async () => {
    await writeFile(path.join(work, 'a-file'), 'not a directory');
    const before = await readdir(work);

    const run = await report('--format', 'csv', '--out', 'a-file/reports');

    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toMatch(/^cutover-watch: cannot write reports to .*a-file\/reports: a path component is a file, not a directory$/);
    expect(run.stdout).toBe('');
    expect(await readdir(work)).toEqual(before);
  });

  it('rejects a bad --as-of with exit 2', async () => {
    const run = await report('--as-of', 'last tuesday');
    expect(run.code).toBe(2);
    expect(oneLine(run)).toMatch(/option '--as-of <time>' argument 'last tuesday' is invalid\. expected an ISO 8601 time/);
    expect(run.stdout).toBe('');
  });
});

/**
 * `report -c/-n/--account` (the filter set of `readiness`, applied to the report model before any
 * format renders it) and `schemaVersion` in every report JSON, the scheduled job's included. The
 * CLI runs in this process (`run(argv, io)`) against a copy of the shared demo store.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { filterReport, type StragglerReport } from '../../functions/core/report';
import { CSV_COLUMNS, renderReport } from '../../functions/core/report-render';
import { SCHEMA_VERSION } from '../../functions/core/schema-version';
import { run } from '../../functions/local/cli/main';
import { SCHEMA_VERSION as CLI_SCHEMA_VERSION } from '../../functions/local/cli/output';
import { copyDemoStore, DEMO_DIR, DEMO_END, demoInto } from '../support/demo';
import { holdStore } from '../support/spawn-cli';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let work: string;
const STORE = 'store';

async function inProcess(args: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l), stdin: new PassThrough(), progressStream: new PassThrough(), interactive: false, cwd: work, now: () => new Date() };
  const code = await run(args, io);
  return { code, stdout: out.map((l) => `${l}\n`).join(''), stderr: err.map((l) => `${l}\n`).join('') };
}

const report = (...args: string[]) => inProcess(['report', '--store', STORE, '--as-of', DEMO_END, ...args]);

/** The report model as `-o json` prints it, without the document's `schemaVersion`. */
async function model(...args: string[]): Promise<StragglerReport & { schemaVersion?: number }> {
  const r = await report('-o', 'json', ...args);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as StragglerReport & { schemaVersion?: number };
}

/** The totals counted from the rows, as a reader would check them. */
function countedTotals(m: StragglerReport) {
  return {
    clusters: m.clusters.length,
    namespaces: m.namespaces.length,
    stragglers: m.stragglers.length,
    readyToCleanUp: m.readyToCleanUp.length,
    verdicts: Object.fromEntries(Object.keys(m.totals.verdicts).map((v) => [v, m.namespaces.filter((n) => n.verdict === v).length])),
  };
}

let whole: StragglerReport;
/** The store, held open by this file: every command here only reads it (see holdStore). */
let held: { letGo(): Promise<void> } | undefined;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'cw-report-filters-'));
  await demoInto(work, { without: ['logs', 'late', 'reports'] });
  await copyDemoStore(path.join(work, DEMO_DIR), path.join(work, STORE));
  held = await holdStore(path.join(work, STORE));
  const { schemaVersion: _, ...rest } = await model();
  whole = rest;
}, 180_000);
afterAll(async () => {
  await held?.letGo();
  await rm(work, { recursive: true, force: true });
});

describe('report -c/-n/--account', () => {
  it('-c keeps the rows of the matching clusters, and the totals are theirs', async () => {
    const m = await model('-c', 'payments-*');
    expect(m.schemaVersion).toBe(SCHEMA_VERSION);
    expect(m.filters).toEqual({ cluster: ['payments-*'] });
    expect(m.clusters.map((c) => c.cluster)).toEqual(['payments-prod']);
    expect(m.namespaces.length).toBeGreaterThan(1);
    for (const rows of [m.namespaces, m.stragglers, m.readyToCleanUp]) for (const row of rows) expect(row.cluster).toBe('payments-prod');
    expect(m.namespaces).toEqual(whole.namespaces.filter((n) => n.cluster === 'payments-prod'));
    expect(m.stragglers).toEqual(whole.stragglers.filter((s) => s.cluster === 'payments-prod'));
    expect(m.totals).toMatchObject(countedTotals(m));
    expect(m.totals.namespaces).toBeLessThan(whole.totals.namespaces);
    // verdicts are those judged on the whole fleet
    expect(m.clusters[0]!.verdict).toBe(whole.clusters.find((c) => c.cluster === 'payments-prod')!.verdict);
  });

  it('-n narrows the namespaces and recounts each cluster; the text says which filter made it', async () => {
    const m = await model('-c', 'payments-prod', '-n', 'checkout,order?');
    expect(m.namespaces.map((n) => n.namespace).sort()).toEqual(['checkout', 'orders']);
    expect(m.clusters).toHaveLength(1);
    expect(m.clusters[0]!.namespaces).toBe(2);
    expect(Object.values(m.clusters[0]!.namespaceCounts).reduce((a, b) => a + b, 0)).toBe(2);
    expect(m.totals).toMatchObject(countedTotals(m));
    expect(m.fleetDaily.irsa).toEqual(m.days.map((_, i) => m.namespaces.reduce((sum, n) => sum + n.daily.irsa[i]!, 0)));

    const text = await report('-c', 'payments-prod', '-n', 'checkout,order?');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('filtered: -c payments-prod -n checkout,order?');
    expect(text.stdout).toMatch(/^2 namespaces in 1 cluster:/m);
    expect(text.stdout).not.toMatch(/^ {2}payments-prod +risk /m);
  });

  it('--account keeps that account\'s clusters and evidence line, in every format', async () => {
    const account = whole.clusters.map((c) => c.clusterArn!.split(':')[4]!).find((a, _i, all) => all.filter((b) => b === a).length === 1)!;
    const m = await model('--account', account);
    expect(m.filters).toEqual({ account: [account] });
    expect(m.clusters.length).toBeGreaterThan(0);
    for (const c of m.clusters) expect(c.clusterArn).toContain(`:${account}:`);
    expect(m.coverage.every((c) => c.account === account)).toBe(true);
    expect(m.warnings).toEqual([]);
    expect(m.totals).toMatchObject(countedTotals(m));

    const md = await report('--account', account, '-o', 'md');
    expect(md.stdout).toContain(`filtered: --account ${account}`);
    const yaml = parseYaml((await report('--account', account, '-o', 'yaml')).stdout) as Record<string, unknown>;
    expect(yaml['schemaVersion']).toBe(SCHEMA_VERSION);
    expect(yaml['filters']).toEqual({ account: [account] });
    const csv = (await report('--account', account, '-o', 'csv')).stdout.trim().split('\r\n');
    expect(CSV_COLUMNS[0]).toBe('cluster');
    expect(csv.length - 1).toBe(m.stragglers.length + m.readyToCleanUp.length);
    for (const line of csv.slice(1)) expect(m.clusters.map((c) => c.cluster)).toContain(line.split(',')[0]);
    const out = path.join(work, `html-${account}`);
    const html = await report('--account', account, '-o', 'html', '--out', out);
    expect(html.code, html.stderr).toBe(0);
    const page = await readFile(path.join(out, `cutover-watch-report-${DEMO_END.slice(0, 10)}.html`), 'utf8');
    expect(page).toContain(`filtered: --account ${account}`);
  });

  it('an unfiltered report carries no filters field and says nothing of one', async () => {
    expect(whole.filters).toBeUndefined();
    expect((await report()).stdout).not.toContain('filtered:');
  });

  it('a glob that matches nothing is exit 2 with the message readiness gives', async () => {
    const r = await report('-c', 'nope');
    const readiness = await inProcess(['readiness', '--store', STORE, '--as-of', DEMO_END, '-c', 'nope']);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(readiness.stderr.split('\n')[0]);
    expect(r.stderr).toMatch(/no cluster matches 'nope' \(known: .*payments-prod/);
    expect(r.stdout).toBe('');
    const ns = await report('-c', 'payments-prod', '-n', 'no-such-ns');
    expect(ns.code).toBe(2);
    expect(ns.stderr).toMatch(/no namespace matches 'no-such-ns' in payments-prod \(known: .*checkout/);
    expect((await report('--account', '999999999999')).stderr).toMatch(/no account matches '999999999999'/);
  });

  it('--save with a filter is a usage error in one line, and nothing is saved', async () => {
    const r = await report('-n', 'checkout', '--save');
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')[0]).toMatch(/--save .* -n checkout is never saved/);
    expect(r.stdout).toBe('');
    // no baseline was kept: the next report is still a first report
    expect((await model()).changes.previousAsOf).toBeNull();
  });
});

describe('filterReport (the report model)', () => {
  it('cuts the changes to the selection, and returns the report itself with no filter', () => {
    const payments = whole.namespaces.find((n) => n.cluster === 'payments-prod')!;
    const other = whole.namespaces.find((n) => n.cluster !== 'payments-prod')!;
    const arn = payments.clusterArn!;
    const change = (n: typeof payments) => ({ id: n.id, cluster: n.cluster, namespace: n.namespace, from: 'IN_PROGRESS' as const, to: n.verdict });
    const withChanges: StragglerReport = {
      ...whole,
      changes: {
        ...whole.changes,
        previousAsOf: '2026-11-13T00:00:00Z',
        regressions: [change(payments), change(other)],
        // a namespace of this cluster no longer seen: placed by its id alone
        goneNamespaces: [{ id: `${arn}|retired`, cluster: 'payments-prod', namespace: 'retired', from: 'READY', to: null }],
        resolvedStragglers: [
          { id: `${arn}|retired|worker|`, cluster: 'payments-prod', namespace: 'retired', serviceAccount: 'worker', role: null },
          { id: `${other.clusterId}|${other.namespace}|x|`, cluster: other.cluster, namespace: other.namespace, serviceAccount: 'x', role: null },
        ],
      },
    };
    expect(filterReport(withChanges, {})).toBe(withChanges);
    const byArn = filterReport(withChanges, { cluster: [arn] });
    expect(byArn.changes.regressions.map((c) => c.namespace)).toEqual([payments.namespace]);
    expect(byArn.changes.goneNamespaces).toHaveLength(1);
    expect(byArn.changes.resolvedStragglers.map((s) => s.namespace)).toEqual(['retired']);
    expect(byArn.changes.previousAsOf).toBe('2026-11-13T00:00:00Z');
    expect(byArn.namespaces.every((n) => n.clusterArn === arn)).toBe(true);

    const byNamespace = filterReport(withChanges, { namespace: [other.namespace] });
    expect(byNamespace.changes.goneNamespaces).toEqual([]);
    expect(byNamespace.namespaces.every((n) => n.namespace === other.namespace)).toBe(true);
    expect(byNamespace.totals.namespaces).toBe(byNamespace.namespaces.length);
    // -n alone keeps findings of no known cluster; a cluster filter drops them
    expect(byNamespace.warnings).toEqual(withChanges.warnings);
    expect(byNamespace.filters).toEqual({ namespace: [other.namespace] });
    // the input is not changed
    expect(withChanges.namespaces).toHaveLength(whole.namespaces.length);
  });
});

describe('schemaVersion in the report JSON', () => {
  it('the json the scheduled job writes (renderReport) carries the CLI\'s schemaVersion first', async () => {
    const json = await renderReport(whole, 'json');
    const parsed = JSON.parse(json) as Record<string, unknown>;
    expect(Object.keys(parsed)[0]).toBe('schemaVersion');
    expect(parsed['schemaVersion']).toBe(CLI_SCHEMA_VERSION);
    expect(CLI_SCHEMA_VERSION).toBe(SCHEMA_VERSION);
    const { schemaVersion: _, ...rest } = parsed;
    expect(rest).toEqual(whole);
  });
});

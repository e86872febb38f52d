/**
 * `npm run bench [-- --preset small|fleet|wide|wider|widest] [-- --json]`: the fleet-scale benchmark (issue #10).
 *
 * A measurement, not a test: it exits 0 whether or not a target is met, and says FAIL loudly.
 * On the same files (the scaled sample fleet, generated once per preset and cached under the
 * system temp folder, see fleet-cache.ts) it measures, one step after the other, each in its own
 * child process timed by wall clock from spawn to exit (Node start included, as a user sees it):
 * - gunzip: inflating every file and nothing else (the floor no reader can go under);
 * - DuckDB: the per-(cluster, namespace, service account, mechanism) first/last/count summary
 *   (duckdb-summary.mjs), the reference the analyze targets are ratios of;
 * - inventory import and analyze into a fresh embedded store, then a replay of the same files
 *   (the real CLI, bin/cutover-watch.mjs, with --json: store write requests come from its
 *   `storeRequests`, counted by SDK middleware on the store's client);
 * - one full read of the store (read-store.ts: a paginated Scan), the baseline for
 *   readiness --json and report --format html on the result.
 * Peak RSS of each child: GNU time's %M (`/usr/bin/time -f`), when it is installed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { SCALE_PRESETS } from '../functions/local/sample-fleet/scale';
import { bundleOptions } from '../scripts/build.mjs';
import { ensureFleet, type Preset } from './fleet-cache';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'cutover-watch.mjs');

/** Targets (issue #10). */
const TARGETS = {
  analyzeVsDuckdb: 1.0,
  analyzeVsDuckdbAim: 0.5,
  replayVsDuckdb: 0.3,
  writesPer1000: 20,
  peakRssMb: 500,
  readVsStoreRead: 2.0,
} as const;

const PRESET_NAMES = ['small', 'fleet', 'wide', 'wider', 'widest'] as const;
const isPreset = (value: string | undefined): value is Preset => value !== undefined && Object.hasOwn(SCALE_PRESETS, value);
const USAGE = `usage: npm run bench -- [--preset ${PRESET_NAMES.join('|')}] [--pairs N] [--json]
  --pairs N: DuckDB and analyze (into a fresh store) run N times, alternated, and compared by their
             medians (default 3): on a shared machine one run of each moved the ratio by a third
             from one minute to the next
  small:  100 namespaces, 36k records (a few minutes)
  fleet:  5,000 namespaces, 2.4M records, 10 % in scope (the default; writing it once takes ~2 min)
  wide:   20,000 namespaces, 0.5M records, half in scope: as many events as fleet, 4x the keys
  wider:  40,000 namespaces, 1M records, half in scope: 2x the events, 8x the keys
  widest: 80,000 namespaces in 10 clusters, 2M records, half in scope: past one stage of the store`;

interface Args {
  preset: Preset;
  json: boolean;
  pairs: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { preset: 'fleet', json: false, pairs: 3 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') args.json = true;
    else if (a === '--preset' || a?.startsWith('--preset=')) {
      const value = a === '--preset' ? argv[++i] : a.slice('--preset='.length);
      if (!isPreset(value)) {
        console.error(`bench: --preset must be one of ${PRESET_NAMES.join(', ')}, got ${value ?? 'nothing'}`);
        process.exit(2);
      }
      args.preset = value;
    } else if (a === '--pairs' || a?.startsWith('--pairs=')) {
      const value = a === '--pairs' ? argv[++i] : a.slice('--pairs='.length);
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1 || n > 9) {
        console.error(`bench: --pairs must be a whole number from 1 to 9, got ${value ?? 'nothing'}`);
        process.exit(2);
      }
      args.pairs = n;
    } else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else {
      console.error(`bench: unknown argument ${a}\n${USAGE}`);
      process.exit(2);
    }
  }
  return args;
}

interface ChildResult {
  seconds: number;
  peakRssMb: number | null;
  stdout: string;
  stderr: string;
}

const GNU_TIME = '/usr/bin/time';
const hasGnuTime = existsSync(GNU_TIME) && spawnSync(GNU_TIME, ['-f', '%M', 'true'], { encoding: 'utf8' }).status === 0;

/** Runs `node ARGS` to its end; wall-clock seconds from spawn to exit, peak RSS by GNU time. */
async function runNode(args: string[], work: string, label: string): Promise<ChildResult> {
  const rssFile = path.join(work, `rss-${label.replace(/\W+/g, '-')}.txt`);
  const [command, commandArgs] = hasGnuTime
    ? [GNU_TIME, ['-f', '%M', '-o', rssFile, process.execPath, ...args]]
    : [process.execPath, args];
  const started = performance.now();
  const child = spawn(command, commandArgs, {
    cwd: work,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const seconds = (performance.now() - started) / 1000;
  const stdout = Buffer.concat(out).toString('utf8');
  const stderr = Buffer.concat(err).toString('utf8');
  if (code !== 0) throw new Error(`${label} exited ${code}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`);
  let peakRssMb: number | null = null;
  if (hasGnuTime) {
    const kb = Number((await readFile(rssFile, 'utf8')).trim().split('\n').pop());
    if (Number.isFinite(kb)) peakRssMb = kb / 1024;
  }
  return { seconds, peakRssMb, stdout, stderr };
}

async function listGz(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.json.gz')) out.push(path.join(entry.parentPath, entry.name));
  }
  return out.sort();
}

/** The median run by seconds (of an even count, the mean of the middle two), its peak RSS the highest of all. */
function medianRun(runs: readonly ChildResult[]): ChildResult {
  const sorted = [...runs].sort((x, y) => x.seconds - y.seconds);
  const mid = Math.floor(sorted.length / 2);
  const seconds = sorted.length % 2 === 1 ? (sorted[mid] as ChildResult).seconds : ((sorted[mid - 1] as ChildResult).seconds + (sorted[mid] as ChildResult).seconds) / 2;
  const rss = runs.map((r) => r.peakRssMb).filter((x): x is number => x !== null);
  return { ...(sorted[mid] as ChildResult), seconds, peakRssMb: rss.length > 0 ? Math.max(...rss) : null };
}

interface Step {
  step: string;
  seconds: number;
  peakRssMb: number | null;
  note: string;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (line: string) => {
    if (!args.json) console.log(line);
    else console.error(line);
  };
  const fleet = await ensureFleet(args.preset, log);
  const s = fleet.stats;
  log(
    `fleet ${args.preset}: ${s.files.toLocaleString('en-US')} files, ${s.records.toLocaleString('en-US')} records ` +
      `(${s.inScope.toLocaleString('en-US')} in scope, ${((100 * s.unrelated) / s.records).toFixed(1)} % unrelated), ` +
      `${s.namespaces.toLocaleString('en-US')} namespaces, ${(s.bytes / 2 ** 20).toFixed(0)} MiB gzip / ${(s.inflatedBytes / 2 ** 20).toFixed(0)} MiB JSON` +
      (fleet.generatedSeconds === null ? `, cached in ${fleet.dir}` : `, written in ${fleet.generatedSeconds.toFixed(0)} s to ${fleet.dir}`),
  );

  const work = await mkdtemp(path.join(os.tmpdir(), 'cw-bench-run-'));
  // Ctrl-C (or a kill) stops the children with us (same process group); the stores go too.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      rmSync(work, { recursive: true, force: true });
      process.exit(130);
    });
  }
  try {
    // Build what the children run before anything is timed: the CLI bundle (bin/ rebuilds it when a
    // source is newer) and the store reader, bundled like the CLI (its dependencies in the bundle),
    // so neither pays a TS loader or resolving node_modules.
    await runNode([cli, '--version'], work, 'build');
    const reader = path.join(root, 'dist', 'bench', 'read-store.mjs');
    await mkdir(path.dirname(reader), { recursive: true });
    await build({ ...bundleOptions, entryPoints: [path.join(root, 'bench', 'read-store.ts')], outfile: reader });

    const steps: Step[] = [];
    const add = (step: string, r: { seconds: number; peakRssMb: number | null }, note = '') => {
      steps.push({ step, seconds: r.seconds, peakRssMb: r.peakRssMb, note });
      log(`  ${step.padEnd(26)} ${r.seconds.toFixed(1).padStart(8)} s${r.peakRssMb === null ? '' : `  ${r.peakRssMb.toFixed(0).padStart(5)} MB`}  ${note}`);
    };
    log('');
    log(`measuring (${os.cpus().length} cores, one step at a time):`);

    // gunzip: in a child like every other step, inflating each file and keeping nothing.
    const gunzipScript = `import { readFileSync } from 'node:fs'; import { gunzipSync } from 'node:zlib';
      let n = 0; for (const f of JSON.parse(readFileSync(0, 'utf8'))) n += gunzipSync(readFileSync(f)).length; console.log(n);`;
    const files = await listGz(fleet.logDir);
    const listFile = path.join(work, 'files.json');
    await import('node:fs/promises').then((fs) => fs.writeFile(listFile, JSON.stringify(files)));
    const gunzip = await runNode(['--input-type=module', '-e', gunzipScript.replace('readFileSync(0', `readFileSync(${JSON.stringify(listFile)}`)], work, 'gunzip');
    add('gunzip (floor)', gunzip, `${files.length.toLocaleString('en-US')} files, ${(Number(gunzip.stdout.trim()) / 2 ** 20).toFixed(0)} MiB inflated`);
    void gunzipSync;

    const inventoryFiles = (await readdir(fleet.inventoryDir)).map((f) => path.join(fleet.inventoryDir, f)).sort();
    const template = path.join(work, 'inventory-store');
    const imported = await runNode([cli, 'inventory', 'import', '--store', template, '--json', ...inventoryFiles], work, 'inventory');

    interface AnalyzeJson {
      records: number;
      inScope: number;
      replayed: number;
      skippedFiles: number;
      itemsWritten: number;
      rejected: number;
      notStored: number;
      seconds: number;
      storeRequests?: { reads: number; writes: number };
      alerts: unknown[];
    }
    // DuckDB and analyze alternated, each analyze into a fresh copy of the imported store (the copy
    // not timed): the machine's other load moves from minute to minute, and a pair run back to back
    // meets about the same. The targets compare the medians.
    const store = path.join(work, 'store');
    const analyzeArgs = [cli, 'analyze', '--store', store, '--json', fleet.logDir];
    const ducks: ChildResult[] = [];
    const analyzes: ChildResult[] = [];
    let duckOut: { rows: number; events: number; seconds: number; threads: number } | undefined;
    let a1: AnalyzeJson | undefined;
    const writesSeen = new Set<number | null>();
    for (let pair = 1; pair <= args.pairs; pair++) {
      const duck = await runNode([path.join(root, 'bench', 'duckdb-summary.mjs'), fleet.logDir, fleet.inventoryDir], work, 'duckdb');
      ducks.push(duck);
      duckOut = JSON.parse(duck.stdout) as { rows: number; events: number; seconds: number; threads: number };
      await rm(store, { recursive: true, force: true });
      await cp(template, store, { recursive: true });
      const run = await runNode(analyzeArgs, work, 'analyze');
      analyzes.push(run);
      a1 = JSON.parse(run.stdout) as AnalyzeJson;
      writesSeen.add(a1.storeRequests?.writes ?? null);
      log(`  pair ${pair} of ${args.pairs}: DuckDB ${duck.seconds.toFixed(1)} s, analyze ${run.seconds.toFixed(1)} s (${(run.seconds / duck.seconds).toFixed(2)} ×)`);
    }
    if (duckOut === undefined || a1 === undefined) throw new Error('no pair ran');
    const duck = medianRun(ducks);
    const first = medianRun(analyzes);
    const each = (runs: ChildResult[]) => runs.map((r) => r.seconds.toFixed(1)).join(', ');
    add('DuckDB summary', duck, `${duckOut.rows.toLocaleString('en-US')} rows, ${duckOut.events.toLocaleString('en-US')} events, ${duckOut.threads} threads${args.pairs > 1 ? `; median of ${each(ducks)} s` : ''}`);
    add('inventory import', imported, `${inventoryFiles.length} files`);
    const writes1 = writesSeen.size === 1 ? (a1.storeRequests?.writes ?? null) : null;
    add(
      'analyze (fresh store)',
      first,
      `${a1.inScope.toLocaleString('en-US')} in scope, ${writes1 ?? `${[...writesSeen].join(' / ')} (differing!)`} write requests, ${a1.alerts.length} alerts${args.pairs > 1 ? `; median of ${each(analyzes)} s` : ''}`,
    );
    const replay = await runNode(analyzeArgs, work, 'replay');
    const a2 = JSON.parse(replay.stdout) as AnalyzeJson;
    // The replay skips the files the first run read whole and stored (by their sha256): it reads no record.
    add(
      'analyze replay',
      replay,
      `${a2.skippedFiles.toLocaleString('en-US')} files skipped, ${a2.records.toLocaleString('en-US')} records read, ${a2.replayed.toLocaleString('en-US')} already counted, ${a2.storeRequests?.writes ?? '?'} write requests`,
    );

    const readStore = await runNode([reader, store], work, 'read-store');
    const scanned = JSON.parse(readStore.stdout) as { items: number; pages: number; bytes: number };
    add('read the store once', readStore, `${scanned.items.toLocaleString('en-US')} items, ${(scanned.bytes / 2 ** 20).toFixed(0)} MiB`);

    const asOf = SCALE_PRESETS[args.preset].end.toISOString();
    const readiness = await runNode([cli, 'readiness', '--store', store, '--as-of', asOf, '--json'], work, 'readiness');
    const verdicts: Record<string, number> = {};
    for (const n of (JSON.parse(readiness.stdout) as { namespaces: { verdict: string }[] }).namespaces) verdicts[n.verdict] = (verdicts[n.verdict] ?? 0) + 1;
    add('readiness --json', readiness, Object.entries(verdicts).map(([k, n]) => `${k} ${n}`).join(', '));
    const reports = path.join(work, 'reports');
    const report = await runNode([cli, 'report', '--store', store, '--as-of', asOf, '--format', 'html', '--out', reports], work, 'report');
    const reportFiles = await readdir(reports);
    const reportBytes = reportFiles.length > 0 ? (await stat(path.join(reports, reportFiles[0] ?? ''))).size : 0;
    add('report --format html', report, `${(reportBytes / 2 ** 20).toFixed(1)} MiB`);

    // Targets.
    const ratio = (x: number) => x / duck.seconds;
    const ours = [imported, first, replay, readiness, report];
    const rssValues = ours.map((r) => r.peakRssMb).filter((x): x is number => x !== null);
    const peakRss = rssValues.length > 0 ? Math.max(...rssValues) : null;
    const writesPer1000 = writes1 === null || a1.inScope === 0 ? null : (1000 * writes1) / a1.inScope;
    const targets = [
      { target: `analyze / DuckDB ≤ ${TARGETS.analyzeVsDuckdb} (aim ${TARGETS.analyzeVsDuckdbAim})`, value: ratio(first.seconds), pass: ratio(first.seconds) <= TARGETS.analyzeVsDuckdb },
      { target: `replay / DuckDB ≤ ${TARGETS.replayVsDuckdb}`, value: ratio(replay.seconds), pass: ratio(replay.seconds) <= TARGETS.replayVsDuckdb },
      { target: `store writes per 1,000 in-scope events ≤ ${TARGETS.writesPer1000}`, value: writesPer1000, pass: writesPer1000 !== null && writesPer1000 <= TARGETS.writesPer1000 },
      { target: `peak RSS of every CLI run ≤ ${TARGETS.peakRssMb} MB`, value: peakRss, pass: peakRss !== null && peakRss <= TARGETS.peakRssMb },
      { target: `readiness / read the store once ≤ ${TARGETS.readVsStoreRead}`, value: readiness.seconds / readStore.seconds, pass: readiness.seconds / readStore.seconds <= TARGETS.readVsStoreRead },
      { target: `report html / read the store once ≤ ${TARGETS.readVsStoreRead}`, value: report.seconds / readStore.seconds, pass: report.seconds / readStore.seconds <= TARGETS.readVsStoreRead },
    ];
    const failed = targets.filter((t) => !t.pass);

    const result = {
      preset: args.preset,
      date: new Date().toISOString(),
      machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadAverage: os.loadavg() },
      fleet: { ...s, dir: fleet.dir, generatedSeconds: fleet.generatedSeconds },
      steps: steps.map((st) => ({ ...st, vsDuckdb: ratio(st.seconds) })),
      analyze: { first: a1, replay: a2, alerts: a1.alerts.length },
      duckdb: duckOut,
      pairs: ducks.map((d, i) => ({ duckdbSeconds: d.seconds, analyzeSeconds: (analyzes[i] as ChildResult).seconds })),
      storeRead: scanned,
      targets,
      failed: failed.length,
    };
    const strip = (a: AnalyzeJson) => ({ ...a, alerts: a.alerts.length });
    if (args.json) {
      console.log(JSON.stringify({ ...result, analyze: { first: strip(a1), replay: strip(a2) } }, null, 2));
      return;
    }
    console.log('');
    console.log(`${'step'.padEnd(26)} ${'seconds'.padStart(8)} ${'× DuckDB'.padStart(9)} ${'peak RSS'.padStart(9)}`);
    for (const st of steps) {
      console.log(`${st.step.padEnd(26)} ${st.seconds.toFixed(1).padStart(8)} ${ratio(st.seconds).toFixed(2).padStart(9)} ${st.peakRssMb === null ? '      n/a' : `${st.peakRssMb.toFixed(0)} MB`.padStart(9)}`);
    }
    console.log('');
    for (const t of targets) {
      const value = t.value === null ? 'n/a' : t.value.toFixed(2);
      console.log(`${t.pass ? 'PASS' : 'FAIL'}  ${t.target}: ${value}`);
    }
    console.log('');
    if (failed.length > 0) console.log(`*** ${failed.length} of ${targets.length} TARGETS FAILED (a measurement: exit code 0) ***`);
    else console.log(`all ${targets.length} targets met`);
    console.log(`load average during the run: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.cpus().length} cores`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();

/**
 * The output convention and the filter set against the demo's store, in this process
 * (`run(argv, io)`), and the terminal behaviour (pager, colour) through a real pseudo-terminal.
 * Every example line in every command's --help runs here.
 */
import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { run } from '../../functions/local/cli/main';
import { SCHEMA_VERSION } from '../../functions/local/cli/output';
import { BIN, copyDemoStore, DEMO_DIR, DEMO_END, demoInto, sharedDemoOutput } from '../support/demo';
import { holdStore, refusedTheLock } from '../support/spawn-cli';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let work: string;
/** The demo's store and inventory, as the shared demo run left them. */
let demo: string;

async function inProcess(args: string[], options: { stdin?: string } = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const stdin = new PassThrough();
  stdin.end(options.stdin ?? '');
  const io = { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l), stdin, progressStream: new PassThrough(), interactive: false, cwd: work, now: () => new Date() };
  const code = await run(args, io);
  return { code, stdout: out.map((l) => `${l}\n`).join(''), stderr: err.map((l) => `${l}\n`).join('') };
}

const S = ['--store', DEMO_DIR, '--as-of', DEMO_END];

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'cw-output-'));
  // the demo's logs are read from the shared run's folder: three files of them are all this file needs
  await demoInto(work, { without: ['logs', 'late', 'reports'] });
  demo = path.join(work, DEMO_DIR);
  // what the help examples name: the default store, logs/, trail.json.gz, inventory/*.json, eks/*.json
  await copyDemoStore(demo, path.join(work, '.cutover-watch'));
  const day = path.join(sharedDemoOutput(), 'logs', 'AWSLogs', '111122223333', 'CloudTrail', 'us-east-1', '2026', '11', '19');
  await mkdir(path.join(work, 'logs'), { recursive: true });
  const files = (await readdir(day)).sort();
  for (const f of files.slice(0, 3)) await copyFile(path.join(day, f), path.join(work, 'logs', f));
  await copyFile(path.join(day, files[0]!), path.join(work, 'trail.json.gz'));
  for (const dir of ['inventory', 'eks']) await promisify(execFile)('cp', ['-R', path.join(demo, 'inventory'), path.join(work, dir)]);
}, 180_000);
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Stores of `work` held open (see `holdStore`) around the tests of a describe block. */
function holdingStores(...dirs: string[]): void {
  let held: { letGo(): Promise<void> }[] = [];
  beforeAll(async () => {
    held = await Promise.all(dirs.map((dir) => holdStore(path.join(work, dir))));
  });
  afterAll(async () => {
    await Promise.all(held.map((h) => h.letGo()));
  });
}

describe('honest empty answers', () => {
  holdingStores(DEMO_DIR);

  it('a cluster that does not exist is exit 2 naming the known ones, IRSA-only clusters included', async () => {
    const r = await inProcess(['readiness', ...S, '-c', 'nope']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("cutover-watch: no cluster matches 'nope' (known: legacy-batch, payments-prod, search-prod)");
  });

  it('a namespace typo is exit 2 too, on readiness and evidence', async () => {
    const r = await inProcess(['readiness', ...S, '-c', 'payments-prod', '-n', 'chekout']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^cutover-watch: no namespace matches 'chekout' in payments-prod \(known: checkout, .*\)$/m);
    const e = await inProcess(['evidence', '--store', DEMO_DIR, '-c', 'payments-prod', '-n', 'chekout']);
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/no evidence for namespace 'chekout' in payments-prod \(known: checkout, /);
  });

  it('an unknown --detection is one usage line, exit 2, no stack', async () => {
    const r = await inProcess(['alerts', '--store', DEMO_DIR, '--detection', 'nope']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^cutover-watch alerts: option '--detection <name>' argument 'nope' is invalid\. .* \(see cutover-watch alerts --help\)$/m);
  });
});

describe('filters and formats', () => {
  holdingStores(DEMO_DIR);

  it('globs and lists select namespaces; --verdict keeps the worst; -o yaml is the json document', async () => {
    const json = JSON.parse((await inProcess(['readiness', ...S, '-c', 'pay*', '-n', 'check*,orders', '-o', 'json'])).stdout);
    expect(json.schemaVersion).toBe(SCHEMA_VERSION);
    expect(json.namespaces.map((n: { namespace: string }) => n.namespace)).toEqual(['checkout', 'orders']);
    expect(json.clusters.map((c: { cluster: string }) => c.cluster)).toEqual(['payments-prod']);
    const yaml = parseYaml((await inProcess(['readiness', ...S, '-c', 'pay*', '-n', 'check*,orders', '-o', 'yaml'])).stdout);
    expect(yaml).toEqual(json);
    const notStarted = await inProcess(['readiness', ...S, '--verdict', 'not_started', '-o', 'csv']);
    const lines = notStarted.stdout.trimEnd().split('\r\n');
    expect(lines[0]).toMatch(/^cluster,namespace,verdict,/);
    expect(lines.slice(1).every((l) => l.split(',')[2] === 'NOT_STARTED')).toBe(true);
    expect(lines.length).toBeGreaterThan(2);
  });

  it('alerts: one row per detection, cluster and namespace or instance, with an id column; relative --since', async () => {
    const all = JSON.parse((await inProcess(['alerts', '--store', DEMO_DIR, '--since', '2026-01-01', '--json'])).stdout);
    expect(all.schemaVersion).toBe(SCHEMA_VERSION);
    const table = await inProcess(['alerts', '--store', DEMO_DIR, '--since', '2026-01-01']);
    expect(table.stdout).toMatch(/^ID\s+LAST EVENT\s+SEVERITY\s+DETECTION\s+CLUSTER\s+NAMESPACE\/INSTANCE\s+ALERTS\s+EVENTS\s+SUMMARY/);
    const rows = table.stdout.split('\n').filter((l) => /^[0-9a-f]{8}  /.test(l));
    expect(rows.length).toBeLessThan(all.alerts.length);
    expect(table.stdout).toContain(`${all.alerts.length} alerts since 2026-01-01 00:00 UTC`);
    const high = await inProcess(['alerts', '--store', DEMO_DIR, '--since', '2026-01-01', '--severity', 'high']);
    expect(high.stdout).toMatch(new RegExp(`\\n\\d+ of ${all.alerts.length} alerts since 2026-01-01 00:00 UTC shown \\(--severity high\\)`));
    // a span before now is a time: the demo's alerts are older than an hour
    const recent = await inProcess(['alerts', '--store', DEMO_DIR, '--since', '1h']);
    expect(recent.code).toBe(0);
    expect(recent.stdout).toMatch(/^no alerts since .*\n\d+ older alerts? hidden .*: use --since/);
  });
});

describe('on a terminal', () => {
  /** The built CLI on a pseudo-terminal (script(1), util-linux), with what it printed. */
  function onTerminal(args: string[], env: Record<string, string>): Promise<Run> {
    return new Promise((resolve, reject) => {
      const line = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' ');
      const child = spawn('script', ['-qec', line, '/dev/null'], { cwd: work, env: { ...process.env, CI: 'true', COLUMNS: '100', LINES: '10', ...env } });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout: stdout.replace(/\r\n/g, '\n'), stderr: '' }));
      child.stdin.end();
    });
  }

  it('pages long output through $PAGER, colours verdicts, and fits every line to the width', async () => {
    const r = await onTerminal(['readiness', ...S], { PAGER: 'sed s/^/PAGED:/' });
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.every((l) => l.startsWith('PAGED:'))).toBe(true);
    expect(r.stdout).toContain('\u001b[32mREADY\u001b[0m');
    // every table row fits the width (prose lines may wrap: they are not rows)
    const rows = lines.filter((l) => /^PAGED:(CLUSTER|legacy-batch|payments-prod|search-prod) /.test(l));
    expect(rows.length).toBeGreaterThan(20);
    for (const l of rows) expect(l.replace(/\u001b\[[0-9;]*m/g, '').length).toBeLessThanOrEqual(100 + 'PAGED:'.length);
  });

  it('--no-pager and NO_COLOR: straight out, no escape sequences', async () => {
    const r = await onTerminal(['readiness', ...S, '--no-pager'], { PAGER: 'sed s/^/PAGED:/', NO_COLOR: '1' });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('PAGED:');
    expect(r.stdout).not.toContain('\u001b[');
    expect(r.stdout).toContain('READY');
  });
});

/** Every example of every command's --help: `cutover-watch …` lines, cut at pipes and comments. */
async function helpExamples(): Promise<{ command: string; line: string }[]> {
  const commands = ['', 'classify', 'analyze', 'readiness', 'coverage', 'report', 'plan', 'alerts', 'evidence', 'inventory', 'inventory import', 'inventory show', 'inventory sync', 'backfill', 'demo'];
  const examples: { command: string; line: string }[] = [];
  for (const command of commands) {
    const help = (await inProcess([...command.split(' ').filter(Boolean), '--help'])).stdout;
    for (const line of help.split('\n')) {
      const at = line.indexOf('cutover-watch ');
      if (!/^\s{2}/.test(line) || at < 0 || line.trimStart().startsWith('Usage')) continue;
      examples.push({ command, line: line.slice(at) });
    }
  }
  return examples;
}

/** Shell words of a line, single and double quotes understood (the examples use no other syntax). */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

interface Example {
  line: string;
  argv: string[];
  /** What follows the command on the line (a pipe, a redirect, a comment). */
  after: string | undefined;
  needsAws: boolean;
}

/** The examples to run: each once, without the demo itself and the s3:// ones. */
async function examplesToRun(): Promise<Example[]> {
  const examples: Example[] = [];
  // an example shown twice (in the program's help and its command's) is run once: each run costs a store read
  const seen = new Set<string>();
  for (const { line } of await helpExamples()) {
    // the command itself: what follows `|`, `&&`, `>`, `#` or a run of spaces (a comment) is not ours
    const [command, after] = line.split(/ \| | && | > | {2,}| # /, 2) as [string, string | undefined];
    const argv = words(command).slice(1).flatMap((w) => (w.endsWith('*.json') ? inventoryFiles : [w]));
    // the demo itself is the shared demo run this file starts from; s3:// runs are test/cli/s3.test.ts's,
    // against a loopback S3 (here, a closed port is retried by design for half a minute)
    if (argv[0] === 'demo' || argv.some((a) => a.startsWith('s3://'))) continue;
    const key = JSON.stringify([argv, after?.startsWith('jq') ?? false]);
    if (seen.has(key)) continue;
    seen.add(key);
    const needsAws = argv.includes('--table') || argv[0] === 'backfill' || (argv[0] === 'inventory' && argv[1] === 'sync');
    examples.push({ line, argv, after, needsAws });
  }
  return examples;
}

/** An example in this process, in `work`: input files are taken from the working directory, as a person's shell would. */
async function runExample({ argv, needsAws }: Example): Promise<Run> {
  const cwd = process.cwd();
  process.chdir(work);
  try {
    return needsAws ? await withoutAws(() => inProcess(argv)) : await inProcess(argv, { stdin: argv.includes('-') ? lookupEvents : '' });
  } finally {
    process.chdir(cwd);
  }
}

/** What is wrong with an example's run, if anything. */
function problemOf({ line, argv, after, needsAws }: Example, r: Run): string | undefined {
  const usage = /\(see (npx )?cutover-watch[^)]* --help\)$/m.test(r.stderr);
  const ok = needsAws ? !usage : r.code === 0 || (r.code === 3 && argv.includes('--require'));
  if (!ok) return `${line}\n  exit ${r.code}: ${r.stderr.trim().split('\n')[0]}`;
  if (!needsAws && after?.startsWith('jq')) {
    // what is piped to jq is JSON (or JSON Lines)
    for (const doc of argv[0] === 'classify' ? r.stdout.trim().split('\n') : [r.stdout]) {
      try {
        JSON.parse(doc);
      } catch (e) {
        return `${line}\n  not JSON for jq: ${(e as Error).message}`;
      }
    }
  }
  return undefined;
}

describe('the examples in --help', () => {
  it('run: every one parses, and every one that needs no AWS account succeeds against the demo store', { timeout: 180_000 }, async () => {
    const examples = await examplesToRun();
    expect(examples.length).toBeGreaterThan(30);
    const failures: string[] = [];
    // the readers, with the default store (a copy of the demo's) and the demo's own held open
    const writers: Example[] = [];
    const held = await Promise.all(['.cutover-watch', DEMO_DIR].map((dir) => holdStore(path.join(work, dir))));
    try {
      for (const example of examples) {
        const r = await runExample(example);
        if (refusedTheLock(r)) writers.push(example);
        else failures.push(problemOf(example, r) ?? '');
      }
    } finally {
      await Promise.all(held.map((h) => h.letGo()));
    }
    // then the writers, which take the store themselves
    expect(writers.map(({ argv }) => argv.slice(0, 2).join(' '))).toEqual(expect.arrayContaining(['analyze logs/', 'inventory import']));
    for (const example of writers) failures.push(problemOf(example, await runExample(example)) ?? '');
    expect(failures.filter(Boolean)).toEqual([]);
  });
});

let inventoryFiles: string[] = [];
const lookupEvents = JSON.stringify({ Events: [] });

beforeAll(async () => {
  inventoryFiles = (await readdir(path.join(work, 'inventory'))).map((f) => path.join('inventory', f));
});

/**
 * An example that calls AWS, run with no way to reach it: fake credentials, no instance metadata,
 * every endpoint a closed loopback port. It must get past the arguments; what AWS would say is not ours to test.
 */
async function withoutAws(fn: () => Promise<Run>): Promise<Run> {
  const saved = { ...process.env };
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    AWS_MAX_ATTEMPTS: '1',
  });
  try {
    return await fn();
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runInProcess, SPAWNED_CLI_TIMEOUT_MS } from '../support/spawn-cli';

// The CLI against folders that are not all its own: spawned the way a person runs it where the
// process is what is checked (the modes a new store gets, another user, a writer paused or killed
// beside a reader, a lock held by another live process), else in this process (`run(argv, io)`,
// what the bin runs): a spawn costs a node start and a bundle and SDK load, about 1.5 s of CPU.
const AS_OF = '2026-11-20T00:00:00Z';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface CliOptions {
  cwd: string;
  asNobody?: boolean;
  env?: Record<string, string>;
  /** Called with stderr as it grows (to see a paused writer say so). */
  onStderr?: (stderr: string) => void;
}

/** Runs the CLI; `asNobody` drops root, for whom permission bits do not stop writes (setpriv, util-linux). */
function cli(args: string[], options: CliOptions): Promise<Run> {
  const drop = options.asNobody && process.getuid?.() === 0 ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'] : [];
  const [cmd, ...rest] = [...drop, process.execPath, BIN, ...args];
  return new Promise((resolve, reject) => {
    const { CUTOVER_WATCH_STORE: _fromTheRunner, ...inherited } = process.env;
    const child = spawn(cmd!, rest, { cwd: options.cwd, env: { ...inherited, CI: 'true', ...options.env }, timeout: SPAWNED_CLI_TIMEOUT_MS, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      options.onStderr?.(stderr);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end('');
  });
}

/** The same command in this process, in `cwd`, with the runner's CUTOVER_WATCH_STORE unset as for a spawn. */
const inProcess = (args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<Run> =>
  runInProcess(args, { cwd: options.cwd, env: { CUTOVER_WATCH_STORE: undefined, ...options.env } });

/** Every path under `dir` with its mode, size, mtime and content: equal snapshots mean untouched. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    const s = await stat(d);
    out.push(`${path.relative(dir, d) || '.'} ${s.mode.toString(8)} ${s.mtimeMs}`);
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else {
        const f = await stat(p);
        out.push(`${path.relative(dir, p)} ${f.mode.toString(8)} ${f.mtimeMs} ${(await readFile(p)).toString('base64')}`);
      }
    }
  };
  await walk(dir);
  return out;
}

const mode = async (p: string) => ((await stat(p)).mode & 0o777).toString(8);

const RECORD = {
  eventVersion: '1.08', eventSource: 'sts.amazonaws.com', eventName: 'AssumeRoleWithWebIdentity', eventTime: '2026-11-19T10:00:00Z',
  eventID: 'store-test-1', awsRegion: 'us-east-1', recipientAccountId: '111122223333',
  userIdentity: { type: 'WebIdentityUser', userName: 'system:serviceaccount:shop:cart', identityProvider: 'arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/AAAA1111BBBB2222CCCC3333DDDD4444' },
  requestParameters: { roleArn: 'arn:aws:iam::111122223333:role/cart' },
};

let work: string;
let analyzed: Run;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'cw-cli-store-'));
  // readable for nobody: the read-only test runs the CLI as nobody when the tests run as root
  await chmod(work, 0o755);
  await writeFile(path.join(work, 'trail.json'), JSON.stringify({ Records: [RECORD, { eventSource: 'sts.amazonaws.com' }] }));
  analyzed = await cli(['analyze', '--store', 'mine', 'trail.json'], { cwd: work });
}, 60_000);
afterAll(async () => {
  // a non-root runner may not delete from the read-only folders: give them back first
  for (const dir of [path.join(work, 'read-only'), path.join(work, 'read-only', 'db')]) await chmod(dir, 0o755).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
});

describe('a store folder', () => {
  it('is created 0700 with its marker; what the CLI writes in it is 0600', async () => {
    expect(analyzed.code).toBe(0);
    expect(await mode(path.join(work, 'mine'))).toBe('700');
    expect(JSON.parse(await readFile(path.join(work, 'mine', 'cutover-watch-store.json'), 'utf8'))).toMatchObject({ kind: 'store', format: 1 });
    expect(await mode(path.join(work, 'mine', 'cutover-watch-store.json'))).toBe('600');
    expect(await mode(path.join(work, 'mine', 'rejects.jsonl'))).toBe('600');
    expect(await mode(path.join(work, 'mine', 'db'))).toBe('700');
  });

  describe("of another program", () => {
    let theirs: string;
    let before: string[];
    beforeAll(async () => {
      theirs = path.join(work, 'theirs');
      await mkdir(theirs);
      await writeFile(path.join(theirs, '000123.log'), 'their log');
      await writeFile(path.join(theirs, 'LOG'), 'their LOG');
      await writeFile(path.join(theirs, 'notes.txt'), 'their notes');
      before = await snapshot(theirs);
    });

    it.each([['analyze', 'trail.json'], ['readiness'], ['inventory', 'show']])('is refused by %s … with exit 2, and nothing in it changes', async (...args) => {
      const run = await inProcess([...args, '--store', 'theirs'], { cwd: work });

      expect(run.code).toBe(2);
      expect(run.stderr.trim()).toBe('cutover-watch: theirs is not a cutover-watch store (it holds 000123.log, LOG, notes.txt) and was left untouched: pass --store with a new or empty folder');
      expect(await snapshot(theirs)).toEqual(before);
    });
  });

  it.each([['readiness'], ['alerts'], ['evidence', '--cluster', 'c', '--namespace', 'n']])(
    'is not created by a read: %s without a store exits 2 saying how to make one',
    async (...args) => {
      // (an empty folder is not a store either: test/unit/store-folder.test.ts)
      const fresh = await mkdtemp(path.join(work, 'fresh-'));
      const run = await inProcess(args, { cwd: fresh });

      expect(run.code).toBe(2);
      expect(run.stderr.trim()).toBe('cutover-watch: no store in .cutover-watch: run `cutover-watch analyze PATH` first (or pass --store)');
      expect(await readdir(fresh)).toEqual([]);
    },
  );

  it('written before the marker existed (only our names in it) is opened and marked', async () => {
    const legacy = path.join(work, 'legacy');
    await cp(path.join(work, 'mine'), legacy, { recursive: true });
    await rm(path.join(legacy, 'cutover-watch-store.json'));

    const run = await inProcess(['readiness', '--json', '--store', 'legacy', '--as-of', AS_OF], { cwd: work });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).namespaces.map((n: { namespace: string }) => n.namespace)).toEqual(['shop']);
    expect((await readdir(legacy)).sort()).toEqual(['db', 'rejects.jsonl']); // a read marks nothing
    expect((await inProcess(['analyze', '--store', 'legacy', 'trail.json'], { cwd: work })).code).toBe(0);
    expect((await readdir(legacy)).sort()).toEqual(['cutover-watch-store.json', 'db', 'rejects.jsonl']);
  });

  describe('that may not be written', () => {
    let readOnly: string;
    let before: string[];
    beforeAll(async () => {
      readOnly = path.join(work, 'read-only');
      await cp(path.join(work, 'mine'), readOnly, { recursive: true });
      await (async function readOnlyTree(p: string): Promise<void> {
        // a-w, keeping read (and search) for everyone: the CLI runs as nobody when the tests run as root
        const dir = (await stat(p)).isDirectory();
        if (dir) for (const e of await readdir(p)) await readOnlyTree(path.join(p, e));
        await chmod(p, dir ? 0o555 : 0o444);
      })(readOnly);
      before = await snapshot(readOnly);
    });

    it('is read by readiness from a private copy, and nothing in it changes', async () => {
      const run = await cli(['readiness', '--json', '--store', 'read-only', '--as-of', AS_OF], { cwd: work, asNobody: true });

      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout).namespaces).toMatchObject([{ namespace: 'shop', serviceAccounts: ['cart'] }]);
      expect(await snapshot(readOnly)).toEqual(before);
    });

    it('is refused by analyze with exit 2, and nothing in it changes', async () => {
      const run = await cli(['analyze', '--store', 'read-only', 'trail.json'], { cwd: work, asNobody: true });

      expect(run.code).toBe(2);
      expect(run.stderr.trim()).toBe('cutover-watch: the store in read-only is read-only (permission denied): commands that only read it (readiness, coverage, evidence, alerts, report) can use it');
      expect(await snapshot(readOnly)).toEqual(before);
    });
  });

  it('whose database will not open is one line naming it, exit 2', async () => {
    await cp(path.join(work, 'mine'), path.join(work, 'damaged'), { recursive: true });
    await writeFile(path.join(work, 'damaged', 'db', 'CURRENT'), 'MANIFEST-999999\n');

    const run = await inProcess(['readiness', '--store', 'damaged'], { cwd: work });

    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toMatch(/^cutover-watch: cannot open the store in damaged: .*MANIFEST-999999.*; move it aside \(or pass another --store\) and analyze again$/);
  });
});

describe('readers beside a writer', () => {
  it('readiness reads the store while analyze holds it mid-batch (from CUTOVER_WATCH_STORE), and the writer then finishes', async () => {
    await cp(path.join(work, 'mine'), path.join(work, 'held'), { recursive: true });
    await writeFile(path.join(work, 'trail-2.json'), JSON.stringify({ Records: [{ ...RECORD, eventID: 'store-test-2', userIdentity: { ...RECORD.userIdentity, userName: 'system:serviceaccount:orders:api' } }] }));
    const resume = path.join(work, 'resume-writer');
    let paused!: () => void;
    const pausedNow = new Promise<void>((resolve) => (paused = resolve));

    // the writer stops with its stage's journal written and none of its items: the commit point
    const writer = cli(['analyze', '--store', 'held', 'trail-2.json'], {
      cwd: work,
      env: { CUTOVER_WATCH_FAULT: `after-journal:1:pause:${resume}` },
      onStderr: (err) => err.includes('paused at after-journal') && paused(),
    });
    await Promise.race([pausedNow, writer.then((r) => Promise.reject(new Error(`the writer ended before pausing: ${JSON.stringify(r)}`)))]);
    const server = JSON.parse(await readFile(path.join(work, 'held', 'store.server.json'), 'utf8')) as { pid: number };
    // the reader is this process: another process than the writer, as a second terminal would be
    const reader = await inProcess(['readiness', '--json', '--as-of', AS_OF], { cwd: work, env: { CUTOVER_WATCH_STORE: 'held' } });
    await writeFile(resume, '');
    const written = await writer;

    expect(reader.stderr).toBe('');
    expect(reader.code).toBe(0);
    // the batch in progress is not seen: its items are not written yet
    expect(JSON.parse(reader.stdout).namespaces.map((n: { namespace: string }) => n.namespace)).toEqual(['shop']);
    expect(written.code).toBe(0);
    // the writer's server was the one read through (the reader held no lock of its own), and it is gone
    expect(server.pid).toBeGreaterThan(0);
    expect(await readdir(path.join(work, 'held'))).not.toContain('store.server.json');
    expect(await readdir(path.join(work, 'held'))).not.toContain('store.lock');
    const after = await inProcess(['readiness', '--json', '--as-of', AS_OF], { cwd: work, env: { CUTOVER_WATCH_STORE: 'held' } });
    expect(JSON.parse(after.stdout).namespaces.map((n: { namespace: string }) => n.namespace)).toEqual(['orders', 'shop']);
  }, 90_000);

  it("readiness reads a store whose writer died: it takes the stale lock over, and never calls the dead writer's port", async () => {
    const stale = path.join(work, 'stale');
    await cp(path.join(work, 'mine'), stale, { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    // something else now listens where the dead writer's server was: it must get no request
    let calls = 0;
    const impostor = createServer((_req, res) => {
      calls += 1;
      res.end('{}');
    });
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    const port = (impostor.address() as { port: number }).port;
    await writeFile(path.join(stale, 'store.lock'), String(dead));
    await writeFile(path.join(stale, 'store.server.json'), JSON.stringify({ pid: dead, port, readToken: 'a'.repeat(64) }), { mode: 0o600 });

    const run = await inProcess(['readiness', '--json', '--store', 'stale', '--as-of', AS_OF], { cwd: work }).finally(() => impostor.close());

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).namespaces.map((n: { namespace: string }) => n.namespace)).toEqual(['shop']);
    expect(calls).toBe(0);
    expect(await readdir(stale)).not.toContain('store.lock');
    expect(await readdir(stale)).not.toContain('store.server.json');
  }, 60_000);
});

describe('demo --dir', () => {
  it("refuses a folder of the user's with exit 2 and deletes nothing", async () => {
    const user = path.join(work, 'user');
    await mkdir(path.join(user, 'logs'), { recursive: true });
    await mkdir(path.join(user, 'reports'), { recursive: true });
    await writeFile(path.join(user, 'logs', 'app.log'), 'the app log');
    await writeFile(path.join(user, 'reports', 'q3.pdf'), '%PDF-1.7 q3');
    const before = await snapshot(user);

    const run = await inProcess(['demo', '--dir', 'user'], { cwd: work });

    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe('cutover-watch: --dir user is not empty and not a cutover-watch demo folder (it holds logs, reports); nothing was touched: pass a new or empty folder');
    expect(await snapshot(user)).toEqual(before);
  });

  it('refuses its own folder while another process holds the store lock, touching nothing', async () => {
    const demo = path.join(work, 'demo-busy');
    await mkdir(path.join(demo, 'db'), { recursive: true });
    await writeFile(path.join(demo, 'cutover-watch-demo.json'), JSON.stringify({ tool: 'cutover-watch', kind: 'demo', format: 1 }));
    await writeFile(path.join(demo, 'cutover-watch-store.json'), JSON.stringify({ tool: 'cutover-watch', kind: 'store', format: 1 }));
    await writeFile(path.join(demo, 'db', '000005.ldb'), 'the store another process is writing');
    // a live process that is not the CLI: this test runner
    await writeFile(path.join(demo, 'store.lock'), String(process.pid));
    const before = await snapshot(demo);

    const run = await cli(['demo', '--dir', 'demo-busy'], { cwd: work });

    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(`cutover-watch: the store in demo-busy is in use by another cutover-watch process (pid ${process.pid}); wait for it or pass another --store`);
    expect(await snapshot(demo)).toEqual(before);
  });
});

describe('arguments that overflow dates', () => {
  it.each([
    [['readiness', '--soak-days', '1e9'], /option '--soak-days <days>' argument '1e9' is invalid\. expected at most 3650 days/],
    [['report', '--active-hours', '100000'], /option '--active-hours <hours>' argument '100000' is invalid\. expected at most 8760 hours/],
    [['readiness', '--as-of', '2200-01-01'], /expected a time between 2000-01-01 and 2100-01-01/],
  ])('%j: exit 2, one line naming the option, no store touched', async (args, message) => {
    const run = await inProcess([...args, '--store', 'mine'], { cwd: work });
    expect(run.code).toBe(2);
    expect(run.stderr.split('\n')[0]).toMatch(message);
  });
});

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreError } from '../../functions/adapters/dynamo-evidence-store';
import { Command } from 'commander';
import { inspectStoreDir, openEmbeddedStore, STORE_MARKER, takeLock } from '../../functions/local/embedded-store';
import { storeDir, withStoreOptions } from '../../functions/local/cli/store-options';

let tmp: string;
let n = 0;
const folder = async (files: Record<string, string> = {}) => {
  const dir = path.join(tmp, `f${(n += 1)}`);
  await mkdir(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  return dir;
};
/** A pid no process has: one that just exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'cw-store-folder-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('what a store folder is', () => {
  it.each([
    ['missing', null, 'missing'],
    ['empty', {}, 'empty'],
    ['marked', { [STORE_MARKER]: '{"format":1}', 'notes.txt': 'x' }, 'store'],
    ['written before the marker', { 'db/CURRENT': 'MANIFEST-000002', 'db/000003.log': '', 'alerts.jsonl': '', demo: '' }, 'legacy'],
    ["another program's", { '000123.log': 'x', LOG: 'y', 'notes.txt': 'z' }, 'foreign'],
    ['a db/ that is not LevelDB', { 'db/photos.zip': 'x' }, 'foreign'],
  ])('%s', async (_what, files, state) => {
    const dir = files === null ? path.join(tmp, 'nothing-here') : await folder(files);
    expect((await inspectStoreDir(dir)).state).toBe(state);
  });

  it('refuses a marker of a newer format, and a file given as the folder', async () => {
    await expect(inspectStoreDir(await folder({ [STORE_MARKER]: '{"format":99}' }))).rejects.toThrow(/store format 99 is not one this cutover-watch reads/);
    const file = path.join(await folder({ 'a-file': 'x' }), 'a-file');
    await expect(inspectStoreDir(file, 'a-file')).rejects.toThrow(new StoreError('a-file is not a folder: pass --store with a folder'));
  });

  it("opens no store in another program's folder, and leaves it as it was", async () => {
    const dir = await folder({ '000123.log': 'x', LOG: 'y', 'notes.txt': 'z' });

    await expect(openEmbeddedStore(dir, { write: true, label: 'theirs' })).rejects.toThrow(
      'theirs is not a cutover-watch store (it holds 000123.log, LOG, notes.txt) and was left untouched: pass --store with a new or empty folder',
    );
    expect((await readdir(dir)).sort()).toEqual(['000123.log', 'LOG', 'notes.txt']);
  });

  it('creates nothing for a read', async () => {
    const empty = await folder();
    await expect(openEmbeddedStore(path.join(tmp, 'not-yet'), { write: false, label: 'not-yet' })).rejects.toThrow(
      'no store in not-yet: run `cutover-watch analyze PATH` first (or pass --store)',
    );
    await expect(openEmbeddedStore(empty, { write: false, label: 'empty' })).rejects.toThrow(/^no store in empty/);
    await expect(readdir(path.join(tmp, 'not-yet'))).rejects.toThrow(/ENOENT/);
    expect(await readdir(empty)).toEqual([]);
  });
});

describe('the store lock', () => {
  it('is taken by exactly one of two takers at once, and free again once released', async () => {
    const dir = await folder();

    const results = await Promise.allSettled([takeLock(dir), takeLock(dir)]);

    const taken = results.filter((r) => r.status === 'fulfilled');
    expect(taken).toHaveLength(1);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason.message).toMatch(/is in use by another cutover-watch process \(pid \d+\)/);
    expect(await readFile(path.join(dir, 'store.lock'), 'utf8')).toBe(String(process.pid));
    await taken[0]!.value.release();
    expect(await readdir(dir)).toEqual([]);
    await (await takeLock(dir)).release();
  });

  it('takes over a lock left by a process that died, once, when two take it over together', async () => {
    const dir = await folder({ 'store.lock': String(deadPid()) });

    const results = await Promise.allSettled([takeLock(dir), takeLock(dir), takeLock(dir)]);

    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await readFile(path.join(dir, 'store.lock'), 'utf8')).toBe(String(process.pid));
    for (const r of results) if (r.status === 'fulfilled') await r.value.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it.skipIf(process.platform !== 'linux')('takes over a lock whose holder was killed and not yet collected by its parent (a zombie)', async () => {
    // the child exits a second later, once its parent has become `sleep`, which never collects it
    const parent = spawn('sh', ['-c', '(sleep 1) & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const zombie = Number((await once(parent.stdout, 'data'))[0].toString().trim());
      await expect.poll(() => readFileSync(`/proc/${zombie}/stat`, 'utf8').split(') ')[1]?.[0]).toBe('Z');
      expect(() => process.kill(zombie, 0)).not.toThrow();
      const dir = await folder({ 'store.lock': String(zombie) });
      const lock = await takeLock(dir);
      expect(await readFile(path.join(dir, 'store.lock'), 'utf8')).toBe(String(process.pid));
      await lock.release();
    } finally {
      parent.kill();
    }
  });

  it('takes over a lock with our own pid that this process does not hold (a crashed run in a container, pid 1 again)', async () => {
    const dir = await folder({ 'store.lock': String(process.pid) });
    const lock = await takeLock(dir);
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('which folder is the store', () => {
  const cwd = '/home/me/project';

  it('is --store, else $CUTOVER_WATCH_STORE, else .cutover-watch, relative to the working directory', () => {
    const env = { CUTOVER_WATCH_STORE: '/srv/cutover-watch' };
    expect(storeDir({ store: 'mine' }, cwd, env)).toEqual({ dir: '/home/me/project/mine', where: 'mine' });
    expect(storeDir({}, cwd, env)).toEqual({ dir: '/srv/cutover-watch', where: '/srv/cutover-watch (CUTOVER_WATCH_STORE)' });
    expect(storeDir({}, cwd, { CUTOVER_WATCH_STORE: 'evidence' })).toEqual({ dir: '/home/me/project/evidence', where: 'evidence (CUTOVER_WATCH_STORE)' });
    expect(storeDir({}, cwd, { CUTOVER_WATCH_STORE: '' })).toEqual({ dir: '/home/me/project/.cutover-watch', where: '.cutover-watch' });
    expect(storeDir({}, cwd, {})).toEqual({ dir: '/home/me/project/.cutover-watch', where: '.cutover-watch' });
  });

  it('is said in --help, with the value of the variable when it is set', () => {
    const help = (env: NodeJS.ProcessEnv) => withStoreOptions(new Command('readiness'), env).helpInformation().replace(/\s+/g, ' ');
    expect(help({})).toContain('default: $CUTOVER_WATCH_STORE, else .cutover-watch');
    expect(help({ CUTOVER_WATCH_STORE: '/srv/cw' })).toContain('(now CUTOVER_WATCH_STORE=/srv/cw)');
  });
});

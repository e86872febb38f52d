import { spawnSync } from 'node:child_process';
import { existsSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirectory } from '../../functions/adapters/make-directory';

const MODULE = fileURLToPath(new URL('../../functions/adapters/make-directory.ts', import.meta.url));

/**
 * The error codes `makeDirectory` throws for `dirs`, from a process of its own: on these paths
 * Node's recursive mkdir spins forever in native code, which nothing in this process could stop.
 */
function codesInAChild(dirs: string[]): (string | null)[] {
  const script = `import { makeDirectory } from ${JSON.stringify(MODULE)};
console.log(JSON.stringify(${JSON.stringify(dirs)}.map((d) => { try { makeDirectory(d, 0o700); return null; } catch (e) { return e.code; } })));`;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
  if (child.error !== undefined || child.status !== 0) throw new Error(`the child did not finish: ${child.error?.message ?? child.stderr}`);
  return JSON.parse(child.stdout) as (string | null)[];
}

describe('makeDirectory', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cw-mkdir-'));
    symlinkSync(path.join(dir, 'nowhere'), path.join(dir, 'dangling'));
    writeFileSync(path.join(dir, 'file'), '');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('makes the folder and its missing parents, each with the mode, and accepts one that exists', () => {
    const deep = path.join(dir, 'a', 'b', 'c');
    makeDirectory(deep, 0o700);
    for (const d of [path.join(dir, 'a'), path.join(dir, 'a', 'b'), deep]) expect(statSync(d).mode & 0o777).toBe(0o700);
    makeDirectory(deep, 0o700);
    makeDirectory(path.join(deep, 'd'), 0o700);
    expect(statSync(path.join(deep, 'd')).isDirectory()).toBe(true);
  });

  it('fails as Node does on a file, or under one', () => {
    expect(() => makeDirectory(path.join(dir, 'file'), 0o700)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => makeDirectory(path.join(dir, 'file', 'out'), 0o700)).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
  });

  it('fails, and does not spin, under a symbolic link to nothing or in /proc', () => {
    const proc = existsSync('/proc/self') ? ['/proc/cutover-watch-test/out'] : [];
    expect(codesInAChild([path.join(dir, 'dangling', 'out'), ...proc])).toEqual(['EEXIST', ...proc.map(() => 'ENOENT')]);
    expect(existsSync(path.join(dir, 'nowhere'))).toBe(false);
  });
});

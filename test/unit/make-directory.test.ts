import { existsSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirectory, makeDirectorySync } from '../../functions/adapters/make-directory';

/** Fails at once rather than at the test's timeout: Node's recursive mkdir never returns on these paths. */
async function settlesWithin<T>(ms: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms)));
  try {
    return await Promise.race([work(), late]);
  } finally {
    clearTimeout(timer);
  }
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

  it('makes the folder and its missing parents, each with the mode, and accepts one that exists', async () => {
    const deep = path.join(dir, 'a', 'b', 'c');
    await makeDirectory(deep, 0o700);
    for (const d of [path.join(dir, 'a'), path.join(dir, 'a', 'b'), deep]) expect(statSync(d).mode & 0o777).toBe(0o700);
    await makeDirectory(deep, 0o700);
    makeDirectorySync(path.join(deep, 'd'), 0o700);
    expect(statSync(path.join(deep, 'd')).isDirectory()).toBe(true);
  });

  it('fails, and does not spin, under a symbolic link to nothing, a file, or /proc', async () => {
    await expect(settlesWithin(5_000, () => makeDirectory(path.join(dir, 'dangling', 'out'), 0o700))).rejects.toMatchObject({ code: 'EEXIST' });
    expect(() => makeDirectorySync(path.join(dir, 'dangling', 'out'), 0o700)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    await expect(settlesWithin(5_000, () => makeDirectory(path.join(dir, 'file', 'out'), 0o700))).rejects.toMatchObject({ code: 'ENOTDIR' });
    expect(existsSync(path.join(dir, 'nowhere'))).toBe(false);
    if (existsSync('/proc/self')) await expect(settlesWithin(5_000, () => makeDirectory('/proc/cutover-watch-test/out', 0o700))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

import { mkdirSync, statSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * `mkdir -p`: the folder and its missing parents, each made with `mode`. Not Node's
 * `mkdir(…, { recursive: true })`, which never returns when a parent exists but cannot hold the
 * child: a path under /proc (procfs answers ENOENT, Node makes the parent again, which exists, and
 * retries forever), or under a symbolic link that points nowhere. Here each missing folder is made
 * once, and the first failure is thrown (ENOENT, or EEXIST for a name that is not a folder).
 */
export async function makeDirectory(dir: string, mode: number): Promise<void> {
  for (const missing of await missingFolders(dir)) {
    try {
      await mkdir(missing, { mode });
    } catch (e) {
      // made meanwhile by another process: fine if it is a folder
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !(await isDirectory(missing))) throw e;
    }
  }
}

/** `makeDirectory`, synchronously. */
export function makeDirectorySync(dir: string, mode: number): void {
  for (const missing of missingFoldersSync(dir)) {
    try {
      mkdirSync(missing, { mode });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !isDirectorySync(missing)) throw e;
    }
  }
}

/** The folders of `dir` to make, outermost first: every one from the deepest that exists down. */
async function missingFolders(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let at = path.resolve(dir); !(await exists(at)); at = path.dirname(at)) {
    missing.unshift(at);
    if (path.dirname(at) === at) break;
  }
  return missing;
}

function missingFoldersSync(dir: string): string[] {
  const missing: string[] = [];
  for (let at = path.resolve(dir); !existsSync(at); at = path.dirname(at)) {
    missing.unshift(at);
    if (path.dirname(at) === at) break;
  }
  return missing;
}

/** Whether something is at `at` (following links: a link to nothing is nothing, and making it fails with EEXIST). */
async function exists(at: string): Promise<boolean> {
  try {
    await stat(at);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

function existsSync(at: string): boolean {
  try {
    statSync(at);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

async function isDirectory(at: string): Promise<boolean> {
  try {
    return (await stat(at)).isDirectory();
  } catch {
    return false;
  }
}

function isDirectorySync(at: string): boolean {
  try {
    return statSync(at).isDirectory();
  } catch {
    return false;
  }
}

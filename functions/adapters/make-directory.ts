import { mkdirSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';

/**
 * `mkdir -p`: the folder and its missing parents, each made with `mode`. Not Node's
 * `mkdir(…, { recursive: true })`, which never returns when a parent exists but cannot hold the
 * child: a path under /proc (procfs answers ENOENT, Node makes the parent again, which exists, and
 * retries forever), or under a symbolic link that points nowhere. Here each missing folder is made
 * once, and the first failure is thrown: ENOENT; ENOTDIR under a file; EEXIST for a name that is
 * not a folder, the path itself included, as Node's gives.
 *
 * Synchronous: a few stat and mkdir calls, once per command or file, and one implementation for
 * the callers that cannot wait (rejects-file) and those that can.
 */
export function makeDirectory(dir: string, mode: number): void {
  // the folders to make, outermost first: from below the deepest that exists down to `dir`
  const missing: string[] = [];
  let at = path.resolve(dir);
  let found = statOrNull(at);
  while (found === null && path.dirname(at) !== at) {
    missing.unshift(at);
    at = path.dirname(at);
    found = statOrNull(at);
  }
  if (missing.length === 0 && found?.isDirectory() !== true) throw Object.assign(new Error(`EEXIST: file already exists, mkdir '${at}'`), { code: 'EEXIST', path: at });
  for (const folder of missing) {
    try {
      mkdirSync(folder, { mode });
    } catch (e) {
      // made meanwhile by another process: fine if it is a folder
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || statOrNull(folder)?.isDirectory() !== true) throw e;
    }
  }
}

/** What is at `at`, following links (a link to nothing is nothing, and making it fails with EEXIST); null for nothing. */
function statOrNull(at: string): Stats | null {
  try {
    return statSync(at);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

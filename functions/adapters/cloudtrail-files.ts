/**
 * Reads CloudTrail log files from disk (or stdin) into records. The only I/O is here: finding
 * files, reading, gunzip. What the JSON holds is decided by core/envelopes.
 *
 * Bad input never throws: every file, directory or line that yields nothing says why as a
 * `problem` item, so one corrupt object in a year of S3 logs does not stop a replay.
 */
import type { Dirent, Stats } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { extractRecords, jsonErrorMessage } from '../core/envelopes';
import type { InputItem, InputProblem } from '../core/envelopes';

const gunzipAsync = promisify(gunzip);

/** The path that means "read standard input". */
export const STDIN = '-';

export interface InputFiles {
  files: string[];
  problems: InputProblem[];
}

/**
 * Extensions taken when walking a directory. CloudTrail writes `.json.gz`; the others are what
 * people save LookupEvents output, EventBridge archives and SQS dumps as.
 */
const LOG_EXTENSIONS = ['.json', '.json.gz', '.jsonl', '.jsonl.gz', '.ndjson', '.ndjson.gz'];

/**
 * Folders CloudTrail writes beside `CloudTrail/` in the S3 layout. Digest files are `.json.gz`
 * but hold hash chains, not records; Insights files hold Insights events, not API calls.
 */
const SKIPPED_FOLDERS = new Set(['CloudTrail-Digest', 'CloudTrail-Insight']);
/** The same files found outside their folder (e.g. after a flattening copy), by S3 object name. */
const SKIPPED_NAME = /_CloudTrail-(?:Digest|Insight)_/;

function isLogFileName(name: string): boolean {
  const lower = name.toLowerCase();
  return LOG_EXTENSIONS.some((ext) => lower.endsWith(ext)) && !SKIPPED_NAME.test(name);
}

function problem(file: string, reason: string, where: string | null = null): InputProblem {
  return { type: 'problem', file, where, reason };
}

/** Node's messages repeat the syscall and path (`ENOENT: no such file or directory, open 'x'`); the item already names the file. */
function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'not a directory';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

interface Candidate {
  /** As given or as found (directory as given + relative path): what messages show. */
  shown: string;
  /** Real path, so the same file reached twice (named and under a directory, or by a symlink) is read once. */
  identity: string;
}

/** Files and directories (recursive) → the log files under them, sorted, deduplicated. */
export async function listInputFiles(paths: string[]): Promise<InputFiles> {
  const candidates: Candidate[] = [];
  const problems: InputProblem[] = [];

  for (const given of paths) {
    if (given === STDIN) {
      candidates.push({ shown: STDIN, identity: STDIN });
      continue;
    }
    let info: Stats;
    try {
      info = await stat(given);
    } catch (err) {
      problems.push(problem(given, describeFsError(err)));
      continue;
    }
    if (!info.isDirectory()) {
      // Named explicitly: taken whatever the extension (it may be a FIFO or /dev/stdin too).
      candidates.push({ shown: given, identity: await realpathOr(given) });
      continue;
    }
    // Each root gets its own visited set: with a shared one, `logs logs/2024` would find
    // `logs/2024` already visited and wrongly report it empty. Duplicates go at the end.
    const found: Candidate[] = [];
    const before = problems.length;
    await walk(given, new Set(), found, problems);
    // An unreadable root already has its problem; "no log files" on top would be noise.
    const rootUnreadable = problems.slice(before).some((p) => p.file === given);
    if (found.length === 0 && !rootUnreadable) {
      problems.push(problem(given, `no CloudTrail log files (.json, .json.gz, .jsonl) under ${given}`));
    }
    for (const c of found) candidates.push(c);
  }

  // Code-unit order, not locale order: deterministic, and S3 object names sort by delivery time.
  candidates.sort((a, b) => (a.shown < b.shown ? -1 : a.shown > b.shown ? 1 : 0));
  const seen = new Set<string>();
  const files: string[] = [];
  for (const c of candidates) {
    if (seen.has(c.identity)) continue;
    seen.add(c.identity);
    files.push(c.shown);
  }
  return { files, problems };
}

async function realpathOr(p: string): Promise<string> {
  try {
    return await realpath(p);
  } catch {
    return path.resolve(p);
  }
}

async function walk(dir: string, visited: Set<string>, found: Candidate[], problems: InputProblem[]): Promise<void> {
  let real: string;
  let entries: Dirent[];
  try {
    real = await realpath(dir);
    // A symlink back up the tree would otherwise recurse forever.
    if (visited.has(real)) return;
    visited.add(real);
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    problems.push(problem(dir, describeFsError(err)));
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    let isDir = entry.isDirectory();
    let isFile = entry.isFile();
    let identity = path.join(real, entry.name);
    if (entry.isSymbolicLink()) {
      try {
        const target = await stat(full);
        isDir = target.isDirectory();
        isFile = target.isFile();
        identity = await realpath(full);
      } catch (err) {
        // A dangling link that looks like a log file is reported; other dangling links are noise.
        if (isLogFileName(entry.name)) problems.push(problem(full, describeFsError(err)));
        continue;
      }
    }
    if (isDir) {
      if (!SKIPPED_FOLDERS.has(entry.name)) await walk(full, visited, found, problems);
    } else if (isFile && isLogFileName(entry.name)) {
      found.push({ shown: full, identity });
    }
    // Sockets, FIFOs and devices found by walking are skipped: reading one could block forever.
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  }
  return Buffer.concat(chunks);
}

/** The file's text, or why there is none. Gzip is detected by content: S3 downloads lose or gain `.gz` freely. */
async function readText(file: string, stdin: Readable): Promise<{ ok: true; text: string } | { ok: false; reason: string }> {
  let bytes: Buffer;
  try {
    bytes = file === STDIN ? await readAll(stdin) : await readFile(file);
  } catch (err) {
    return { ok: false, reason: describeFsError(err) };
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = await gunzipAsync(bytes);
    } catch (err) {
      return { ok: false, reason: `truncated or corrupt gzip (${err instanceof Error ? err.message : String(err)})` };
    }
  }
  let text: string;
  try {
    text = bytes.toString('utf8');
  } catch {
    // V8 caps strings at about 512 MiB (2^29 UTF-16 units); only a gzip bomb or an
    // unsplit archive gets here.
    return { ok: false, reason: `too large to read whole (${bytes.length} bytes)` };
  }
  // Windows tools (PowerShell's Out-File, Notepad) prepend a BOM, which JSON.parse rejects.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return { ok: true, text };
}

/**
 * Every record (or problem) in one file; `-` reads stdin. Never throws for bad content.
 *
 * The whole text is tried as one JSON document first, then as JSON Lines. A JSON Lines
 * file with bad lines gives one problem per bad line and the other lines' records.
 * A file with no usable line gives a single `not JSON` problem, because a broken
 * pretty-printed document would otherwise produce one problem per line.
 *
 * @param options.stdin read instead of `process.stdin` for `-` (tests)
 */
export async function* readRecords(file: string, options: { stdin?: Readable } = {}): AsyncGenerator<InputItem> {
  const read = await readText(file, options.stdin ?? process.stdin);
  if (!read.ok) {
    yield problem(file, read.reason);
    return;
  }
  const { text } = read;
  if (text.trim() === '') {
    yield problem(file, 'empty file');
    return;
  }

  let whole: { ok: true; doc: unknown } | { ok: false; error: string };
  try {
    whole = { ok: true, doc: JSON.parse(text) };
  } catch (err) {
    whole = { ok: false, error: jsonErrorMessage(err) };
  }
  if (whole.ok) {
    yield* extractRecords(whole.doc, file);
    return;
  }

  const items: InputItem[] = [];
  let usableLines = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.trim() === '') continue;
    const where = `line ${i + 1}`;
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch (err) {
      items.push(problem(file, `not JSON: ${jsonErrorMessage(err)}`, where));
      continue;
    }
    // Only an object or array line shows this is JSON Lines: a broken pretty-printed file
    // has lines such as `"arn:aws:iam::…:role/x"` that parse on their own.
    if (typeof doc === 'object' && doc !== null) usableLines++;
    for (const item of extractRecords(doc, file, where)) items.push(item);
  }

  if (usableLines === 0) {
    yield problem(file, `not JSON: ${whole.error}`);
    return;
  }
  yield* items;
}

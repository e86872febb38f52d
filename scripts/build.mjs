// Bundles the CLI into dist/ with esbuild, its dependencies with it: a command then loads the bundle
// and its chunks rather than resolving and lexing some 800 files of node_modules, which took half of
// its start-up (`--help` 0.9 → 0.5 s of CPU, `readiness` on the demo store 1.35 → 1.0 s; 0.3 s since
// the AWS clients of other commands are chunks of their own). dynalite alone stays in node_modules:
// the store's thread loads it by path, with its LevelDB binding.
import { readFileSync, rmSync, statSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const cliBundle = path.join(root, 'dist', 'cutover-watch.mjs');
/** What the launcher loads first, to start the command's threads while the bundle loads (bin/prestart.ts). */
export const prestartBundle = path.join(root, 'dist', 'prestart.mjs');
/** The folder beside the bundle that holds its chunks. */
export const CHUNKS = 'chunks';

/** How the CLI is bundled; bench/run.ts bundles its store reader the same way, to compare like with like. */
export const bundleOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: ['dynalite'],
  // Without comments and indentation: V8 keeps a module's whole source in the heap for the run
  // (5.0 MB as written, 3.7 without them; names and structure stay as written, and the map below
  // points at the sources).
  minifyWhitespace: true,
  // CommonJS dependencies require Node's built-ins, which an ES module has no `require` for
  banner: { js: "import { createRequire as createRequireForBundledCommonJs } from 'node:module'; const require = createRequireForBundledCommonJs(import.meta.url);" },
  logLevel: 'warning',
};

export async function buildCli() {
  // loaded only to build: every run of the command imports this file to ask cliIsStale()
  const { build } = await import('esbuild');
  // The reading thread's skimmer (functions/adapters/skim-thread-entry.ts), bundled on its own: the
  // thread evaluates it as source. Run from source, small-file-thread.ts builds it with the same
  // options (skim-bundle.json beside it).
  const skimBundle = JSON.parse(readFileSync(path.join(root, 'functions', 'adapters', 'skim-bundle.json'), 'utf8'));
  const skimBundleOptions = { ...skimBundle, logLevel: 'warning' };
  const skimmer = await build({ ...skimBundleOptions, entryPoints: [path.join(root, 'functions', 'adapters', 'skim-thread-entry.ts')], write: false });
  // chunks of an earlier build would stay beside the new ones
  rmSync(path.join(path.dirname(cliBundle), CHUNKS), { recursive: true, force: true });
  const built = await build({
    ...bundleOptions,
    entryPoints: {
      [path.basename(cliBundle, '.mjs')]: path.join(root, 'bin', 'cutover-watch.ts'),
      // shares its modules (the threads it starts) with the bundle, as chunks both import
      [path.basename(prestartBundle, '.mjs')]: path.join(root, 'bin', 'prestart.ts'),
    },
    outdir: path.dirname(cliBundle),
    outExtension: { '.js': '.mjs' },
    // What a command imports only when it needs it (`await import(…)`: the AWS clients of the
    // commands that call AWS, the S3 reading of analyze s3://) is a chunk of its own, loaded then:
    // every other command neither compiles nor evaluates it (`--version` ~0.2 s sooner).
    splitting: true,
    chunkNames: `${CHUNKS}/[name]-[hash]`,
    define: { __SKIM_THREAD_SOURCE__: JSON.stringify(skimmer.outputFiles[0].text) },
    // beside the bundle, not in it: an inline map is three times the code, parsed on every start
    sourcemap: 'linked',
    metafile: true,
    // the metafile's paths are relative to it
    absWorkingDir: root,
  });
  for (const file of Object.keys(built.metafile.outputs)) {
    if (file.endsWith('.mjs')) writeFileSync(path.join(root, file), asciiOnly(readFileSync(path.join(root, file), 'utf8')));
  }
}

/**
 * The bundle with every character outside ASCII written as a `\u` escape. esbuild escapes them in
 * code (its default `charset`) but keeps comments as written, and one `→` in a comment makes V8 hold
 * the whole 5 MB source in two bytes a character: 5 MB more heap in every run of the command
 * (`--version`: 27.4 → 22.4 MB used, 4–5 MB less RSS). Outside code the escape is only text, and the
 * lines it lengthens are comments, so the source map's columns still point at the same code. Since
 * the bundle is built without comments (`minifyWhitespace`) none is left to escape today; this stays
 * for the comments esbuild keeps even then (legal notices, `/*!` and `@license`).
 */
function asciiOnly(text) {
  return text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** True when a source under bin/ or functions/ is newer than the bundle (or there is none, or no chunks beside it). */
export function cliIsStale() {
  let built;
  try {
    built = statSync(cliBundle).mtimeMs;
    // the bundle imports its chunks: without them no command starts
    statSync(path.join(path.dirname(cliBundle), CHUNKS));
    statSync(prestartBundle);
  } catch {
    return true;
  }
  const newer = (dir) =>
    readdirSync(dir, { withFileTypes: true }).some((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return newer(full);
      return (entry.name.endsWith('.ts') || entry.name.endsWith('.json')) && statSync(full).mtimeMs > built;
    });
  return newer(path.join(root, 'functions')) || newer(path.join(root, 'bin'));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildCli();
}

// Bundles the CLI into dist/ with esbuild. Dependencies stay in node_modules (packages: external):
// dynalite loads its LevelDB binding at run time and must not be bundled.
import { statSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const cliBundle = path.join(root, 'dist', 'cutover-watch.mjs');

export async function buildCli() {
  // loaded only to build: every run of the command imports this file to ask cliIsStale()
  const { build } = await import('esbuild');
  await build({
    entryPoints: [path.join(root, 'bin', 'cutover-watch.ts')],
    outfile: cliBundle,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    sourcemap: 'inline',
    logLevel: 'warning',
  });
}

/** True when a source under bin/ or functions/ is newer than the bundle (or there is none). */
export function cliIsStale() {
  let built;
  try {
    built = statSync(cliBundle).mtimeMs;
  } catch {
    return true;
  }
  const newer = (dir) =>
    readdirSync(dir, { withFileTypes: true }).some((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return newer(full);
      return entry.name.endsWith('.ts') && statSync(full).mtimeMs > built;
    });
  return newer(path.join(root, 'functions')) || newer(path.join(root, 'bin'));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildCli();
}

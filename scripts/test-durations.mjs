// Writes test/durations.json from vitest's cache of the last run (node_modules/.vite/vitest): how
// long each test file took, which vitest.config.ts's sequencer uses to start the longest files
// first when a clone has no cache of its own yet. Run after a green `npm test` when files were
// added or their times changed much.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cacheRoot = path.join(root, 'node_modules', '.vite', 'vitest');
const durations = {};
for (const dir of readdirSync(cacheRoot)) {
  const { results } = JSON.parse(readFileSync(path.join(cacheRoot, dir, 'results.json'), 'utf8'));
  for (const [key, { duration, failed }] of results) {
    // the cache keeps files since deleted or renamed: `project:path`
    if (!failed && duration !== undefined && existsSync(path.join(root, key.slice(key.indexOf(':') + 1)))) durations[key] = Math.round(duration / 100) * 100;
  }
}
const sorted = Object.fromEntries(Object.entries(durations).sort(([a], [b]) => (a < b ? -1 : 1)));
writeFileSync(path.join(root, 'test', 'durations.json'), `${JSON.stringify(sorted, null, 1)}\n`);
console.log(`test/durations.json: ${Object.keys(sorted).length} files`);

// npm run bench: how fast `analyze` reads the sample fleet into a fresh embedded store.
// Prints records/s for the first run and for a replay (all events already counted).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/cutover-watch.mjs', import.meta.url));
const work = mkdtempSync(path.join(os.tmpdir(), 'cw-bench-'));
const run = (...args) => JSON.parse(execFileSync(process.execPath, [bin, ...args], { cwd: work, encoding: 'utf8' }));
try {
  execFileSync(process.execPath, [bin, 'demo', '--end', '2026-11-20T00:00:00Z', '--dir', 'fleet', '--json'], { cwd: work });
  const logs = path.join('fleet', 'logs');
  for (const [label, store] of [['first run', 'a'], ['replay', 'a'], ['first run (2nd store)', 'b']]) {
    const s = run('analyze', '--json', '--store', store, logs);
    const rate = Math.round(s.records / s.seconds);
    console.log(`${label.padEnd(22)} ${String(s.records).padStart(6)} records  ${String(s.inScope).padStart(5)} in scope  ${s.seconds.toFixed(2)} s  ${rate} records/s  ${Math.round(s.inScope / s.seconds)} events/s`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { generateSampleFleet, type SampleFleet, type SampleFleetOptions } from '../../functions/local/sample-fleet';
// the run's temp folder is checked empty at the end but for this folder
import { SAMPLE_FLEET_CACHE } from './temp-folders';

/**
 * The sample fleet of (seed, end, days), generated once per test run and shared: generating one
 * costs about 3 s of CPU, reading it back a tenth of that, and several files use the same fleets
 * (seed 7 and 42 ending 2026-11-20). The generator is deterministic for those three
 * (test/unit/sample-fleet.test.ts generates its own fleets to prove it), so a copy is the same
 * fleet. Each call returns a copy of its own: a test may change what it gets.
 *
 * Kept in the run's temp folder (vitest.config.ts), which goes at the end of the run; without one,
 * in this process only.
 */
export function sampleFleet(options: SampleFleetOptions): SampleFleet {
  const key = `seed-${options.seed ?? 42}-end-${options.end.getTime()}-days-${options.days ?? 30}`;
  let bytes = inProcess.get(key);
  if (bytes === undefined) {
    const dir = cacheDir();
    const file = dir === undefined ? undefined : path.join(dir, `${key}.v8`);
    bytes = file === undefined ? undefined : readIfThere(file);
    if (bytes === undefined) {
      bytes = serialize(generateSampleFleet(options));
      if (file !== undefined) {
        // by rename: a file that reads it at the same time never reads half of it
        const temp = `${file}.${process.pid}.tmp`;
        writeFileSync(temp, bytes);
        renameSync(temp, file);
      }
    }
    inProcess.set(key, bytes);
  }
  return deserialize(bytes) as SampleFleet;
}

const inProcess = new Map<string, Buffer>();

function cacheDir(): string | undefined {
  const root = process.env['CUTOVER_WATCH_TEST_TMP'];
  if (root === undefined) return undefined;
  const dir = path.join(root, SAMPLE_FLEET_CACHE);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function readIfThere(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * The benchmark's fleet, generated once per preset and kept under the system's temp folder
 * (`<os.tmpdir()>/cutover-watch-bench/<preset>-v<generator version>-<hash of the options>/`):
 * the fleet preset takes minutes to write and about 0.5 GB of disk, and every run measures the
 * same files. `fleet.json` (the generator's stats) is written last: a folder without it is a run
 * that did not finish, and is written again from scratch.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  SCALE_PRESETS,
  SCALED_FLEET_VERSION,
  seedOf,
  writeScaledFleet,
  type ScaledFleetStats,
} from '../functions/local/sample-fleet/scale';

export type Preset = keyof typeof SCALE_PRESETS;

export interface BenchFleet {
  dir: string;
  logDir: string;
  inventoryDir: string;
  stats: ScaledFleetStats;
  /** Seconds spent writing it in this run; null when it came from the cache. */
  generatedSeconds: number | null;
}

export function fleetDir(preset: Preset): string {
  const options = SCALE_PRESETS[preset];
  const id = seedOf(JSON.stringify({ ...options, end: options.end.toISOString() }), SCALED_FLEET_VERSION).toString(16);
  return path.join(os.tmpdir(), 'cutover-watch-bench', `${preset}-v${SCALED_FLEET_VERSION}-${id}`);
}

export async function ensureFleet(preset: Preset, log: (line: string) => void): Promise<BenchFleet> {
  const dir = fleetDir(preset);
  const marker = path.join(dir, 'fleet.json');
  const paths = { dir, logDir: path.join(dir, 'logs'), inventoryDir: path.join(dir, 'inventory') };
  if (existsSync(marker)) {
    return { ...paths, stats: JSON.parse(readFileSync(marker, 'utf8')) as ScaledFleetStats, generatedSeconds: null };
  }
  await rm(dir, { recursive: true, force: true });
  await removeOlderGenerations(preset, log);
  log(`writing the ${preset} fleet to ${dir} (once; later runs reuse it)`);
  const started = performance.now();
  let lastShown = 0;
  const { stats } = await writeScaledFleet(dir, SCALE_PRESETS[preset], (done, total) => {
    const now = performance.now();
    if (now - lastShown > 15_000 || done === total) {
      lastShown = now;
      log(`  ${done}/${total} files`);
    }
  });
  await writeFile(marker, JSON.stringify(stats, null, 2) + '\n');
  return { ...paths, stats, generatedSeconds: (performance.now() - started) / 1000 };
}

/**
 * This preset's fleets written by an older generator (a lower `-v<N>-`): no run reads them again,
 * and the fleet preset's is ~0.5 GB. Only folders this module names are removed.
 */
async function removeOlderGenerations(preset: Preset, log: (line: string) => void): Promise<void> {
  const parent = path.dirname(fleetDir(preset));
  const name = new RegExp(`^${preset}-v(\\d+)-[0-9a-f]+$`);
  for (const entry of await readdir(parent).catch(() => [] as string[])) {
    const version = name.exec(entry)?.[1];
    if (version === undefined || Number(version) >= SCALED_FLEET_VERSION) continue;
    await rm(path.join(parent, entry), { recursive: true, force: true });
    log(`removed ${path.join(parent, entry)} (written by generator version ${version}; this one is ${SCALED_FLEET_VERSION})`);
  }
}

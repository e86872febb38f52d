/**
 * The S3 layout of the sample fleet (CloudTrail object keys) and writing it to disk: gzipped log
 * files under `logs/` (or `late/`), inventory JSON under `inventory/`.
 *
 * The only module of the sample fleet that does I/O; generating stays pure.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { SampleFleet } from './types';

export function s3Key(account: string, region: string, hour: number, unique: string): string {
  const iso = new Date(hour).toISOString(); // YYYY-MM-DDTHH:…
  const yyyy = iso.slice(0, 4);
  const mm = iso.slice(5, 7);
  const dd = iso.slice(8, 10);
  const hh = iso.slice(11, 13);
  return `AWSLogs/${account}/CloudTrail/${region}/${yyyy}/${mm}/${dd}/${account}_CloudTrail_${region}_${yyyy}${mm}${dd}T${hh}05Z_${unique}.json.gz`;
}

export interface WriteSampleFleetOptions {
  /**
   * Files of these UTC days in this region go to `late/` instead of `logs/`: a sync that missed
   * them, read later (the demo's planted coverage hole). Days are `YYYY-MM-DD`.
   */
  late?: { region: string; days: readonly string[] };
}

/**
 * Writes every log file gzipped under `dir/logs/<key>` and every inventory file as pretty JSON
 * (4-space indent, like the AWS CLI) under `dir/inventory/<name>`. `files` is the number of log
 * files written (inventory files: `fleet.inventory.length`).
 */
export async function writeSampleFleet(
  dir: string,
  fleet: SampleFleet,
  options: WriteSampleFleetOptions = {},
): Promise<{ logDir: string; lateDir: string | null; inventoryDir: string; files: number }> {
  const logDir = join(dir, 'logs');
  const lateDir = options.late ? join(dir, 'late') : null;
  const inventoryDir = join(dir, 'inventory');
  await mkdir(inventoryDir, { recursive: true });
  // S3 keys are AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/…
  const isLate = (key: string) => {
    const parts = key.split('/');
    return options.late !== undefined && parts[3] === options.late.region && options.late.days.includes(parts.slice(4, 7).join('-'));
  };
  const target = (key: string) => join(isLate(key) && lateDir ? lateDir : logDir, key);
  const dirs = new Set(fleet.files.map((f) => dirname(target(f.key))));
  for (const d of [...dirs].sort()) mkdirSync(d, { recursive: true });
  // Synchronously, 64 files between turns of the event loop (a progress bar still moves): each
  // write through libuv's pool is three hand-overs between threads, and 2,800 small files cost
  // three times the CPU that way. Compressed on this thread too: small files are faster here than
  // on zlib's pool.
  const batch = 64;
  for (let i = 0; i < fleet.files.length; i += batch) {
    if (i > 0) await new Promise((resolve) => setImmediate(resolve));
    for (const f of fleet.files.slice(i, i + batch)) writeFileSync(target(f.key), gzipSync(Buffer.from(JSON.stringify({ Records: f.records }), 'utf8')));
  }
  for (const inv of fleet.inventory) {
    await writeFile(join(inventoryDir, inv.name), JSON.stringify(inv.content, null, 4) + '\n', 'utf8');
  }
  return { logDir, lateDir, inventoryDir, files: fleet.files.length };
}

/**
 * samples/ is committed so that anyone can try a check without AWS (README, "What coverage from
 * log files cannot see"): it must be what its generator writes (`npm run samples`), and say what
 * the README says it says.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../functions/local/cli/io';
import { run } from '../../functions/local/cli/main';
import { writeLostLogFileSample } from '../../functions/local/sample-fleet/digest-trail';

const SAMPLE = path.join(__dirname, '..', '..', 'samples', 'lost-log-file');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cw-samples-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function filesUnder(root: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      const full = path.join(entry.parentPath, entry.name);
      files.set(path.relative(root, full), await readFile(full));
    }
  }
  return files;
}

function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => void out.push(l), err: (l) => void err.push(l), stdin: new PassThrough(), progressStream: new PassThrough(), interactive: false, cwd: dir, now: () => new Date('2026-11-17T06:00:00Z') };
  return run(argv, io).then((code) => ({ code, out: out.join('\n'), err: err.join('\n') }));
}

describe('samples/lost-log-file', () => {
  it('is what `npm run samples` writes', async () => {
    const fresh = path.join(dir, 'fresh');
    const lost = await writeLostLogFileSample(fresh);
    const [committed, written] = await Promise.all([filesUnder(SAMPLE), filesUnder(fresh)]);
    expect([...committed.keys()].sort()).toEqual([...written.keys()].sort());
    for (const [file, bytes] of written) expect(committed.get(file)?.equals(bytes), file).toBe(true);
    expect([...committed.keys()].some((file) => file.endsWith(lost))).toBe(false);
  });

  it('says what the README shows: the lost file named, its hour a hole', async () => {
    const analyzed = await cli(['analyze', SAMPLE, '--store', path.join(dir, 'store')]);
    expect(analyzed.code, analyzed.err).toBe(0);
    expect(analyzed.out).toContain('CloudTrail digests: 6 digest files read, listing 12 log files; 1 the digests list was never read');
    const coverage = await cli(['coverage', '--store', path.join(dir, 'store'), '--as-of', '2026-11-17T06:00:00Z']);
    expect(coverage.out).toContain('  111122223333/eu-west-1: 2026-11-17 03:00..2026-11-17 04:00');
    expect(coverage.out).toContain('  111122223333/eu-west-1: 111122223333_CloudTrail_eu-west-1_20261117T0320Z_2e938548241b06da.json.gz');
  });
});

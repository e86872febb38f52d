/**
 * Coverage counts every record of a trail's log files, in scope or not, before any is validated.
 * `analyze` keeps out of it a record whose account or region could be no real one (and whose key
 * would be too long for DynamoDB), and `coverage` prints what a store holds — written by another
 * version or writer, it may hold anything — with --json giving it back exactly while carrying
 * nothing a terminal acts on, and the holes lines writing controls out.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../functions/local/cli/io';
import { run } from '../../functions/local/cli/main';
import { openStore } from '../../functions/local/cli/store-options';

const AS_OF = '2026-11-20T00:00:00Z';
/** Clears the screen, sets the window title, reverses the rest of the line. */
const ACCOUNT = '1111\u001b[2J\u001b]0;owned\u0007\u202e2222';
const REGION = 'us-east-1\u2066';
/** Characters a terminal acts on or that hide text (a newline only between JSON lines). */
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/;

let dir: string;

function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => void out.push(l), err: (l) => void err.push(l), stdin: new PassThrough(), progressStream: new PassThrough(), interactive: false, cwd: dir, now: () => new Date(AS_OF) };
  return run(argv, io).then((code) => ({ code, out: out.join('\n'), err: err.join('\n') }));
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cw-coverage-cmd-'));
  const io: Io = { out: () => undefined, err: () => undefined, stdin: new PassThrough(), progressStream: new PassThrough(), interactive: false, cwd: dir, now: () => new Date(AS_OF) };
  const open = await openStore({ store: 'store' }, io);
  try {
    // Two runs of log-file hours with three hours missing between them: a hole.
    await open.store.recordCoverage([{ account: ACCOUNT, region: REGION, day: '2026-11-19', fileHours: ['00', '01', '02', '06', '07', '08'], liveHours: [], slices: [] }]);
  } finally {
    await open.close();
  }
}, 30_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('cutover-watch coverage', () => {
  it('--json gives the account and region back exactly, with nothing raw in the text', async () => {
    const r = await cli(['coverage', '--json', '--store', 'store', '--as-of', AS_OF]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).not.toMatch(RAW);
    const { coverage } = JSON.parse(r.out) as { coverage: { account: string; region: string; gaps: unknown[] }[] };
    expect(coverage).toMatchObject([{ account: ACCOUNT, region: REGION }]);
    expect(coverage[0]!.gaps.length).toBeGreaterThan(0);
  });

  it('the holes lines write out the controls', async () => {
    const r = await cli(['coverage', '--store', 'store', '--as-of', AS_OF]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).not.toMatch(RAW);
    expect(r.out).toContain('  1111\\x1b[2J\\x1b]0;owned\\x07\\u{202e}2222/us-east-1\\u{2066}: 2026-11-19 ');
  });
});

describe('analyze', () => {
  it('leaves a record with an impossible account or region out of coverage, and the run goes on', async () => {
    const record = (id: string, hour: string, account: string, region = 'eu-west-1') => ({
      eventVersion: '1.08', eventSource: 'ec2.amazonaws.com', eventName: 'DescribeInstances', eventID: id, eventTime: `2026-11-19T${hour}:10:00Z`,
      awsRegion: region, recipientAccountId: account, userIdentity: { type: 'IAMUser', accountId: account },
    });
    await writeFile(path.join(dir, 'trail.json'), JSON.stringify({
      Records: [
        record('r1', '00', '444455556666'),
        record('r2', '01', '9'.repeat(3000)),
        record('r3', '02', '1111|x\u001b[2J'),
        record('r4', '03', '444455556666', 'eu-west-1\u202e'),
        record('r5', '04', '444455556666'),
      ],
    }));

    const analyzed = await cli(['analyze', '--json', '--store', 'analyzed', path.join(dir, 'trail.json')]);
    expect(analyzed.code, analyzed.err).toBe(0);
    expect(JSON.parse(analyzed.out)).toMatchObject({ records: 5, rejected: 0, notStored: 0 });
    const r = await cli(['coverage', '--json', '--store', 'analyzed', '--as-of', AS_OF]);
    expect(r.code, r.err).toBe(0);
    const { coverage } = JSON.parse(r.out) as { coverage: { account: string; region: string; sources: string[] }[] };
    expect(coverage).toEqual([expect.objectContaining({ account: '444455556666', region: 'eu-west-1', sources: ['files'] })]);
  });
});

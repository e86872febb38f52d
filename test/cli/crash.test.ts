import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readinessReport } from '../../functions/adapters/readiness-query';
import { run } from '../../functions/local/cli/main';
import { withStore } from '../../functions/local/cli/store-options';
import { generateSampleFleet } from '../../functions/local/sample-fleet';
import { BIN } from '../support/spawn-cli';

// kill -9 during analyze, then analyze again: the store must be exactly the store of one clean
// run. The built CLI kills itself at a named step of a chosen batch (CUTOVER_WATCH_FAULT,
// functions/adapters/fault-injection.ts), so each crash lands where it is meant to. Every run uses
// the same batch size. The rerun skips the files the crashed run recorded as read and stored, so
// its batches start later than the clean run's: readiness and evidence must be the clean run's
// exactly, and the alerts the same ones; an alert's count and sample events depend on which events
// shared its batch, and may differ.
const END = '2026-11-20T00:00:00Z';
/**
 * Two days of one cluster (payments-prod: the first account's us-east-1, about 180 events, with
 * alerts of four detections) in 30-event batches: seven batches, enough for every crash point.
 * A sample fleet of those two days only: of a 30-day fleet, 28 days were generated (over a second
 * of CPU), or read back from the run's shared copy, only to be left out.
 */
const FROM = '2026-11-18';
const DAYS = 2;
const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const BATCH = 30;

let work: string;
let clean: Awaited<ReturnType<typeof outputs>>;
/**
 * Where `outputs` starts listing alerts. A store files an alert under the month of its window, which
 * starts on the day of one of its events (the logs read start at FROM) or on the day an association
 * was created (irsa-after-association): from the earliest of these, the listing holds every alert a
 * run over these logs can raise. From 2000 it was a query per month, 300-odd of them empty: most of
 * the CPU of reading a store this small.
 */
let alertsSince: Date;

function spawnAnalyze(store: string, fault: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'analyze', '--json', '--batch-size', String(BATCH), '--store', store, 'logs'], {
      cwd: work,
      env: { ...process.env, CI: 'true', CUTOVER_WATCH_FAULT: fault },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

/** A CLI command in this process (the store's lock is free between commands). */
async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l), stdin: new PassThrough(), progressStream: new PassThrough(), interactive: false, cwd: work, now: () => new Date(END) };
  const code = await run(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/**
 * What the store holds, without what depends on when the run happened: the verdicts `readiness`
 * prints (its default settings), every evidence item (what `evidence` and `report` show, for every
 * namespace), and the alerts `alerts` lists. Read through one opening of the store folder, as a
 * command that only reads opens it: each opening starts a dynalite server, which costs more than
 * the reads.
 */
async function outputs(store: string) {
  const io = { out: () => undefined, err: () => undefined, stdin: new PassThrough(), progressStream: new PassThrough(), interactive: false, cwd: work, now: () => new Date(END) };
  return withStore(
    { store },
    io,
    async ({ store: s }) => {
      const snapshot = await s.snapshot({ fromDay: '2000-01-01', namespaceDays: true });
      const evidence = snapshot.items
        .map(({ version: _v, ...item }) => item)
        .sort((a, b) => `${String(a['pk'])} ${String(a['sk'])}`.localeCompare(`${String(b['pk'])} ${String(b['sk'])}`));
      const alerts = (await s.listAlerts(alertsSince, new Date(END))).map(({ raisedAt: _r, ...alert }) => alert as Record<string, unknown>);
      return { readiness: await readinessReport(s, { asOf: new Date(END), soakDays: 14, activeHours: 24 }), evidence, alerts };
    },
    { write: false },
  );
}

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'cw-crash-'));
  const fleet = generateSampleFleet({ seed: 7, end: new Date(END), days: DAYS });
  // S3 keys are AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/…
  const days = fleet.files.filter((f) => f.key.split('/')[1] === ACCOUNT && f.key.split('/')[3] === REGION && f.key.split('/').slice(4, 7).join('-') >= FROM);
  const created = fleet.inventory.flatMap((f) => (f.name.startsWith('describe-pod-identity-association-') ? [String((f.content as { association: { createdAt: string } }).association.createdAt)] : []));
  alertsSince = new Date(Math.min(Date.parse(`${FROM}T00:00:00Z`), ...created.map((t) => Date.parse(t))));
  expect(created.length).toBeGreaterThan(0);
  expect(alertsSince.getTime()).not.toBeNaN();
  for (const f of days) {
    await mkdir(path.dirname(path.join(work, 'logs', f.key)), { recursive: true });
    await writeFile(path.join(work, 'logs', f.key), gzipSync(JSON.stringify({ Records: f.records })));
  }
  await mkdir(path.join(work, 'eks'));
  for (const inv of fleet.inventory) await writeFile(path.join(work, 'eks', inv.name), JSON.stringify(inv.content));
  const inventory = (await readdir(path.join(work, 'eks'))).map((f) => path.join(work, 'eks', f));
  // one import, copied: every store starts from the same inventory
  const imported = await cli(['inventory', 'import', '--store', 'inventory-only', ...inventory]);
  expect(imported.code, imported.err).toBe(0);
  for (const store of ['clean', ...POINTS.map((_, i) => `crash-${i}`)]) await cp(path.join(work, 'inventory-only'), path.join(work, store), { recursive: true });
  const analyzed = await cli(['analyze', '--json', '--batch-size', String(BATCH), '--store', 'clean', path.join(work, 'logs')]);
  expect(analyzed.code, analyzed.err + analyzed.out.slice(0, 300)).toBe(0);
  expect((JSON.parse(analyzed.out) as { inScope: number }).inScope).toBeGreaterThan(3 * BATCH + 50);
  clean = await outputs('clean');
}, 120_000);
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** What names an alert and what it says, without what depends on the batch it was raised in. */
function alertIdentities(alerts: Record<string, unknown>[]): unknown[] {
  return alerts
    .map(({ count: _c, lastEventTime: _l, sampleEventIds: _s, ...alert }) => alert)
    .sort((a, b) => (String(a['id']) < String(b['id']) ? -1 : 1));
}

/** The ids of the alerts appended to a store's alerts.jsonl, in order. */
async function delivered(store: string): Promise<string[]> {
  const text = await readFile(path.join(work, store, 'alerts.jsonl'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { id: string }).id);
}

/**
 * Where the crashed run dies: every step. The run's seven batches are staged (the only writer writes
 * their items and guards once, at the end of this small run, after the stage's one journal): a
 * crash after a claim leaves nothing written (the rerun counts every event); one after a batch's
 * alerts are recorded leaves them owed to alerts.jsonl (the rerun delivers them); one after the journal
 * leaves it committed and nothing else; one in the write-out leaves it with half of the items
 * written, or all, or the guards too (the rerun's recovery finishes it, and its events are replays).
 */
const POINTS = ['after-claim:2', 'after-alerts:1', 'after-journal:1', 'mid-apply:1', 'after-apply:1', 'after-guards:1'];

describe('kill -9 during analyze, then analyze again', () => {
  it('the clean run raised alerts and has evidence to compare', () => {
    expect(clean.alerts.length).toBeGreaterThan(2);
    expect(JSON.stringify(clean.evidence)).toContain('irsa');
  });

  it('the clean run recorded each alert it stored in alerts.jsonl, once', async () => {
    expect([...(await delivered('clean'))].sort()).toEqual(clean.alerts.map((a) => String((a as { id: string }).id)).sort());
  });

  describe('ends with the store of one clean run, whichever step the crash hit', () => {
    let crashed: { run: Awaited<ReturnType<typeof spawnAnalyze>>; rerun: Awaited<ReturnType<typeof cli>>; after: Awaited<ReturnType<typeof outputs>>; delivered: string[] }[];
    beforeAll(async () => {
      // Each point at once, on its own store: the crashed run, then the rerun and what the store
      // then holds. The reruns are in this process, and mostly wait for their store's server (a
      // worker thread): side by side they overlap those waits and the crashed runs' start-ups.
      crashed = await Promise.all(
        POINTS.map(async (point, i) => {
          const killed = await spawnAnalyze(`crash-${i}`, point);
          // a run that was not killed is reported by its test, with its stderr
          if (killed.signal !== 'SIGKILL') return { run: killed, rerun: { code: -1, out: '', err: '' }, after: clean, delivered: [] };
          const rerun = await cli(['analyze', '--json', '--batch-size', String(BATCH), '--store', `crash-${i}`, path.join(work, 'logs')]);
          return { run: killed, rerun, after: await outputs(`crash-${i}`), delivered: await delivered(`crash-${i}`) };
        }),
      );
    }, 120_000);

    it.each(POINTS.map((point, i) => [point, i] as const))('killed at %s', (point, i) => {
      const { run: killed, rerun, after, delivered: ids } = crashed[i]!;
      expect(killed.signal, killed.stderr).toBe('SIGKILL');

      expect(rerun.code, `${point}: ${rerun.err}`).toBe(0);
      expect(JSON.parse(rerun.out), point).toMatchObject({ notStored: 0 });
      // Files are recorded as read only once the stage holding their events is in the table, and every
      // point here comes before the first write-out ends: the rerun reads them all again (replays).
      expect((JSON.parse(rerun.out) as { skippedFiles: number }).skippedFiles, point).toBe(0);
      expect({ readiness: after.readiness, evidence: after.evidence }, point).toEqual({ readiness: clean.readiness, evidence: clean.evidence });
      expect(alertIdentities(after.alerts), point).toEqual(alertIdentities(clean.alerts));
      // alerts.jsonl: every alert the store holds, once. A crash before a batch's alerts were
      // recorded loses none (the rerun records and delivers them); one after they were recorded and
      // before they were delivered (after-alerts) leaves them owed, and the rerun delivers them first.
      const stored = clean.alerts.map((a) => String((a as { id: string }).id)).sort();
      expect(new Set(ids).size, point).toBe(ids.length);
      expect([...ids].sort(), point).toEqual(stored);
      const earlier = (JSON.parse(rerun.out) as { earlierAlerts: { id: string }[] }).earlierAlerts.map((a) => a.id);
      if (point.startsWith('after-alerts')) {
        expect(rerun.err, point).toMatch(/delivered \d+ alerts? an earlier run recorded but was stopped before delivering/);
        expect(earlier.length, point).toBeGreaterThan(0);
        expect(stored, point).toEqual(expect.arrayContaining(earlier));
      } else expect(earlier, point).toEqual([]);
    });
  });
});

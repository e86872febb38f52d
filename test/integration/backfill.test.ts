import { CloudTrailClient, InvalidNextTokenException, LookupEventsCommand, type Event } from '@aws-sdk/client-cloudtrail';
import { mockClient } from 'aws-sdk-client-mock';
import { Command } from 'commander';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BACKFILL_EVENT_NAMES,
  BACKFILL_PK,
  RateLimiter,
  runBackfill,
  type BackfillCheckpoint,
  type BackfillOptions,
  type RegionProgress,
} from '../../functions/adapters/cloudtrail-backfill';
import { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import { readinessReport } from '../../functions/adapters/readiness-query';
import { placeCoverage } from '../../functions/core/coverage';
import type { Alert } from '../../functions/core/alert';
import type { EvidenceItem } from '../../functions/core/evidence';
import { emptyInventory, mergeInventory, parseInventoryDocument, type Inventory } from '../../functions/core/inventory';
import { defaultPolicy } from '../../functions/core/policy';
import { analyzePaths, type AnalyzeSummary } from '../../functions/adapters/ingest-pipeline';
import { execute } from '../../functions/local/cli/main';
import { backfillCommand } from '../../functions/local/cli/commands/backfill';
import { withStore } from '../../functions/local/cli/store-options';
import { startEmbeddedStore, type EmbeddedStore } from '../../functions/local/embedded-store';
import { sampleFleet } from '../support/sample-fleets';
import { countWrites } from '../support/count-writes';
import { recordingIo } from '../support/recording-io';
import { storedEvidence } from '../support/stored-evidence';

// The real DynamoDB API (dynalite on disk) and a fake CloudTrail LookupEvents over the sample fleet.

const END = new Date('2026-11-20T00:00:00Z');
const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1'];
type Rec = Record<string, unknown>;
const byTime = (a: Rec, b: Rec) => String(a['eventTime']).localeCompare(String(b['eventTime'])) || String(a['eventID']).localeCompare(String(b['eventID']));
// Of the sample fleet (seed 42), only these are kept: the whole fleet (~34 MB of records, most of
// them never looked up) would stay in the heap for every collection of the file's run.
const { RECORDS, INVENTORY } = (() => {
  const fleet = sampleFleet({ seed: 42, end: END });
  /** The records LookupEvents can return for the three event names: the sample fleet's, in time order. */
  const records = fleet.files
    .flatMap((f) => f.records)
    .filter((r) => (BACKFILL_EVENT_NAMES as readonly string[]).includes(String(r['eventName'])))
    .sort(byTime);
  const inventory: Inventory = fleet.inventory.reduce((inv, f) => {
    const parsed = parseInventoryDocument(f.content);
    if (!parsed.ok) throw new Error(parsed.reason);
    return mergeInventory(inv, parsed.inventory);
  }, emptyInventory());
  return { RECORDS: records, INVENTORY: inventory };
})();

const cloudtrail = mockClient(CloudTrailClient);
afterEach(() => cloudtrail.reset());
afterAll(() => cloudtrail.restore());

interface Fake {
  calls: { region: string; eventName: string; start: string; end: string; token: string | null }[];
}

/** A LookupEvents event as the API returns it: the record as a JSON string plus summary fields. */
function lookupEvent(r: Rec): Event {
  return {
    EventId: String(r['eventID']),
    EventName: String(r['eventName']),
    ReadOnly: 'true',
    AccessKeyId: String((r['userIdentity'] as Rec | undefined)?.['accessKeyId'] ?? ''),
    EventTime: new Date(String(r['eventTime'])),
    EventSource: String(r['eventSource']),
    Username: 'sample',
    Resources: [],
    CloudTrailEvent: JSON.stringify(r),
  };
}

/**
 * `records` newest first per region and event name, with parsed times and the API's events: built
 * once per list of records and shared by every fake over it (the file's dozen fakes serve the same
 * 5,219 records; each sorted and converted them again). Nothing changes an event it is served:
 * backfill only reads them, and each page is a new array.
 */
const lookupIndexes = new WeakMap<Rec[], Map<string, { t: number; event: Event }[]>>();
function lookupIndex(records: Rec[]): Map<string, { t: number; event: Event }[]> {
  let index = lookupIndexes.get(records);
  if (index === undefined) {
    index = new Map();
    for (const r of [...records].sort((a, b) => byTime(b, a))) {
      const key = `${String(r['awsRegion'])}|${String(r['eventName'])}`;
      if (!index.has(key)) index.set(key, []);
      index.get(key)!.push({ t: Date.parse(String(r['eventTime'])), event: lookupEvent(r) });
    }
    lookupIndexes.set(records, index);
  }
  return index;
}

/**
 * LookupEvents over `records`: the client's region, one EventName, StartTime/EndTime inclusive,
 * newest first, MaxResults a page, a NextToken valid only with the same parameters.
 * `before(call)` may throw or stop the run before a call is answered.
 */
function serve(records: Rec[], before?: (n: number) => void): Fake {
  const fake: Fake = { calls: [] };
  const index = lookupIndex(records);
  cloudtrail.on(LookupEventsCommand).callsFake(async (input: { LookupAttributes: { AttributeKey: string; AttributeValue: string }[]; StartTime: Date; EndTime: Date; MaxResults: number; NextToken?: string }, getClient) => {
    const region = await (getClient() as CloudTrailClient).config.region();
    expect(input.LookupAttributes).toHaveLength(1);
    expect(input.LookupAttributes[0]!.AttributeKey).toBe('EventName');
    const eventName = input.LookupAttributes[0]!.AttributeValue;
    const params = `${region}|${eventName}|${input.StartTime.toISOString()}|${input.EndTime.toISOString()}`;
    fake.calls.push({ region, eventName, start: input.StartTime.toISOString(), end: input.EndTime.toISOString(), token: input.NextToken ?? null });
    before?.(fake.calls.length);
    let offset = 0;
    if (input.NextToken) {
      const [p, o] = input.NextToken.split('#');
      if (p !== params) throw new InvalidNextTokenException({ message: 'Invalid NextToken', $metadata: { httpStatusCode: 400 } });
      offset = Number(o);
    }
    const from = input.StartTime.getTime();
    const to = input.EndTime.getTime();
    const matching = (index.get(`${region}|${eventName}`) ?? []).filter((e) => e.t >= from && e.t <= to);
    const events = matching.slice(offset, offset + input.MaxResults);
    const next = offset + input.MaxResults < matching.length ? `${params}#${offset + input.MaxResults}` : undefined;
    return { Events: events.map((e) => e.event), NextToken: next };
  });
  return fake;
}

let dir: string;
let embedded: EmbeddedStore;
let tables = 0;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cw-backfill-'));
  embedded = await startEmbeddedStore(path.join(dir, 'shared'));
});
afterAll(async () => {
  await embedded.close();
  await rm(dir, { recursive: true, force: true });
});

async function freshStore(): Promise<DynamoEvidenceStore> {
  tables += 1;
  const store = new DynamoEvidenceStore({ client: embedded.client, tableName: `backfill-${tables}`, singleWriter: true });
  await store.ensureTable();
  await store.saveInventory(INVENTORY);
  return store;
}


const alertKeys = (alerts: readonly Alert[]) => alerts.map((a) => `${a.detection} ${a.key} ${a.window}`).sort();
const fast = () => new RateLimiter({ perSecond: 1e9, burst: 1e9 });

async function backfill(store: DynamoEvidenceStore, over: Partial<BackfillOptions> = {}) {
  const alerts: Alert[] = [];
  const progress: RegionProgress[] = [];
  const result = await runBackfill({
    store,
    clientFor: (region) => new CloudTrailClient({ region }),
    limiterFor: fast,
    regions: REGIONS,
    days: 30,
    now: () => END,
    policy: defaultPolicy(),
    onAlerts: async (a) => void alerts.push(...a),
    onProgress: (p) => progress.push(p),
    ...over,
  });
  return { ...result, alerts, progress };
}

/** analyze over one log file holding the same records, into a fresh store. */
async function analyzed(): Promise<{ store: DynamoEvidenceStore; summary: AnalyzeSummary; alerts: Alert[] }> {
  const store = await freshStore();
  const file = path.join(dir, `same-records-${tables}.json`);
  await writeFile(file, JSON.stringify({ Records: RECORDS }));
  const alerts: Alert[] = [];
  const summary = await analyzePaths({ paths: [file], store, policy: defaultPolicy(), now: () => END, onAlerts: async (a) => void alerts.push(...a) });
  return { store, summary, alerts };
}

/**
 * analyze's store and one full backfill's, each with what it holds right after its run (`items`):
 * what the tests that compare a store with them, or run backfill on them again, compare with.
 */
let reference: Awaited<ReturnType<typeof analyzed>> & { items: EvidenceItem[] };
let full: { store: DynamoEvidenceStore; run: Awaited<ReturnType<typeof backfill>>; items: EvidenceItem[] };
let fullWrites = 0;

describe('backfill from LookupEvents', () => {
  beforeAll(async () => {
    const analyze = await analyzed();
    reference = { ...analyze, items: await storedEvidence(analyze.store) };
    const store = await freshStore();
    serve(RECORDS);
    const writes = countWrites(embedded.client);
    let run: Awaited<ReturnType<typeof backfill>>;
    try {
      run = await backfill(store);
      fullWrites = writes.total();
    } finally {
      writes.remove();
    }
    cloudtrail.reset();
    full = { store, run, items: await storedEvidence(store) };
  }, 120_000);

  it('writes at most 20 requests per 1,000 in-scope events: slices are stored together, not a batch each', () => {
    expect(full.run.summary.inScope).toBeGreaterThan(4000);
    expect((fullWrites * 1000) / full.run.summary.inScope).toBeLessThanOrEqual(20);
  });

  it('stores the same evidence and raises the same alerts as analyze over the same records', async () => {
    const s = full.run.summary;
    expect(RECORDS).toHaveLength(5219);
    expect(s.records).toBe(RECORDS.length);
    expect(s.records).toBe(reference.summary.records);
    expect(s.inScope).toBe(reference.summary.inScope);
    expect(s.byKind).toEqual(reference.summary.byKind);
    expect(s.byOutcome).toEqual(reference.summary.byOutcome);
    expect(s.skipped).toEqual(reference.summary.skipped);
    expect(s.rejected).toBe(0);
    expect(s.replayed).toBe(0);
    expect(s.notStored).toBe(0);
    expect(full.items).toEqual(reference.items);
    // In time order, as analyze: no false irsa-regression, the planted first-seen is found.
    expect(alertKeys(full.run.alerts)).toEqual(alertKeys(reference.alerts));
    expect(full.run.alerts.filter((a) => a.detection === 'irsa-regression').map((a) => a.serviceAccount)).toEqual(['risk-batch']);
    expect(full.run.alerts.some((a) => a.detection === 'unexpected-namespace' && a.window === 'first-seen' && a.namespace === 'fraud-detection')).toBe(true);
    expect(full.run.stopped).toBe(false);
    expect(full.run.regions.map((r) => [r.region, r.status, r.through, r.fraction, r.records])).toEqual([
      ['us-east-1', 'done', '2026-11-20T00:00:00Z', 1, 2377],
      ['us-west-2', 'done', '2026-11-20T00:00:00Z', 1, 1687],
      ['eu-west-1', 'done', '2026-11-20T00:00:00Z', 1, 1155],
    ]);
  });

  it('records each stored slice as coverage of its account and region, up to the delivery lag before now', async () => {
    const places = placeCoverage(await full.store.coverageDays());
    const lag = END.getTime() - 3_600_000;

    // The fake serves both sample accounts' us-east-1 records to one credential; LookupEvents would not.
    expect([...places.keys()].sort()).toEqual(['111122223333/us-east-1', '111122223333/us-west-2', '444455556666/eu-west-1', '444455556666/us-east-1']);
    for (const place of places.values()) {
      expect(place.sources).toEqual(['backfill']);
      expect(place.intervals).toEqual([[END.getTime() - 30 * 86_400_000, lag]]);
    }
  });

  it('leaves SOAKING and READY unproven (UNKNOWN) after a backfill of fewer days than the soak window', async () => {
    const store = await freshStore();
    serve(RECORDS);
    await backfill(store, { days: 7 });
    cloudtrail.reset();
    const short = await readinessReport(store, { asOf: END, soakDays: 14, activeHours: 24 });
    const complete = await readinessReport(full.store, { asOf: END, soakDays: 14, activeHours: 24 });

    const safe = complete.namespaces.filter((n) => n.verdict === 'READY' || n.verdict === 'SOAKING');
    expect(safe.length).toBeGreaterThan(0);
    for (const n of safe) {
      const now = short.namespaces.find((m) => m.cluster === n.cluster && m.namespace === n.namespace);
      // a namespace whose only evidence is older than the backfill is not seen at all
      if (now) expect(now.verdict, `${n.cluster}/${n.namespace}`).toBe('UNKNOWN');
    }
    expect(short.namespaces.filter((n) => n.verdict === 'UNKNOWN').every((n) => n.unknownBecause.some((b) => b.includes('a hole in the CloudTrail read')))).toBe(true);
  });

  it('checkpoints every region and event name as done for the window', async () => {
    const checkpoints = (await full.store.queryMeta(BACKFILL_PK)) as unknown as BackfillCheckpoint[];
    expect(checkpoints.map((c) => c.sk).sort()).toEqual(
      REGIONS.flatMap((r) => BACKFILL_EVENT_NAMES.map((n) => `${r}#${n}`)).sort(),
    );
    for (const c of checkpoints) {
      expect(c).toMatchObject({ pk: 'BACKFILL', days: 30, start: '2026-10-21T00:00:00Z', end: '2026-11-20T00:00:00Z', through: '2026-11-20T00:00:00Z', done: true });
      expect(c.records).toBe(RECORDS.filter((r) => r['awsRegion'] === c.region && r['eventName'] === c.eventName).length);
    }
    const east = checkpoints.find((c) => c.sk === 'us-east-1#AssumeRoleWithWebIdentity')!;
    expect(east.records).toBe(1177);
    expect(east.pages).toBeGreaterThanOrEqual(Math.ceil(1177 / 50));
  });

  it('reads each event once: slices meet without overlap, events at a boundary are read by the later slice', async () => {
    // Every record once, though slices share their boundary instants: nothing counted as a replay.
    expect(full.run.summary.replayed).toBe(0);
    expect(full.run.summary.records).toBe(RECORDS.length);
  });

  it('a second run with the same --days skips the finished window and adds nothing', async () => {
    const fake = serve(RECORDS);

    const again = await backfill(full.store);

    expect(fake.calls).toEqual([]);
    expect(again.summary).toMatchObject({ files: 0, records: 0, inScope: 0, itemsWritten: 0 });
    expect(again.alerts).toEqual([]);
    expect(again.regions.map((r) => [r.region, r.status, r.note])).toEqual(
      REGIONS.map((r) => [r, 'skipped', 'already backfilled 30 days up to 2026-11-20T00:00 (--restart to look them up again)']),
    );
    expect(await storedEvidence(full.store)).toEqual(full.items);
  });

  it('--restart looks everything up again, and every event is a replay: nothing changes', async () => {
    serve(RECORDS);

    const again = await backfill(full.store, { restart: true });

    expect(again.summary.records).toBe(RECORDS.length);
    expect(again.summary.replayed).toBe(full.run.summary.inScope);
    expect(again.summary.itemsWritten).toBe(0);
    expect(again.alerts).toEqual([]);
    expect(await storedEvidence(full.store)).toEqual(full.items);
  });

  it('is idempotent with live ingestion: records analyze already stored are replays', async () => {
    // the reference analyze's store: what it holds is compared with above, and must not change
    const { store, summary } = reference;
    serve(RECORDS);

    const run = await backfill(store);

    expect(run.summary.inScope).toBe(summary.inScope);
    expect(run.summary.replayed).toBe(summary.inScope);
    expect(run.summary.itemsWritten).toBe(0);
    expect(run.alerts).toEqual([]);
    expect(await storedEvidence(store)).toEqual(reference.items);
  });

  it('stopped halfway (Ctrl-C) and resumed, ends exactly where one full run ends, with no double count', async () => {
    const store = await freshStore();
    const stop = new AbortController();
    serve(RECORDS);
    let stored = 0;

    const first = await backfill(store, {
      // every slice stored as it comes (and checkpointed), as in a run slower than `storeEveryMs`
      storeEveryMs: 0,
      signal: stop.signal,
      onProgress: (p) => {
        if (p.slices > 0 && ++stored === 4) stop.abort();
      },
    });

    expect(first.stopped).toBe(true);
    expect(first.summary.inScope).toBeGreaterThan(0);
    expect(first.summary.inScope).toBeLessThan(full.run.summary.inScope);
    expect(first.regions.some((r) => r.status === 'stopped')).toBe(true);
    const checkpoints = (await store.queryMeta(BACKFILL_PK)) as unknown as BackfillCheckpoint[];
    expect(checkpoints.some((c) => !c.done)).toBe(true);

    serve(RECORDS);
    const second = await backfill(store);

    expect(second.stopped).toBe(false);
    expect(second.regions.filter((r) => r.resumed).length).toBeGreaterThan(0);
    expect(second.summary.replayed).toBe(0);
    expect(first.summary.inScope + second.summary.inScope).toBe(full.run.summary.inScope);
    expect(first.summary.records + second.summary.records).toBe(RECORDS.length);
    expect(await storedEvidence(store)).toEqual(full.items);
    expect(alertKeys([...first.alerts, ...second.alerts])).toEqual(alertKeys(full.run.alerts));
  });

  it('a run that fails mid-way resumes from its last checkpoint to the same result', async () => {
    const store = await freshStore();
    serve(RECORDS, (n) => {
      if (n === 25) throw Object.assign(new Error('We encountered an internal error. Please try again.'), { name: 'InternalFailure', $metadata: { httpStatusCode: 500 } });
    });

    await expect(backfill(store, { storeEveryMs: 0 })).rejects.toThrow('We encountered an internal error');
    const partial = (await store.queryMeta(BACKFILL_PK)) as unknown as BackfillCheckpoint[];
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.some((c) => !c.done)).toBe(true);

    const fake = serve(RECORDS);
    const second = await backfill(store);

    expect(second.regions.every((r) => r.status === 'done')).toBe(true);
    // Resumed: the windows checkpointed before the failure are not looked up again.
    const east = partial.filter((c) => c.region === 'us-east-1' && c.through > c.start);
    expect(east.length).toBeGreaterThan(0);
    for (const c of east) {
      expect(fake.calls.some((call) => call.region === 'us-east-1' && call.eventName === c.eventName && Date.parse(call.start) < Date.parse(c.through))).toBe(false);
    }
    expect(await storedEvidence(store)).toEqual(full.items);
  });

  it('fetches a dense slice again at half the span, so a slice stays small enough to sort in memory', async () => {
    const store = await freshStore();
    const fake = serve(RECORDS);

    // a week of one region: one first slice, too dense, halved until each holds 4 pages or fewer
    const run = await backfill(store, { regions: ['us-east-1'], days: 7, maxSlicePages: 4, initialSliceMs: 7 * 86_400_000 });

    const weekStart = END.getTime() - 7 * 86_400_000;
    expect(run.summary.records).toBe(RECORDS.filter((r) => r['awsRegion'] === 'us-east-1' && Date.parse(String(r['eventTime'])) >= weekStart).length);
    expect(run.summary.replayed).toBe(0);
    const spans = new Set(fake.calls.map((c) => Date.parse(c.end) - Date.parse(c.start)));
    expect(Math.min(...spans)).toBeLessThan(7 * 86_400_000);
    // No slice of more than 4 pages was stored.
    const checkpoints = (await store.queryMeta(BACKFILL_PK)) as unknown as BackfillCheckpoint[];
    expect(checkpoints.every((c) => c.done && c.sliceMs < 7 * 86_400_000)).toBe(true);
  });

  it('a new --days starts a new window and says so when it discards an unfinished one', async () => {
    const store = await freshStore();
    const stop = new AbortController();
    serve(RECORDS);
    await backfill(store, { regions: ['eu-west-1'], storeEveryMs: 0, signal: stop.signal, onProgress: (p) => p.slices === 1 && stop.abort() });
    serve(RECORDS);

    const run = await backfill(store, { regions: ['eu-west-1'], days: 7 });

    expect(run.regions[0]).toMatchObject({
      status: 'done',
      resumed: false,
      start: '2026-11-13T00:00:00Z',
      note: 'discarded an unfinished 30-day backfill (2026-10-21T00:00..2026-11-20T00:00) to start a 7-day one',
    });
    const checkpoints = (await store.queryMeta(BACKFILL_PK)) as unknown as BackfillCheckpoint[];
    expect(checkpoints.every((c) => c.days === 7 && c.done)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// The command, in process, the way main.ts runs it.

async function cli(argv: string[], deps: { interrupt?: (stop: () => void) => void; env?: NodeJS.ProcessEnv } = {}) {
  const { io, out, err } = recordingIo(dir, () => END);
  let code = 0;
  const program = new Command('cutover-watch');
  backfillCommand(program, io, (c) => (code = Math.max(code, c)), {
    clientFor: (region) => new CloudTrailClient({ region }),
    limiterFor: fast,
    env: deps.env ?? { AWS_REGION: 'eu-west-1' },
    onInterrupt: (stop) => {
      deps.interrupt?.(stop);
      return () => undefined;
    },
  });
  code = await execute(program, argv, io, () => code);
  return { code, out: out.join('\n'), err: err.join('\n'), io };
}

describe('cutover-watch backfill', () => {
  it.each(['400', '0', '7.5', 'ten'])('refuses --days %s with exit 2 and one line, before any call', async (days) => {
    const run = await cli(['backfill', '--days', days, '--store', 'never']);
    expect(run.code).toBe(2);
    expect(run.err).toBe('cutover-watch: CloudTrail LookupEvents keeps 90 days: pass --days 1 to 90');
    expect(cloudtrail.calls()).toHaveLength(0);
  });

  it('refuses a malformed region with exit 2', async () => {
    const run = await cli(['backfill', '--days', '7', '--region', 'useast1', '--store', 'never']);
    expect(run.code).toBe(2);
    expect(run.err).toBe('cutover-watch: "useast1" is not an AWS region name such as us-east-1, eu-west-2 or us-gov-west-1');
  });

  it.each([
    [Object.assign(new Error('The security token included in the request is expired'), { name: 'ExpiredTokenException' }), 'cutover-watch: the AWS credentials have expired (ExpiredTokenException): refresh them (aws sso login, or new session credentials) and run again'],
    [Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }), 'cutover-watch: no AWS credentials found (Could not load credentials from any providers): set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and run again'],
    [Object.assign(new Error('getaddrinfo ENOTFOUND cloudtrail.eu-west-1.amazonaws.com'), { code: 'ENOTFOUND' }), 'cutover-watch: cannot reach cloudtrail.eu-west-1.amazonaws.com for region eu-west-1: check the region name (aws ec2 describe-regions) and the network'],
    [Object.assign(new Error('User is not authorized to perform: cloudtrail:LookupEvents'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }), 'cutover-watch: eu-west-1: missing permission cloudtrail:LookupEvents (AccessDeniedException: User is not authorized to perform: cloudtrail:LookupEvents)'],
  ])('stops with exit 2, one line and nothing written on %s', async (error, line) => {
    cloudtrail.on(LookupEventsCommand).rejects(error);

    const run = await cli(['backfill', '--days', '7', '--store', 'no-credentials']);

    expect(run.code).toBe(2);
    expect(run.err).toBe(line);
    expect(run.out).toBe('');
    await expect(access(path.join(dir, 'no-credentials'))).rejects.toThrow(/ENOENT/);
  });

  // two backfills of a week and the analyze they are compared with: the command's own behaviour
  // (summary, alerts.jsonl, Ctrl-C, resume) needs no more; 30 days are the tests above
  it('prints a summary, writes alerts.jsonl, and on Ctrl-C stops after a checkpoint with exit 130 and the command to resume', { timeout: 60_000 }, async () => {
    const store = 'cli-store';
    let stop: (() => void) | undefined;
    serve(RECORDS, (n) => {
      if (n === 12) stop?.();
    });

    const interrupted = await cli(['backfill', '--days', '7', '--region', 'us-east-1', '--region', 'us-west-2', '--store', store, '--json'], {
      interrupt: (s) => (stop = s),
    });

    expect(interrupted.code).toBe(130);
    expect(interrupted.err).toContain('stopping once the slices read so far are stored and checkpointed (Ctrl-C again to quit now)');
    expect(interrupted.err).toContain('stopped: every stored slice is checkpointed. Resume with:\n  cutover-watch backfill --days 7 --region us-east-1 --region us-west-2 --store cli-store');
    const part = JSON.parse(interrupted.out) as Omit<AnalyzeSummary, 'files'> & { stopped: boolean; regions: RegionProgress[]; pages: number; slices: number; alerts: Alert[] };
    expect(part.slices).toBeGreaterThan(0);
    // The 12th call (2 of them the access checks) asked to stop: what it stored is a part of the window.
    expect(part.pages).toBeGreaterThan(0);
    expect(part.records).toBeGreaterThan(0);
    const weekStart = END.getTime() - 7 * 86_400_000;
    const wanted = RECORDS.filter((r) => r['awsRegion'] !== 'eu-west-1' && Date.parse(String(r['eventTime'])) >= weekStart);
    expect(part.records).toBeLessThan(wanted.length);
    expect(part.regions.map((r) => r.status)).toContain('stopped');
    expect(part.stopped).toBe(true);

    serve(RECORDS);
    const resumed = await cli(['backfill', '--days', '7', '--region', 'us-east-1', '--region', 'us-west-2', '--store', store]);

    expect(resumed.code).toBe(0);
    expect(resumed.err).toBe('');
    expect(resumed.out).toMatch(/^backfilled 7 days of CloudTrail event history from 2 regions: [\d,]+ LookupEvents pages, [\d,]+ records in [\d.]+ s into cli-store/);
    expect(resumed.out).toMatch(/\n  us-east-1  done \(resumed\)  2026-11-13 00:00 \.\. 2026-11-20 00:00, stored to 2026-11-20 00:00: /);
    expect(resumed.out).toMatch(/\n  in scope [\d,]+: pod-identity [\d,]+, pod-identity-fetch [\d,]+, irsa [\d,]+, node-role 0\n/);
    expect(resumed.out).toMatch(/already counted \(replays\) 0; new alerts \d+/);
    const records = Number(/, ([\d,]+) records in/.exec(resumed.out)![1]!.replace(/,/g, ''));
    expect(part.records + records).toBe(wanted.length);

    // Alerts: printed, in alerts.jsonl, and as many as the two runs raised.
    const log = (await readFile(path.join(dir, store, 'alerts.jsonl'), 'utf8')).trim().split('\n');
    const shown = Number(/new alerts (\d+)/.exec(resumed.out)![1]);
    expect(log).toHaveLength(part.alerts.length + shown);
    expect(log.length).toBeGreaterThan(3);
    if (shown > 0) expect(resumed.out).toMatch(/\n\d+ new alerts?:\n {2}(LOW|MEDIUM|HIGH|CRITICAL)/);

    // A third run finds the window done.
    const third = await cli(['backfill', '--days', '7', '--region', 'us-east-1', '--region', 'us-west-2', '--store', store, '--json']);
    expect(third.code).toBe(0);
    expect(JSON.parse(third.out)).toMatchObject({ pages: 0, slices: 0, records: 0, inScope: 0, alerts: [], stopped: false });

    // What the two runs stored is what analyze of the same records stores (no inventory imported in either).
    const stored = await withStore({ store }, third.io, async ({ store: s }) => storedEvidence(s));
    const ref = new DynamoEvidenceStore({ client: embedded.client, tableName: 'cli-reference', singleWriter: true });
    await ref.ensureTable();
    const file = path.join(dir, 'cli-reference.json');
    await writeFile(file, JSON.stringify({ Records: wanted }));
    await analyzePaths({ paths: [file], store: ref, policy: defaultPolicy(), now: () => END });
    expect(stored).toEqual(await storedEvidence(ref));
    expect(stored.filter((i) => i.type === 'sa').length).toBeGreaterThan(10);
  });
});

import { runInProcess, spawnCli, type Run } from '../support/spawn-cli';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import { startEmbeddedStore } from '../../functions/local/embedded-store';
import type { SampleFleet } from '../../functions/local/sample-fleet';
import { sampleFleet } from '../support/sample-fleets';
import { copyDemoStore, DEMO_DIR, DEMO_END, demoInto, sharedDemoOutput, type DemoRun } from '../support/demo';

// The CLI in a temporary working directory, in this process (`run(argv, io)`, what bin/ runs):
// a spawned node start, bundle load and SDK load cost about a second of CPU per command. Spawned,
// the way a person runs it, only where the process is what is checked: the demo (shared, see
// test/support/demo.ts), the gate's exit code with stdout and stderr apart, and another user.
const END = DEMO_END;

/** A command in this process, in `work`, with what it would have printed on stdout and stderr. */
const inProcess = (args: string[], options: { input?: string; env?: Record<string, string | undefined> } = {}): Promise<Run> =>
  runInProcess(args, { cwd: work, ...options });

let work: string;
let demo: DemoRun;
const demoStore = DEMO_DIR;
/** The demo's logs and late files, only read here: the shared run's own, not a copy of their 2,800 files. */
const demoInput = (part: 'logs' | 'late') => path.join(sharedDemoOutput(), part);
interface Readiness {
  asOf: string;
  soakDays: number;
  namespaces: Record<string, unknown>[];
  clusters: Record<string, unknown>[];
}
const readinessOf = async (store: string) => JSON.parse((await inProcess(['readiness', '--json', '--store', store, '--as-of', END])).stdout) as Readiness;
/**
 * What the demo's sample fleet (seed 42, ending where the demo ends) was built to be and to trigger.
 * Read once for the two tests that check it: each copy of the run's shared fleet is ~0.3 s of CPU
 * (test/support/sample-fleets.ts), and only these two small lists are kept, not the fleet's records.
 */
let planted: Pick<SampleFleet, 'expected' | 'expectedDetections'> | undefined;
function fleetPlan(): Pick<SampleFleet, 'expected' | 'expectedDetections'> {
  if (planted === undefined) {
    const { expected, expectedDetections } = sampleFleet({ seed: 42, end: new Date(END) });
    planted = { expected, expectedDetections };
  }
  return planted;
}
/** The demo store's readiness as of its end: no test writes to that store, so it is read once. */
let demoReadiness: Promise<Readiness> | undefined;
const readiness = (store: string) => (store === demoStore ? (demoReadiness ??= readinessOf(store)) : readinessOf(store));

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'cw-cli-'));
  demo = await demoInto(work, { without: ['logs', 'late'] });
}, 120_000);
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('cutover-watch demo (npm start)', () => {
  it('analyzes the sample fleet and prints verdicts of all four kinds', () => {
    expect(demo.code).toBe(0);
    expect(demo.stderr).toBe('');
    for (const verdict of ['NOT_STARTED', 'IN_PROGRESS', 'SOAKING', 'READY']) expect(demo.stdout).toContain(verdict);
    expect(demo.stdout).toMatch(/22 namespaces: 0 UNKNOWN, \d+ NOT_STARTED, \d+ IN_PROGRESS, 1 SOAKING, \d+ READY/);
    expect(demo.stdout).toMatch(/analyzed [\d,]+ files, [\d,]+ records in [\d.]+ s \([\d,]+ records\/s\)/);
    expect(demo.stdout).toContain('Pod Identity credential fetches failed (AccessDenied)');
  });

  it('writes the HTML straggler report and says where', async () => {
    const where = /straggler report \(charts; open it in a browser\): (\S+)/.exec(demo.stdout)?.[1];
    expect(where).toBe(path.join(demoStore, 'reports', 'cutover-watch-report-2026-11-20.html'));
    expect((await readFile(path.join(work, where!), 'utf8')).startsWith('<!doctype html>')).toBe(true);
  });

  it("names the sample fleet's three preflight blockers, each with its fix, and the plan command", () => {
    const section = demo.stdout.slice(demo.stdout.indexOf('before the switch (preflight, 3 blocking'));
    expect(section).toMatch(/\n  legacy-batch: legacy-batch has no eks-pod-identity-agent add-on.*\n    fix: install the eks-pod-identity-agent add-on/);
    expect(section).toMatch(/\n  legacy-batch billing-export\/billing-exporter: .*AWS SDK for Go v1 1\.44\.122, too old.*\n    fix: upgrade the SDK first/);
    expect(section).toMatch(/\n  payments-prod reporting\/report-builder: .*not sts:TagSession.*\n    fix: add sts:TagSession/);
    expect(demo.stdout).toMatch(/cutover-watch plan --store \S+ --as-of \S+ -c legacy-batch/);
  });

  it('prints an alert of each detection with its likely cause and next step', () => {
    for (const detection of ['unexpected-namespace', 'access-denied-spike', 'node-role-fallthrough', 'irsa-regression', 'irsa-after-association']) {
      expect(demo.stdout).toMatch(new RegExp(`\\n  (LOW|MEDIUM|HIGH|CRITICAL)  ${detection}  .*\\n    likely cause: .+\\n    next step:    .+`));
    }
  });

  it('raises the alerts the sample fleet was built to trigger', async () => {
    const fleet = fleetPlan();
    const alerts = JSON.parse((await inProcess(['alerts', '--json', '--store', demoStore, '--since', '2026-01-01'])).stdout).alerts as Record<string, string | null>[];

    for (const want of fleet.expectedDetections) {
      const match = alerts.find(
        (a) => a['detection'] === want.detection && a['cluster'] === want.cluster && (want.namespace === null || a['namespace'] === want.namespace) && (want.serviceAccount === null || a['serviceAccount'] === want.serviceAccount),
      );
      expect(match, `${want.detection} ${want.cluster}/${want.namespace}/${want.serviceAccount}: ${want.why}`).toBeDefined();
    }
    const planted = (a: Record<string, string | null>) =>
      fleet.expectedDetections.some((w) => w.detection === a['detection'] && w.cluster === a['cluster'] && (w.namespace === null || w.namespace === a['namespace']));
    expect(alerts.filter((a) => !planted(a))).toEqual([]);
  });

  it('gives every namespace the verdict the sample fleet was built to have', async () => {
    const fleet = fleetPlan();

    const report = await readiness(demoStore);

    const got = report.namespaces.map((n) => `${n['cluster']}/${n['namespace']}=${n['verdict']}`).sort();
    const want = fleet.expected.map((e) => `${e.cluster}/${e.namespace}=${e.verdict}`).sort();
    expect(got).toEqual(want);
  });
});

describe('readiness --json', () => {
  it('prints the documented shape with ISO times and nulls where unknown', async () => {
    const report = await readiness(demoStore);

    expect(report).toMatchObject({ asOf: END, soakDays: 14 });
    const checkout = report.namespaces.find((n) => n['namespace'] === 'checkout')!;
    expect(Object.keys(checkout)).toEqual(
      expect.arrayContaining(['cluster', 'oidcIssuer', 'namespace', 'verdict', 'lastIrsa', 'lastPodIdentity', 'soakDaysLeft', 'serviceAccounts', 'roles', 'reasons']),
    );
    expect(checkout).toMatchObject({ cluster: 'payments-prod', verdict: 'SOAKING', soakDaysLeft: 4 });
    expect(checkout['lastIrsa']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const legacy = report.namespaces.find((n) => n['cluster'] === 'legacy-batch')!;
    expect(legacy['lastPodIdentity']).toBeNull();
    const clusters = Object.fromEntries(report.clusters.map((c) => [c['cluster'], c]));
    expect(clusters['search-prod']).toMatchObject({ verdict: 'READY', blockers: [] });
    expect(clusters['payments-prod']!['verdict']).not.toBe('READY');
    expect((clusters['payments-prod']!['warnings'] as { type: string }[]).map((w) => w.type).sort()).toEqual([
      'node-role-calls',
      'pod-identity-fetch-denied',
    ]);
  });
});

/** An IRSA assume of shop/cart, as a trail's log file holds it. */
const irsaAssume = (eventID: string) => ({
  eventVersion: '1.08', eventSource: 'sts.amazonaws.com', eventName: 'AssumeRoleWithWebIdentity', eventTime: '2026-11-19T10:00:00Z',
  eventID, awsRegion: 'us-east-1', recipientAccountId: '111122223333',
  userIdentity: { type: 'WebIdentityUser', userName: 'system:serviceaccount:shop:cart', identityProvider: 'arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/AAAA1111BBBB2222CCCC3333DDDD4444' },
  requestParameters: { roleArn: 'arn:aws:iam::111122223333:role/cart' },
});

describe('analyze', () => {
  // reads the fleet's 30 days again (about 5 s alone, three times that on a loaded machine)
  it('is idempotent: analyzing the same logs twice changes no verdict, time or count', { timeout: 60_000 }, async () => {
    // The demo analyzed its logs once (then the late files): a copy of its store reads again the
    // logs of payments-prod's account and region (a quarter of the fleet's files), where every
    // detection of the sample fleet fired (checked below).
    await copyDemoStore(path.join(work, demoStore), path.join(work, 'replay'));
    const logs = path.join(demoInput('logs'), 'AWSLogs', '111122223333', 'CloudTrail', 'us-east-1');
    const before = await readiness('replay');
    const evidenceBefore = (await inProcess(['evidence', '--json', '--store', 'replay', '--cluster', 'payments-prod', '--namespace', 'orders'])).stdout;
    const alertsBefore = JSON.parse((await inProcess(['alerts', '--json', '--store', 'replay', '--since', '2026-01-01'])).stdout).alerts as { detection: string; cluster: string }[];

    const second = await inProcess(['analyze', '--json', '--store', 'replay', logs]);

    expect(second.code, second.stderr).toBe(0);
    const s2 = JSON.parse(second.stdout);
    expect(s2.files).toBe(720);
    expect(s2.inScope).toBeGreaterThan(1000);
    // every record in scope was there already
    expect(s2.replayed).toBe(s2.inScope);
    expect(s2.itemsWritten).toBe(0);
    // counted by SDK middleware on the store's client: a replay reads, and writes only the files it
    // read as read (the demo's own run did not record them), at most 25 a request and one per store
    expect(s2.storeRequests.writes).toBeGreaterThan(0);
    expect(s2.storeRequests.writes).toBeLessThanOrEqual(Math.ceil(s2.files / 25) + Math.ceil(s2.inScope / 20_000) + 1);
    expect(s2.storeRequests.reads).toBeGreaterThan(0);
    expect(await readiness('replay')).toEqual(before);
    // The next run reads no record at all: every file is skipped, and nothing is written.
    const third = JSON.parse((await inProcess(['analyze', '--json', '--store', 'replay', logs])).stdout);
    expect(third).toMatchObject({ files: 0, records: 0, inScope: 0, replayed: 0, skippedFiles: s2.files, storeRequests: { writes: 0 } });
    const evidenceAfter = (await inProcess(['evidence', '--json', '--store', 'replay', '--cluster', 'payments-prod', '--namespace', 'orders'])).stdout;
    expect(evidenceAfter).toBe(evidenceBefore);
    expect(JSON.parse(evidenceAfter).days.length).toBeGreaterThan(20);
    // and raises no alert twice: of every detection, payments-prod's records raised one the first time
    expect([...new Set(alertsBefore.filter((a) => a.cluster === 'payments-prod').map((a) => a.detection))].sort()).toEqual([
      'access-denied-spike',
      'irsa-after-association',
      'irsa-regression',
      'node-role-fallthrough',
      'unexpected-namespace',
    ]);
    expect(s2.alerts).toEqual([]);
    const listed = JSON.parse((await inProcess(['alerts', '--json', '--store', 'replay', '--since', '2026-01-01'])).stdout).alerts as unknown[];
    expect(listed).toHaveLength(alertsBefore.length);
    const log = (await readFile(path.join(work, 'replay', 'alerts.jsonl'), 'utf8')).trim().split('\n');
    expect(log).toHaveLength(alertsBefore.length);
  });

  it('reports each bad file and record by name and index, keeps the good records, and prints no stack trace', async () => {
    const bad = path.join(work, 'bad');
    await mkdir(bad, { recursive: true });
    const good = irsaAssume('good-1');
    const { eventName: _dropped, ...noName } = { ...good, eventID: 'bad-1' };
    await writeFile(path.join(bad, 'mixed.json'), JSON.stringify({ Records: [good, noName, { ...good, eventID: 'bad-2', eventTime: 42 }] }));
    await writeFile(path.join(bad, 'broken.json'), '{"Records": [ {"eventName": ');
    await writeFile(path.join(bad, 'cut.json.gz'), gzipSync(JSON.stringify({ Records: [good] })).subarray(0, 20));

    const run = await inProcess(['analyze', '--store', 'bad-store', 'bad']);

    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/bad\/mixed\.json: record 2: eventName is missing/);
    expect(run.stderr).toMatch(/bad\/mixed\.json: record 3: eventTime should be a string, got number/);
    expect(run.stderr).toMatch(/bad\/broken\.json: not JSON/);
    expect(run.stderr).toMatch(/bad\/cut\.json\.gz: truncated or corrupt gzip/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stdout).toMatch(/in scope 1: .*irsa 1/);
    expect(run.stdout).toMatch(/rejected 4;/);
    const rejects = (await readFile(path.join(work, 'bad-store', 'rejects.jsonl'), 'utf8')).trim().split('\n');
    expect(rejects).toHaveLength(4);
    expect(JSON.parse(rejects[0]!)).toMatchObject({ file: expect.stringContaining('bad/'), reason: expect.any(String) });
  });

  it('reads a folder that holds its own store (`analyze .` beside the default .cutover-watch) without taking the store’s files for logs', async () => {
    const beside = path.join(work, 'beside');
    await mkdir(beside, { recursive: true });
    await writeFile(path.join(beside, 'log.json'), JSON.stringify({ Records: [irsaAssume('beside-1'), { ...irsaAssume('beside-2'), eventTime: 'yesterday' }] }));
    const analyzeHere = () => runInProcess(['analyze', '.'], { cwd: beside, env: { CUTOVER_WATCH_STORE: undefined } });
    const first = await analyzeHere();
    // the store's rejects.jsonl and alerts.jsonl are JSON Lines: read as logs, each run rejected the last one's rejections
    expect([first.code, first.stdout.match(/rejected \d+;/)?.[0]]).toEqual([0, 'rejected 1;']);
    expect((await readFile(path.join(beside, '.cutover-watch', 'rejects.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(1);
    const second = await analyzeHere();
    expect([second.code, second.stdout.match(/rejected \d+;/)?.[0]]).toEqual([0, 'rejected 1;']);
    expect(second.stderr).toMatch(/log\.json: record 2: eventTime/);
    expect(second.stderr).not.toMatch(/\.cutover-watch\/\S+: (line|document)/);
    // and classify, which takes no store, leaves the default one's folder out too
    const classified = await runInProcess(['classify', '.'], { cwd: beside, env: { CUTOVER_WATCH_STORE: undefined } });
    expect([classified.code, classified.stdout.trim().split('\n').length]).toEqual([0, 1]);
    expect(classified.stderr).not.toMatch(/\.cutover-watch\//);
  });

  it('with --strict exits 1 when something was rejected', async () => {
    await writeFile(path.join(work, 'one-bad.json'), JSON.stringify({ Records: [{ eventSource: 'sts.amazonaws.com' }] }));
    const run = await inProcess(['analyze', '--strict', '--store', 'strict-store', 'one-bad.json']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/one-bad\.json: record 1: eventName is missing/);
  });

  it('exits 2 with one line for an empty directory', async () => {
    await mkdir(path.join(work, 'empty'), { recursive: true });
    const run = await inProcess(['analyze', '--store', 'empty-store', 'empty']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/no CloudTrail log files .* under empty/);
  });
});

describe('alert delivery', () => {
  /** The demo's last two days of payments-prod (its account, us-east-1): several alerts, little to read. */
  const lastDays = () => ['18', '19'].map((day) => path.join(demoInput('logs'), 'AWSLogs', '111122223333', 'CloudTrail', 'us-east-1', '2026', '11', day));

  /** A Slack incoming webhook on loopback that records what it receives and answers as told. */
  async function webhook(status: number, body: string) {
    const received: { path: string; json: { text: string; blocks: unknown[] } }[] = [];
    const server = createServer((req, res) => {
      let data = '';
      req.on('data', (d: Buffer) => (data += d.toString()));
      req.on('end', () => {
        received.push({ path: req.url ?? '', json: JSON.parse(data) });
        res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}/services/T0001/B0001/SECRETSECRET`, received, close: () => new Promise<void>((r) => server.close(() => r())) };
  }

  it('posts every new alert to the Slack webhook, as Block Kit', async () => {
    const slack = await webhook(200, 'ok');
    try {
      const run = await inProcess(['analyze', '--json', '--store', 'slack-ok', ...lastDays()], { env: { CUTOVER_WATCH_SLACK_WEBHOOK_URL: slack.url } });

      expect(run.code).toBe(0);
      const alerts = JSON.parse(run.stdout).alerts as { summary: string }[];
      expect(alerts.length).toBeGreaterThan(5);
      expect(slack.received).toHaveLength(alerts.length);
      expect(slack.received[0]!.path).toBe('/services/T0001/B0001/SECRETSECRET');
      expect(slack.received[0]!.json.blocks.length).toBeGreaterThan(3);
      expect(JSON.stringify(slack.received.map((r) => r.json))).toContain('Likely cause');
    } finally {
      await slack.close();
    }
  });

  it('keeps every alert in alerts.jsonl and exits 1 naming the sink when Slack says the webhook is gone', async () => {
    const slack = await webhook(404, 'no_service');
    try {
      const run = await inProcess(['analyze', '--json', '--store', 'slack-gone', ...lastDays()], { env: { CUTOVER_WATCH_SLACK_WEBHOOK_URL: slack.url } });

      expect(run.code).toBe(1);
      const alerts = JSON.parse(run.stdout).alerts as unknown[];
      expect(run.stderr).toMatch(new RegExp(`${alerts.length} alerts could not be delivered to slack: Slack webhook is gone \\(HTTP 404 no_service\\)`));
      expect(run.stderr).toMatch(/nothing is lost: every alert is in the store/);
      expect(run.stderr).not.toContain('SECRETSECRET');
      const log = (await readFile(path.join(work, 'slack-gone', 'alerts.jsonl'), 'utf8')).trim().split('\n');
      expect(log).toHaveLength(alerts.length);
    } finally {
      await slack.close();
    }
  });

  it('fails fast on a policy file with an unknown key, naming it', async () => {
    await writeFile(path.join(work, 'bad-policy.json'), JSON.stringify({ accessDeniedSpike: { threshold: 5, windowMinute: 5 } }));
    const run = await inProcess(['analyze', '--policy', 'bad-policy.json', '--store', 'policy-store', demoInput('logs')]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe('cutover-watch: bad-policy.json: unknown key accessDeniedSpike.windowMinute');
  });
});

describe('unreadable input', () => {
  it('names files and directories it may not read (permission denied), exit 2', async () => {
    // Root reads everything whatever the mode bits: run the CLI as nobody (setpriv, util-linux) then.
    const dir = path.join(work, 'perm');
    await mkdir(path.join(dir, 'logs', 'locked'), { recursive: true });
    await writeFile(path.join(dir, 'locked.json'), '{"Records":[]}');
    await chmod(path.join(dir, 'locked.json'), 0o000);
    await chmod(path.join(dir, 'logs', 'locked'), 0o000);
    await chmod(work, 0o755);
    await chmod(dir, 0o755);
    const asNobody = process.getuid?.() === 0 ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'] : [];
    const run = await spawnCli(['classify', 'locked.json', 'logs'], { cwd: dir, via: asNobody });

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('locked.json: permission denied');
    expect(run.stderr).toContain(`${path.join('logs', 'locked')}: permission denied`);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('classify', () => {
  it('prints one IdentityEvent per in-scope record with the documented fields, from stdin', async () => {
    const record = {
      eventVersion: '1.09', eventSource: 'eks-auth.amazonaws.com', eventName: 'AssumeRoleForPodIdentity', eventTime: '2026-11-19T10:00:00Z',
      eventID: 'fetch-1', awsRegion: 'us-west-2', recipientAccountId: '111122223333', errorCode: 'AccessDenied',
      userIdentity: {
        type: 'AssumedRole', arn: 'arn:aws:sts::111122223333:assumed-role/eksctl-x-NodeInstanceRole-A/i-064d652934ecf0bfc',
        sessionContext: { sessionIssuer: { arn: 'arn:aws:iam::111122223333:role/eksctl-x-NodeInstanceRole-A' }, ec2RoleDelivery: '2.0' },
      },
      requestParameters: { clusterName: 'search-prod', token: 'HIDDEN_DUE_TO_SECURITY_REASONS' }, responseElements: null,
    };
    const run = await inProcess(['classify', '-'], { input: JSON.stringify({ 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.eks-auth', detail: record }) });

    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    const fields = ['kind', 'outcome', 'eventId', 'eventTime', 'account', 'region', 'cluster', 'oidcIssuer', 'namespace', 'serviceAccount', 'roleArn', 'podName', 'nodeInstanceId', 'action', 'errorCode'];
    expect(Object.keys(lines[0])).toEqual(expect.arrayContaining(fields));
    expect(lines[0]).toMatchObject({ kind: 'pod-identity-fetch', outcome: 'denied', cluster: 'search-prod', nodeInstanceId: 'i-064d652934ecf0bfc', namespace: null, action: 'eks-auth:AssumeRoleForPodIdentity' });
    expect(run.stdout).not.toContain('HIDDEN_DUE_TO_SECURITY_REASONS');
  });

  it('never prints credentials from the sample fleet', async () => {
    const run = await inProcess(['classify', demoInput('logs')]);
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n').length).toBeGreaterThan(1000);
    expect(run.stdout).not.toContain('FAKE-SESSION-TOKEN');
    expect(run.stdout).not.toMatch(/"ASIA[A-Z0-9]{12,}"/);
  });

  it('shows hostile file names and record values as escapes, on stderr and stdout alike', async () => {
    // A file name from a synced bucket can hold anything: here an OSC title sequence and a line break.
    const dir = path.join(work, 'hostile');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'bad\u001b]0;owned\u0007\nforged.json'), 'not json');
    const record = (await readFile(fileURLToPath(new URL('../fixtures/cloudtrail/irsa-success.json', import.meta.url)), 'utf8')).replaceAll(
      'system:serviceaccount:argo:',
      'system:serviceaccount:argo\\u202e\\u001b[2J:',
    );
    await writeFile(path.join(dir, 'record.json'), record);

    const run = await inProcess(['classify', dir]);

    const raw = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/;
    expect(run.stderr).not.toMatch(raw);
    expect(run.stdout).not.toMatch(raw);
    expect(run.stderr).toContain('bad\\x1b]0;owned\\x07\\nforged.json: ');
    // the record is rejected (not a Kubernetes name), and its rejection quotes the value visibly
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(2);
    expect(run.stderr).toContain('record.json: ');
    expect(run.stderr).toContain('argo\\u{202e}');
  });

  it('inventory import of a folder: exit 2, naming the folder and how to pass its files, nothing stored', async () => {
    const folder = path.join(demoStore, 'inventory');
    const run = await inProcess(['inventory', 'import', '--store', 'inventory-folder', folder]);

    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(`cutover-watch: ${folder}: a folder: name its files (${path.join(folder, '*.json')})`);
    expect(await readdir(path.join(work, 'inventory-folder')).catch(() => [])).not.toContain('db');
  });

  it('exits 2 for an unreadable file and 1 with --strict for a rejected record', async () => {
    expect((await inProcess(['classify', 'no-such-file.json'])).code).toBe(2);
    const strict = await inProcess(['classify', '--strict', '-'], { input: '{"eventName": 7, "eventSource": "sts.amazonaws.com"}' });
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/stdin: document: rejected \(wrong-type\): eventName should be a string, got number/);
  });
});

describe('a DynamoDB table instead of the embedded store (--table)', () => {
  // three commands through the table's several-writer path and the same analysis into the embedded store
  // (about 8 s alone, twice that on a loaded machine)
  it('analyzes into and answers readiness from a table, exactly as on the embedded store', { timeout: 60_000 }, async () => {
    // a DynamoDB API on loopback stands in for the deployed table
    const server = await startEmbeddedStore(path.join(work, 'remote'), { openToAnyClient: true });
    try {
      const remote = new DynamoEvidenceStore({ client: server.client, tableName: 'cutover-watch-evidence-test' });
      await remote.ensureTable();
      const env = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' };
      const table = ['--table', 'cutover-watch-evidence-test', '--table-region', 'us-east-1', '--endpoint', server.endpoint];
      const inventory = path.join(work, demoStore, 'inventory');
      const files = (await readdir(inventory)).map((f) => path.join(inventory, f));
      expect((await inProcess(['inventory', 'import', ...table, ...files], { env })).code).toBe(0);

      // search-prod's region of the demo (its account's us-west-2) and the late files that close the
      // hole planted there: the table's several-writer path (a conditional write per item) over the
      // whole fleet would take most of this test's time
      const paths = [path.join(demoInput('logs'), 'AWSLogs', '111122223333', 'CloudTrail', 'us-west-2'), demoInput('late')];
      const analyzed = await inProcess(['analyze', '--json', ...table, ...paths], { env });

      expect(analyzed.code).toBe(0);
      expect(JSON.parse(analyzed.stdout).store).toBe('table cutover-watch-evidence-test in us-east-1');
      const fromTable = JSON.parse((await inProcess(['readiness', '--json', '--as-of', END, ...table], { env })).stdout) as Readiness;
      // the same files into an embedded store
      expect((await inProcess(['inventory', 'import', '--store', 'embedded-same', ...files])).code).toBe(0);
      expect((await inProcess(['analyze', '--store', 'embedded-same', ...paths])).code).toBe(0);
      expect(fromTable).toEqual(await readiness('embedded-same'));
      expect(fromTable.namespaces.filter((n) => n['cluster'] === 'search-prod' && n['verdict'] === 'READY')).toHaveLength(7);
    } finally {
      await server.close();
    }
  });

  it('says which table is missing and how to fix it', async () => {
    const server = await startEmbeddedStore(path.join(work, 'remote-empty'), { openToAnyClient: true });
    try {
      const run = await inProcess(['readiness', '--table', 'nope', '--table-region', 'eu-west-1', '--endpoint', server.endpoint], {
        env: { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' },
      });
      expect(run.code).toBe(2);
      expect(run.stderr.trim()).toBe('cutover-watch: table nope does not exist in eu-west-1: deploy the stack (npx cdk deploy) or pass the right --table and --table-region');
    } finally {
      await server.close();
    }
  });

  it("takes the table's region from the AWS_PROFILE profile when neither --table-region nor AWS_REGION is set", async () => {
    const server = await startEmbeddedStore(path.join(work, 'remote-profile'), { openToAnyClient: true });
    const config = path.join(work, 'aws-config-profile');
    const credentials = path.join(work, 'aws-credentials-profile');
    await writeFile(config, '[default]\nregion = us-east-1\n\n[profile audit]\nregion = ap-southeast-2\n');
    // with AWS_PROFILE set, the SDK takes the profile's keys, not AWS_ACCESS_KEY_ID
    await writeFile(credentials, '[audit]\naws_access_key_id = test\naws_secret_access_key = test\n');
    try {
      const run = await inProcess(['readiness', '--table', 'nope', '--endpoint', server.endpoint], {
        env: { AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_PROFILE: 'audit' },
      });
      expect(run.code).toBe(2);
      expect(run.stderr.trim()).toBe('cutover-watch: table nope does not exist in ap-southeast-2: deploy the stack (npx cdk deploy) or pass the right --table and --table-region');
    } finally {
      await server.close();
      await rm(config, { force: true });
      await rm(credentials, { force: true });
    }
  });
});

describe('arguments and help', () => {
  it.each(['classify', 'analyze', 'readiness', 'alerts', 'evidence', 'inventory', 'inventory import', 'demo'])('%s --help teaches and exits 0', async (command) => {
    const run = await inProcess([...command.split(' '), '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: cutover-watch /);
    expect(run.stdout.length).toBeGreaterThan(300);
  });

  it('rejects a bad --as-of with exit 2 and a message naming the option', async () => {
    const run = await inProcess(['readiness', '--as-of', 'last tuesday', '--store', demoStore]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/option '--as-of <time>' argument 'last tuesday' is invalid\. expected an ISO 8601 time/);
  });

  it('names the missing region when --table is used without one', async () => {
    const run = await inProcess(['readiness', '--table', 'cutover-watch-evidence'], {
      env: { AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, AWS_PROFILE: undefined, AWS_CONFIG_FILE: path.join(work, 'no-such-aws-config') },
    });
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe('cutover-watch: --table needs a region: pass --table-region (e.g. --table-region us-east-1) or set AWS_REGION');
  });

  it.each([
    ['readiness', '--region', 'us-east-1'],
    ['coverage', '--table', 'cutover-watch-evidence', '--region', 'us-east-1'],
    ['alerts', '--region', 'eu-west-1'],
    ['inventory', 'show', '--region', 'us-east-1'],
    ['report', '--region', 'us-east-1'],
    ['evidence', '-c', 'payments-prod', '-n', 'checkout', '--region', 'us-east-1'],
  ])('%s %s given --region (the region to read) says the table\'s region is --table-region, exit 2', async (...argv) => {
    const run = await inProcess([...argv, '--store', demoStore]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe("cutover-watch: --region is the region to read; the table's region is --table-region");
  });

  it('analyze of local files given --region says so too: it reads S3 in --region', async () => {
    const run = await inProcess(['analyze', '--store', 'region-local', '--region', 'us-east-1', path.join(work, 'nothing-here')]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe("cutover-watch: --region is the region to read; the table's region is --table-region (analyze reads s3:// paths in --region; these are local)");
  });
});

describe('verdict safety: coverage, UNKNOWN and the gate', () => {
  const asOf = (iso: string) => ['--store', demoStore, '--as-of', iso];

  it('shows the planted coverage hole, then closes it by reading the late files', () => {
    expect(demo.stdout).toMatch(/coverage: the logs of us-west-2 for 2026-11-12\.\.2026-11-14 were left out of logs\//);
    expect(demo.stdout).toMatch(/7 namespaces could not be judged: search-prod\/autocomplete UNKNOWN \(READY through 2026-11-1\d\)/);
    expect(demo.stdout).toContain('because a hole in the CloudTrail read for account 111122223333 in us-west-2: 2026-11-11 23:00..2026-11-15 01:00 UTC');
    expect(demo.stdout).toMatch(/22 namespaces: 0 UNKNOWN, \d+ NOT_STARTED/);
  });

  it('is UNKNOWN (stale), not READY, when judged long after the logs end, with the last well-founded verdict', async () => {
    const run = await inProcess(['readiness', '--json', ...asOf('2026-12-09T00:00:00Z')]);
    const report = JSON.parse(run.stdout) as { namespaces: { cluster: string; namespace: string; verdict: string; unknownBecause: string[]; lastWellFounded: unknown }[] };
    const orders = report.namespaces.find((n) => n.cluster === 'payments-prod' && n.namespace === 'orders')!;
    const ledger = report.namespaces.find((n) => n.namespace === 'ledger')!;

    // IN_PROGRESS where the logs end; a week of silence later it is not SOAKING
    expect(orders).toMatchObject({ verdict: 'UNKNOWN', lastWellFounded: { verdict: 'IN_PROGRESS', through: '2026-11-19T23:00:00Z' } });
    expect(ledger.verdict).toBe('UNKNOWN');
    expect(ledger.unknownBecause[0]).toMatch(/^stale: CloudTrail of account 111122223333 in us-east-1 was read only up to 2026-11-19T23:00:00Z/);
    expect(ledger.lastWellFounded).toEqual({ verdict: 'READY', through: '2026-11-19T23:00:00Z' });
    expect(report.namespaces.filter((n) => n.verdict === 'READY' || n.verdict === 'SOAKING')).toEqual([]);
  });

  it('gates pipelines: exit 0 when the selection meets --require, 3 naming what is below, 2 for a bad verdict', async () => {
    // the failing gate as a pipeline sees it, from the bin's process: its exit code, the verdicts on
    // stdout and what is below on stderr; the others in this process
    const pass = await inProcess(['readiness', ...asOf(END), '--cluster', 'search-prod', '--require', 'READY']);
    const fail = await spawnCli(['readiness', ...asOf(END), '--cluster', 'payments-prod', '--require', 'SOAKING'], { cwd: work });
    const stale = await inProcess(['readiness', ...asOf('2026-12-09T00:00:00Z'), '--cluster', 'search-prod', '--namespace', 'indexer', '--require', 'in_progress']);
    const bad = await inProcess(['readiness', ...asOf(END), '--require', 'DONE']);

    expect(pass.code).toBe(0);
    expect(fail.code).toBe(3);
    expect(fail.stderr).toMatch(/^gate: \d+ below SOAKING:\n  payments-prod\/inventory NOT_STARTED: /m);
    expect(fail.stderr).toContain('payments-prod OIDC provider NOT_STARTED');
    expect(fail.stdout).toMatch(/^CLUSTER\s+NAMESPACE\s+VERDICT/m);
    expect(fail.stdout).not.toContain('gate:');
    expect(stale.code).toBe(3);
    expect(stale.stderr).toContain('search-prod/indexer UNKNOWN: stale:');
    expect(bad.code).toBe(2);
  });

  it('coverage lists each account/region with where its logs end and no holes once the late files are read', async () => {
    const run = await inProcess(['coverage', '--json', ...asOf(END)]);
    const { coverage } = JSON.parse(run.stdout) as { coverage: { account: string; region: string; through: string; gaps: unknown[]; sources: string[] }[] };

    expect(coverage.map((c) => `${c.account}/${c.region}`)).toEqual(['111122223333/us-east-1', '111122223333/us-west-2', '444455556666/eu-west-1', '444455556666/us-east-1']);
    for (const c of coverage) expect(c).toMatchObject({ through: '2026-11-19T23:00:00Z', gaps: [], sources: ['files'] });
    const table = await inProcess(['coverage', ...asOf(END)]);
    expect(table.stdout).toMatch(/ACCOUNT\s+REGION\s+FROM\s+THROUGH\s+BEHIND\s+HOLES\s+SOURCES/);
  });
});

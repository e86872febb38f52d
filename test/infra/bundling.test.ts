import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import { startEmbeddedStore } from '../../functions/local/embedded-store';
import { generateSampleFleet } from '../../functions/local/sample-fleet';
import { addCutoverWatch } from '../../lib/cutover-watch-app';
import { LoopbackS3 } from '../support/loopback-s3';

/**
 * The other infra tests skip esbuild; this one bundles every handler as `cdk synth` does, so a
 * bundling error (an import esbuild cannot resolve, CommonJS inside the ESM bundle) fails here.
 */
describe('Lambda bundles', () => {
  const out = mkdtempSync(join(tmpdir(), 'cutover-watch-cdk-'));
  let trailFoldBundle = '';
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  // CDK runs the project's esbuild as `npx --no-install esbuild --bundle …`: npx, a node start and
  // npm's own load, costs about a second of CPU per function before esbuild starts. An `npx` first
  // on the PATH here runs the same bin (node_modules/.bin/esbuild) with the same arguments, directly.
  const shims = mkdtempSync(join(tmpdir(), 'cutover-watch-npx-'));
  const savedPath = process.env['PATH'];
  beforeAll(() => {
    const bins = fileURLToPath(new URL('../../node_modules/.bin/', import.meta.url));
    writeFileSync(join(shims, 'npx'), `#!/bin/sh\n[ "$1" = --no-install ] && [ -x "${bins}$2" ] || { echo "unexpected npx $*" >&2; exit 2; }\nshift\nbin=$1\nshift\nexec "${bins}$bin" "$@"\n`);
    chmodSync(join(shims, 'npx'), 0o755);
    process.env['PATH'] = `${shims}${delimiter}${savedPath}`;
  });
  afterAll(() => {
    process.env['PATH'] = savedPath;
    rmSync(shims, { recursive: true, force: true });
  });

  it('build every handler into an ESM bundle that loads in Node, with Chart.js beside the report', { timeout: 180_000 }, () => {
    // GIVEN every function (Slack and the trail fold included), bundled by the local esbuild
    const app = new App({
      outdir: out,
      context: { cutoverWatch: { slackSecretName: 'cutover-watch/slack', trailLogs: { bucket: 'trail' } }, 'aws:cdk:enable-asset-metadata': true },
    });
    const { home } = addCutoverWatch(app, {});

    // WHEN
    const assembly = app.synth();
    const template = assembly.getStackByName(home.stackName).template as { Resources: Record<string, { Type: string; Metadata?: Record<string, string> }> };
    const functions = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');

    // THEN each function's asset is a loadable ESM module exporting `handler`
    expect(functions).toHaveLength(6);
    const env = {
      ...process.env,
      AWS_REGION: 'us-east-1',
      TABLE_NAME: 'table',
      TOPIC_ARN: 'arn:aws:sns:us-east-1:111122223333:topic',
      REPORT_BUCKET: 'bucket',
      SLACK_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:slack',
      EKS_REGIONS: 'us-east-1',
      NODE_ROLE_ARNS: '',
      TRAIL_BUCKET: 'trail',
      TRAIL_REGIONS: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    const entries = functions.map(([id, fn]) => [id, join(assembly.directory, fn.Metadata!['aws:asset:path']!, 'index.mjs')] as const);
    for (const [id, entry] of entries) expect(existsSync(entry), `${id} bundle`).toBe(true);
    // one Node process loads them all, one after the other (a process each cost a start each)
    const loaded = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `const out = {}; for (const [id, entry] of ${JSON.stringify(entries)}) out[id] = typeof (await import(entry)).handler; process.stdout.write(JSON.stringify(out));`],
      { env, encoding: 'utf8' },
    );
    expect(JSON.parse(loaded)).toEqual(Object.fromEntries(entries.map(([id]) => [id, 'function'])));
    const report = functions.find(([id]) => id.startsWith('JobsReport'))!;
    expect(existsSync(join(assembly.directory, report[1].Metadata!['aws:asset:path']!, 'chart.umd.js'))).toBe(true);
    trailFoldBundle = entries.find(([id]) => id.startsWith('TrailFold'))![1];
  });

  // The bundle, not the source: what esbuild made of the S3 client, the pipeline and the store is
  // what runs in Lambda. A day of the sample fleet's log objects on a loopback S3, the table on the
  // embedded store (the DynamoDB API over HTTP), the handler invoked as Lambda would, twice.
  it('runs the trail fold bundle against S3 and DynamoDB endpoints: every object read once, then none', { timeout: 60_000 }, async () => {
    const s3 = await new LoopbackS3('trail').start();
    const embedded = await startEmbeddedStore(join(out, 'store'), { openToAnyClient: true });
    try {
      const now = new Date();
      const fleet = generateSampleFleet({ seed: 5, end: now, days: 1 });
      for (const f of fleet.files) s3.objects.set(f.key, gzipSync(JSON.stringify({ Records: f.records })));
      const store = new DynamoEvidenceStore({ client: embedded.client, tableName: 'fold', singleWriter: true });
      await store.ensureTable();
      const env = {
        ...process.env,
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: embedded.endpoint,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
        AWS_CONFIG_FILE: '/nonexistent/config',
        AWS_EC2_METADATA_DISABLED: 'true',
        TABLE_NAME: 'fold',
        TRAIL_BUCKET: 'trail',
        TRAIL_PREFIX: 'AWSLogs/',
        TRAIL_REGIONS: 'us-east-1,eu-west-1,us-west-2',
        TRAIL_LOOKBACK_DAYS: '2',
        NODE_ROLE_ARNS: '',
        POWERTOOLS_METRICS_NAMESPACE: 'CutoverWatch',
        POWERTOOLS_SERVICE_NAME: 'cutover-watch',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      };
      const invokeTwice =
        `const { handler } = await import(${JSON.stringify(trailFoldBundle)}); const context = { getRemainingTimeInMillis: () => 900000 };` +
        'await handler({}, context); await handler({}, context);';
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', invokeTwice], { env, encoding: 'utf8' });
      const folded = stdout.split('\n').filter((l) => l.includes('"trail folded"')).map((l) => JSON.parse(l) as { read: number; skipped: number; inScope: number });
      const logObjects = fleet.files.length;
      expect(folded.map((f) => [f.read, f.skipped])).toEqual([[logObjects, 0], [0, logObjects]]);
      expect(folded[0]!.inScope).toBeGreaterThan(100);
      expect((await store.sourcesRead('trail', 'AWSLogs/')).size).toBe(logObjects);
      // a day of hours of several accounts and regions, proven as analyze proves them
      expect((await store.coverageDays()).reduce((n, d) => n + d.fileHours.length, 0)).toBeGreaterThanOrEqual(24);
      expect(s3.requests.filter((r) => !r.endsWith(' list'))).toHaveLength(logObjects);
    } finally {
      await embedded.close();
      await s3.stop();
    }
  });
});

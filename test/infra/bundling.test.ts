import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { addCutoverWatch } from '../../lib/cutover-watch-app';

/**
 * The other infra tests skip esbuild; this one bundles every handler as `cdk synth` does, so a
 * bundling error (an import esbuild cannot resolve, CommonJS inside the ESM bundle) fails here.
 */
describe('Lambda bundles', () => {
  const out = mkdtempSync(join(tmpdir(), 'cutover-watch-cdk-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('build every handler into an ESM bundle that loads in Node, with Chart.js beside the report', { timeout: 180_000 }, () => {
    // GIVEN every function (Slack included), bundled by the local esbuild
    const app = new App({
      outdir: out,
      context: { cutoverWatch: { slackSecretName: 'cutover-watch/slack' }, 'aws:cdk:enable-asset-metadata': true },
    });
    const { home } = addCutoverWatch(app, {});

    // WHEN
    const assembly = app.synth();
    const template = assembly.getStackByName(home.stackName).template as { Resources: Record<string, { Type: string; Metadata?: Record<string, string> }> };
    const functions = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');

    // THEN each function's asset is a loadable ESM module exporting `handler`
    expect(functions).toHaveLength(5);
    const env = {
      ...process.env,
      AWS_REGION: 'us-east-1',
      TABLE_NAME: 'table',
      TOPIC_ARN: 'arn:aws:sns:us-east-1:111122223333:topic',
      REPORT_BUCKET: 'bucket',
      SLACK_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:slack',
      EKS_REGIONS: 'us-east-1',
      NODE_ROLE_ARNS: '',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    for (const [id, fn] of functions) {
      const dir = join(assembly.directory, fn.Metadata!['aws:asset:path']!);
      const entry = join(dir, 'index.mjs');
      expect(existsSync(entry), `${id} bundle`).toBe(true);
      const loaded = execFileSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(entry)}); process.stdout.write(typeof m.handler);`], {
        env,
        encoding: 'utf8',
      });
      expect(loaded, `${id} exports handler`).toBe('function');
    }
    const report = functions.find(([id]) => id.startsWith('JobsReport'))!;
    expect(existsSync(join(assembly.directory, report[1].Metadata!['aws:asset:path']!, 'chart.umd.js'))).toBe(true);
  });
});

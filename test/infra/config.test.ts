import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, FeatureFlags } from 'aws-cdk-lib';
import { FLAGS } from 'aws-cdk-lib/cx-api';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_NODE_ROLE_PATTERNS } from '../../functions/core/node-roles';
import { closestSetting, ConfigError, loadConfig, parseConfig } from '../../lib/config';
import { unconfiguredFeatureFlags } from '../../lib/feature-flags';
import { outdir, synth } from './app';

const dir = mkdtempSync(join(tmpdir(), 'cutover-watch-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('configuration defaults', () => {
  it('deploys the home stack alone in the deployer region, with the core node role globs and the policy soak', () => {
    // GIVEN no configuration at all
    const config = parseConfig({}, 'test', { CDK_DEFAULT_REGION: 'us-east-1' });

    // THEN
    expect(config.homeRegion).toBe('us-east-1');
    expect(config.collectors).toEqual([]);
    expect(config.nodeRolePatterns).toEqual(DEFAULT_NODE_ROLE_PATTERNS);
    expect(config.soakDays).toBe(14);
    expect(config.retainData).toBe(true);
    expect(config.createTrail).toBe(false);
    expect(config.policyDocument).toBeUndefined();
  });

  it('adds a us-east-1 collector when home is elsewhere, for IRSA calls on the global STS endpoint', () => {
    const config = parseConfig({ homeRegion: 'eu-west-1' }, 'test');
    expect(config.collectors).toEqual([{ region: 'us-east-1' }]);
    expect(config.eksRegions).toEqual(['eu-west-1', 'us-east-1']);
  });

  it('plans one collector per other region of the home account and per region of each collector account', () => {
    const config = parseConfig(
      { homeRegion: 'us-east-1', homeAccount: '111122223333', collectorRegions: ['eu-west-1', 'us-east-1'], collectorAccounts: ['444455556666', '111122223333'] },
      'test',
    );
    expect(config.collectors).toEqual([
      { region: 'eu-west-1' },
      { account: '444455556666', region: 'us-east-1' },
      { account: '444455556666', region: 'eu-west-1' },
    ]);
  });

  it('reads the object from cdk.json context, a JSON string from -c, or a file named by cutoverWatchConfig', () => {
    const fromObject = loadConfig(new App({ outdir: outdir(), context: { cutoverWatch: { soakDays: 21 } } }).node, {});
    const fromString = loadConfig(new App({ outdir: outdir(), context: { cutoverWatch: '{"soakDays": 22}' } }).node, {});
    const fromFile = loadConfig(new App({ outdir: outdir(), context: { cutoverWatchConfig: file('config.json', { soakDays: 23 }) } }).node, {});
    expect([fromObject.soakDays, fromString.soakDays, fromFile.soakDays]).toEqual([21, 22, 23]);
  });

  it('passes the policy file to the ingest as written and takes the soak from it', () => {
    const policyFile = file('policy.json', { soak: { soakDays: 30 } });
    const config = parseConfig({ policyFile }, 'test');
    expect(config.policyDocument).toEqual({ soak: { soakDays: 30 } });
    expect(config.soakDays).toBe(30);
  });
});

describe('configuration errors fail the synth, naming the key and the fix', () => {
  const fails = (config: unknown) => () => synth(config as never);

  it('fail on an unknown setting, suggesting the one it most likely meant', () => {
    expect(fails({ alertEmail: ['a@example.com'] })).toThrow(new ConfigError('context cutoverWatch: unknown setting alertEmail: did you mean alertEmails?'));
    expect(fails({ homeRegoin: 'eu-west-1' })).toThrow(new ConfigError('context cutoverWatch: unknown setting homeRegoin: did you mean homeRegion?'));
    expect(fails({ SoakDays: 7 })).toThrow(/unknown setting SoakDays: did you mean soakDays\?$/);
    expect(fails({ colour: 'blue' })).toThrow(/^context cutoverWatch: unknown setting colour \(known settings: homeRegion, homeAccount, .*retainData\)$/);
  });

  it('fail on a bad region', () => {
    expect(fails({ homeRegion: 'Europe' })).toThrow(/homeRegion: expected an AWS region such as eu-west-1, got "Europe"/);
    expect(fails({ collectorRegions: ['eu-west-1', 'us-east'] })).toThrow(/collectorRegions\.1: expected an AWS region/);
  });

  it('fail on a bad account id, including one given as a number', () => {
    expect(fails({ collectorAccounts: ['12345'] })).toThrow(/collectorAccounts\.0: expected a 12-digit AWS account id in quotes, got "12345"/);
    expect(fails({ collectorAccounts: [111122223333] })).toThrow(/collectorAccounts\.0:/);
  });

  it('fail on a bad policy file, naming policyFile and the policy key', () => {
    const policyFile = file('bad-policy.json', { accessDeniedSpike: { threshold: 0 } });
    expect(fails({ policyFile })).toThrow(/policyFile: .*bad-policy\.json: accessDeniedSpike\.threshold/);
    expect(fails({ policyFile: file('typo-policy.json', { soak: { soakDays: 7 }, sevrity: {} }) })).toThrow(/policyFile: .*unknown key sevrity/);
  });

  it('fail on a policy file that is missing or not JSON', () => {
    expect(fails({ policyFile: join(dir, 'nope.json') })).toThrow(/policyFile .*nope\.json: cannot read .*ENOENT/);
    expect(fails({ policyFile: file('broken.json', '{ soak: ') })).toThrow(/policyFile .*broken\.json: not valid JSON/);
  });

  it('fail on node role globs EventBridge cannot match', () => {
    expect(fails({ nodeRolePatterns: ['eks-node-?'] })).toThrow(/nodeRolePatterns\.0: expected a role name glob using only \*/);
  });

  it('fail on collector accounts without a known home account', () => {
    expect(fails({ collectorAccounts: ['444455556666'] })).toThrow(/homeAccount: required when collectorAccounts is set/);
  });

  it('fail on member accounts without a known home account, or a read role name IAM would refuse', () => {
    expect(fails({ memberAccounts: ['444455556666'] })).toThrow(
      new ConfigError(
        'context cutoverWatch: homeAccount: required when memberAccounts is set (their read roles trust the inventory job role of the home account); set homeAccount or run with credentials so CDK_DEFAULT_ACCOUNT is known',
      ),
    );
    expect(fails({ homeAccount: '111122223333', memberAccounts: ['4444'] })).toThrow(/memberAccounts\.0: expected a 12-digit AWS account id in quotes, got "4444"/);
    expect(fails({ homeAccount: '111122223333', memberAccounts: ['444455556666'], memberReadRoleName: 'read role' })).toThrow(
      /memberReadRoleName: expected an IAM role name \(letters, digits and \+=,\.@_-, at most 64\), got "read role"/,
    );
  });

  it('fail when both the context object and a config file are given', () => {
    const app = new App({ outdir: outdir(), context: { cutoverWatch: {}, cutoverWatchConfig: file('c.json', {}) } });
    expect(() => loadConfig(app.node, {})).toThrow(/keep one/);
  });

  it('fail on an organization id or schedule of the wrong shape', () => {
    expect(fails({ organizationId: 'org-123' })).toThrow(/organizationId: expected an organization id such as o-/);
    expect(fails({ reportSchedule: 'every monday' })).toThrow(/reportSchedule: expected rate\(…\), cron\(…\) or at\(…\)/);
  });
});

describe('a setting name', () => {
  it('suggests only a close and unambiguous known name', () => {
    const known = ['alertEmails', 'soakDays', 'homeRegion', 'homeAccount'];
    expect(closestSetting('alertEmail', known)).toBe('alertEmails');
    expect(closestSetting('soakdays', known)).toBe('soakDays');
    expect(closestSetting('homeRegoin', known)).toBe('homeRegion');
    expect(closestSetting('home', known)).toBeUndefined();
    expect(closestSetting('email', known)).toBeUndefined();
  });
});

describe('the CDK app (bin/app.ts)', () => {
  it('stops on a configuration mistake with one line and exit 1, no stack trace', () => {
    const out = outdir();
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
      encoding: 'utf8',
      env: { ...process.env, CDK_OUTDIR: out, CDK_CONTEXT_JSON: JSON.stringify({ cutoverWatch: { alertEmail: ['a@example.com'] } }) },
    });

    expect(run.stderr).toBe('cutover-watch: context cutoverWatch: unknown setting alertEmail: did you mean alertEmails?\n');
    expect(run.status).toBe(1);
  }, 60_000);

  it('pins the feature flags to the behaviour they have unset, so templates do not change', () => {
    // (Synthesizing the whole app both ways gave identical templates for the home and a collector
    // stack; at 30-50 s on a shared machine that comparison is not part of the suite.)
    const unpinned = new App({ outdir: outdir() });
    const pinned = new App({ outdir: outdir(), context: unconfiguredFeatureFlags() });
    const flags = Object.entries(FLAGS).filter(([, f]) => f.introducedIn.v2 !== undefined && typeof f.recommendedValue === 'boolean');

    expect(flags.length).toBeGreaterThan(80);
    for (const [name] of flags) expect(FeatureFlags.of(pinned).isEnabled(name), name).toBe(FeatureFlags.of(unpinned).isEnabled(name));
    expect(pinned.node.tryGetContext('@aws-cdk/core:defaultCrossStackReferences')).toBe(FLAGS['@aws-cdk/core:defaultCrossStackReferences']!.unconfiguredBehavesLike!.v2);
  });
});

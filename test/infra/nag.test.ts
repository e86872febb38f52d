import { App, Validations, type Stack } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NagPack, ServerlessChecks } from 'cdk-nag';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import type { ConfigInput } from '../../lib/config';
import { addCutoverWatch } from '../../lib/cutover-watch-app';
import { outdir, synth } from './app';

const everything: ConfigInput = {
  homeRegion: 'eu-west-1',
  homeAccount: '111122223333',
  collectorRegions: ['eu-central-1'],
  collectorAccounts: ['444455556666'],
  organizationId: 'o-a1b2c3d4e5',
  nodeRoleArns: ['arn:aws:iam::111122223333:role/prod-nodes'],
  slackSecretName: 'cutover-watch/slack',
  alertEmails: ['secops@example.com'],
  createTrail: true,
  memberAccounts: ['777788889999'],
  trailLogs: { bucket: 'org-trail-logs', prefix: 'AWSLogs/o-a1b2c3d4e5/', kmsKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab' },
};

const packs = () => [new AwsSolutionsChecks(), new ServerlessChecks()];

/** Findings as `rule @ construct path`, across the packs. */
function findings(stacks: readonly Stack[]): string[] {
  return stacks.flatMap((stack) =>
    packs().flatMap((pack) => pack.validateScope(stack).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} @ ${r.constructPath}`))),
  );
}

describe('cdk-nag AwsSolutions and Serverless packs', () => {
  afterEach(() => vi.restoreAllMocks());

  for (const [name, config] of [
    ['the default configuration', {}],
    ['every option turned on', everything],
    ['the trail fold without the live path', { trailLogs: { bucket: 'trail-logs' }, liveEvents: false }],
    ['the trail fold on the trail the stack creates', { createTrail: true, trailLogs: {}, liveEvents: false }],
  ] as const) {
    it(`report no unacknowledged finding for ${name}`, () => {
      const { home, collectors, memberReadRoles } = synth(config);
      expect(findings([home, ...collectors, ...memberReadRoles])).toEqual([]);
    });
  }

  it('pass the synth of the app as bin/app.ts builds it, and fail it on a finding nobody acknowledged', () => {
    // GIVEN the app with the packs registered as validation plugins (how bin/app.ts runs them)
    const build = () => {
      const app = new App({ outdir: outdir(), context: { 'aws:cdk:bundling-stacks': [], cutoverWatch: {} } });
      const stacks = addCutoverWatch(app, {});
      Validations.of(app).addPlugins(...packs());
      return { app, stacks };
    };

    // THEN the synth honours the acknowledgements beside the resources
    const clean = build();
    expect(() => clean.app.synth()).not.toThrow();

    // WHEN a queue without DLQ or TLS policy is added
    const broken = build();
    new Queue(broken.stacks.home, 'UnguardedQueue');
    expect(() => broken.app.synth()).toThrow(/AwsSolutions-SQS3/);
  });

  it('acknowledge only findings that exist: every acknowledgement answers a real finding below it', () => {
    const { app, home, collectors, memberReadRoles } = synth(everything);
    // Raw findings, as if nothing were acknowledged.
    vi.spyOn(NagPack.prototype as unknown as { isAcknowledged: () => boolean }, 'isAcknowledged').mockReturnValue(false);
    const raw = findings([home, ...collectors, ...memberReadRoles]).map((f) => {
      const [rule, path] = f.split(' @ ');
      return { rule: rule!, path: path! };
    });
    const unused: string[] = [];
    for (const construct of app.node.findAll()) {
      for (const entry of construct.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const key of Object.keys(entry.data as object)) {
          const rule = key.replace(/^annotation::/i, '');
          const at = construct.node.path;
          if (!raw.some((r) => r.rule === rule && (r.path === at || r.path.startsWith(`${at}/`)))) unused.push(`${rule} @ ${at}`);
        }
      }
    }
    expect(unused).toEqual([]);
  });
});

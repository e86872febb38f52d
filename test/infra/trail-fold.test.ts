import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/config';
import { logicalId, resources, roleStatements, synth, template } from './app';

describe('the trail fold', () => {
  it('reads only the trail prefix of the bucket, on its schedule, with a DLQ, and alone replaces the live path', () => {
    // GIVEN a home in eu-west-1 reading an organization trail, without the EventBridge path
    const { home, collectors, config } = synth(
      { homeRegion: 'eu-west-1', homeAccount: '111122223333', collectorAccounts: ['444455556666'], trailLogs: { bucket: 'org-trail', prefix: 'AWSLogs/o-a1b2c3d4e5/' }, liveEvents: false },
    );
    const t = template(home);
    const fold = home.trailFold!;

    // THEN the fold reads the home and collector accounts' folders of the cluster regions (us-east-1 for the global STS endpoint)
    expect(config.trailLogs!.accounts).toEqual(['111122223333', '444455556666']);
    const env = t.findResources('AWS::Lambda::Function')[logicalId(fold.fold.function)]!['Properties']['Environment']['Variables'];
    expect(env).toMatchObject({ TRAIL_BUCKET: 'org-trail', TRAIL_PREFIX: 'AWSLogs/o-a1b2c3d4e5/', TRAIL_ACCOUNTS: '111122223333,444455556666', TRAIL_REGIONS: 'eu-west-1,us-east-1', TRAIL_LOOKBACK_DAYS: '2' });
    t.hasResourceProperties('AWS::Lambda::Function', { FunctionName: Match.absent(), Timeout: 900, MemorySize: 1024, Runtime: 'nodejs22.x' });

    // and may list the prefix and read objects under it, nothing else of the bucket
    const statements = roleStatements(t, logicalId(fold.fold.role));
    const s3 = statements.filter((s) => JSON.stringify(s['Action']).includes('s3:'));
    expect(s3).toEqual([
      expect.objectContaining({ Action: 's3:ListBucket', Condition: { StringLike: { 's3:prefix': ['AWSLogs/o-a1b2c3d4e5/*'] } } }),
      expect.objectContaining({ Action: 's3:GetObject' }),
    ]);
    expect(JSON.stringify(s3[1]!['Resource'])).toContain(':s3:::org-trail/AWSLogs/o-a1b2c3d4e5/*');
    expect(statements.some((s) => JSON.stringify(s['Action']).includes('kms:'))).toBe(false);

    // and runs hourly, failures to its DLQ
    const dlq = { 'Fn::GetAtt': [logicalId(fold.deadLetterQueue), 'Arn'] };
    t.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 hour)',
      Target: Match.objectLike({ Arn: { 'Fn::GetAtt': [logicalId(fold.fold.function), 'Arn'] }, DeadLetterConfig: { Arn: dlq } }),
    });
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { FunctionName: { Ref: logicalId(fold.fold.function) }, DestinationConfig: { OnFailure: { Destination: dlq } } });

    // and its role is an output, for a trail bucket's policy in another account
    expect(t.findOutputs('TrailFoldRoleArn')['TrailFoldRoleArn']!['Value']).toEqual({ 'Fn::GetAtt': [logicalId(fold.fold.role), 'Arn'] });

    // and nothing of the live path is deployed: no rules, no ingest queue, no collectors
    expect(home.ingest).toBeUndefined();
    expect(resources(t, 'AWS::Events::Rule')).toEqual([]);
    expect(resources(t, 'AWS::Lambda::EventSourceMapping').filter(([, r]) => JSON.stringify(r.Properties['EventSourceArn']).includes('Queue'))).toEqual([]);
    expect(collectors).toEqual([]);

    // and the regions' heartbeat alarms watch the log objects the fold read
    const alarms = resources(t, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    expect(alarms.filter((a) => a['MetricName'] === 'TrailObjectsByRegion').map((a) => a['Dimensions'])).toEqual([
      expect.arrayContaining([{ Name: 'region', Value: 'eu-west-1' }]),
    ]);
    expect(alarms.some((a) => a['MetricName'] === 'IdentityEventsByRegion')).toBe(false);
    expect(alarms.some((a) => a['MetricName'] === 'Errors' && JSON.stringify(a['Dimensions']).includes(logicalId(fold.fold.function)))).toBe(true);

    // and the dashboard graphs what the fold reads, not the queue it does not have
    const dashboard = JSON.stringify(resources(t, 'AWS::CloudWatch::Dashboard')[0]![1].Properties['DashboardBody']);
    expect(dashboard).toContain('Events by kind (trail fold)');
    expect(dashboard).toContain('TrailEventsByKind');
    expect(dashboard).toContain('Trail log objects read by region');
    expect(dashboard).not.toContain('Ingest queue');
  });

  it("runs beside the live path, decrypting the trail's objects through S3 when they are SSE-KMS", () => {
    const key = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const { home } = synth({ homeAccount: '111122223333', trailLogs: { bucket: 'trail', kmsKeyArn: key, schedule: 'rate(30 minutes)', accounts: ['999988887777'] } });
    const t = template(home);
    expect(home.ingest).toBeDefined();
    expect(resources(t, 'AWS::Events::Rule').length).toBeGreaterThan(0);
    const statements = roleStatements(t, logicalId(home.trailFold!.fold.role));
    expect(statements).toContainEqual(expect.objectContaining({ Action: 'kms:Decrypt', Resource: key, Condition: { StringLike: { 'kms:ViaService': 's3.*.amazonaws.com' } } }));
    t.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(30 minutes)' });
    const env = t.findResources('AWS::Lambda::Function')[logicalId(home.trailFold!.fold.function)]!['Properties']['Environment']['Variables'];
    expect(env['TRAIL_ACCOUNTS']).toBe('999988887777');
    // the live heartbeat stays the region's alarm, and the dashboard shows both paths
    expect(resources(t, 'AWS::CloudWatch::Alarm').some(([, a]) => a.Properties['MetricName'] === 'IdentityEventsByRegion')).toBe(true);
    const dashboard = JSON.stringify(resources(t, 'AWS::CloudWatch::Dashboard')[0]![1].Properties['DashboardBody']);
    expect(dashboard).toContain('Ingest queue');
    expect(dashboard).toContain('Trail log objects read by region');
  });

  it('reads the trail the stack creates when no bucket is named, and passes the node role ARNs', () => {
    const { home } = synth({ createTrail: true, trailLogs: {}, nodeRoleArns: ['arn:aws:iam::111122223333:role/custom-nodes'] });
    const t = template(home);
    const bucket = logicalId(home.trail!.bucket);
    const env = t.findResources('AWS::Lambda::Function')[logicalId(home.trailFold!.fold.function)]!['Properties']['Environment']['Variables'];
    expect(env['TRAIL_BUCKET']).toEqual({ Ref: bucket });
    expect(env['NODE_ROLE_ARNS']).toBe('arn:aws:iam::111122223333:role/custom-nodes');
    const statements = roleStatements(t, logicalId(home.trailFold!.fold.role));
    const get = statements.find((st) => st['Action'] === 's3:GetObject')!;
    expect(get['Resource']).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/AWSLogs/*']] });
  });

  it('refuses a configuration that leaves nothing reading CloudTrail, or a prefix that is not a folder', () => {
    expect(() => synth({ trailLogs: {} })).toThrow(/trailLogs\.bucket: required \(the bucket your trail writes to\), unless createTrail/);
    expect(() => synth({ liveEvents: false })).toThrow(ConfigError);
    expect(() => synth({ liveEvents: false })).toThrow(/liveEvents: false leaves nothing reading CloudTrail; set trailLogs/);
    expect(() => synth({ trailLogs: { bucket: 'trail', prefix: 'AWSLogs' } })).toThrow(/trailLogs\.prefix: expected the key prefix above the account folders, ending in AWSLogs\/ or AWSLogs\/o-…\//);
    expect(() => synth({ trailLogs: { bucket: 'trail', prefix: 'AWSLogs/111122223333/' } })).toThrow(/trailLogs\.prefix/);
    expect(synth({ trailLogs: { bucket: 'trail', prefix: 'team-a/AWSLogs/o-a1b2c3d4e5/' } }).config.trailLogs!.prefix).toBe('team-a/AWSLogs/o-a1b2c3d4e5/');
    expect(() => synth({ trailLogs: { bucket: 'Trail_Bucket' } })).toThrow(/trailLogs\.bucket: expected an S3 bucket name/);
    expect(() => synth({ trailLogs: { bucket: 'trail', lookbackDays: 0 } })).toThrow(/trailLogs\.lookbackDays/);
  });
});

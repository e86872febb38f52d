import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { asList, logicalId, only, roleStatements, synth, template } from './app';

describe('scheduled jobs and reports', () => {
  // GIVEN a home in eu-west-1 (so a us-east-1 collector exists too)
  const { home } = synth({ homeRegion: 'eu-west-1', collectorRegions: ['eu-central-1'] });
  const t = template(home);
  const jobsDlq = { 'Fn::GetAtt': [logicalId(home.jobs.deadLetterQueue), 'Arn'] };

  it('schedules the inventory every 6 hours and the report weekly, each with a DLQ and bounded retries', () => {
    for (const [fn, expression] of [
      [home.jobs.inventory, 'rate(6 hours)'],
      [home.jobs.report, 'cron(0 8 ? * MON *)'],
    ] as const) {
      t.hasResourceProperties('AWS::Scheduler::Schedule', {
        ScheduleExpression: expression,
        State: 'ENABLED',
        Target: Match.objectLike({
          Arn: { 'Fn::GetAtt': [logicalId(fn.function), 'Arn'] },
          DeadLetterConfig: { Arn: jobsDlq },
          RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 3 }),
        }),
      });
      t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: logicalId(fn.function) },
        DestinationConfig: { OnFailure: { Destination: jobsDlq } },
      });
    }
  });

  it('tells the inventory which regions to list and the report its soak period', () => {
    const fns = t.findResources('AWS::Lambda::Function');
    expect(fns[logicalId(home.jobs.inventory.function)]!['Properties']['Environment']['Variables']['EKS_REGIONS']).toBe('eu-west-1,eu-central-1,us-east-1');
    expect(fns[logicalId(home.jobs.report.function)]!['Properties']['Environment']['Variables']).toMatchObject({
      SOAK_DAYS: '14',
      REPORT_BUCKET: { Ref: logicalId(home.reports.bucket) },
      TOPIC_ARN: { Ref: logicalId(home.alerts.topic) },
    });
  });

  it('lets the inventory read EKS in the configured regions of this account, list clusters anywhere, and use the table only', () => {
    const statements = roleStatements(t, logicalId(home.jobs.inventory.role));
    const eks = statements.filter((s) => asList(s['Action']).some((a: string) => a.startsWith('eks:')));
    const star = eks.filter((s) => asList(s['Resource']).includes('*'));
    expect(star.flatMap((s) => asList(s['Action']))).toEqual(['eks:ListClusters']);
    const scoped = JSON.stringify(eks.filter((s) => !star.includes(s)).map((s) => s['Resource']));
    for (const region of ['eu-west-1', 'eu-central-1', 'us-east-1']) expect(scoped).toContain(`:eks:${region}:`);
    expect(scoped).not.toContain(':eks:*:');
    for (const s of statements.filter((st) => asList(st['Action']).some((a: string) => a.startsWith('dynamodb:')))) {
      expect(s['Resource']).toEqual({ 'Fn::GetAtt': [logicalId(home.evidence.table), 'Arn'] });
    }
    const services = new Set(statements.flatMap((s) => asList(s['Action']) as string[]).map((a) => a.split(':')[0]));
    expect([...services].sort()).toEqual(['dynamodb', 'eks', 'iam', 'logs', 'sqs']);
  });

  it('lets the inventory read, never write, IAM roles and managed policies of this account, and only the agent add-on', () => {
    const statements = roleStatements(t, logicalId(home.jobs.inventory.role));
    const iam = statements.filter((s) => asList(s['Action']).some((a: string) => a.startsWith('iam:')));
    expect(iam.flatMap((s) => asList(s['Action'])).sort()).toEqual([
      'iam:GetPolicy',
      'iam:GetPolicyVersion',
      'iam:GetRole',
      'iam:GetRolePolicy',
      'iam:ListAttachedRolePolicies',
      'iam:ListRolePolicies',
    ]);
    const resources = JSON.stringify(iam.map((s) => s['Resource']));
    expect(resources).toContain(':role/*');
    expect(resources).toContain(':policy/*');
    expect(resources).not.toContain('"*"');
    const addon = statements.find((s) => asList(s['Action']).includes('eks:DescribeAddon'))!;
    expect(JSON.stringify(addon['Resource'])).toContain('addon/*/eks-pod-identity-agent/*');
  });

  it('lets the report put objects under reports/ only', () => {
    const statements = roleStatements(t, logicalId(home.jobs.report.role));
    const s3 = statements.filter((s) => asList(s['Action']).some((a: string) => a.startsWith('s3:')));
    expect(s3).toHaveLength(1);
    expect(asList(s3[0]!['Action'])).toContain('s3:PutObject');
    expect(s3[0]!['Resource']).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(home.reports.bucket), 'Arn'] }, '/reports/*']] });
  });

  it('keeps reports private, encrypted, TLS-only, expiring, and retained with the stack', () => {
    const [id, bucket] = only(t, 'AWS::S3::Bucket');
    expect(id).toBe(logicalId(home.reports.bucket));
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.Properties).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
    });
    expect(bucket.Properties['LifecycleConfiguration']['Rules']).toContainEqual(expect.objectContaining({ ExpirationInDays: 400, Prefix: 'reports/', Status: 'Enabled' }));
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('creates a management-events trail only when asked', () => {
    template(home).resourceCountIs('AWS::CloudTrail::Trail', 0);
    const { home: withTrail } = synth({ createTrail: true });
    const tt = template(withTrail);
    tt.hasResourceProperties('AWS::CloudTrail::Trail', {
      IsLogging: true,
      IsMultiRegionTrail: true,
      IncludeGlobalServiceEvents: true,
      // Management events, read and write; no DataResources, so no data events.
      EventSelectors: [{ IncludeManagementEvents: true, ReadWriteType: 'All' }],
      S3BucketName: { Ref: logicalId(withTrail.trail!.bucket) },
    });
    expect(tt.findResources('AWS::S3::Bucket')[logicalId(withTrail.trail!.bucket)]!['Properties']).toMatchObject({
      BucketEncryption: expect.anything(),
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, RestrictPublicBuckets: true },
    });
  });
});

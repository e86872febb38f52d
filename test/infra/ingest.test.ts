import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { asList, logicalId, resources, roleStatements, synth, template } from './app';
import { INGEST_TIMEOUT } from '../../lib/constructs/ingest-function';
import { JOURNAL_LEASE_SECONDS, WRITER_LEASE_SECONDS, WRITER_LEASE_WRITE_SECONDS } from '../../functions/core/table-schema';

describe('ingest buffer and function', () => {
  // GIVEN the default deployment
  const { home } = synth();
  const t = template(home);
  const queueId = logicalId(home.buffer!.queue);
  const fnId = logicalId(home.ingest!.watchFunction.function);
  const fn = t.findResources('AWS::Lambda::Function')[fnId]!;
  const queue = t.findResources('AWS::SQS::Queue')[queueId]!;

  it('redrives a message to the DLQ after five failed receives', () => {
    expect(queue['Properties']['RedrivePolicy']).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(home.buffer!.deadLetterQueue), 'Arn'] },
      maxReceiveCount: 5,
    });
  });

  it('keeps a message invisible for at least six times the function timeout', () => {
    const timeout = fn['Properties']['Timeout'] as number;
    expect(timeout).toBe(60);
    expect(queue['Properties']['VisibilityTimeout']).toBeGreaterThanOrEqual(6 * timeout);
  });

  it('enforces TLS and encrypts every queue', () => {
    for (const [id, q] of resources(t, 'AWS::SQS::Queue')) {
      expect(q.Properties['SqsManagedSseEnabled'] ?? q.Properties['KmsMasterKeyId'], id).toBeTruthy();
    }
    const queueIds = resources(t, 'AWS::SQS::Queue').map(([id]) => id);
    const policies = resources(t, 'AWS::SQS::QueuePolicy');
    for (const id of queueIds) {
      const policy = policies.find(([, p]) => (p.Properties['Queues'] as unknown[]).some((q) => JSON.stringify(q) === JSON.stringify({ Ref: id })));
      expect(policy, `queue ${id} has a policy`).toBeDefined();
      expect(policy![1].Properties['PolicyDocument']['Statement']).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    }
  });

  it('lets EventBridge send to the queue only from the CloudTrail rules', () => {
    const [, policy] = resources(t, 'AWS::SQS::QueuePolicy').find(([, p]) => JSON.stringify(p.Properties['Queues']) === JSON.stringify([{ Ref: queueId }]))!;
    const allows = (policy.Properties['PolicyDocument']['Statement'] as Record<string, any>[]).filter((s) => s['Effect'] === 'Allow');
    const ruleIds = resources(t, 'AWS::Events::Rule').map(([id]) => id);
    expect(allows).toHaveLength(ruleIds.length);
    for (const s of allows) {
      expect(s['Principal']).toEqual({ Service: 'events.amazonaws.com' });
      expect(asList(s['Action']).every((a: string) => a.startsWith('sqs:Send') || a === 'sqs:GetQueueAttributes' || a === 'sqs:GetQueueUrl')).toBe(true);
    }
    const sources = allows.map((s) => s['Condition']['ArnEquals']['aws:SourceArn']);
    expect(sources).toEqual(expect.arrayContaining(ruleIds.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] }))));
  });

  it('reads the queue in batches of up to 10,000 over 300 s, two invocations at most, reporting item failures', () => {
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnId },
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      BatchSize: 10_000,
      MaximumBatchingWindowInSeconds: 300,
      ScalingConfig: { MaximumConcurrency: 2 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    // A journal younger than the lease may belong to a running invocation: the lease must outlast one.
    expect(JOURNAL_LEASE_SECONDS).toBeGreaterThan(INGEST_TIMEOUT.toSeconds());
    // An invocation cannot outlive a writer lease it took, and its writes stop well before the lease ends.
    expect(WRITER_LEASE_SECONDS).toBeGreaterThan(INGEST_TIMEOUT.toSeconds());
    expect(WRITER_LEASE_WRITE_SECONDS).toBeLessThanOrEqual(WRITER_LEASE_SECONDS / 2);
  });

  it('runs on Node 22 / ARM64 with the house environment and an explicit log group', () => {
    expect(fn['Properties']).toMatchObject({
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      MemorySize: 1024,
      Environment: {
        Variables: {
          TABLE_NAME: { Ref: logicalId(home.evidence.table) },
          NODE_ROLE_ARNS: '',
          POWERTOOLS_SERVICE_NAME: 'cutover-watch',
          POWERTOOLS_METRICS_NAMESPACE: 'CutoverWatch',
          POWERTOOLS_LOG_LEVEL: 'INFO',
          NODE_OPTIONS: '--enable-source-maps',
        },
      },
      LoggingConfig: { LogGroup: { Ref: logicalId(home.ingest!.watchFunction.logGroup) } },
    });
    expect(fn['Properties']['Environment']['Variables']).not.toHaveProperty('POLICY');
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: Match.anyValue() });
  });

  it('reads and writes the evidence table, and nothing broader', () => {
    const statements = roleStatements(t, logicalId(home.ingest!.watchFunction.role));
    const actions = statements.flatMap((s) => asList(s['Action']) as string[]);
    expect(actions.some((a) => a.includes('*'))).toBe(false);
    expect(actions.some((a) => a.startsWith('sns:') || a.startsWith('s3:') || a.startsWith('kms:'))).toBe(false);
    expect(actions).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query', 'dynamodb:BatchWriteItem', 'dynamodb:GetItem']));
    for (const s of statements) {
      expect(asList(s['Resource'])).not.toContain('*');
      const dynamo = asList(s['Action']).some((a: string) => a.startsWith('dynamodb:'));
      if (dynamo) {
        for (const r of asList(s['Resource'])) expect(JSON.stringify(r)).toContain(logicalId(home.evidence.table));
      }
    }
    // The role carries no managed policy (no AWSLambdaBasicExecutionRole): its logs permission names its log group.
    t.hasResourceProperties('AWS::IAM::Role', { AssumeRolePolicyDocument: Match.anyValue(), ManagedPolicyArns: Match.absent() });
  });

  it('passes the node role ARNs and the policy file as written', () => {
    const policyDir = mkdtempSync(join(tmpdir(), 'cw-policy-'));
    try {
      const policyFile = join(policyDir, 'policy.json');
      writeFileSync(policyFile, JSON.stringify({ accessDeniedSpike: { threshold: 10 } }));
      const { home: configured } = synth({ policyFile, nodeRoleArns: ['arn:aws:iam::111122223333:role/a', 'arn:aws:iam::111122223333:role/b'] });
      const vars = template(configured).findResources('AWS::Lambda::Function')[logicalId(configured.ingest!.watchFunction.function)]!['Properties']['Environment']['Variables'];
      expect(vars['NODE_ROLE_ARNS']).toBe('arn:aws:iam::111122223333:role/a,arn:aws:iam::111122223333:role/b');
      expect(JSON.parse(vars['POLICY'])).toEqual({ accessDeniedSpike: { threshold: 10 } });
      // the weekly report reads the same file, for its owners
      const reportVars = template(configured).findResources('AWS::Lambda::Function')[logicalId(configured.jobs.report.function)]!['Properties']['Environment']['Variables'];
      expect(JSON.parse(reportVars['POLICY'])).toEqual({ accessDeniedSpike: { threshold: 10 } });
    } finally {
      rmSync(policyDir, { recursive: true, force: true });
    }
  });

});

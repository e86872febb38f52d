/**
 * Node-role matching: which roles are EC2 node roles, and which of their calls are the node's own.
 * Sources: docs/cloudtrail.md §3 ("Expected, legitimate node-role traffic", DOC [EKS-UG] create-node-role)
 * and §5 (node-role fallthrough pattern). Role names follow the installers' published conventions.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_NODE_ROLE_PATTERNS, EXPECTED_NODE_CALLS, nodeRoleMatcher } from '../../functions/core/node-roles';

const arn = (name: string, path = '/') => `arn:aws:iam::111122223333:role${path}${name}`;

describe('default node role patterns', () => {
  const matcher = nodeRoleMatcher();

  it.each([
    ['eksctl', 'eksctl-prod-nodegroup-ng-1-NodeInstanceRole-ABC'],
    // docs/cloudtrail.md §3 SEEN [EKS-OIDC-DEMO]: eksctl truncates the nodegroup name, leaving a double dash.
    ['eksctl (seen, truncated nodegroup)', 'eksctl-eks-oidc-demo-nodegroup-ng--NodeInstanceRole-rL7RY47katu4'],
    ['Karpenter getting-started', 'KarpenterNodeRole-prod'],
    ['terraform-aws-eks managed node group', 'default-eks-node-group-20240101'],
    // docs/cloudtrail.md §1a SEEN [WS-DD]: the workshop's terraform-aws-eks node role.
    ['terraform-aws-eks (seen)', 'platform-eks-node-group-20231128085853957000000011'],
    ['EKS Auto Mode', 'AmazonEKSAutoNodeRole'],
    ['EKS console walkthrough', 'AmazonEKSNodeRole'],
    // docs/cloudtrail.md §1a AccessDenied SEEN [WS-UC]: a CloudFormation/CDK node group role.
    ['CloudFormation/CDK node group (seen)', 'eks-bootstrap-template-ws-EKSNodegroupRole-E1potkq4Auqa'],
  ])('matches %s role %s by name', (_installer, name) => {
    expect(matcher.isNodeRole(name)).toBe(true);
  });

  it.each([
    ['eksctl', 'eksctl-prod-nodegroup-ng-1-NodeInstanceRole-ABC'],
    ['Karpenter', 'KarpenterNodeRole-prod'],
    ['terraform-aws-eks', 'default-eks-node-group-20240101'],
    ['Auto Mode', 'AmazonEKSAutoNodeRole'],
  ])('matches %s role by full ARN', (_installer, name) => {
    expect(matcher.isNodeRole(arn(name))).toBe(true);
  });

  it('matches a role under a path (role/eks/nodes/…)', () => {
    expect(matcher.isNodeRole(arn('eksctl-prod-nodegroup-ng-1-NodeInstanceRole-ABC', '/eks/nodes/'))).toBe(true);
  });

  it.each([
    'EKSCTL-PROD-NODEGROUP-NG-1-NODEINSTANCEROLE-ABC',
    'karpenternoderole-prod',
    'DEFAULT-EKS-NODE-GROUP-20240101',
    'amazoneksautonoderole',
  ])('matches case-insensitively (IAM role names are unique ignoring case): %s', (name) => {
    expect(matcher.isNodeRole(name)).toBe(true);
    expect(matcher.isNodeRole(arn(name))).toBe(true);
  });

  it.each([
    ['an application role', 'payments-prod-orders-api'],
    ['the EKS cluster service-linked role', 'AWSServiceRoleForAmazonEKS'],
    ['the managed node group service-linked role', 'AWSServiceRoleForAmazonEKSNodegroup'],
    ['the EKS cluster role', 'AmazonEKSClusterRole'],
    ['the Karpenter controller role', 'KarpenterControllerRole-prod'],
    ['a Pod Identity target role', 'eks-pod-s3-read-access-role'],
  ])('does not match %s (%s)', (_what, name) => {
    expect(matcher.isNodeRole(name)).toBe(false);
    expect(matcher.isNodeRole(arn(name))).toBe(false);
  });

  it('does not match an application role whose path mentions nodes', () => {
    expect(matcher.isNodeRole(arn('payments-prod-orders-api', '/eks/nodes/'))).toBe(false);
  });

  it('does not match an application role under a path named like a node role (a glob * does not cross /)', () => {
    expect(matcher.isNodeRole(arn('payments-api', '/NodeInstanceRole/'))).toBe(false);
  });
});

describe('custom patterns and exact role ARNs', () => {
  it('custom patterns replace the defaults', () => {
    const matcher = nodeRoleMatcher({ patterns: ['acme-workers-*'] });
    expect(matcher.isNodeRole('acme-workers-prod')).toBe(true);
    expect(matcher.isNodeRole(arn('acme-workers-prod'))).toBe(true);
    expect(matcher.isNodeRole('KarpenterNodeRole-prod')).toBe(false);
    expect(matcher.isNodeRole(arn('eksctl-prod-nodegroup-ng-1-NodeInstanceRole-ABC'))).toBe(false);
  });

  it('an empty patterns list matches no role by name', () => {
    const matcher = nodeRoleMatcher({ patterns: [] });
    for (const name of ['KarpenterNodeRole-prod', 'eksctl-prod-nodegroup-ng-1-NodeInstanceRole-ABC', 'AmazonEKSAutoNodeRole']) {
      expect(matcher.isNodeRole(arn(name))).toBe(false);
    }
  });

  it('roleArns match exactly (case-insensitively), on top of the default patterns', () => {
    const matcher = nodeRoleMatcher({ roleArns: [arn('custom-workers')] });
    expect(matcher.isNodeRole(arn('custom-workers'))).toBe(true);
    expect(matcher.isNodeRole(arn('CUSTOM-WORKERS'))).toBe(true);
    expect(matcher.isNodeRole(arn('KarpenterNodeRole-prod'))).toBe(true);
  });

  it('roleArns do not match the same name in another account, a prefix, or the bare name', () => {
    const matcher = nodeRoleMatcher({ patterns: [], roleArns: [arn('custom-workers')] });
    expect(matcher.isNodeRole('arn:aws:iam::444455556666:role/custom-workers')).toBe(false);
    expect(matcher.isNodeRole(arn('custom-workers-2'))).toBe(false);
    expect(matcher.isNodeRole('custom-workers')).toBe(false);
  });

  it('roleArns accepts any iterable (a Set from the inventory)', () => {
    const matcher = nodeRoleMatcher({ patterns: [], roleArns: new Set([arn('from-inventory')]) });
    expect(matcher.isNodeRole(arn('from-inventory'))).toBe(true);
  });
});

describe('expected node calls (docs/cloudtrail.md §3, DOC [EKS-UG] node IAM role policies)', () => {
  const matcher = nodeRoleMatcher();

  it.each([
    ['eks-auth.amazonaws.com', 'AssumeRoleForPodIdentity'], // the Pod Identity agent (§1a)
    ['ecr.amazonaws.com', 'GetAuthorizationToken'],
    ['ecr.amazonaws.com', 'BatchGetImage'],
    ['ecr.amazonaws.com', 'GetDownloadUrlForLayer'],
    ['ec2.amazonaws.com', 'DescribeInstances'],
    ['ec2.amazonaws.com', 'DescribeNetworkInterfaces'],
    ['ec2.amazonaws.com', 'AssignPrivateIpAddresses'],
    ['eks.amazonaws.com', 'DescribeCluster'],
    ['ssm.amazonaws.com', 'UpdateInstanceInformation'],
  ])('%s:%s is expected', (source, name) => {
    expect(matcher.isExpectedNodeCall(source, name)).toBe(true);
  });

  it.each([
    ['s3.amazonaws.com', 'ListBuckets'], // §3 SEEN fallthrough
    ['ec2.amazonaws.com', 'AttachVolume'],
    ['ec2.amazonaws.com', 'RunInstances'],
    ['sts.amazonaws.com', 'GetCallerIdentity'],
    ['sts.amazonaws.com', 'AssumeRole'],
    ['eks.amazonaws.com', 'ListClusters'],
    ['dynamodb.amazonaws.com', 'DescribeTable'],
    ['eks-auth.amazonaws.com', 'SomethingElse'],
    // services the node's agents use, but calls only applications make
    ['ssm.amazonaws.com', 'GetParameter'],
    ['ssm.amazonaws.com', 'GetParametersByPath'],
    ['ecr.amazonaws.com', 'PutImage'],
    ['logs.amazonaws.com', 'DeleteLogGroup'],
    ['monitoring.amazonaws.com', 'GetMetricData'],
  ])('%s:%s is not expected', (source, name) => {
    expect(matcher.isExpectedNodeCall(source, name)).toBe(false);
  });

  it('a glob for one service does not leak to a similarly named one (ecr vs ecr-public)', () => {
    expect(matcher.isExpectedNodeCall('ecr-public.amazonaws.com', 'GetAuthorizationToken')).toBe(false);
  });

  it('custom expectedCalls replace the defaults', () => {
    const custom = nodeRoleMatcher({ expectedCalls: ['s3.amazonaws.com:ListBuckets'] });
    expect(custom.isExpectedNodeCall('s3.amazonaws.com', 'ListBuckets')).toBe(true);
    expect(custom.isExpectedNodeCall('ecr.amazonaws.com', 'GetAuthorizationToken')).toBe(false);
  });

  it('the defaults are the exported lists', () => {
    expect(DEFAULT_NODE_ROLE_PATTERNS).toContain('*NodeInstanceRole*');
    expect(EXPECTED_NODE_CALLS).toContain('eks-auth.amazonaws.com:AssumeRoleForPodIdentity');
  });
});

describe('invalid configuration fails loudly', () => {
  it.each(['', '   '])('an empty node role pattern %j throws, naming the kind of pattern', (glob) => {
    expect(() => nodeRoleMatcher({ patterns: ['KarpenterNodeRole*', glob] })).toThrow(/empty node role pattern/);
  });

  it('an empty expected call pattern throws, naming the kind of pattern', () => {
    expect(() => nodeRoleMatcher({ expectedCalls: ['ecr.amazonaws.com:*', ''] })).toThrow(/empty expected node call pattern/);
  });

  it('the message suggests a valid glob', () => {
    expect(() => nodeRoleMatcher({ patterns: [''] })).toThrow(/\*NodeInstanceRole\*/);
  });
});

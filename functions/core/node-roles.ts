import { compileGlob } from './glob';

/**
 * Role-name globs that common EKS installers give node roles. A call made with one of these
 * roles' instance credentials is node traffic; anything outside EXPECTED_NODE_CALLS is a pod
 * falling through to the node role.
 */
export const DEFAULT_NODE_ROLE_PATTERNS: readonly string[] = [
  '*NodeInstanceRole*', // eksctl: eksctl-<cluster>-nodegroup-<ng>-NodeInstanceRole-<suffix>
  'KarpenterNodeRole*', // Karpenter getting-started: KarpenterNodeRole-<cluster>
  'AmazonEKSNodeRole*', // EKS user guide's console walkthrough
  'AmazonEKSAutoNodeRole*', // EKS Auto Mode
  '*-eks-node-group-*', // terraform-aws-eks managed node groups: <name>-eks-node-group-<suffix>
  '*NodegroupRole*', // CDK aws-eks: <stack>NodegroupDefaultCapacityNodeGroupRole…
];

/**
 * `eventSource:eventName` globs for calls a node makes for itself: the Pod Identity agent, image
 * pulls, the VPC CNI on the node role (AmazonEKS_CNI_Policy actions), bootstrap, SSM and CloudWatch
 * agents. Source: AmazonEKSWorkerNodePolicy, AmazonEC2ContainerRegistryReadOnly,
 * AmazonEKS_CNI_Policy and AmazonSSMManagedInstanceCore, as the EKS user guide's "Amazon EKS node
 * IAM role" lists them. Kept narrow on purpose: everything else a node role calls is a finding.
 */
export const EXPECTED_NODE_CALLS: readonly string[] = [
  'eks-auth.amazonaws.com:AssumeRoleForPodIdentity',
  // Image pulls only (kubelet and its credential provider): a pod pushing images is not node traffic.
  'ecr.amazonaws.com:GetAuthorizationToken',
  'ecr.amazonaws.com:BatchGetImage',
  'ecr.amazonaws.com:GetDownloadUrlForLayer',
  'ecr.amazonaws.com:BatchCheckLayerAvailability',
  'ec2.amazonaws.com:Describe*',
  'ec2.amazonaws.com:AssignPrivateIpAddresses',
  'ec2.amazonaws.com:UnassignPrivateIpAddresses',
  'ec2.amazonaws.com:AssignIpv6Addresses',
  'ec2.amazonaws.com:UnassignIpv6Addresses',
  'ec2.amazonaws.com:AttachNetworkInterface',
  'ec2.amazonaws.com:CreateNetworkInterface',
  'ec2.amazonaws.com:DeleteNetworkInterface',
  'ec2.amazonaws.com:DetachNetworkInterface',
  'ec2.amazonaws.com:ModifyNetworkInterfaceAttribute',
  'ec2.amazonaws.com:CreateTags',
  'eks.amazonaws.com:DescribeCluster',
  // The SSM agent (AmazonSSMManagedInstanceCore); GetParameter* is left out: apps read config with it.
  'ssm.amazonaws.com:UpdateInstanceInformation',
  'ssm.amazonaws.com:ListAssociations',
  'ssm.amazonaws.com:ListInstanceAssociations',
  'ssm.amazonaws.com:DescribeAssociation',
  'ssm.amazonaws.com:UpdateInstanceAssociationStatus',
  'ssm.amazonaws.com:GetDocument',
  'ssm.amazonaws.com:DescribeDocument',
  'ssm.amazonaws.com:PutInventory',
  'ssm.amazonaws.com:PutComplianceItems',
  'ec2messages.amazonaws.com:*',
  'ssmmessages.amazonaws.com:*',
  // CloudWatch agent / log shippers setting up their streams (PutLogEvents is not in CloudTrail).
  'logs.amazonaws.com:CreateLogGroup',
  'logs.amazonaws.com:CreateLogStream',
  'logs.amazonaws.com:DescribeLogGroups',
  'logs.amazonaws.com:DescribeLogStreams',
  'logs.amazonaws.com:PutRetentionPolicy',
  'monitoring.amazonaws.com:PutMetricData',
];

export interface NodeRoleMatcher {
  /** True when the role (by ARN; its name is matched too) is a node role. */
  isNodeRole(roleArn: string): boolean;
  /** True when `eventSource:eventName` is traffic a node makes for itself. */
  isExpectedNodeCall(eventSource: string, eventName: string): boolean;
}

export interface NodeRoleConfig {
  /** Globs on the role name or ARN. @default DEFAULT_NODE_ROLE_PATTERNS */
  patterns?: readonly string[];
  /** Exact node role ARNs (from the inventory's node groups or observed Pod Identity fetches). */
  roleArns?: Iterable<string>;
  /** @default EXPECTED_NODE_CALLS */
  expectedCalls?: readonly string[];
}

/** Throws on an empty or unusable glob, naming it: a typo here would silently match nothing. */
export function nodeRoleMatcher(config: NodeRoleConfig = {}): NodeRoleMatcher {
  const compile = (globs: readonly string[], what: string) =>
    globs.map((glob) => {
      if (glob.trim() === '') throw new Error(`empty ${what} pattern; give a glob such as '*NodeInstanceRole*'`);
      // `*` does not cross `/` (./glob.ts): a role path cannot pass for a node role name.
      try {
        return compileGlob(glob);
      } catch (e) {
        throw new Error(`${what} pattern: ${(e as Error).message}`);
      }
    });
  const rolePatterns = compile(config.patterns ?? DEFAULT_NODE_ROLE_PATTERNS, 'node role');
  const callPatterns = compile(config.expectedCalls ?? EXPECTED_NODE_CALLS, 'expected node call');
  const exact = new Set([...(config.roleArns ?? [])].map((arn) => arn.toLowerCase()));
  // IAM role names are unique case-insensitively, so matching ignores case.
  return {
    isNodeRole(roleArn) {
      if (exact.has(roleArn.toLowerCase())) return true;
      const name = roleArn.slice(roleArn.lastIndexOf('/') + 1);
      return rolePatterns.some((match) => match(name) || match(roleArn));
    },
    isExpectedNodeCall(eventSource, eventName) {
      const call = `${eventSource}:${eventName}`;
      return callPatterns.some((match) => match(call));
    },
  };
}

import { Aws } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';

/**
 * What the inventory reads in one account, granted alike to the home inventory job's role and to
 * each member account's read role: the EKS clusters, node groups, Pod Identity associations and
 * Pod Identity Agent add-on of the configured regions, the IAM roles they name, and the customer
 * managed policies attached to those roles. AWS managed policies are listed, never read
 * (functions/adapters/iam-roles.ts), so `arn:aws:iam::aws:policy/*` is not granted.
 *
 * `eks:ListClusters` (no resource-level permissions) is the caller's, beside whatever else it
 * grants on `*`. Resource types: Service Authorization Reference, Amazon EKS
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelastickubernetesservice.html)
 * and IAM (…/list_awsidentityandaccessmanagementiam.html).
 */
export function inventoryReadGrants(regions: readonly string[]): { statements: PolicyStatement[]; wildcards: [finding: string, reason: string][] } {
  const eks = (resource: string) => regions.map((r) => `arn:${Aws.PARTITION}:eks:${r}:${Aws.ACCOUNT_ID}:${resource}`);
  const iam = (resource: string) => `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:${resource}`;
  // addon/<cluster>/<name>/<uuid>: only the Pod Identity Agent's
  const kinds = { clusters: 'cluster/*', nodegroups: 'nodegroup/*', associations: 'podidentityassociation/*', agentAddons: 'addon/*/eks-pod-identity-agent/*' } as const;
  const statements = [
    new PolicyStatement({
      sid: 'ReadClusters',
      actions: ['eks:DescribeCluster', 'eks:ListNodegroups', 'eks:ListPodIdentityAssociations', 'eks:ListAddons'],
      resources: eks(kinds.clusters),
    }),
    new PolicyStatement({ sid: 'ReadNodegroups', actions: ['eks:DescribeNodegroup'], resources: eks(kinds.nodegroups) }),
    new PolicyStatement({ sid: 'ReadPodIdentityAssociations', actions: ['eks:DescribePodIdentityAssociation'], resources: eks(kinds.associations) }),
    // the preflight: the agent add-on's status, and the roles' trust and permission policies
    new PolicyStatement({ sid: 'ReadAgentAddon', actions: ['eks:DescribeAddon'], resources: eks(kinds.agentAddons) }),
    new PolicyStatement({
      sid: 'ReadRoles',
      actions: ['iam:GetRole', 'iam:ListRolePolicies', 'iam:GetRolePolicy', 'iam:ListAttachedRolePolicies'],
      resources: [iam('role/*')],
    }),
    new PolicyStatement({ sid: 'ReadManagedPolicies', actions: ['iam:GetPolicy', 'iam:GetPolicyVersion'], resources: [iam('policy/*')] }),
  ];
  const discovered = 'the inventory reads every cluster, node group, Pod Identity association and agent add-on of the configured regions in this account; their names are what it discovers';
  return {
    statements,
    wildcards: [
      ...regions.flatMap((r) => Object.values(kinds).map((k): [string, string] => [`Resource::arn:<AWS::Partition>:eks:${r}:<AWS::AccountId>:${k}`, discovered])),
      [
        'Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*',
        'the preflight reads (never writes) the trust and inline policies of the roles the associations and IRSA evidence name; which roles is known only at run time',
      ],
      [
        'Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:policy/*',
        'the preflight reads (never writes) the default version of the customer managed policies those roles attach',
      ],
    ],
  };
}

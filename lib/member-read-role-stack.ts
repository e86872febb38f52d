import { Aws, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { AccountPrincipal, PolicyStatement, Role } from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { acknowledgeWildcards } from './nag';

export interface MemberReadRoleStackProps extends StackProps {
  /** The account of the home stack, whose inventory job assumes this role. */
  readonly homeAccount: string;
  /** The inventory job role's name in the home account (fixed when there are members). */
  readonly inventoryRoleName: string;
  /** This role's name, the same in every member account. */
  readonly roleName: string;
  /** Regions whose EKS clusters are read. */
  readonly eksRegions: readonly string[];
}

/**
 * The read role of a member account: what `cutover-watch inventory sync` and `backfill`
 * (LookupEvents) read there, and nothing else, for the home account's inventory job (and the
 * CLI run as that role's principal). The template names no member account (it uses its own
 * account), so it deploys as is with `cdk deploy` per account or as one CloudFormation StackSet.
 *
 * The trust names the home account with an `aws:PrincipalArn` condition rather than the role's ARN
 * as principal: IAM stores a role principal as its unique id, so a re-created inventory role would
 * silently lose access (IAM User Guide, "AWS JSON policy elements: Principal", IAM role principals:
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-roles).
 */
export class MemberReadRoleStack extends Stack {
  readonly role: Role;

  constructor(scope: Construct, id: string, props: MemberReadRoleStackProps) {
    super(scope, id, { description: 'cutover-watch member read role: EKS inventory, IAM role reads and CloudTrail LookupEvents for the home account', ...props });
    const inventoryRoleArn = `arn:${Aws.PARTITION}:iam::${props.homeAccount}:role/${props.inventoryRoleName}`;
    this.role = new Role(this, 'ReadRole', {
      roleName: props.roleName,
      description: 'cutover-watch: read-only EKS inventory, IAM roles and CloudTrail event history, for the home account inventory job',
      assumedBy: new AccountPrincipal(props.homeAccount).withConditions({ ArnEquals: { 'aws:PrincipalArn': inventoryRoleArn } }),
    });

    // Resource types and condition-free actions: Service Authorization Reference, Amazon EKS
    // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelastickubernetesservice.html),
    // IAM (…/list_awsidentityandaccessmanagementiam.html), CloudTrail (…/list_awscloudtrail.html).
    const eks = (resource: string) => props.eksRegions.map((r) => `arn:${Aws.PARTITION}:eks:${r}:${Aws.ACCOUNT_ID}:${resource}`);
    const eksFinding = (resource: string) => props.eksRegions.map((r) => `Resource::arn:<AWS::Partition>:eks:${r}:<AWS::AccountId>:${resource}`);
    const statements = [
      new PolicyStatement({ sid: 'ListClustersAndLookupEvents', actions: ['eks:ListClusters', 'cloudtrail:LookupEvents'], resources: ['*'] }),
      new PolicyStatement({
        sid: 'ReadClusters',
        actions: ['eks:DescribeCluster', 'eks:ListNodegroups', 'eks:ListPodIdentityAssociations', 'eks:ListAddons'],
        resources: eks('cluster/*'),
      }),
      new PolicyStatement({ sid: 'ReadNodegroups', actions: ['eks:DescribeNodegroup'], resources: eks('nodegroup/*') }),
      new PolicyStatement({ sid: 'ReadPodIdentityAssociations', actions: ['eks:DescribePodIdentityAssociation'], resources: eks('podidentityassociation/*') }),
      new PolicyStatement({ sid: 'ReadAddons', actions: ['eks:DescribeAddon'], resources: eks('addon/*') }),
      new PolicyStatement({
        sid: 'ReadRoles',
        actions: ['iam:GetRole', 'iam:ListRolePolicies', 'iam:GetRolePolicy', 'iam:ListAttachedRolePolicies'],
        resources: [`arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role/*`],
      }),
      new PolicyStatement({
        sid: 'ReadPolicies',
        actions: ['iam:GetPolicy', 'iam:GetPolicyVersion'],
        // the account's customer managed policies, and AWS managed ones attached to its roles
        resources: [`arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:policy/*`, `arn:${Aws.PARTITION}:iam::aws:policy/*`],
      }),
    ];
    for (const statement of statements) this.role.addToPrincipalPolicy(statement);

    const discovered = 'the inventory reads every cluster, node group, add-on and Pod Identity association of the configured regions in this account; their names are what it discovers';
    acknowledgeWildcards(this.role, [
      ['Resource::*', 'eks:ListClusters and cloudtrail:LookupEvents support no resource-level permissions (Service Authorization Reference); both only read'],
      ...['cluster/*', 'nodegroup/*', 'podidentityassociation/*', 'addon/*'].flatMap((r) => eksFinding(r).map((f): [string, string] => [f, discovered])),
      ['Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*', 'the roles Pod Identity associations and IRSA service accounts name are found in the inventory; read-only (Get/List)'],
      ['Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:policy/*', 'the customer managed policies attached to those roles; read-only (GetPolicy, GetPolicyVersion)'],
      ['Resource::arn:<AWS::Partition>:iam::aws:policy/*', 'the AWS managed policies attached to those roles; read-only (GetPolicy, GetPolicyVersion)'],
    ]);

    new CfnOutput(this, 'ReadRoleArn', { value: this.role.roleArn, description: 'the role the home inventory job (and cutover-watch --role-arn) assumes in this account' });
  }
}

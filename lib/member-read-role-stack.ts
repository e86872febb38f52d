import { Aws, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { AccountPrincipal, PolicyStatement, Role } from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { inventoryReadGrants } from './inventory-read-grants';
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

    // LookupEvents and ListClusters have no resource-level permissions (Service Authorization
    // Reference, AWS CloudTrail and Amazon EKS); the rest is what the home inventory job reads too.
    this.role.addToPrincipalPolicy(new PolicyStatement({ sid: 'ListClustersAndLookupEvents', actions: ['eks:ListClusters', 'cloudtrail:LookupEvents'], resources: ['*'] }));
    const reads = inventoryReadGrants(props.eksRegions);
    for (const statement of reads.statements) this.role.addToPrincipalPolicy(statement);
    acknowledgeWildcards(this.role, [['Resource::*', 'eks:ListClusters and cloudtrail:LookupEvents support no resource-level permissions (Service Authorization Reference); both only read'], ...reads.wildcards]);

    new CfnOutput(this, 'ReadRoleArn', { value: this.role.roleArn, description: 'the role the home inventory job (and cutover-watch --role-arn) assumes in this account' });
  }
}

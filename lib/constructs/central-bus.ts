import { EventBus } from 'aws-cdk-lib/aws-events';
import { AccountPrincipal, PolicyStatement, StarPrincipal } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** The central bus's name: collector stacks build its ARN from it and the home account/region. */
export const CENTRAL_BUS_NAME = 'cutover-watch';

export interface CentralBusProps {
  /** Accounts whose collectors may put events on the bus. @default [] */
  readonly collectorAccounts?: readonly string[];
  /** An organization whose accounts may put events on the bus (aws:PrincipalOrgID). @default none */
  readonly organizationId?: string;
}

/**
 * The custom event bus collectors in other regions and accounts forward CloudTrail events to.
 * Its resource policy admits `events:PutEvents` from the configured accounts or organization
 * only; the home account's own collectors (other regions) need no statement, their role's
 * identity policy is enough.
 */
export class CentralBus extends Construct {
  readonly bus: EventBus;

  constructor(scope: Construct, id: string, props: CentralBusProps = {}) {
    super(scope, id);
    this.bus = new EventBus(this, 'Bus', { eventBusName: CENTRAL_BUS_NAME, description: 'cutover-watch: CloudTrail identity events forwarded by collectors' });
    const accounts = props.collectorAccounts ?? [];
    if (accounts.length > 0) {
      this.bus.addToResourcePolicy(
        new PolicyStatement({
          sid: 'CollectorAccountsPutEvents',
          principals: accounts.map((a) => new AccountPrincipal(a)),
          actions: ['events:PutEvents'],
          resources: [this.bus.eventBusArn],
        }),
      );
    }
    if (props.organizationId) {
      this.bus.addToResourcePolicy(
        new PolicyStatement({
          sid: 'OrganizationPutEvents',
          principals: [new StarPrincipal()],
          actions: ['events:PutEvents'],
          resources: [this.bus.eventBusArn],
          conditions: { StringEquals: { 'aws:PrincipalOrgID': props.organizationId } },
        }),
      );
    }
  }
}

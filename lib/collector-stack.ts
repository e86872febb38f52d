import { Stack, type StackProps } from 'aws-cdk-lib';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { EventBus as EventBusTarget } from 'aws-cdk-lib/aws-events-targets';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { rulePatterns, type NodeRoleRuleConfig } from '../functions/core/rule-patterns';
import { CENTRAL_BUS_NAME } from './constructs/central-bus';
import { CloudTrailRules } from './constructs/cloudtrail-rules';
import { DeadLetterQueue } from './constructs/dead-letter-queue';

export interface CollectorStackProps extends StackProps {
  /** Region of the home stack and its central bus. */
  readonly homeRegion: string;
  /** Account of the home stack. @default - this stack's account (a collector in another region of the home account) */
  readonly homeAccount?: string;
  /** The node roles of the node-role rule, as in the home stack. */
  readonly nodeRoles: NodeRoleRuleConfig;
}

/**
 * A collector: the same rules as the home stack, on this account and region's default bus (where
 * CloudTrail delivers), forwarding to the central bus. EventBridge needs a role to put events on
 * a bus in another region or account; the home bus's resource policy admits this account.
 */
export class CollectorStack extends Stack {
  readonly rules: CloudTrailRules;
  readonly deliveryDeadLetterQueue: DeadLetterQueue;
  readonly centralBusArn: string;

  constructor(scope: Construct, id: string, props: CollectorStackProps) {
    super(scope, id, { description: 'cutover-watch collector: forwards CloudTrail identity events to the central bus', ...props });
    this.centralBusArn = this.formatArn({
      service: 'events',
      region: props.homeRegion,
      account: props.homeAccount ?? this.account,
      resource: 'event-bus',
      resourceName: CENTRAL_BUS_NAME,
    });
    const centralBus = EventBus.fromEventBusArn(this, 'CentralBus', this.centralBusArn);
    this.deliveryDeadLetterQueue = new DeadLetterQueue(this, 'DeliveryDeadLetterQueue', {
      holds: 'CloudTrail events EventBridge could not forward to the central bus after bounded retries',
    });
    const role = new Role(this, 'ForwardRole', {
      assumedBy: new ServicePrincipal('events.amazonaws.com'),
      description: 'cutover-watch collector: put events on the central bus',
    });
    // No RetryPolicy: EventBridge does not take one for event-bus targets (CDK EventBusProps: "Retry
    // policy is not supported for Event bus targets"), so its defaults bound the retries (24 h,
    // 185 attempts, EventBridge user guide "How EventBridge retries delivering events"), then the DLQ.
    const target = new EventBusTarget(centralBus, { role, deadLetterQueue: this.deliveryDeadLetterQueue });
    this.rules = new CloudTrailRules(this, 'Rules', { patterns: rulePatterns(props.nodeRoles), target });
  }
}


import { Rule, type CfnRule, type IEventBus, type IRuleTarget } from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import type { EventPattern, RuleName } from '../../functions/core/rule-patterns';
import { toCdkEventPattern } from '../event-pattern';

/**
 * Every rule reads CloudTrail management events that are `readOnly: true` (AssumeRole*,
 * AssumeRoleForPodIdentity, and the List/Get/Describe calls of a node-role fallthrough). A rule in
 * the plain `ENABLED` state "matches events … except for read-only AWS management events delivered
 * through CloudTrail"; only this state matches them (docs/cloudtrail.md §4b; EventBridge user guide,
 * "Receiving read-only management events from AWS services"; API reference `Rule.State`: "only
 * valid for rules on the default event bus or custom event buses"). The L2 `Rule` only knows
 * enabled/disabled, hence the property override.
 */
export const CLOUDTRAIL_RULE_STATE = 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS';

/** EventBridge's limit on a rule's EventPattern (API reference, `PutRule`: EventPattern length ≤ 4096). */
const MAX_EVENT_PATTERN_LENGTH = 4096;

export interface CloudTrailRulesProps {
  /** The core's raw patterns by name (`rulePatterns(...)`), deployed unchanged. */
  readonly patterns: Partial<Record<RuleName, EventPattern>>;
  /** Where every rule delivers. */
  readonly target: IRuleTarget;
  /** @default - the account's default event bus, where CloudTrail delivers */
  readonly eventBus?: IEventBus;
}

/**
 * One EventBridge rule per core pattern, all in the state that lets read-only CloudTrail
 * management events through, all delivering to one target.
 */
export class CloudTrailRules extends Construct {
  readonly rules: Partial<Record<RuleName, Rule>> = {};

  constructor(scope: Construct, id: string, props: CloudTrailRulesProps) {
    super(scope, id);
    for (const [name, pattern] of Object.entries(props.patterns) as [RuleName, EventPattern][]) {
      const length = JSON.stringify(pattern).length;
      if (length > MAX_EVENT_PATTERN_LENGTH) {
        throw new Error(
          `the ${name} rule's event pattern is ${length} characters, over EventBridge's ${MAX_EVENT_PATTERN_LENGTH}: ` +
            (name === 'node-role' ? 'list fewer nodeRoleArns and match the rest with nodeRolePatterns' : 'shorten the pattern'),
        );
      }
      const rule = new Rule(this, name, {
        description: `cutover-watch ${name}: CloudTrail events for the ingest`,
        eventBus: props.eventBus,
        eventPattern: toCdkEventPattern(pattern),
        targets: [props.target],
      });
      (rule.node.defaultChild as CfnRule).addPropertyOverride('State', CLOUDTRAIL_RULE_STATE);
      this.rules[name] = rule;
    }
  }
}

import type { EventPattern as CdkEventPattern } from 'aws-cdk-lib/aws-events';
import type { EventPattern as RawEventPattern } from '../functions/core/rule-patterns';

/**
 * The core's raw EventBridge pattern in the shape `aws-events` takes. Only the top-level keys are
 * renamed (`detail-type` → `detailType`); CDK renames it back when it renders the rule and passes
 * every value through unchanged, so the deployed `EventPattern` equals the raw object (pinned by
 * test/infra/rules.test.ts).
 */
export function toCdkEventPattern(raw: RawEventPattern): CdkEventPattern {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const cdkKey = RAW_TO_CDK[key];
    if (cdkKey === undefined) {
      throw new Error(`event pattern key ${JSON.stringify(key)} has no aws-events equivalent; supported top-level keys: ${Object.keys(RAW_TO_CDK).join(', ')}`);
    }
    out[cdkKey] = value;
  }
  return out as CdkEventPattern;
}

/** Top-level envelope fields (EventBridge user guide, "Amazon EventBridge events") → `events.EventPattern` props. */
const RAW_TO_CDK: Record<string, keyof CdkEventPattern> = {
  version: 'version',
  id: 'id',
  'detail-type': 'detailType',
  source: 'source',
  account: 'account',
  time: 'time',
  region: 'region',
  resources: 'resources',
  detail: 'detail',
};

import { Aws, Duration } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Schedule, ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { acknowledgeWildcards, nagRef } from '../nag';

export interface ScheduledInvocation {
  /** The schedule's construct id. */
  readonly id: string;
  readonly function: IFunction;
  /** EventBridge Scheduler expression: rate(…), cron(…) or at(…). */
  readonly expression: string;
  readonly description: string;
}

/**
 * Functions invoked on EventBridge Scheduler schedules, all under `scope`: one role for its
 * schedules (so its grants sit beside the functions they invoke), trusted by the scheduler of this
 * account only; each invocation retried 3 times within an hour, then sent to `deadLetterQueue`.
 * `why` is the acknowledgement of the role's `:*` grant (grantInvoke adds the functions' versions).
 */
export function invokeOnSchedules(scope: Construct, props: { roleDescription: string; deadLetterQueue: IQueue; schedules: readonly ScheduledInvocation[]; why: string }): Role {
  const role = new Role(scope, 'SchedulerRole', {
    assumedBy: new ServicePrincipal('scheduler.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } } }),
    description: props.roleDescription,
  });
  for (const s of props.schedules) {
    new Schedule(scope, s.id, {
      description: s.description,
      schedule: ScheduleExpression.expression(s.expression),
      target: new LambdaInvoke(s.function, { role, deadLetterQueue: props.deadLetterQueue, retryAttempts: 3, maxEventAge: Duration.hours(1) }),
    });
  }
  acknowledgeWildcards(
    role,
    props.schedules.map((s) => [`Resource::${nagRef(s.function)}:*`, props.why]),
  );
  return role;
}

import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { deliverAlerts, deliverOwedAlerts, JsonlAlertLog, type DeliveryFailure } from '../../adapters/alert-delivery';
// The SNS client and Slack's webhook load when a run delivers to them (alertSinks).
import type { AlertSink } from '../../adapters/alert-sinks';
import type { DynamoEvidenceStore } from '../../adapters/dynamo-evidence-store';
import type { Alert } from '../../core/alert';
import { jsonErrorMessage } from '../../core/envelopes';
import { DEFAULT_POLICY_FILE, defaultPolicy, parsePolicy, PolicyError, type Policy } from '../../core/policy';
import { UsageError, type Io } from './io';
import { plural } from './render';

/** The Slack webhook is a credential: it comes from the environment, never from a flag or a file. */
export const SLACK_WEBHOOK_ENV = 'CUTOVER_WATCH_SLACK_WEBHOOK_URL';

export interface AlertFlags {
  policy?: string;
  alerts?: boolean;
  snsTopic?: string;
  region?: string;
}

export function withAlertOptions(command: Command): Command {
  return command
    .option('--policy <file>', `detection thresholds and windows (default: ./${DEFAULT_POLICY_FILE} when it exists)`)
    .option('--no-alerts', 'run no detections')
    .option('--sns-topic <arn>', 'also publish alerts to this SNS topic (region from the ARN)');
}

/** The policy file: the named one (which must exist), else ./cutover-watch.policy.json if present, else the defaults. */
export async function loadPolicy(flags: AlertFlags, io: Io): Promise<{ policy: Policy; source: string }> {
  const named = flags.policy !== undefined;
  const file = path.resolve(io.cwd, flags.policy ?? DEFAULT_POLICY_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !named) return { policy: defaultPolicy(), source: 'defaults' };
    throw new UsageError(`${flags.policy ?? DEFAULT_POLICY_FILE}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  const shown = path.relative(io.cwd, file);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${shown}: not JSON: ${jsonErrorMessage(e)}`);
  }
  try {
    return { policy: parsePolicy(doc, shown), source: shown };
  } catch (e) {
    if (e instanceof PolicyError) throw new UsageError(e.message);
    throw e;
  }
}

/** alerts.jsonl always; SNS with --sns-topic; Slack when the webhook variable is set. */
export async function alertSinks(flags: AlertFlags, localDir: string, env: NodeJS.ProcessEnv = process.env): Promise<AlertSink[]> {
  const sinks: AlertSink[] = [new JsonlAlertLog(path.join(localDir, 'alerts.jsonl'))];
  const region = flags.snsTopic?.split(':')[3];
  if (flags.snsTopic && (!flags.snsTopic.startsWith('arn:') || !region)) {
    throw new UsageError(`--sns-topic needs a topic ARN such as arn:aws:sns:us-east-1:111122223333:cutover-watch-alerts, got ${flags.snsTopic}`);
  }
  const webhook = env[SLACK_WEBHOOK_ENV];
  if (webhook && !/^https:\/\//.test(webhook) && !/^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(webhook)) {
    throw new UsageError(`${SLACK_WEBHOOK_ENV} must be an https:// Slack incoming webhook URL`);
  }
  if (flags.snsTopic) {
    const { SnsSink } = await import('../../adapters/alert-sinks');
    const { SNSClient } = await import('@aws-sdk/client-sns');
    sinks.push(new SnsSink({ client: new SNSClient({ region }), topicArn: flags.snsTopic }));
  }
  if (webhook) {
    const { SlackSink } = await import('../../adapters/alert-sinks');
    sinks.push(new SlackSink({ webhookUrl: webhook }));
  }
  return sinks;
}

/** A run's delivery of alerts: to every sink as they are raised, owed in the store until done. */
export interface AlertDelivery {
  /** Alerts an earlier run recorded and did not deliver, delivered by this one before it read anything. */
  earlier: Alert[];
  /** Every failed delivery of the run (the earlier alerts' first). */
  failures: DeliveryFailure[];
  /** A batch's new alerts to every sink; then no longer owed. */
  deliver(alerts: readonly Alert[]): Promise<void>;
}

/**
 * Alerts go through the store's outbox (`useAlertOutbox`): a run killed between recording a
 * batch's alerts and delivering them leaves them owed, and the next run that delivers alerts
 * delivers them first, saying so.
 */
export async function startAlertDelivery(store: DynamoEvidenceStore, sinks: readonly AlertSink[], io: Io): Promise<AlertDelivery> {
  store.useAlertOutbox();
  const { alerts: earlier, failures } = await deliverOwedAlerts(store, sinks);
  if (earlier.length > 0) io.err(`delivered ${plural(earlier.length, 'alert')} an earlier run recorded but was stopped before delivering`);
  return {
    earlier,
    failures,
    async deliver(alerts) {
      failures.push(...(await deliverAlerts(alerts, sinks)));
      await store.alertsDelivered(alerts.map((a) => a.id));
    },
  };
}

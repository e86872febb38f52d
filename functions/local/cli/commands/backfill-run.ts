import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import { makeDirectory } from '../../../adapters/make-directory';
import type { DeliveryFailure } from '../../../adapters/alert-delivery';
import type { BackfillOptions } from '../../../adapters/cloudtrail-backfill';
import type { Rejection } from '../../../adapters/ingest-pipeline';
import type { Alert } from '../../../core/alert';
import type { Policy } from '../../../core/policy';
import type { DynamoEvidenceStore } from '../../../adapters/dynamo-evidence-store';
import { alertSinks, startAlertDelivery, type AlertFlags } from '../alert-options';
import type { Io } from '../io';
import { displaySafe, plural } from '../render';

/** The exit code of a backfill stopped by Ctrl-C (its stored slices checkpointed). */
export const INTERRUPTED_EXIT = 130;
const REJECTIONS_SHOWN = 20;

/** The options every backfill (LookupEvents, Athena, Lake) takes from the command line and the run. */
export type BackfillIngestOptions = Pick<BackfillOptions, 'now' | 'restart' | 'policy' | 'detect' | 'nodeRolePatterns' | 'signal' | 'onRejection' | 'onAlerts'>;

/**
 * What a backfill command keeps while it reads: the rejections, the alerts raised and their
 * failed deliveries, and a Ctrl-C that stops it after the slice in hand (`unsubscribe` when done).
 * `ingest` is the part of the backfill's options that is the same whatever it reads.
 */
export async function startBackfillRun(options: {
  flags: Pick<AlertFlags, 'snsTopic' | 'alerts'> & { restart?: boolean; nodeRole?: string[] };
  /** Where the run's alerts are owed until delivered (and an earlier run's are found). */
  store: DynamoEvidenceStore;
  policy: Policy | undefined;
  io: Io;
  localDir: string;
  /** The command's: the environment (Slack webhook) and how Ctrl-C is heard (tests replace it). */
  deps: { env?: NodeJS.ProcessEnv; onInterrupt?: (stop: () => void) => () => void };
  /** What the first Ctrl-C says. */
  stopping: string;
}): Promise<{ rejections: Rejection[]; raised: Alert[]; earlier: Alert[]; failures: DeliveryFailure[]; stop: AbortController; unsubscribe: () => void; ingest: BackfillIngestOptions }> {
  const { flags, io } = options;
  const sinks = await alertSinks({ snsTopic: flags.snsTopic }, options.localDir, options.deps.env);
  const rejections: Rejection[] = [];
  const raised: Alert[] = [];
  const delivery = await startAlertDelivery(options.store, sinks, io);
  const failures = delivery.failures;
  const stop = new AbortController();
  const unsubscribe = (options.deps.onInterrupt ?? onSigint)(() => {
    if (!stop.signal.aborted) io.err(options.stopping);
    stop.abort();
  });
  return {
    rejections,
    raised,
    earlier: delivery.earlier,
    failures,
    stop,
    unsubscribe,
    ingest: {
      now: io.now,
      restart: flags.restart,
      policy: options.policy,
      detect: flags.alerts !== false,
      nodeRolePatterns: flags.nodeRole,
      signal: stop.signal,
      onRejection: (r) => rejections.push(r),
      onAlerts: async (alerts) => {
        raised.push(...alerts);
        await delivery.deliver(alerts);
      },
    },
  };
}

/** First Ctrl-C: stop after the slice in hand. Second: the default action (quit now). */
function onSigint(stop: () => void): () => void {
  let pressed = false;
  const handler = () => {
    if (pressed) {
      process.removeListener('SIGINT', handler);
      process.kill(process.pid, 'SIGINT');
      return;
    }
    pressed = true;
    stop();
  };
  process.on('SIGINT', handler);
  return () => process.removeListener('SIGINT', handler);
}

/** Appends a run's rejections to the store's rejects.jsonl and shows the first of them. */
export async function reportRejections(rejections: readonly Rejection[], localDir: string, io: Io): Promise<void> {
  if (rejections.length === 0) return;
  const file = path.join(localDir, 'rejects.jsonl');
  makeDirectory(localDir, 0o700);
  await appendFile(file, rejections.map((r) => JSON.stringify({ at: io.now().toISOString(), ...r })).join('\n') + '\n', { mode: 0o600 });
  for (const r of rejections.slice(0, REJECTIONS_SHOWN)) io.err(displaySafe(`${r.file}${r.where ? `: ${r.where}` : ''}: ${r.reason}`));
  if (rejections.length > REJECTIONS_SHOWN) io.err(`… and ${rejections.length - REJECTIONS_SHOWN} more`);
  io.err(`${plural(rejections.length, 'rejection')} appended to ${path.relative(io.cwd, file)}`);
}

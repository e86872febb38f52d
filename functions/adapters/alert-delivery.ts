import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import type { Alert } from '../core/alert';
import type { AlertSink } from './alert-sinks';
import { makeDirectory } from './make-directory';

/** `alerts.jsonl`: one alert per line, appended; the CLI's record that outlives any failed delivery. */
export class JsonlAlertLog implements AlertSink {
  readonly name = 'alerts.jsonl';
  constructor(readonly file: string) {}

  async send(alert: Alert): Promise<void> {
    // Alerts name roles, namespaces and nodes: for the user only (modes apply when created).
    makeDirectory(path.dirname(this.file), 0o700);
    await appendFile(this.file, `${JSON.stringify(alert)}\n`, { mode: 0o600 });
  }
}

export interface DeliveryFailure {
  alertId: string;
  sink: string;
  message: string;
}

/**
 * Every alert to every sink, in order; a sink that fails does not stop the others, and nothing is
 * thrown: the failures come back for the caller to report (the CLI) or to fail the batch (Lambda).
 */
export async function deliverAlerts(alerts: readonly Alert[], sinks: readonly AlertSink[]): Promise<DeliveryFailure[]> {
  const failures: DeliveryFailure[] = [];
  for (const alert of alerts) {
    for (const sink of sinks) {
      try {
        await sink.send(alert);
      } catch (e) {
        failures.push({ alertId: alert.id, sink: sink.name, message: e instanceof Error ? e.message : String(e) });
      }
    }
  }
  return failures;
}

import { createReadStream } from 'node:fs';
import { appendFile, open } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Alert } from '../core/alert';
import type { AlertSink } from './alert-sinks';
import { makeDirectory } from './make-directory';

/** `alerts.jsonl`: one alert per line, appended; the CLI's record that outlives any failed delivery. */
export class JsonlAlertLog implements AlertSink {
  readonly name = 'alerts.jsonl';
  private lineEnded = false;
  constructor(readonly file: string) {}

  async send(alert: Alert): Promise<void> {
    // Alerts name roles, namespaces and nodes: for the user only (modes apply when created).
    makeDirectory(path.dirname(this.file), 0o700);
    if (!this.lineEnded) await this.endLastLine();
    await appendFile(this.file, `${JSON.stringify(alert)}\n`, { mode: 0o600 });
  }

  /** A line a stopped run left unfinished stays its own (unreadable) line, not the start of the next alert's. */
  private async endLastLine(): Promise<void> {
    try {
      const handle = await open(this.file, 'r');
      try {
        const { size } = await handle.stat();
        const last = Buffer.alloc(1);
        if (size > 0 && (await handle.read(last, 0, 1, size - 1)).bytesRead === 1 && last[0] !== 0x0a) await appendFile(this.file, '\n');
      } finally {
        await handle.close();
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    this.lineEnded = true;
  }

  /** Which of these alerts the file already holds (a run killed while delivering wrote some). */
  async holds(ids: readonly string[]): Promise<Set<string>> {
    const wanted = new Set(ids);
    const found = new Set<string>();
    try {
      for await (const line of createInterface({ input: createReadStream(this.file), crlfDelay: Infinity })) {
        // a line cut short by the kill is no delivery
        const id = idOf(line);
        if (id !== null && wanted.has(id)) found.add(id);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    return found;
  }
}

function idOf(line: string): string | null {
  try {
    const alert = JSON.parse(line) as { id?: unknown };
    return typeof alert.id === 'string' ? alert.id : null;
  } catch {
    return null;
  }
}

/** The store's side of delivering alerts: what is owed from a run that was stopped, and what now is not. */
export interface AlertOutbox {
  undeliveredAlerts(): Promise<Alert[]>;
  alertsDelivered(ids: readonly string[]): Promise<void>;
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

/**
 * Alerts an earlier run recorded and did not live to deliver (killed between the two, or while
 * delivering), to every sink; to one that can tell (alerts.jsonl, `holds`) only those it does not
 * hold yet. Then no longer owed, whatever failed (failures are reported as any run's: the alert
 * stays in the store).
 */
export async function deliverOwedAlerts(outbox: AlertOutbox, sinks: readonly AlertSink[]): Promise<{ alerts: Alert[]; failures: DeliveryFailure[] }> {
  const alerts = await outbox.undeliveredAlerts();
  if (alerts.length === 0) return { alerts, failures: [] };
  const failures: DeliveryFailure[] = [];
  for (const sink of sinks) {
    const held = (await sink.holds?.(alerts.map((a) => a.id))) ?? new Set<string>();
    failures.push(...(await deliverAlerts(alerts.filter((a) => !held.has(a.id)), [sink])));
  }
  await outbox.alertsDelivered(alerts.map((a) => a.id));
  return { alerts, failures };
}

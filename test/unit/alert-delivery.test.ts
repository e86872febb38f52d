import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverOwedAlerts, JsonlAlertLog, type AlertOutbox } from '../../functions/adapters/alert-delivery';
import { DeliveryError, type AlertSink } from '../../functions/adapters/alert-sinks';
import type { Alert } from '../../functions/core/alert';
import { numberedAlert } from '../support/alerts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cw-delivery-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const alert = (n: number) => numberedAlert(n);

function outbox(owed: Alert[]): AlertOutbox & { delivered: string[] } {
  const delivered: string[] = [];
  return { delivered, undeliveredAlerts: async () => owed, alertsDelivered: async (ids) => void delivered.push(...ids) };
}

function recorder(name: string, fails = false): AlertSink & { got: string[] } {
  const got: string[] = [];
  return {
    name,
    got,
    send: async (a) => {
      if (fails) throw new DeliveryError(name, 'the webhook is gone');
      got.push(a.id);
    },
  };
}

describe('alerts an earlier run recorded and did not deliver', () => {
  it('go to every sink, to alerts.jsonl only those it does not hold, and are no longer owed', async () => {
    // GIVEN a run killed while delivering: alert 1 reached alerts.jsonl, and a line was cut short
    const file = path.join(dir, 'alerts.jsonl');
    await appendFile(file, `${JSON.stringify(alert(1))}\n${JSON.stringify(alert(2)).slice(0, 40)}`);
    const log = new JsonlAlertLog(file);
    const slack = recorder('slack');
    const box = outbox([alert(1), alert(2), alert(3)]);

    // WHEN the next run starts
    const { alerts, failures } = await deliverOwedAlerts(box, [log, slack]);

    // THEN
    expect(alerts.map((a) => a.id)).toEqual([alert(1), alert(2), alert(3)].map((a) => a.id));
    expect(failures).toEqual([]);
    expect(slack.got).toEqual([alert(1), alert(2), alert(3)].map((a) => a.id));
    const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l.startsWith('{') && l.endsWith('}'));
    expect(lines.map((l) => (JSON.parse(l) as Alert).id)).toEqual([alert(1), alert(2), alert(3)].map((a) => a.id));
    expect(box.delivered).toEqual([alert(1), alert(2), alert(3)].map((a) => a.id));
  });

  it('a sink that fails is reported, the others still get them, and they are no longer owed (the store keeps them)', async () => {
    const slack = recorder('slack', true);
    const sns = recorder('sns');
    const box = outbox([alert(4)]);

    const { failures } = await deliverOwedAlerts(box, [slack, sns]);

    expect(failures).toEqual([{ alertId: alert(4).id, sink: 'slack', message: 'the webhook is gone' }]);
    expect(sns.got).toEqual([alert(4).id]);
    expect(box.delivered).toEqual([alert(4).id]);
  });

  it('nothing owed: nothing sent, nothing read', async () => {
    const slack = recorder('slack');
    const box = outbox([]);
    expect(await deliverOwedAlerts(box, [new JsonlAlertLog(path.join(dir, 'none', 'alerts.jsonl')), slack])).toEqual({ alerts: [], failures: [] });
    expect(slack.got).toEqual([]);
  });

  it('alerts.jsonl that does not exist yet holds none', async () => {
    expect(await new JsonlAlertLog(path.join(dir, 'missing', 'alerts.jsonl')).holds([alert(1).id])).toEqual(new Set());
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EVENT_FIELDS, EventColumnsReader, EventColumnsWriter } from '../../functions/core/event-columns';
import { RECURRING_EVENT_FIELDS, type IdentityEvent } from '../../functions/core/identity-event';
import { nodeRoleMatcher } from '../../functions/core/node-roles';
import { normalizeRecord } from '../../functions/core/normalize';
import { identityEvent } from '../support/events';

const FIXTURES = fileURLToPath(new URL('../fixtures/cloudtrail/', import.meta.url));
const NOW = new Date('2026-12-01T00:00:00Z');

/** Every fixture that normalizes to an event, node-role calls included. */
function fixtureEvents(): IdentityEvent[] {
  const matcher = nodeRoleMatcher();
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .flatMap((f) => {
      const result = normalizeRecord(JSON.parse(readFileSync(`${FIXTURES}${f}`, 'utf8')), matcher, { now: NOW });
      return result.status === 'event' ? [result.event] : [];
    });
}

/** One event with no field null, each string its own, and the flag set: a field read from the wrong slot or table shows. */
const EVERY_FIELD: IdentityEvent = Object.fromEntries(
  EVENT_FIELDS.map((field) => [field, field === 'sessionTagsMissing' ? true : field === 'kind' ? 'pod-identity' : field === 'outcome' ? 'denied' : `${field}-value`]),
) as unknown as IdentityEvent;

function roundTrip(events: readonly IdentityEvent[], share: (value: string) => string = (v) => v): IdentityEvent[] {
  const writer = new EventColumnsWriter();
  const indexes = events.map((e) => writer.add(e));
  expect(indexes).toEqual(events.map((_, i) => i));
  // as the reading thread hands them over: a structured clone
  const columns = structuredClone(writer.finish());
  const reader = new EventColumnsReader(columns, share);
  return events.map((_, i) => reader.eventAt(i));
}

describe('identity events as columns (the reading thread hands over what it normalized)', () => {
  it('gives back every event as it was, its fields in the order normalizeRecord gives them', () => {
    const events = [...fixtureEvents(), EVERY_FIELD, identityEvent('irsa', { sessionTagsMissing: false }), identityEvent('node-role')];
    expect(new Set(events.map((e) => e.kind))).toEqual(new Set(['pod-identity', 'pod-identity-fetch', 'irsa', 'node-role']));
    const back = roundTrip(events);
    expect(back).toStrictEqual(events);
    for (const [i, event] of events.entries()) expect(Object.keys(back[i] as IdentityEvent), event.eventId).toEqual(Object.keys(event));
    // normalizeRecord's own order, for every kind, is the columns' order (one hidden class for all events: normalize `common`)
    for (const event of fixtureEvents()) expect(Object.keys(event), `${event.kind} ${event.eventId}`).toEqual([...EVENT_FIELDS]);
  });

  it('keeps a file’s distinct strings once, and hands the recurring ones to the receiver’s pool once each', () => {
    const events = Array.from({ length: 500 }, (_, i) => identityEvent('irsa', { eventId: `e-${i}`, namespace: `ns-${i % 3}`, roleArn: 'arn:aws:iam::111122223333:role/r' }));
    const writer = new EventColumnsWriter();
    for (const e of events) writer.add(e);
    const columns = writer.finish();
    expect(columns.count).toBe(500);
    expect(new Set(columns.recurring).size).toBe(columns.recurring.length);
    expect(columns.recurring).toEqual(expect.arrayContaining(['ns-0', 'ns-1', 'ns-2', 'arn:aws:iam::111122223333:role/r']));
    expect(columns.other.filter((v) => v.startsWith('e-'))).toHaveLength(500);
    const shared: string[] = [];
    const back = roundTrip(events, (value) => {
      shared.push(value);
      return value;
    });
    expect(back).toStrictEqual(events);
    expect(shared.sort()).toEqual([...columns.recurring].sort());
    // only values of the recurring fields are pooled: never an event's id or time
    const recurringValues = new Set(events.flatMap((e) => RECURRING_EVENT_FIELDS.map((f) => e[f]).filter((v): v is string => typeof v === 'string')));
    expect(new Set(shared)).toEqual(recurringValues);
  });
});

/**
 * Identity events as columns: per event, one number per field, indexing two string tables. The
 * form in which the reading thread hands over the records it normalized (core/record-skim): a
 * structured clone of one object per event (22 fields) costs the thread receiving it much of
 * what normalizing did; numbers and a file's distinct strings come over as a few arrays, and the
 * strings that recur from event to event (account, cluster, namespace, role ARN…) are pooled once
 * per file, not once per event.
 *
 * Pure.
 */
import { withRoom } from './collections';
import { RECURRING_EVENT_FIELDS, type EventKind, type IdentityEvent, type Outcome } from './identity-event';

/** Every field of an event, in the order normalizeRecord gives them (so every event has one shape: normalize `common`). */
export const EVENT_FIELDS = [
  'kind', 'outcome', 'eventId', 'eventTime', 'account', 'region',
  'cluster', 'clusterArn', 'oidcIssuer', 'namespace', 'serviceAccount', 'roleArn', 'podName', 'podUid', 'nodeInstanceId', 'nodeRoleArn', 'imdsVersion', 'sessionTagsMissing',
  'action', 'errorCode', 'sourceIp', 'userAgent',
] as const satisfies readonly (keyof IdentityEvent)[];

// A field added to IdentityEvent and not here fails to compile: it would otherwise be dropped on the way.
type Unlisted = Exclude<keyof IdentityEvent, (typeof EVENT_FIELDS)[number]>;
const everyFieldListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyFieldListed;

const FIELD_COUNT = EVENT_FIELDS.length;
/** A field's value is null. */
const NULL = 0xffffffff;
const TRUE = 0xfffffffe;
const FALSE = 0xfffffffd;
const RECURRING = new Set<string>(RECURRING_EVENT_FIELDS);
/** Per field, whether its strings go to the `recurring` table (pooled by the receiver) or to `other`. */
const IN_RECURRING = EVENT_FIELDS.map((field) => RECURRING.has(field));
/** Per field, whether its value is (nearly) every event's own: added to `other` without looking for an equal one. */
const OWN = EVENT_FIELDS.map((field) => field === 'eventId' || field === 'eventTime');

/** A file's events as handed over: `fields` holds FIELD_COUNT numbers per event. */
export interface EventColumns {
  count: number;
  fields: Uint32Array;
  /** The distinct values of RECURRING_EVENT_FIELDS. */
  recurring: string[];
  /** The values of the other string fields: kind, outcome and the pod's (distinct), each event's id and time. */
  other: string[];
}

/** Builds one file's columns, an event at a time. */
export class EventColumnsWriter {
  private fields: Uint32Array = new Uint32Array(FIELD_COUNT * 64);
  private count = 0;
  private readonly recurring: string[] = [];
  private readonly other: string[] = [];
  private readonly recurringIds = new Map<string, number>();
  private readonly otherIds = new Map<string, number>();
  /** Per field, the last event's string and its id: a file's events mostly share their account, region, cluster… */
  private readonly lastValue: (string | null)[] = EVENT_FIELDS.map(() => null);
  private readonly lastId = new Uint32Array(FIELD_COUNT);

  /** Adds `event`; its index (from 0) among this file's events. */
  add(event: IdentityEvent): number {
    this.fields = withRoom(this.fields, (this.count + 1) * FIELD_COUNT);
    const values = event as unknown as Record<string, string | boolean | null>;
    const at = this.count * FIELD_COUNT;
    for (let f = 0; f < FIELD_COUNT; f++) {
      const value = values[EVENT_FIELDS[f] as string];
      if (value === null || value === undefined) this.fields[at + f] = NULL;
      else if (value === true) this.fields[at + f] = TRUE;
      else if (value === false) this.fields[at + f] = FALSE;
      else if (OWN[f] === true) this.fields[at + f] = this.other.push(value) - 1;
      else if (value === this.lastValue[f]) this.fields[at + f] = this.lastId[f] as number;
      else {
        const id = IN_RECURRING[f] === true ? idOf(value, this.recurring, this.recurringIds) : idOf(value, this.other, this.otherIds);
        this.fields[at + f] = id;
        this.lastValue[f] = value;
        this.lastId[f] = id;
      }
    }
    return this.count++;
  }

  finish(): EventColumns {
    return { count: this.count, fields: this.fields.slice(0, this.count * FIELD_COUNT), recurring: this.recurring, other: this.other };
  }
}

/** Bytes the columns hold, roughly: their numbers, and each string with V8's header for it. */
export function columnsBytes(columns: EventColumns): number {
  let bytes = columns.fields.byteLength;
  for (const value of columns.recurring) bytes += STRING_HEADER_BYTES + value.length;
  for (const value of columns.other) bytes += STRING_HEADER_BYTES + value.length;
  return bytes;
}

const STRING_HEADER_BYTES = 16;

function idOf(value: string, table: string[], ids: Map<string, number>): number {
  let id = ids.get(value);
  if (id === undefined) {
    id = table.length;
    table.push(value);
    ids.set(value, id);
  }
  return id;
}

/**
 * A file's events back as objects. `share` gives each recurring string as the receiver keeps it
 * (ingest-pipeline's StringPool): called once per distinct string of the file.
 */
export class EventColumnsReader {
  private readonly recurring: string[];

  constructor(
    private readonly columns: EventColumns,
    share: (value: string) => string,
  ) {
    this.recurring = columns.recurring.map(share);
  }

  /** Event `i` (from 0), a new object with the fields in normalizeRecord's order. */
  eventAt(i: number): IdentityEvent {
    const f = this.columns.fields;
    const r = this.recurring;
    const o = this.columns.other;
    const k = i * FIELD_COUNT;
    return {
      kind: o[f[k] as number] as EventKind,
      outcome: o[f[k + 1] as number] as Outcome,
      eventId: o[f[k + 2] as number] as string,
      eventTime: o[f[k + 3] as number] as string,
      account: text(r, f[k + 4]),
      region: text(r, f[k + 5]),
      cluster: text(r, f[k + 6]),
      clusterArn: text(r, f[k + 7]),
      oidcIssuer: text(r, f[k + 8]),
      namespace: text(r, f[k + 9]),
      serviceAccount: text(r, f[k + 10]),
      roleArn: text(r, f[k + 11]),
      podName: text(o, f[k + 12]),
      podUid: text(o, f[k + 13]),
      nodeInstanceId: text(r, f[k + 14]),
      nodeRoleArn: text(r, f[k + 15]),
      imdsVersion: text(r, f[k + 16]),
      sessionTagsMissing: flag(f[k + 17]),
      action: text(r, f[k + 18]) as string,
      errorCode: text(r, f[k + 19]),
      sourceIp: text(r, f[k + 20]),
      userAgent: text(r, f[k + 21]),
    };
  }
}

function text(table: readonly string[], id: number | undefined): string | null {
  return id === NULL || id === undefined ? null : (table[id] as string);
}

function flag(id: number | undefined): boolean | null {
  return id === TRUE ? true : id === FALSE ? false : null;
}

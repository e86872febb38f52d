import { describe, expect, it } from 'vitest';
import { extractRecords, jsonErrorMessage } from '../../functions/core/envelopes';
import type { InputItem } from '../../functions/core/envelopes';

const FILE = 'input.json';

function rec(id: string) {
  return { eventVersion: '1.08', eventID: id, eventSource: 'sts.amazonaws.com', eventName: 'AssumeRoleWithWebIdentity' };
}

function eventBridge(detail: unknown) {
  return {
    version: '0',
    id: 'd1e2f3a4-0000-0000-0000-000000000000',
    'detail-type': 'AWS API Call via CloudTrail',
    source: 'aws.sts',
    account: '111122223333',
    time: '2024-04-16T09:20:04Z',
    region: 'us-west-2',
    resources: [],
    detail,
  };
}

function lookupEvent(cloudTrailEvent: string) {
  return {
    EventId: 'e-1',
    EventName: 'AssumeRoleWithWebIdentity',
    ReadOnly: 'true',
    EventTime: '2024-04-16T09:20:04Z',
    EventSource: 'sts.amazonaws.com',
    Resources: [],
    CloudTrailEvent: cloudTrailEvent,
  };
}

function sqsRecord(body: string, n: number) {
  return {
    messageId: `m-${n}`,
    receiptHandle: 'AQEB...',
    body,
    attributes: { ApproximateReceiveCount: '1' },
    messageAttributes: {},
    md5OfBody: 'x',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-west-2:111122223333:cutover-watch',
    awsRegion: 'us-west-2',
  };
}

/** `where` and eventID of each record, and `where: reason` of each problem, in order. */
function summary(items: InputItem[]): string[] {
  return items.map((i) =>
    i.type === 'record'
      ? `${i.where} → ${(i.record as { eventID?: string }).eventID ?? '?'}`
      : `PROBLEM ${i.where ?? '(file)'}: ${i.reason}`,
  );
}

describe('extractRecords', () => {
  it('takes each element of a CloudTrail log file as a record, numbered from 1', () => {
    const items = extractRecords({ Records: [rec('a'), rec('b'), rec('c')] }, FILE);

    expect(summary(items)).toEqual(['record 1 → a', 'record 2 → b', 'record 3 → c']);
    expect(items.every((i) => i.file === FILE)).toBe(true);
  });

  it('passes the record object through unchanged', () => {
    const r = rec('a');
    const [item] = extractRecords({ Records: [r] }, FILE);

    expect(item).toEqual({ type: 'record', file: FILE, where: 'record 1', record: r });
    expect(item?.type === 'record' && item.record).toBe(r);
  });

  it('gives nothing, and no problem, for an empty log file or LookupEvents page', () => {
    expect(extractRecords({ Records: [] }, FILE)).toEqual([]);
    expect(extractRecords({ Events: [], NextToken: 'x' }, FILE)).toEqual([]);
  });

  it('reports a non-object element of Records and still takes the others', () => {
    const items = extractRecords({ Records: [rec('a'), 'oops', rec('c')] }, FILE);

    expect(summary(items)).toEqual([
      'record 1 → a',
      'PROBLEM record 2: not a CloudTrail record, envelope or log file (got string)',
      'record 3 → c',
    ]);
  });

  it('reports a Records key that is not an array instead of passing it on as a record', () => {
    expect(summary(extractRecords({ Records: { a: 1 } }, FILE))).toEqual(['PROBLEM (file): "Records" is not an array (got object)']);
  });

  it('unwraps the detail of an EventBridge "AWS API Call via CloudTrail" event', () => {
    const r = rec('eb');
    const items = extractRecords(eventBridge(r), FILE);

    expect(items).toEqual([{ type: 'record', file: FILE, where: 'document', record: r }]);
  });

  it('does not require the exact detail-type string', () => {
    const event = { ...eventBridge(rec('cn')), 'detail-type': 'Amazon API Call via CloudTrail' };

    expect(summary(extractRecords(event, FILE))).toEqual(['document → cn']);
  });

  it('passes on an EventBridge-looking object whose detail is not an object as a record, for the normalizer to reject', () => {
    const event = eventBridge('not an object');
    const items = extractRecords(event, FILE);

    expect(items).toEqual([{ type: 'record', file: FILE, where: 'document', record: event }]);
  });

  it('unwraps an SQS message whose body is an EventBridge event', () => {
    const msg = { messageId: 'm-1', receiptHandle: 'r', body: JSON.stringify(eventBridge(rec('sqs'))) };

    expect(summary(extractRecords(msg, FILE))).toEqual(['document → sqs']);
  });

  it('reports an SQS message whose body is not JSON', () => {
    const msg = { messageId: 'm-1', body: '{"detail-type": ' };
    const items = extractRecords(msg, FILE, 'line 4');

    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ type: 'problem', file: FILE, where: 'line 4' });
    expect(items[0]?.type === 'problem' && items[0].reason).toMatch(/^SQS message body is not JSON: /);
  });

  it('tells a Lambda SQS event from a CloudTrail log file by its elements, though both use Records', () => {
    const event = {
      Records: [sqsRecord(JSON.stringify(eventBridge(rec('m1'))), 1), sqsRecord(JSON.stringify(eventBridge(rec('m2'))), 2)],
    };

    expect(summary(extractRecords(event, FILE))).toEqual(['message 1 → m1', 'message 2 → m2']);
  });

  it('keeps a CloudTrail record whose eventSource is not aws:sqs as a record even with a body field', () => {
    const odd = { ...rec('odd'), body: '{}' };

    expect(summary(extractRecords({ Records: [odd] }, FILE))).toEqual(['record 1 → odd']);
  });

  it('parses each CloudTrailEvent string of a LookupEvents result', () => {
    const result = { Events: [lookupEvent(JSON.stringify(rec('l1'))), lookupEvent(JSON.stringify(rec('l2')))] };

    expect(summary(extractRecords(result, FILE))).toEqual(['event 1 → l1', 'event 2 → l2']);
  });

  it('reports a CloudTrailEvent that is not JSON by its event number and still takes the others', () => {
    const result = {
      Events: [lookupEvent(JSON.stringify(rec('l1'))), lookupEvent('{"eventVersion": "1.08", "eventID"'), lookupEvent(JSON.stringify(rec('l3')))],
    };
    const items = extractRecords(result, FILE);

    expect(items.map((i) => [i.type, i.where])).toEqual([
      ['record', 'event 1'],
      ['problem', 'event 2'],
      ['record', 'event 3'],
    ]);
    expect(items[1]?.type === 'problem' && items[1].reason).toMatch(/^CloudTrailEvent is not JSON: /);
  });

  it('reports a LookupEvents event without a CloudTrailEvent', () => {
    const { CloudTrailEvent: _dropped, ...bare } = lookupEvent('{}');

    expect(summary(extractRecords({ Events: [bare] }, FILE))).toEqual(['PROBLEM event 1: LookupEvents event has no CloudTrailEvent string']);
  });

  it('unwraps a single LookupEvents event object', () => {
    expect(summary(extractRecords(lookupEvent(JSON.stringify(rec('one'))), FILE))).toEqual(['document → one']);
  });

  it('reports a CloudTrailEvent that parses to something other than an object', () => {
    expect(summary(extractRecords(lookupEvent('42'), FILE))).toEqual([
      'PROBLEM (file): not a CloudTrail record, envelope or log file (got number)',
    ]);
  });

  it('takes each element of a top-level array, whatever container it is', () => {
    const doc = [
      rec('bare'),
      eventBridge(rec('eb')),
      { Records: [rec('r1'), rec('r2')] },
      { Events: [lookupEvent(JSON.stringify(rec('e1')))] },
    ];

    expect(summary(extractRecords(doc, FILE))).toEqual([
      'item 1 → bare',
      'item 2 → eb',
      'item 3, record 1 → r1',
      'item 3, record 2 → r2',
      'item 4, event 1 → e1',
    ]);
  });

  it('composes labels under a caller-given prefix', () => {
    const events = Array.from({ length: 5 }, (_, i) => lookupEvent(JSON.stringify(rec(`e${i + 1}`))));
    const items = extractRecords([{ Records: [rec('x')] }, { Events: events }], FILE, 'line 3');

    expect(summary(items)).toEqual([
      'line 3, item 1, record 1 → x',
      'line 3, item 2, event 1 → e1',
      'line 3, item 2, event 2 → e2',
      'line 3, item 2, event 3 → e3',
      'line 3, item 2, event 4 → e4',
      'line 3, item 2, event 5 → e5',
    ]);
  });

  it('unwraps a CloudTrail log file delivered inside an SQS message body', () => {
    const event = { Records: [sqsRecord(JSON.stringify({ Records: [rec('a'), rec('b')] }), 1)] };

    expect(summary(extractRecords(event, FILE))).toEqual(['message 1, record 1 → a', 'message 1, record 2 → b']);
  });

  it('passes any other object on as a single record', () => {
    const other = { hello: 'world' };

    expect(extractRecords(other, FILE)).toEqual([{ type: 'record', file: FILE, where: 'document', record: other }]);
    expect(extractRecords(other, FILE, 'line 9')).toEqual([{ type: 'record', file: FILE, where: 'line 9', record: other }]);
  });

  it.each([
    [42, 'number'],
    ['text', 'string'],
    [null, 'null'],
    [true, 'boolean'],
  ])('reports a bare %j as not a record', (value, type) => {
    expect(extractRecords(value, FILE, 'line 1')).toEqual([
      { type: 'problem', file: FILE, where: 'line 1', reason: `not a CloudTrail record, envelope or log file (got ${type})` },
    ]);
  });

  it('stops at absurd nesting with a problem instead of overflowing the stack', () => {
    let doc: unknown = rec('deep');
    for (let i = 0; i < 10_000; i++) doc = [doc];

    const items = extractRecords(doc, FILE);

    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ type: 'problem', reason: 'containers nested more than 32 deep' });
  });

  it('handles a log file with more records than a spread call can take', () => {
    const records = Array.from({ length: 300_000 }, (_, i) => ({ eventID: String(i) }));

    const items = extractRecords({ Records: records }, FILE);

    expect(items).toHaveLength(300_000);
    expect(items[299_999]).toMatchObject({ where: 'record 300000', record: { eventID: '299999' } });
  });
});

describe('jsonErrorMessage', () => {
  it('escapes control characters V8 quotes from the input', () => {
    let message = '';
    try {
      JSON.parse('\u001b[2J\u0007');
    } catch (err) {
      message = jsonErrorMessage(err);
    }

    expect(message).toContain('\\u001b[2J');
    expect(message).not.toMatch(/[\u0000-\u001f]/);
  });
});

import { CloudTrailClient, LookupEventsCommand, ThrottlingException, type Event } from '@aws-sdk/client-cloudtrail';
import { mockClient } from 'aws-sdk-client-mock';
import { readFile } from 'node:fs/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BACKFILL_EVENT_NAMES, lookupPages, RateLimiter, type BackfillPage, type LookupPagesOptions } from '../../functions/adapters/cloudtrail-backfill';
import { AwsFatalError } from '../../functions/adapters/aws-calls';

const cloudtrail = mockClient(CloudTrailClient);
afterEach(() => cloudtrail.reset());
// Unit files share a worker: put the client's real send back for the files after this one.
afterAll(() => cloudtrail.restore());

/** A fake clock: sleeping moves it. */
function fakeClock() {
  let t = 0;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    advance: (ms: number) => void (t += ms),
    sleeps,
  };
}

describe('RateLimiter', () => {
  it('spaces 10 takes at 2/s over 4.5 s of (fake) time, one every 500 ms', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ perSecond: 2, now: clock.now, sleep: clock.sleep });
    const times: number[] = [];

    for (let i = 0; i < 10; i++) {
      await limiter.take();
      times.push(clock.now());
    }

    expect(times).toEqual([0, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500]);
    expect(times[9]! - times[0]!).toBeGreaterThanOrEqual(4500);
  });

  it('serializes concurrent takes in call order', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ perSecond: 2, now: clock.now, sleep: clock.sleep });
    const order: string[] = [];

    await Promise.all(['a', 'b', 'c', 'd'].map((name) => limiter.take().then(() => order.push(`${name}@${clock.now()}`))));

    expect(order).toEqual(['a@0', 'b@500', 'c@1000', 'd@1500']);
  });

  it('does not wait after an idle spell, and saves up no more than its burst', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ perSecond: 2, burst: 2, now: clock.now, sleep: clock.sleep });
    await limiter.take();
    await limiter.take();
    expect(clock.sleeps).toEqual([]);
    await limiter.take();
    expect(clock.sleeps).toEqual([500]);

    clock.advance(60_000);
    await limiter.take();
    await limiter.take();
    await limiter.take();
    expect(clock.sleeps).toEqual([500, 500]);
  });
});

// ---------------------------------------------------------------------------------------------

const fixture = async (name: string) => JSON.parse(await readFile(new URL(`../fixtures/cloudtrail/${name}.json`, import.meta.url), 'utf8')) as Record<string, unknown>;

/** A LookupEvents event as the API returns it: summary fields plus the record as a JSON string. */
function lookupEvent(record: Record<string, unknown>): Event {
  return {
    EventId: String(record['eventID']),
    EventName: String(record['eventName']),
    ReadOnly: 'true',
    EventTime: new Date(String(record['eventTime'])),
    EventSource: String(record['eventSource']),
    Username: 'i-064d652934ecf0bfc',
    Resources: [],
    CloudTrailEvent: JSON.stringify(record),
  };
}

const START = new Date('2026-11-01T00:00:00Z');
const END = new Date('2026-11-02T00:00:00Z');

function options(over: Partial<LookupPagesOptions> = {}): LookupPagesOptions & { takes: () => number } {
  let takes = 0;
  const limiter = new RateLimiter({ perSecond: 1000 });
  const take = limiter.take.bind(limiter);
  limiter.take = () => {
    takes += 1;
    return take();
  };
  return {
    client: new CloudTrailClient({ region: 'us-west-2' }),
    region: 'us-west-2',
    eventName: 'AssumeRoleForPodIdentity',
    start: START,
    end: END,
    limiter,
    sleep: async () => undefined,
    ...over,
    takes: () => takes,
  };
}

async function all(pages: AsyncGenerator<BackfillPage>): Promise<BackfillPage[]> {
  const out: BackfillPage[] = [];
  for await (const page of pages) out.push(page);
  return out;
}

/** One record per minute from 10:00, with distinct ids. */
async function records(n: number): Promise<Record<string, unknown>[]> {
  const base = await fixture('pod-identity-fetch-success');
  return Array.from({ length: n }, (_, i) => ({ ...base, eventID: `fetch-${i}`, eventTime: new Date(Date.parse('2026-11-01T10:00:00Z') + i * 60_000).toISOString().replace('.000Z', 'Z') }));
}

describe('lookupPages', () => {
  it('asks for one event name in the window, 50 at a time, and follows NextToken to the last page', async () => {
    const recs = (await records(5)).reverse(); // newest first, as LookupEvents returns them
    const sent: Record<string, unknown>[] = [];
    cloudtrail.on(LookupEventsCommand).callsFake((input: Record<string, unknown>) => {
      sent.push(structuredClone(input));
      const token = input['NextToken'] as string | undefined;
      if (!token) return { Events: recs.slice(0, 2).map(lookupEvent), NextToken: 'tok-1' };
      if (token === 'tok-1') return { Events: recs.slice(2, 4).map(lookupEvent), NextToken: 'tok-2' };
      return { Events: recs.slice(4).map(lookupEvent) };
    });
    const opts = options();

    const pages = await all(lookupPages(opts));

    expect(sent).toEqual([
      { LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'AssumeRoleForPodIdentity' }], StartTime: START, EndTime: END, MaxResults: 50 },
      { LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'AssumeRoleForPodIdentity' }], StartTime: START, EndTime: END, MaxResults: 50, NextToken: 'tok-1' },
      { LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'AssumeRoleForPodIdentity' }], StartTime: START, EndTime: END, MaxResults: 50, NextToken: 'tok-2' },
    ]);
    expect(opts.takes()).toBe(3);
    expect(pages.map((p) => [p.name, p.items.length, p.nextToken, p.oldest])).toEqual([
      ['LookupEvents us-west-2 AssumeRoleForPodIdentity page 1', 2, 'tok-1', '2026-11-01T10:03:00.000Z'],
      ['LookupEvents us-west-2 AssumeRoleForPodIdentity page 2', 2, 'tok-2', '2026-11-01T10:01:00.000Z'],
      ['LookupEvents us-west-2 AssumeRoleForPodIdentity page 3', 1, null, '2026-11-01T10:00:00.000Z'],
    ]);
    expect(pages.flatMap((p) => p.items).map((i) => (i.type === 'record' ? (i.record as { eventID: string }).eventID : i.reason))).toEqual([
      'fetch-4', 'fetch-3', 'fetch-2', 'fetch-1', 'fetch-0',
    ]);
    expect(pages[0]!.items[0]).toMatchObject({ type: 'record', file: 'LookupEvents us-west-2 AssumeRoleForPodIdentity page 1', where: 'event 1' });
  });

  it('resumes from a given NextToken and numbers pages from firstPage', async () => {
    const recs = await records(1);
    cloudtrail.on(LookupEventsCommand).resolves({ Events: recs.map(lookupEvent) });

    const pages = await all(lookupPages(options({ nextToken: 'saved-token', firstPage: 7, eventName: 'AssumeRole' })));

    expect(cloudtrail.commandCalls(LookupEventsCommand)[0]!.args[0].input.NextToken).toBe('saved-token');
    expect(pages.map((p) => [p.name, p.eventName, p.nextToken])).toEqual([['LookupEvents us-west-2 AssumeRole page 7', 'AssumeRole', null]]);
  });

  it('turns a CloudTrailEvent that is not JSON, or missing, into a problem and keeps the other events', async () => {
    const [good] = await records(1);
    cloudtrail.on(LookupEventsCommand).resolves({
      Events: [
        lookupEvent(good!),
        { ...lookupEvent(good!), EventId: 'bad', CloudTrailEvent: '{"eventVersion": "1.09", "eventName": ' },
        { ...lookupEvent(good!), EventId: 'none', CloudTrailEvent: undefined },
      ],
    });

    const [page] = await all(lookupPages(options()));

    expect(page!.items).toHaveLength(3);
    expect(page!.items[0]).toMatchObject({ type: 'record', where: 'event 1' });
    expect(page!.items[1]).toEqual({
      type: 'problem',
      file: 'LookupEvents us-west-2 AssumeRoleForPodIdentity page 1',
      where: 'event 2',
      reason: expect.stringMatching(/^CloudTrailEvent is not JSON: /),
    });
    expect(page!.items[2]).toEqual({ type: 'problem', file: 'LookupEvents us-west-2 AssumeRoleForPodIdentity page 1', where: 'event 3', reason: 'LookupEvents event has no CloudTrailEvent string' });
  });

  it('drops events at the end instant when asked (the next slice reads them)', async () => {
    const base = (await records(1))[0]!;
    const atEnd = { ...base, eventID: 'at-end', eventTime: '2026-11-02T00:00:00Z' };
    const before = { ...base, eventID: 'before', eventTime: '2026-11-01T23:59:59Z' };
    cloudtrail.on(LookupEventsCommand).resolves({ Events: [lookupEvent(atEnd), lookupEvent(before)] });

    const [page] = await all(lookupPages(options({ excludeEnd: true })));

    expect(page!.items.map((i) => i.type === 'record' && (i.record as { eventID: string }).eventID)).toEqual(['before']);
    expect(page!.oldest).toBe('2026-11-01T23:59:59.000Z');
  });

  it('retries a throttled call with backoff, each attempt through the limiter', async () => {
    const recs = await records(2);
    cloudtrail
      .on(LookupEventsCommand)
      .rejectsOnce(new ThrottlingException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } }))
      .rejectsOnce(new ThrottlingException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } }))
      .resolves({ Events: recs.map(lookupEvent) });
    const sleeps: number[] = [];
    const opts = options({ sleep: async (ms) => void sleeps.push(ms) });

    const pages = await all(lookupPages(opts));

    expect(pages).toHaveLength(1);
    expect(pages[0]!.items).toHaveLength(2);
    expect(cloudtrail.commandCalls(LookupEventsCommand)).toHaveLength(3);
    expect(opts.takes()).toBe(3);
    expect(sleeps).toHaveLength(2);
    expect(sleeps[0]).toBeGreaterThanOrEqual(250);
    expect(sleeps[0]).toBeLessThanOrEqual(1000);
    expect(sleeps[1]).toBeGreaterThanOrEqual(250);
    expect(sleeps[1]).toBeLessThanOrEqual(2000);
  });

  it('gives up after its retries and lets the throttling error through', async () => {
    cloudtrail.on(LookupEventsCommand).rejects(new ThrottlingException({ message: 'Rate exceeded', $metadata: {} }));
    const sleeps: number[] = [];

    await expect(all(lookupPages(options({ throttleRetries: 2, sleep: async (ms) => void sleeps.push(ms) })))).rejects.toBeInstanceOf(ThrottlingException);
    expect(sleeps).toHaveLength(2);
    expect(cloudtrail.commandCalls(LookupEventsCommand)).toHaveLength(3);
  });

  it('stops at once on expired credentials, with one line', async () => {
    cloudtrail.on(LookupEventsCommand).rejects(Object.assign(new Error('The security token included in the request is expired'), { name: 'ExpiredTokenException' }));

    const run = all(lookupPages(options()));

    await expect(run).rejects.toBeInstanceOf(AwsFatalError);
    await expect(run).rejects.toThrow('the AWS credentials have expired (ExpiredTokenException): refresh them (aws sso login, or new session credentials) and run again');
    expect(cloudtrail.commandCalls(LookupEventsCommand)).toHaveLength(1);
  });

  it('looks up the Pod Identity fetch first and IRSA last', () => {
    expect(BACKFILL_EVENT_NAMES).toEqual(['AssumeRoleForPodIdentity', 'AssumeRole', 'AssumeRoleWithWebIdentity']);
  });
});

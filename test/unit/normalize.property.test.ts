/**
 * Properties of the input path, over arbitrary JSON and over mutations of the real fixtures
 * (test/fixtures/cloudtrail): the normalizer never throws, finishes quickly, and gives either an
 * event that passes the validity check below (which does not reuse the normalizer's own rules)
 * or a typed rejection; the envelope walk and the streaming splitter agree with a whole parse.
 * Seeded, so a failure is reproducible; run counts keep the file under a few seconds.
 */
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { iterateRecords, type InputItem } from '../../functions/core/envelopes';
import { detectionItemsOf, itemsOf } from '../../functions/core/evidence';
import { EVENT_KINDS, OUTCOMES, REJECT_REASONS, SKIP_REASONS, type IdentityEvent, type Normalized } from '../../functions/core/identity-event';
import { JsonStreamSplitter } from '../../functions/core/json-stream';
import { normalizeRecord } from '../../functions/core/normalize';
import { nodeRoleMatcher } from '../../functions/core/node-roles';

const FIXTURES = fileURLToPath(new URL('../fixtures/cloudtrail/', import.meta.url));
const RECORDS = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(`${FIXTURES}${f}`, 'utf8')) as Record<string, unknown>);

const NOW = new Date('2026-11-20T00:00:00Z');
const LATEST = NOW.getTime() + 86_400_000;
const matcher = nodeRoleMatcher();
const SEED = 20261120;

// What Kubernetes and EKS document, written out again here rather than imported.
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const isNamespace = (s: string) => s.length <= 63 && LABEL.test(s);
const isSubdomain = (s: string) => s.length <= 253 && s.split('.').every((part) => LABEL.test(part));
const isCluster = (s: string) => s.length <= 100 && /^[0-9A-Za-z][A-Za-z0-9_-]*$/.test(s);
const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** Why an event is not valid, or null. */
function invalidity(e: IdentityEvent): string | null {
  if (!EVENT_KINDS.includes(e.kind)) return `kind ${e.kind}`;
  if (!OUTCOMES.includes(e.outcome)) return `outcome ${e.outcome}`;
  if (e.eventId.length === 0 || e.eventId.length > 128 || /[\u0000-\u001f\u007f-\u009f]/.test(e.eventId)) return 'eventId';
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/.test(e.eventTime)) return `eventTime format ${e.eventTime}`;
  const t = Date.parse(e.eventTime);
  if (new Date(t).toISOString().replace('.000Z', 'Z') !== e.eventTime) return `eventTime not a real instant ${e.eventTime}`;
  if (t < Date.UTC(2014, 0, 1) || t > LATEST) return `eventTime outside the window ${e.eventTime}`;
  if (e.namespace !== null && !isNamespace(e.namespace)) return `namespace ${e.namespace}`;
  if (e.serviceAccount !== null && !isSubdomain(e.serviceAccount)) return `service account ${e.serviceAccount}`;
  if (e.cluster !== null && !isCluster(e.cluster)) return `cluster ${e.cluster}`;
  if (e.kind === 'irsa' && (e.namespace === null || e.serviceAccount === null)) return 'IRSA without a namespace';
  // DynamoDB: partition key ≤ 2048 bytes, sort key ≤ 1024 bytes, for every item the event writes.
  for (const item of [...itemsOf(e), ...detectionItemsOf(e, { spikeWindowMinutes: 5 })]) {
    if (bytes(item.pk) > 2048 || bytes(item.sk) > 1024) return `key too long: ${item.pk.slice(0, 40)} / ${item.sk.slice(0, 40)}`;
  }
  for (const value of [e.userAgent, e.sourceIp]) if (value !== null && value.length > 1024) return 'descriptive field too long';
  return null;
}

/**
 * Normalizes, asserting it does not throw and that the result is well-formed. No stopwatch (a
 * loaded machine would fail it; speed belongs in benchmarks): a record that made the normalizer
 * backtrack for long would show up as this test's timeout.
 */
function check(record: unknown): Normalized {
  const result = normalizeRecord(record, matcher, { now: NOW });
  switch (result.status) {
    case 'event': {
      const why = invalidity(result.event);
      if (why !== null) throw new Error(`invalid event (${why}): ${JSON.stringify(result.event).slice(0, 500)}`);
      break;
    }
    case 'skipped':
      expect(SKIP_REASONS).toContain(result.reason);
      break;
    case 'rejected':
      expect(REJECT_REASONS).toContain(result.reason);
      expect(result.detail).toMatch(/\S/);
      expect(result.detail).not.toMatch(/[\u0000-\u001f]/);
      expect(result.detail.length).toBeLessThan(1000);
      break;
  }
  return result;
}

// ---- generators ----------------------------------------------------------------------------

/** Strings that probe the rules: boundaries, separators, control characters, odd times. */
const nasty = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '', ' ', '#', 'a#b', '?', 'ACCOUNT_ID', '\u0000', '\u001b[2J', '\u2028', 'é', '😀',
    'system:serviceaccount:ns:sa', 'system:serviceaccount:NS:sa', 'system:serviceaccount:ns', 'system:serviceaccount:a#b:c',
    'arn:aws:iam::111122223333:role/x', 'arn:aws:eks:us-west-2:111122223333:cluster/c', 'oidc.eks.us-west-2.amazonaws.com/id/ABC',
    'sts.amazonaws.com', 'eks-auth.amazonaws.com', 'AssumeRole', 'AssumeRoleWithWebIdentity', 'AssumeRoleForPodIdentity', 'pods.eks.amazonaws.com',
    '2024-02-30T00:00:00Z', '2024-02-29T00:00:00Z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2099-01-01T00:00:00Z',
    '2013-12-31T23:59:59Z', '2026-11-21T00:00:00Z', '2026-11-21T00:00:01Z', '2024-04-16T09:20:04+14:00', '2024-04-16T09:20:04-14:01',
    '2024-04-16T09:20:04.123456789Z', '2024-04-16 09:20:04', '+275760-09-13T00:00:00Z', 'AccessDenied', 'i-0123456789abcdef0',
  ),
  fc.nat({ max: 3000 }).map((n) => 'x'.repeat(n)),
  fc.nat({ max: 300 }).map((n) => `ns-${'a'.repeat(n)}`),
);

const json = fc.jsonValue({ maxDepth: 3 });
const replacement = fc.oneof({ weight: 3, arbitrary: nasty }, { weight: 1, arbitrary: json }, { weight: 1, arbitrary: fc.constant(undefined) });

/** Every path to a value in a record, including inside arrays (session tags). */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(value)) return [prefix, ...value.flatMap((v, i) => paths(v, [...prefix, i]))];
  if (typeof value === 'object' && value !== null) return [prefix, ...Object.entries(value).flatMap(([k, v]) => paths(v, [...prefix, k]))];
  return [prefix];
}

function setAt(root: unknown, at: (string | number)[], value: unknown): unknown {
  if (at.length === 0) return value;
  let parent = root as Record<string | number, unknown>;
  for (const key of at.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = at[at.length - 1] as string | number;
  if (value === undefined && !Array.isArray(parent)) delete parent[last];
  else parent[last] = value;
  return root;
}

/** A fixture with one to four of its values replaced or dropped. */
const mutatedFixture = fc
  .tuple(fc.nat({ max: RECORDS.length - 1 }), fc.array(fc.tuple(fc.nat(), replacement), { minLength: 1, maxLength: 4 }))
  .map(([which, changes]) => {
    let record: unknown = structuredClone(RECORDS[which]);
    for (const [pick, value] of changes) {
      const all = paths(record);
      record = setAt(record, all[pick % all.length] ?? [], value);
    }
    return record;
  });

/** Mostly a plausible value, sometimes a hostile one: so records get far enough to become events. */
const mostly = <T,>(valid: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: nasty });
const name = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);
const time = fc
  .integer({ min: Date.UTC(2014, 0, 1), max: LATEST })
  .map((t) => new Date(t - (t % 1000)).toISOString().replace('.000Z', 'Z'));
const roleArn = name.map((n) => `arn:aws:iam::111122223333:role/${n}`);
const NODE_ROLE = 'arn:aws:iam::111122223333:role/eksctl-prod-NodeInstanceRole-ABC';

const common = {
  eventID: mostly(fc.uuid()),
  eventTime: mostly(time),
  awsRegion: mostly(fc.constantFrom('us-west-2', 'cn-north-1', 'us-gov-west-1')),
  recipientAccountId: mostly(fc.constantFrom('111122223333', 'ACCOUNT_ID')),
  errorCode: fc.option(mostly(fc.constantFrom('AccessDenied', 'InvalidIdentityToken', 'ThrottlingException'))),
  userAgent: fc.option(nasty),
};
const tag = (key: string, value: fc.Arbitrary<string>) => fc.record({ key: fc.constant(key), value: mostly(value) });

/** Records routed to each of the four parsers, with mostly plausible, sometimes hostile values where it reads. */
const routedRecord = fc.oneof(
  fc.record({
    ...common,
    eventSource: fc.constant('sts.amazonaws.com'),
    eventName: fc.constant('AssumeRole'),
    userIdentity: fc.constant({ type: 'AWSService', invokedBy: 'pods.eks.amazonaws.com' }),
    requestParameters: fc.record({
      roleArn: mostly(roleArn),
      tags: fc
        .tuple(
          tag('eks-cluster-arn', name.map((n) => `arn:aws:eks:us-west-2:111122223333:cluster/${n}`)),
          tag('eks-cluster-name', name),
          tag('kubernetes-namespace', name),
          tag('kubernetes-service-account', fc.array(name, { minLength: 1, maxLength: 3 }).map((p) => p.join('.'))),
          tag('kubernetes-pod-name', name),
          tag('kubernetes-pod-uid', fc.uuid()),
          fc.array(tag('kubernetes-namespace', name), { maxLength: 1 }),
        )
        .map(([a, b, c, d, e, f, extra]) => [a, b, c, d, e, f, ...extra]),
    }),
  }),
  fc.record({
    ...common,
    eventSource: fc.constant('sts.amazonaws.com'),
    eventName: fc.constant('AssumeRoleWithWebIdentity'),
    userIdentity: fc.record({
      type: fc.constant('WebIdentityUser'),
      identityProvider: mostly(fc.stringMatching(/^[0-9A-F]{1,40}$/).map((id) => `arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/${id.toUpperCase()}`)),
      userName: mostly(fc.tuple(mostly(name), mostly(name)).map(([ns, sa]) => `system:serviceaccount:${ns}:${sa}`)),
    }),
    requestParameters: fc.record({ roleArn: mostly(roleArn) }),
  }),
  fc.record({
    ...common,
    eventSource: fc.constant('eks-auth.amazonaws.com'),
    eventName: fc.constant('AssumeRoleForPodIdentity'),
    userIdentity: fc.record({
      type: fc.constant('AssumedRole'),
      arn: fc.constant('arn:aws:sts::111122223333:assumed-role/eksctl-prod-NodeInstanceRole-ABC/i-0123456789abcdef0'),
      sessionContext: fc.record({ sessionIssuer: fc.record({ arn: mostly(fc.constant(NODE_ROLE)) }), ec2RoleDelivery: fc.constant('2.0') }),
    }),
    requestParameters: fc.record({ clusterName: mostly(name) }),
  }),
  fc.record({
    ...common,
    eventSource: mostly(fc.constantFrom('s3.amazonaws.com', 'iam.amazonaws.com')),
    eventName: mostly(fc.constantFrom('ListBuckets', 'CreateUser')),
    userIdentity: fc.record({
      type: fc.constant('AssumedRole'),
      arn: fc.constant('arn:aws:sts::111122223333:assumed-role/eksctl-prod-NodeInstanceRole-ABC/i-0123456789abcdef0'),
      sessionContext: fc.record({ sessionIssuer: fc.record({ arn: mostly(fc.constant(NODE_ROLE)) }), ec2RoleDelivery: fc.constant('1.0') }),
    }),
  }),
);

// ---- properties ----------------------------------------------------------------------------

describe('normalizeRecord properties', () => {
  it('arbitrary JSON: never throws, a valid event or a typed skip or rejection', () => {
    fc.assert(fc.property(json, (value) => void check(value)), { seed: SEED, numRuns: 400 });
  });

  it('mutations of the real fixtures: never throws, a valid event or a typed skip or rejection', () => {
    const tally = { event: 0, skipped: 0, rejected: 0 };
    fc.assert(
      fc.property(mutatedFixture, (record) => {
        tally[check(record).status]++;
      }),
      { seed: SEED, numRuns: 1500 },
    );
    // The mutations must reach all three outcomes, or the property proves little.
    expect(Math.min(tally.event, tally.skipped, tally.rejected)).toBeGreaterThan(50);
  });

  it('records routed to each parser with hostile values: every event it lets through is valid', () => {
    const tally = { event: 0, skipped: 0, rejected: 0 };
    fc.assert(
      fc.property(routedRecord, (record) => {
        tally[check(record).status]++;
      }),
      { seed: SEED, numRuns: 1500 },
    );
    expect(Math.min(tally.event, tally.rejected)).toBeGreaterThan(200);
  });

  it('the unmutated fixtures are events or skips, never rejections (the samples stay accepted)', () => {
    for (const record of RECORDS) expect(check(record).status).not.toBe('rejected');
  });
});

describe('envelope and splitter properties', () => {
  const wellFormed = (item: InputItem) =>
    item.type === 'record' ? typeof item.record === 'object' && item.record !== null && !Array.isArray(item.record) : item.reason.length > 0;

  it('iterateRecords on arbitrary JSON never throws and gives records (objects) or problems', () => {
    fc.assert(
      fc.property(json, (doc) => {
        for (const item of iterateRecords(doc, 'f.json')) expect(wellFormed(item)).toBe(true);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('splitting a log file, LookupEvents output or array in arbitrary chunks gives what a whole parse gives', () => {
    const element = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.dictionary(nasty, nasty, { maxKeys: 4 }));
    const doc = fc.oneof(
      fc.array(element, { maxLength: 6 }).map((Records) => ({ Records }) as unknown),
      fc.array(fc.record({ CloudTrailEvent: fc.oneof(nasty, fc.jsonValue().map((v) => JSON.stringify(v))) }), { maxLength: 4 }).map((Events) => ({ Events }) as unknown),
      fc.array(element, { maxLength: 6 }),
    );
    fc.assert(
      fc.property(doc, fc.integer({ min: 1, max: 64 }), fc.boolean(), (value, size, pretty) => {
        const text = Buffer.from(JSON.stringify(value, null, pretty ? 2 : undefined));
        const splitter = new JsonStreamSplitter('f.json', { maxRecordBytes: 1 << 20 }, text.toString('utf8', 0, 4096));
        const out: InputItem[] = [];
        for (let i = 0; i < text.length; i += size) out.push(...splitter.push(text.subarray(i, i + size)));
        out.push(...splitter.end());
        expect(out).toEqual([...iterateRecords(value, 'f.json')]);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});

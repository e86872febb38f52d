import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cloudTrailEnvelope, matchesAnyRule, matchesPattern, matchingRules, rulePatterns, widestRulePatterns, type EventPattern } from '../../functions/core/rule-patterns';

/**
 * EventBridge's matching as its user guide states it, written as plainly as possible: the compiled
 * matcher (functions/core/rule-patterns.ts) must agree with it on every pattern and event.
 */
function reference(event: unknown, pattern: EventPattern): boolean {
  if (!isObject(event)) return false;
  return Object.entries(pattern).every(([key, expected]) => {
    if (key === '$or') return (expected as EventPattern[]).some((alternative) => reference(event, alternative));
    if (!Array.isArray(expected)) return reference(event[key], expected as EventPattern);
    const present = key in event;
    const actual = event[key];
    const values = Array.isArray(actual) ? actual : [actual];
    return (expected as unknown[]).some((m) => {
      if (isObject(m) && 'exists' in m) return m['exists'] === (present && actual !== undefined);
      if (!present) return false;
      if (isObject(m) && 'anything-but' in m) return values.every((v) => !valueMatches(v, m['anything-but']));
      return values.some((v) => valueMatches(v, m));
    });
  });
}

function valueMatches(value: unknown, m: unknown): boolean {
  if (Array.isArray(m)) return m.some((x) => valueMatches(value, x));
  if (!isObject(m)) return value === m;
  if (typeof value !== 'string') return false;
  if ('prefix' in m) return value.startsWith(String(m['prefix']));
  if ('suffix' in m) return value.endsWith(String(m['suffix']));
  if ('equals-ignore-case' in m) return value.toLowerCase() === String(m['equals-ignore-case']).toLowerCase();
  if ('wildcard' in m) return new RegExp(`^${String(m['wildcard']).split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's').test(value);
  return false;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Few keys and values, so that generated patterns and events meet often.
const keys = fc.constantFrom('a', 'b', 'c');
const words = fc.constantFrom('sts', 'STS', 'sts.amazonaws.com', 'arn:aws:iam::1:role/x', 'x', '', 'a*b');
const scalar = fc.oneof(words, fc.constantFrom(0, 1, true, false, null));
const matcher = fc.oneof(
  scalar,
  words.map((prefix) => ({ prefix })),
  words.map((suffix) => ({ suffix })),
  words.map((w) => ({ wildcard: `${w}*` })),
  words.map((w) => ({ 'equals-ignore-case': w })),
  fc.boolean().map((exists) => ({ exists })),
  fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), words.map((prefix) => ({ prefix }))).map((v) => ({ 'anything-but': v })),
);
const pattern: fc.Arbitrary<EventPattern> = fc.letrec<{ pattern: EventPattern }>((tie) => ({
  pattern: fc.dictionary(
    fc.oneof(keys, fc.constant('$or')),
    fc.oneof({ depthSize: 'small' }, fc.array(matcher, { minLength: 1, maxLength: 4 }), tie('pattern'), fc.array(tie('pattern'), { minLength: 1, maxLength: 2 })),
    { maxKeys: 3 },
  ) as fc.Arbitrary<EventPattern>,
})).pattern.map((p) => fixOr(p));
/** `$or` takes a list of patterns (a list of matchers elsewhere may hold objects with no operator: they match nothing). */
function fixOr(p: EventPattern): EventPattern {
  const out: EventPattern = {};
  for (const [k, v] of Object.entries(p)) {
    if (k !== '$or') out[k] = isObject(v) ? fixOr(v as EventPattern) : v;
    else out[k] = (Array.isArray(v) ? v : [v]).filter((x) => isObject(x) && Object.keys(x).every((key) => ['a', 'b', 'c', '$or'].includes(key))).map((x) => fixOr(x as EventPattern));
  }
  return out;
}
const event = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalar, fc.constant(undefined), fc.array(scalar, { maxLength: 3 }), fc.dictionary(keys, tie('value'), { maxKeys: 3 })),
})).value;

describe('matchesPattern', () => {
  it('agrees with a plain reading of EventBridge matching on every pattern and event', () => {
    fc.assert(
      fc.property(pattern, event, (p, e) => {
        expect(matchesPattern(e, p)).toBe(reference(e, p));
        // compiled once, asked again: the same answer
        expect(matchesPattern(e, p)).toBe(reference(e, p));
      }),
      { numRuns: 3000, seed: 20261203 },
    );
  });

  it('matches each operator as EventBridge does', () => {
    const e = { detail: { eventSource: 'sts.amazonaws.com', arns: ['arn:aws:iam::1:role/a', 'arn:aws:iam::1:role/NodeRole-x'], gone: null, n: 3 } };
    const cases: [EventPattern['detail'], boolean][] = [
      [{ eventSource: ['sts.amazonaws.com'] }, true],
      [{ eventSource: ['eks-auth.amazonaws.com', 'sts.amazonaws.com'] }, true],
      [{ eventSource: [{ prefix: 'sts.' }] }, true],
      [{ eventSource: [{ suffix: '.com' }] }, true],
      [{ eventSource: [{ 'equals-ignore-case': 'STS.AMAZONAWS.COM' }] }, true],
      [{ eventSource: [{ 'anything-but': ['sts.amazonaws.com'] }] }, false],
      [{ eventSource: [{ 'anything-but': { prefix: 'eks' } }] }, true],
      // any element of an array field
      [{ arns: [{ wildcard: 'arn:aws*:iam::*:role/*NodeRole*' }] }, true],
      [{ arns: ['arn:aws:iam::1:role/a'] }, true],
      [{ arns: [{ 'anything-but': 'arn:aws:iam::1:role/a' }] }, false],
      // exists: null is there, a missing field is not
      [{ gone: [{ exists: true }] }, true],
      [{ missing: [{ exists: false }] }, true],
      [{ missing: [{ exists: true }] }, false],
      [{ missing: ['x'] }, false],
      [{ n: [3] }, true],
      [{ n: [{ prefix: '3' }] }, false],
      [{ $or: [{ eventSource: ['x'] }, { n: [3] }] } as EventPattern, true],
      [{ $or: [{ eventSource: ['x'] }, { n: [4] }] } as EventPattern, false],
    ];
    for (const [detail, expected] of cases) expect(matchesPattern(e, { detail } as EventPattern), JSON.stringify(detail)).toBe(expected);
  });

  it('matchesAnyRule is whether matchingRules names any rule, for the rules analyze builds', () => {
    const rules = [rulePatterns({}), rulePatterns({ nodeRoleArns: ['arn:aws:iam::1:role/ng-1'], nodeRolePatterns: ['*NodeRole*'] }), widestRulePatterns()];
    const records = [
      { eventSource: 'sts.amazonaws.com', eventName: 'AssumeRoleWithWebIdentity', userIdentity: { type: 'WebIdentityUser', identityProvider: 'arn:aws:iam::1:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC' } },
      { eventSource: 'eks-auth.amazonaws.com', eventName: 'AssumeRoleForPodIdentity' },
      { eventSource: 's3.amazonaws.com', eventName: 'ListBuckets', userIdentity: { type: 'AssumedRole', sessionContext: { sessionIssuer: { arn: 'arn:aws:iam::1:role/ng-1' }, ec2RoleDelivery: '2.0' } } },
      { eventSource: 'eks-auth.amazonaws.com', eventName: 'x', userIdentity: { type: 'AssumedRole', sessionContext: { sessionIssuer: { arn: 'arn:aws:iam::1:role/ng-1' }, ec2RoleDelivery: '2.0' } } },
      { eventSource: 's3.amazonaws.com', eventName: 'ListBuckets' },
    ];
    const answers = rules.flatMap((r) => records.map((record) => [matchingRules(cloudTrailEnvelope(record), r), matchesAnyRule(cloudTrailEnvelope(record), r)] as const));
    for (const [names, any] of answers) expect(any).toBe(names.length > 0);
    // each kind of answer is there: some records match, some do not
    expect(answers.map(([names]) => names.length > 0)).toEqual(expect.arrayContaining([true, false]));
    expect(matchingRules(cloudTrailEnvelope(records[2]!), rules[1]!)).toEqual(['node-role']);
  });
});

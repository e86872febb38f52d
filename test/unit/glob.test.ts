import { describe, expect, it } from 'vitest';
import { compileGlob, globProblem, matchSegment } from '../../functions/core/glob';
import { parsePolicy, policyMatchers } from '../../functions/core/policy';

describe('policy globs', () => {
  it.each([
    ['*-sandbox', 'team-sandbox', true],
    ['*-sandbox', 'sandbox', false],
    ['kube-system', 'KUBE-SYSTEM', true],
    ['payments-*', 'payments-', true],
    ['pay?ents', 'payments', true],
    ['pay?ents', 'paments', false],
    ['*aws-node*', 'eks-aws-node-role', true],
    ['*a*b*c', 'xaybzc', true],
    ['*a*b*c', 'xaybzcd', false],
    ['ec2.amazonaws.com:Describe*', 'ec2.amazonaws.com:DescribeInstances', true],
    ['*', '', true],
    ['?', '', false],
    // neither wildcard crosses `/`
    ['*NodeInstanceRole*', 'arn:aws:iam::1:role/NodeInstanceRole/payments-api', false],
    ['arn:aws:iam::*:role/payments-*', 'arn:aws:iam::111122223333:role/payments-api', true],
    ['arn:aws:iam::*:role/payments-*', 'arn:aws:iam::111122223333:role/team/payments-api', false],
    ['a?b', 'a/b', false],
  ])('%s against %s is %s', (pattern, value, want) => {
    expect(compileGlob(pattern)(value)).toBe(want);
  });

  it('answers a pathological pattern against a 63-character name (the Kubernetes limit) by the bound, not by backtracking', () => {
    const pattern = '*a'.repeat(24);
    const name = 'a'.repeat(62) + 'b';
    const steps = { count: 0 };

    expect(matchSegment(pattern, name, steps)).toBe(false);
    // at most (pattern length + 1) x (name length + 1) steps; a backtracking engine needs C(62, 24)
    expect(steps.count).toBeLessThanOrEqual((pattern.length + 1) * (name.length + 1));
    expect(compileGlob(pattern)(name)).toBe(false);
    expect(compileGlob(pattern)('a'.repeat(63))).toBe(true);
  });

  it('compiles a policy with such a pattern and matches with it', () => {
    const policy = parsePolicy({ unexpectedNamespace: { denyNamespaces: ['*a'.repeat(24)] } }, 'p.json');
    expect(policyMatchers(policy).denyNamespace('x'.repeat(36))).toBe(false);
    expect(policyMatchers(policy)).toBe(policyMatchers(policy));
  });

  it.each([
    ['team-[a', 'unbalanced ['],
    ['team-[ab]', '[ is not supported: only * (any characters) and ? (one character) are wildcards'],
    ['{a,b}', '{ is not supported'],
    ['!default', '! is not supported'],
    ['  ', 'empty glob'],
  ])('rejects %j: %s', (pattern, problem) => {
    expect(globProblem(pattern)).toContain(problem);
    expect(() => compileGlob(pattern)).toThrow(/bad glob/);
  });

  it('names an unsupported glob in a policy file by its key', () => {
    expect(() => parsePolicy({ unexpectedNamespace: { systemRoles: ['*{karpenter,cas}*'] } }, 'p.json')).toThrow(
      /^p\.json: unexpectedNamespace\.systemRoles\.0: bad glob "\*\{karpenter,cas\}\*": \{ is not supported/,
    );
  });
});

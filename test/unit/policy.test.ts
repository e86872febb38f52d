import { describe, expect, it } from 'vitest';
import { DEFAULT_NODE_ROLE_PATTERNS, EXPECTED_NODE_CALLS } from '../../functions/core/node-roles';
import { defaultPolicy, parsePolicy, PolicyError } from '../../functions/core/policy';

describe('policy file', () => {
  it('defaults every key: 5-minute spike windows of 5, 7 learning days, the node lists of the core', () => {
    const policy = defaultPolicy();

    expect(policy.accessDeniedSpike).toEqual({ windowMinutes: 5, threshold: 5 });
    expect(policy.soak).toEqual({ soakDays: 14, activeHours: 24 });
    expect(policy.unexpectedNamespace).toMatchObject({ learningDays: 7, denyNamespaces: ['default', '*-sandbox'], systemNamespaces: ['kube-system'], allow: [] });
    expect(policy.nodeRoleFallthrough).toEqual({ nodeRolePatterns: [...DEFAULT_NODE_ROLE_PATTERNS], expectedCalls: [...EXPECTED_NODE_CALLS], windowHours: 24 });
  });

  it('keeps the defaults of a section it is given only part of', () => {
    const policy = parsePolicy({ accessDeniedSpike: { threshold: 20 } }, 'p.json');
    expect(policy.accessDeniedSpike).toEqual({ windowMinutes: 5, threshold: 20 });
  });

  it.each([
    [{ spike: { threshold: 3 } }, /^p\.json: unknown key spike$/],
    [{ accessDeniedSpike: { treshold: 3 } }, /^p\.json: unknown key accessDeniedSpike\.treshold$/],
    [{ accessDeniedSpike: { threshold: -1 } }, /^p\.json: accessDeniedSpike\.threshold: .*>0/],
    [{ accessDeniedSpike: { windowMinutes: 2.5 } }, /accessDeniedSpike\.windowMinutes: .*expected int/],
    [{ unexpectedNamespace: { denyNamespaces: ['team-[a'] } }, /unexpectedNamespace\.denyNamespaces\.0: bad glob "team-\[a": unbalanced \[/],
    [{ unexpectedNamespace: { systemRoles: [''] } }, /unexpectedNamespace\.systemRoles\.0: empty glob/],
    [{ unexpectedNamespace: { allow: [{ roles: ['*'], namespaces: ['a'], clusters: 'x' }] } }, /unknown key unexpectedNamespace\.allow\.0\.clusters/],
    [{ unexpectedNamespace: { allow: [{ roles: [], namespaces: ['a'] }] } }, /unexpectedNamespace\.allow\.0\.roles: /],
    [{ severity: { 'node-role-fallthrough': 'urgent' } }, /severity\.node-role-fallthrough: /],
    [{ severity: { 'made-up': 'low' } }, /severity/],
    [[], /\(top level\)/],
  ])('fails fast on %j, naming the key', (doc, message) => {
    expect(() => parsePolicy(doc, 'p.json')).toThrow(PolicyError);
    expect(() => parsePolicy(doc, 'p.json')).toThrow(message);
  });

  it('names every bad key at once', () => {
    expect(() => parsePolicy({ accessDeniedSpike: { threshold: 0 }, soak: { soakDays: -3 } }, 'p.json')).toThrow(
      /(?=.*accessDeniedSpike\.threshold: )(?=.*soak\.soakDays: )/,
    );
  });
});

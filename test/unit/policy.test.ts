import { describe, expect, it } from 'vitest';
import { DEFAULT_NODE_ROLE_PATTERNS, EXPECTED_NODE_CALLS } from '../../functions/core/node-roles';
import { defaultPolicy, ownerLabel, ownerOf, parsePolicy, PolicyError } from '../../functions/core/policy';

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
    [{ owners: [{ team: 'x', email: 'nope' }] }, /owners\.0\.email: /],
    [{ owners: [{ team: 'x', slack: 'general' }] }, /owners\.0\.slack: a Slack channel/],
    [{ owners: [{ team: '' }] }, /owners\.0\.team: /],
    [{ owners: [{ team: 'x', namespaces: ['a[b'] }] }, /owners\.0\.namespaces\.0: bad glob/],
    [{ owners: [{ team: 'x', channel: '#x' }] }, /unknown key owners\.0\.channel/],
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

  it('owners: the first rule whose cluster (name or ARN) and namespace globs match; none without a match', () => {
    const policy = parsePolicy(
      {
        owners: [
          { cluster: 'payments-*', namespaces: ['checkout', 'orders-*'], team: 'payments', email: 'payments@example.com', slack: '#payments', ticketProject: 'PAY' },
          { namespaces: ['*'], team: 'platform' },
        ],
      },
      'p.json',
    );
    const arn = 'arn:aws:eks:us-east-1:111122223333:cluster/payments-prod';
    expect(ownerOf(policy, { cluster: 'payments-prod', clusterArn: arn, namespace: 'orders-eu' })).toEqual({ team: 'payments', email: 'payments@example.com', slack: '#payments', ticketProject: 'PAY' });
    expect(ownerOf(policy, { cluster: 'payments-prod', clusterArn: arn, namespace: 'risk' })).toEqual({ team: 'platform' });
    expect(ownerOf(defaultPolicy(), { cluster: 'payments-prod', clusterArn: arn, namespace: 'risk' })).toBeNull();
    expect(ownerLabel(ownerOf(policy, { cluster: 'payments-prod', clusterArn: null, namespace: 'checkout' }))).toBe('payments (payments@example.com, #payments, PAY)');
    expect(ownerLabel(null)).toBe('(no owner)');
  });
});

import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { defaultPolicy, parsePolicy, type Policy } from '../core/policy';

/**
 * What every handler shares: one Logger and one Metrics (service and namespace from the
 * POWERTOOLS_* environment the CDK construct sets), and typed, throwing reads of the environment.
 */
export const logger = new Logger();
export const metrics = new Metrics({ namespace: process.env['POWERTOOLS_METRICS_NAMESPACE'] ?? 'CutoverWatch' });

/** A count metric per value of one dimension, each its own EMF record (its own dimensions), emitted now. */
export function countPerValue(name: string, dimension: string, counts: Iterable<readonly [string, number]>): void {
  for (const [value, count] of counts) {
    const single = metrics.singleMetric();
    single.addDimension(dimension, value);
    single.addMetric(name, MetricUnit.Count, count);
  }
}

export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set: the function's construct must pass it`);
  return value;
}

export function listEnv(name: string): string[] {
  return (process.env[name] ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/** The policy document the stack was synthesized with (validated there too); defaults when absent. */
export function policyFromEnv(): Policy {
  const text = process.env['POLICY'];
  return text ? parsePolicy(JSON.parse(text), 'the POLICY environment variable') : defaultPolicy();
}

/**
 * A value loaded at most once per `ttlMs` per warm container: the inventory and the node roles
 * change slowly, and reading them for every batch would double the batch's reads.
 */
export function cached<T>(ttlMs: number, load: () => Promise<T>): () => Promise<T> {
  let value: { at: number; data: Promise<T> } | null = null;
  return () => {
    const now = Date.now();
    if (value === null || now - value.at > ttlMs) {
      const data = load();
      value = { at: now, data };
      // A failed load must not be served from the cache.
      data.catch(() => {
        if (value?.data === data) value = null;
      });
    }
    return value.data;
  };
}

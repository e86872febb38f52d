/**
 * Public shapes of the sample fleet and the policy values its `expected` verdicts are computed with.
 *
 * Its own module so the internal modules can use these types without importing the public entry
 * point (`../sample-fleet.ts`), which re-exports them unchanged.
 */

export interface SampleFleetOptions {
  /** PRNG seed for traffic (times, ids, counts). Default 42. */
  seed?: number;
  /** Exclusive end of the generated traffic. */
  end: Date;
  /** Days of traffic before `end`. Default 30. The scenario assumes ≥ 29 (search-prod's oldest cutover). */
  days?: number;
}

export interface SampleLogFile {
  /** S3 object key: `AWSLogs/<acct>/CloudTrail/<region>/YYYY/MM/DD/<acct>_CloudTrail_<region>_YYYYMMDDTHH05Z_<16 alnum>.json.gz`. */
  key: string;
  /** The `Records` array of the file, sorted by eventTime. */
  records: Record<string, unknown>[];
}

export interface SampleInventoryFile {
  /** File name, e.g. `describe-cluster-payments-prod.json`. */
  name: string;
  /** What the AWS CLI prints for the corresponding command. */
  content: unknown;
}

export interface ExpectedNamespace {
  cluster: string;
  namespace: string;
  verdict: 'NOT_STARTED' | 'IN_PROGRESS' | 'SOAKING' | 'READY';
  why: string;
}

export interface ExpectedDetection {
  detection: 'unexpected-namespace' | 'access-denied-spike' | 'node-role-fallthrough' | 'irsa-regression' | 'irsa-after-association';
  cluster: string;
  /** null for node-level cases (the denied fetch burst, node-role fallthrough). */
  namespace: string | null;
  serviceAccount: string | null;
  why: string;
}

export interface SampleFleet {
  files: SampleLogFile[];
  inventory: SampleInventoryFile[];
  expected: ExpectedNamespace[];
  /**
   * The detection cases in the records, one entry per case (a detector may raise several alerts for
   * one case: one per day or per window). Planted cases come first; the irsa-after-association
   * entries are computed from the records and the association `createdAt` times.
   */
  expectedDetections: ExpectedDetection[];
  stats: { records: number; byCategory: Record<string, number> };
}

/** Soak period and active window the `expected` verdicts are computed with. */
export const SAMPLE_SOAK_DAYS = 14;
export const SAMPLE_ACTIVE_HOURS = 24;

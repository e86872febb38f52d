/**
 * Deterministic sample fleet: 30 days of CloudTrail for three EKS clusters in the middle of an
 * IRSA → EKS Pod Identity migration, plus the EKS inventory JSON an operator would export with
 * the AWS CLI. Used by the `demo` command and by tests.
 *
 * Record shapes follow docs/cloudtrail.md (§1a fetch, §1b companion AssumeRole,
 * §2a/§2b IRSA, §3 node-role calls). Everything secret-looking is fake: access key ids are random,
 * every session token contains the marker `FAKE-SESSION-TOKEN`.
 *
 * `generateSampleFleet` is pure: one seeded PRNG (mulberry32) drives every random choice, time comes
 * only from `options.end`. The cluster topology (OIDC ids, node roles, instance ids, role ids,
 * association ids) is drawn from a second PRNG with a fixed seed, so it is the same for every seed;
 * the seed changes traffic times, counts within their ranges, event/request ids and credentials,
 * never the scenario (the verdicts in `expected`, the cases in `expectedDetections`).
 *
 * Planted detection cases (default policy: 5-minute spike windows aligned on the epoch, threshold 5;
 * deny list `default`, `*-sandbox`; 7-day learning period; 24 h active window):
 * - unexpected-namespace: payments-prod `orders-sandbox/orders-api` uses the prod role of
 *   `orders/orders-api` through Pod Identity (3 assumes in the last 2 days); `fraud-detection/fraud-scorer`
 *   assumes the role of `risk/risk-engine` twice, 3 days before end (first-seen pair).
 * - access-denied-spike: the 12 denied Pod Identity fetches on one ng-2 node, and the denied IRSA
 *   retry storm of `inventory/inventory-sync`, each inside one aligned 5-minute window.
 * - node-role-fallthrough: payments-prod ng-1 node role calls S3/DynamoDB/SQS (one node via IMDSv1).
 * - irsa-regression: `risk/risk-batch` assumes through IRSA 6 h and 5 h before end (risk was READY).
 * - irsa-after-association: every service account that still assumed through IRSA more than 24 h after
 *   its association was created (computed from the records: the straggler `reporting/report-builder`,
 *   `orders/orders-api`, `notifications/notifier`, the two-day overlaps of older migrations, and risk-batch).
 * Every other migration keeps IRSA at most 23 h after its association and IRSA assumes of a service
 * account are never more than 16 h apart while it is on IRSA, so no other case fires.
 *
 * This module is the public entry point and only re-exports; the generator is split by concern under
 * `sample-fleet/` so each part can be read on its own:
 * - `traffic.ts`: `generateSampleFleet`, the traffic plan and the planted cases (every traffic random draw, in order);
 * - `topology.ts`: the hand-written scenario plan and its resolution into clusters, nodes, roles, associations;
 * - `records.ts`: `FleetBuilder`, one CloudTrail record per call, in CloudTrail's key order;
 * - `noise.ts`: unrelated CloudTrail; `inventory.ts`: the AWS CLI output;
 * - `expected.ts`: the expected verdicts and detections, computed from the records;
 * - `files.ts`: S3 keys and `writeSampleFleet`; `random.ts`, `time.ts`, `types.ts`: shared helpers and public shapes.
 */
export { generateSampleFleet } from './sample-fleet/traffic';
export { writeSampleFleet } from './sample-fleet/files';
export type { WriteSampleFleetOptions } from './sample-fleet/files';
export { SAMPLE_SOAK_DAYS, SAMPLE_ACTIVE_HOURS } from './sample-fleet/types';
export type {
  SampleFleetOptions,
  SampleLogFile,
  SampleInventoryFile,
  ExpectedNamespace,
  ExpectedDetection,
  SampleFleet,
} from './sample-fleet/types';

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import { readinessReport } from '../../functions/adapters/readiness-query';
import { preflight, type PreflightFinding } from '../../functions/core/preflight';
import { DEFAULT_TABLE_NAME } from '../../functions/core/table-schema';
import { startEmbeddedStore, type EmbeddedStore } from '../../functions/local/embedded-store';
import { DEMO_DIR, DEMO_END, demoInto } from '../support/demo';

/**
 * The sample fleet plants one case of each preflight check the demo should show: an IRSA user
 * agent of an SDK too old for Pod Identity (legacy-batch/billing-export), an associated role whose
 * trust lacks sts:TagSession (payments-prod/reporting/report-builder), and a cluster without the
 * eks-pod-identity-agent add-on (legacy-batch). `preflight()` over the demo's store finds exactly those.
 */
let work: string;
let embedded: EmbeddedStore;
let findings: PreflightFinding[];

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'cw-preflight-demo-'));
  const run = await demoInto(work, { without: ['logs', 'late', 'reports'] });
  expect(run.code).toBe(0);
  embedded = await startEmbeddedStore(path.join(work, DEMO_DIR));
  const store = new DynamoEvidenceStore({ client: embedded.client, tableName: DEFAULT_TABLE_NAME });
  const readiness = await readinessReport(store, { asOf: new Date(DEMO_END), soakDays: 14, activeHours: 24 });
  findings = preflight({ readiness, inventory: await store.loadInventory() });
}, 180_000);

afterAll(async () => {
  await embedded?.close();
  await rm(work, { recursive: true, force: true });
});

describe('preflight over the demo store', () => {
  it('finds exactly the three planted cases, the missing agent first', () => {
    expect(findings.map((f) => [f.severity, f.kind, f.cluster, f.namespace, f.serviceAccount])).toEqual([
      ['blocker', 'agent-missing', 'legacy-batch', null, null],
      ['blocker', 'sdk-too-old', 'legacy-batch', 'billing-export', 'billing-exporter'],
      ['blocker', 'trust-no-tag-session', 'payments-prod', 'reporting', 'report-builder'],
    ]);
  });

  it('gives each a complete fix', () => {
    const [agent, sdk, trust] = findings as [PreflightFinding, PreflightFinding, PreflightFinding];
    expect(agent).toMatchObject({ account: '444455556666', region: 'eu-west-1' });
    expect(agent.fix.commands[0]).toEqual(['aws', 'eks', 'create-addon', '--cluster-name', 'legacy-batch', '--addon-name', 'eks-pod-identity-agent', '--region', 'eu-west-1']);
    expect(sdk.evidence).toContain('AWS SDK for Go v1 1.44.122 < 1.47.11');
    expect(trust).toMatchObject({ account: '111122223333', region: 'us-east-1', roleArn: 'arn:aws:iam::111122223333:role/payments-prod-reporting-report-builder' });
    const document = trust.fix.document as { Statement: { Principal: Record<string, string>; Action: unknown }[] };
    expect(document.Statement.find((s) => s.Principal['Service'] === 'pods.eks.amazonaws.com')!.Action).toEqual(['sts:AssumeRole', 'sts:TagSession']);
    expect(JSON.parse(trust.fix.commands[0]!.at(-1)!)).toEqual(document);
  });
});

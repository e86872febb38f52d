import { Command } from 'commander';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryCommand } from '../../functions/local/cli/commands/inventory';
import { execute } from '../../functions/local/cli/main';
import { withStore } from '../../functions/local/cli/store-options';
import { recordingIo } from '../support/recording-io';

/** `inventory import` of the AWS CLI's IAM and add-on output (test/fixtures/iam), in process. */
const FIXTURES = path.join(__dirname, '../fixtures/iam');
let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'cw-import-iam-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function cli(argv: string[]) {
  const { io, out, err } = recordingIo(work, () => new Date('2026-12-02T00:00:00Z'));
  const program = new Command('cutover-watch');
  inventoryCommand(program, io);
  const code = await execute(program, argv, io, () => 0);
  return { code, out: out.join('\n'), err: err.join('\n'), io };
}

describe('cutover-watch inventory import (IAM and add-ons)', () => {
  it('stores the roles with their policies and the add-ons, and shows them', async () => {
    const files = (await readdir(FIXTURES)).filter((f) => f.endsWith('.json')).sort().map((f) => path.join(FIXTURES, f));
    const run = await cli(['inventory', 'import', '--store', 'iam-store', ...files]);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/^imported 0 clusters, 0 associations, 0 node groups, 2 add-ons, 7 IAM roles into iam-store/);
    expect(run.out).toMatch(/\npayments-prod\s+eks-pod-identity-agent\s+ACTIVE\s+v1\.3\.4-eksbuild\.1\n/);
    expect(run.out).toMatch(/\narn:aws:iam::111122223333:role\/payments-prod-ledger-ledger-sync\s+1\s+1\s+1\n/);
    const stored = await withStore({ store: 'iam-store' }, run.io, ({ store }) => store.loadInventory());
    expect(stored.roles).toHaveLength(7);
    expect(stored.policies).toHaveLength(1);
    expect(stored.addons!.map((a) => `${a.cluster} ${a.status}`)).toEqual(['payments-prod ACTIVE', 'search-prod DEGRADED']);
  });

  it('names the file when its output does not name its role', async () => {
    const file = path.join(work, 'attached.json');
    await writeFile(file, JSON.stringify({ AttachedPolicies: [] }));
    const run = await cli(['inventory', 'import', '--store', 'bad-store', file]);
    expect(run.code).toBe(2);
    expect(run.err).toContain(`${file}: aws iam list-attached-role-policies output does not name its role: name the file after it, e.g. list-attached-role-policies--ROLE.json`);
  });
});

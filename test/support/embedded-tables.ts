import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import { startEmbeddedStore, type EmbeddedStore } from '../../functions/local/embedded-store';

/**
 * One embedded store for a test file and a table of its own for each test that asks: a temp folder
 * (`work`, also for the file's other fixtures) made before the file's tests and removed after them.
 */
export function embeddedTables(name: string): { readonly work: string; readonly embedded: EmbeddedStore; fresh(): Promise<DynamoEvidenceStore> } {
  let work: string;
  let embedded: EmbeddedStore | undefined;
  let tables = 0;
  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), `cw-${name}-`));
    await mkdir(path.join(work, 'store'));
    embedded = await startEmbeddedStore(path.join(work, 'store'));
  }, 30_000);
  afterAll(async () => {
    await embedded?.close();
    await rm(work, { recursive: true, force: true });
  });
  return {
    get work() {
      return work;
    },
    get embedded() {
      return embedded!;
    },
    async fresh() {
      tables += 1;
      const store = new DynamoEvidenceStore({ client: embedded!.client, tableName: `${name}-${tables}`, singleWriter: true });
      await store.ensureTable();
      return store;
    },
  };
}

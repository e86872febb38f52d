/**
 * The benchmark's baseline for readiness and report: one full read of an embedded store, opened as
 * the CLI opens it (dynalite on a worker thread), every item of the table by a paginated Scan.
 * Run as a child: `tsx bench/read-store.ts STORE_DIR`; prints {items, pages, bytes, seconds}.
 */
import { ScanCommand, type ScanCommandOutput } from '@aws-sdk/client-dynamodb';
import { DEFAULT_TABLE_NAME } from '../functions/core/table-schema';
import { openEmbeddedStore } from '../functions/local/embedded-store';

const dir = process.argv[2];
if (!dir) throw new Error('usage: tsx bench/read-store.ts STORE_DIR');
const started = performance.now();
const store = await openEmbeddedStore(dir, { write: false });
try {
  let items = 0;
  let pages = 0;
  let bytes = 0;
  let start: ScanCommandOutput['LastEvaluatedKey'];
  do {
    const page = await store.client.send(new ScanCommand({ TableName: DEFAULT_TABLE_NAME, ExclusiveStartKey: start }));
    items += page.Count ?? 0;
    pages += 1;
    bytes += JSON.stringify(page.Items ?? []).length;
    start = page.LastEvaluatedKey;
  } while (start);
  process.stdout.write(JSON.stringify({ items, pages, bytes, seconds: (performance.now() - started) / 1000 }) + '\n');
} finally {
  await store.close();
}

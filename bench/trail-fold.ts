/**
 * `npm run bench:trail-fold [-- --preset fleet] [-- --days N] [-- --warm D]`: one run of the deployed trail fold
 * (functions/adapters/trail-fold.ts) over the benchmark fleet's last N+1 days of log objects, as
 * the function runs it: a store with the writer lease (not staged), objects listed by day folder
 * and read in delivery order (with `--warm D`, after an unmeasured run over the D days before). What it answers: does a run (or a backlog after an outage) fit the
 * function's 15 minutes and 1,024 MB, and how many write requests it sends.
 *
 * S3 is answered at the client by a middleware from the fleet's files on disk (no network, no
 * credentials); the table is the embedded store in a child process of its own, so the peak RSS
 * printed is the fold's process alone, as in Lambda where the table is remote. The fold's process
 * is this one, started through tsx: its peak includes tsx's own (~60 MB), where the function's
 * bundle has none.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DynamoEvidenceStore } from '../functions/adapters/dynamo-evidence-store';
import { foldTrail } from '../functions/adapters/trail-fold';
import { defaultPolicy } from '../functions/core/policy';
import { DEFAULT_TABLE_NAME } from '../functions/core/table-schema';
import { readInventoryFiles } from '../functions/local/cli/commands/inventory';
import { startEmbeddedStore } from '../functions/local/embedded-store';
import { SCALE_PRESETS } from '../functions/local/sample-fleet/scale';
import { countWrites, isWriteCommand } from '../test/support/count-writes';
import { ensureFleet, type Preset } from './fleet-cache';

// The SDK's notice about Node 20 is about Lambda's runtime, not this machine's.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

if (process.argv[2] === '--serve-store') await serveStore(process.argv[3]!, process.argv[4]!);
else await main();

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const value = (name: string) => {
    const i = args.indexOf(name);
    return i === -1 ? undefined : args[i + 1];
  };
  const preset = (value('--preset') ?? 'fleet') as Preset;
  if (!Object.hasOwn(SCALE_PRESETS, preset)) throw new Error(`--preset must be one of ${Object.keys(SCALE_PRESETS).join(', ')}`);
  const lookbackDays = Number(value('--days') ?? '0');
  const fleet = await ensureFleet(preset, (line) => console.error(line));
  const work = await mkdtemp(path.join(os.tmpdir(), 'cw-bench-fold-'));
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--serve-store', path.join(work, 'store'), fleet.inventoryDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const endpoint = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`the store's process exited (${code})`)));
    });
    const dynamo = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
    const writes = countWrites(dynamo);
    // The write capacity DynamoDB would bill (a unit per KB of the larger of the old and new item,
    // as dynalite computes it when asked: ReturnConsumedCapacity).
    let writeUnits = 0;
    dynamo.middlewareStack.add(
      (next, context) => async (args) => {
        if (!isWriteCommand(String(context.commandName))) return next(args);
        (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity = 'TOTAL';
        const result = await next(args);
        const consumed = (result.output as { ConsumedCapacity?: { CapacityUnits?: number } | { CapacityUnits?: number }[] }).ConsumedCapacity;
        for (const c of Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) writeUnits += c.CapacityUnits ?? 0;
        return result;
      },
      { step: 'initialize', name: 'write-units' },
    );
    const store = new DynamoEvidenceStore({ client: dynamo, tableName: DEFAULT_TABLE_NAME, writerLease: true, leaseWaitMs: 180_000 });
    const keys = (await readdir(fleet.logDir, { recursive: true })).filter((f) => f.endsWith('.json.gz')).map((f) => f.split(path.sep).join('/'));
    const s3 = fakeS3(fleet.logDir, keys);
    const regions = [...new Set(keys.map((k) => /\/CloudTrail\/([^/]+)\//.exec(k)?.[1]).filter((r): r is string => r !== undefined))];
    // The fleet's last minute: its last day is "today".
    const now = new Date(SCALE_PRESETS[preset].end.getTime() - 60_000);
    const fold = (at: Date, days: number) =>
      foldTrail({ client: s3, store, policy: defaultPolicy(), trail: { bucket: 'bench', prefix: 'AWSLogs/' }, accounts: [], regions, lookbackDays: days, deadline: Date.now() + 13 * 60_000, now: () => at });
    // --warm: the days before, read first and not measured, so the measured run finds the fleet's
    // roles, namespaces and service accounts known (a table in use), not created.
    const warm = args.includes('--warm') ? Number(value('--warm') ?? '1') : 0;
    if (warm > 0) {
      await fold(new Date(now.getTime() - (lookbackDays + 1) * 86_400_000), warm - 1);
      writes.reset();
      writeUnits = 0;
    }
    const started = performance.now();
    const summary = await fold(now, lookbackDays);
    const seconds = (performance.now() - started) / 1000;
    const total = writes.total();
    console.log(
      JSON.stringify(
        {
          preset,
          days: lookbackDays + 1,
          warmDays: warm,
          seconds: Number(seconds.toFixed(1)),
          objects: summary.s3.read,
          records: summary.records,
          inScope: summary.inScope,
          writeRequests: total,
          writeRequestsPer1000: Number(((total * 1000) / Math.max(1, summary.inScope)).toFixed(1)),
          writeUnits,
          writeUnitsPerEvent: Number((writeUnits / Math.max(1, summary.inScope)).toFixed(2)),
          byCommand: Object.fromEntries(writes.byCommand),
          peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
          stopped: summary.s3.stopped,
          notStored: summary.notStored,
        },
        null,
        2,
      ),
    );
    dynamo.destroy();
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await rm(work, { recursive: true, force: true });
  }
}

/** ListObjectsV2 (with or without `Delimiter=/`) and GetObject from files, at the client: no request is built. */
function fakeS3(root: string, keys: readonly string[]): S3Client {
  const client = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
  const etag = (size: number, key: string) => `"${size}-${key.length}"`;
  client.middlewareStack.add(
    () => async (args) => {
      const input = args.input as { Prefix?: string; Delimiter?: string; Key?: string };
      if (input.Key !== undefined) {
        const body = await readFile(path.join(root, input.Key));
        return { output: { Body: Readable.from([body]), ETag: etag(body.length, input.Key), ContentLength: body.length, $metadata: {} }, response: {} };
      }
      const prefix = input.Prefix ?? '';
      const listed = keys.filter((k) => k.startsWith(prefix)).sort();
      if (input.Delimiter === '/') {
        const folders = [...new Set(listed.map((k) => k.slice(0, k.indexOf('/', prefix.length) + 1)))];
        return { output: { CommonPrefixes: folders.map((Prefix) => ({ Prefix })), IsTruncated: false, $metadata: {} }, response: {} };
      }
      const contents = [];
      for (const Key of listed) {
        const size = (await stat(path.join(root, Key))).size;
        contents.push({ Key, ETag: etag(size, Key), Size: size });
      }
      return { output: { Contents: contents, IsTruncated: false, $metadata: {} }, response: {} };
    },
    { step: 'initialize', name: 'fleet-files' },
  );
  return client;
}

/** The child: an embedded store with the fleet's inventory, its endpoint on stdout, until SIGTERM. */
async function serveStore(dir: string, inventoryDir: string): Promise<void> {
  const embedded = await startEmbeddedStore(dir, { openToAnyClient: true });
  const store = new DynamoEvidenceStore({ client: embedded.client, tableName: DEFAULT_TABLE_NAME, singleWriter: true });
  await store.ensureTable();
  await store.saveInventory(await readInventoryFiles((await readdir(inventoryDir)).map((f) => path.join(inventoryDir, f))));
  process.once('SIGTERM', () => void embedded.close().then(() => process.exit(0)));
  console.log(embedded.endpoint);
}

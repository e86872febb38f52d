import { allowForcedCollections, growHeapByAtMost, growHeapByAtMostPast } from '../functions/adapters/collect-garbage';
import { processIo } from '../functions/local/cli/io';
import { keepNoIdleStoreThreads } from '../functions/local/embedded-store';
import { run } from '../functions/local/cli/main';

/**
 * Commands that read the whole store and judge it into one answer: their heap is kept near what is
 * live, and the store's thread goes with the store, closed before they judge.
 */
const JUDGING_COMMANDS = new Set(['readiness', 'report', 'plan', 'evidence']);
/** Commands that read logs into the store: their heap grows with the fleet's keys. */
const READING_COMMANDS = new Set(['analyze', 'backfill', 'demo']);
/**
 * Where a reading command's heap stops growing at V8's pace: a full collection that keeps more than
 * the fleet preset's ever does (50–72 MiB; 97–99 at the first batch of 40,000 namespaces), or a
 * heap past its largest (~205–230 MB committed). See `growHeapByAtMostPast`.
 */
const LARGE_HEAP = { live: 88 * 2 ** 20, committed: 256 * 2 ** 20 };

/** The only place that touches `process`: everything else goes through `Io`. */
export async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  // Process-wide, so here and not in `run`, which tests and scripts call in processes of their own.
  // The command is the first word that is not an option (the program's own options take no value).
  const command = argv.find((arg) => !arg.startsWith('-'));
  if (command !== undefined && JUDGING_COMMANDS.has(command)) {
    growHeapByAtMost(30);
    keepNoIdleStoreThreads();
  }
  if (command !== undefined && READING_COMMANDS.has(command)) growHeapByAtMostPast(LARGE_HEAP, 20);
  allowForcedCollections();
  process.exitCode = await run(argv, processIo());
}

import { growHeapByAtMost } from '../functions/adapters/collect-garbage';
import { processIo } from '../functions/local/cli/io';
import { run } from '../functions/local/cli/main';

/** The only place that touches `process`: everything else goes through `Io`. */
export async function main(): Promise<void> {
  // Process-wide, so here and not in `run`, which tests and scripts call in processes of their own.
  growHeapByAtMost(30);
  process.exitCode = await run(process.argv.slice(2), processIo());
}

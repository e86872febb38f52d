import { processIo } from '../functions/local/cli/io';
import { run } from '../functions/local/cli/main';

/** The only place that touches `process`: everything else goes through `Io`. */
export async function main(): Promise<void> {
  process.exitCode = await run(process.argv.slice(2), processIo());
}

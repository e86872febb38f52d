import { prestartStoreThread } from '../functions/local/store-thread';

/**
 * Commands that open the embedded store: its thread is started by the launcher
 * (bin/cutover-watch.mjs) before it loads the command's bundle, so that it loads dynalite on the
 * other core meanwhile instead of after `main()`. `readiness` on the demo's store 0.66–0.72 s
 * against 0.78–0.92, on the fleet preset's ~0.2 s sooner (alternated, 2026-12-06). analyze's
 * reading thread is not started here as well: a third thread slowed the bundle's load as much as
 * its own start gained (the first file asked for at 0.78–0.90 s against 0.74–0.77).
 */
const STORE_COMMANDS = new Set(['analyze', 'backfill', 'demo', 'readiness', 'report', 'plan', 'evidence', 'coverage', 'alerts', 'inventory']);
/** Arguments after which no embedded store is opened: help, the version, a deployed table. */
const NO_STORE = new Set(['--help', '-h', '--version', '-V', 'help', '--table']);

/** Whether the command in `argv` (its first word that is not an option, as bin/cutover-watch.ts reads it) opens the embedded store. */
export function opensEmbeddedStore(argv: readonly string[]): boolean {
  const command = argv.find((arg) => !arg.startsWith('-'));
  return command !== undefined && STORE_COMMANDS.has(command) && !argv.some((arg) => NO_STORE.has(arg) || arg.startsWith('--table='));
}

/** Starts the store's thread when the command opens the embedded store. */
export function prestart(argv: readonly string[]): void {
  if (opensEmbeddedStore(argv)) prestartStoreThread();
}

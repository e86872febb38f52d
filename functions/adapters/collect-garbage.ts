import { measureMemory } from 'node:vm';

/**
 * A full garbage collection now, through the one public API that starts one: `vm.measureMemory`
 * with eager execution ("the GC will be started right away to measure the memory", Node's vm
 * documentation), its measurement unused. For the moments a run has just dropped most of what it
 * held (ingest-pipeline: a batch handed to the store, the end of reading): V8 sizes the heap from
 * how fast the reading allocates and lets it grow to two or three times what is live; on the fleet
 * preset, 87 MB were live among ~290 MB used when the write-out began. Never fails: where the API
 * is missing or refuses, nothing happens.
 */
export async function collectGarbageNow(): Promise<void> {
  try {
    await withoutExperimentalNotice(() => measureMemory({ mode: 'summary', execution: 'eager' }));
  } catch {
    // an optimization only
  }
}

/**
 * Node announces `vm.measureMemory` as experimental on stderr the first time it is called, in the
 * middle of the CLI's output, about an API whose only use here is its side effect: that one notice
 * is dropped, synchronously around the call (where Node emits it); every other warning goes through.
 */
function withoutExperimentalNotice<T>(call: () => T): T {
  const emit = process.emitWarning;
  process.emitWarning = function (this: NodeJS.Process, warning: string | Error, ...rest: unknown[]) {
    const text = typeof warning === 'string' ? warning : warning.message;
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (type === 'ExperimentalWarning' && text.includes('vm.measureMemory')) return;
    (emit as (...args: unknown[]) => void).call(this, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    return call();
  } finally {
    process.emitWarning = emit;
  }
}

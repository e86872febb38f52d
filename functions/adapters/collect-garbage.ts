import { GCProfiler, getHeapStatistics, setFlagsFromString } from 'node:v8';
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
  if (!forcedCollections) return;
  try {
    await withoutExperimentalNotice(() => measureMemory({ mode: 'summary', execution: 'eager' }));
  } catch {
    // an optimization only
  }
}

/**
 * Whether `collectGarbageNow` collects: only in a process of its own that said so (the CLI's,
 * bin/cutover-watch.ts; the trail fold's Lambda function). A process that calls the pipeline as a
 * library holds what its other work holds, and a full collection marks all of it at every batch: in
 * a test runner's worker of a few hundred MB, an in-process `analyze` of two days took 0.8–1.3 s of
 * CPU against 0.4 s, the 720-file replay 2.3 s against 1.2.
 */
let forcedCollections = false;

export function allowForcedCollections(allowed = true): void {
  forcedCollections = allowed;
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

/**
 * After each full collection, V8 lets the old generation grow to a multiple of what it left live,
 * a factor it picks from how fast the program allocates (up to ~4×). A command that reads the whole
 * store and builds one answer (readiness, a report, a plan) allocates fast for seconds while what it
 * keeps grows, so its heap swelled to two or three times what was live. With the factor fixed at
 * 1.3 (`percent` 30), in the same times (alternated runs):
 * - `report --format html`: 722–732 MB instead of 910–995 on 40,000 namespaces, 432 instead of
 *   503–553 on 20,000, 296–306 instead of 385 on the fleet preset;
 * - `readiness --json`: 580 instead of 678, 354 instead of 445, 257–263 instead of 288–292.
 * Not from the start for analyze: its collection at each batch already bounds most of its heap,
 * and at 40,000 namespaces the fixed factor cost it 15–20 % more time for ~100 MB
 * (docs/PERFORMANCE.md); it sets one once its heap is large (`growHeapByAtMostPast`).
 *
 * A V8 flag set after start (`v8.setFlagsFromString`): V8 reads this one each time it sizes the
 * heap after a collection, in every thread. Process-wide, so only a process of its own sets it:
 * the CLI's (bin/cutover-watch.ts, never a library caller of `run`) and the report function's.
 */
export function growHeapByAtMost(percent: number): void {
  setFlagsFromString(`--heap-growing-percent=${percent}`);
}

/** What `growHeapByAtMostPast` reads of the heap and does to it. */
export interface HeapWatch {
  /** The heap's size as committed now. */
  committedBytes(): number;
  /** What the last full collection since the last call left in use, if there was one. */
  liveBytes(): number | undefined;
  grow(percent: number): void;
  collect(): Promise<void>;
}

/**
 * `growHeapByAtMost(percent)` once this thread's heap is large, then a full collection at once;
 * checked four times a second (a timer that keeps nothing alive). Large: a full collection left
 * more than `live` in use, or the heap is past `committed`. For a command that reads logs into the
 * store (analyze, backfill, the demo): its heap follows the fleet's keys (the stage holds every item
 * it changes until its write-out), and V8's own factor let it grow to about twice what was live.
 *
 * By what is live, not only by the heap's size: V8 sizes the heap at each full collection, so by the
 * time the heap was past a size, the collection before had let it grow to twice what it kept. At
 * 40,000 namespaces the first batch's collection keeps ~97–99 MiB, then the heap grew to ~223 MiB
 * used (245–259 committed) before the next: the run's first peak, 496–516 MiB of RSS at ~9 s. The
 * fleet preset (5,000 namespaces) keeps 50–72 MiB at each collection and its heap is never bounded;
 * 20,000 namespaces keeps 86–100 (2026-12-05 traces). The collection at once applies the factor
 * now: the limit the last collection set stood until the next.
 *
 * Alternated runs of analyze with a factor of 1.2 once past 256 MiB (2026-12-02):
 * - 20,000 namespaces: peak 571–593 MB instead of 668–682, 32.6–34.4 s against 32.5–33.7 s (in a
 *   slower hour, 4–8 % more CPU);
 * - 40,000 namespaces: 874 against 949 MB, 69.4 against 69.0 s.
 * A factor of 1.1 took ~10 MB more off and cost 10–15 % of the time; set from the start (as the
 * judging commands do), the factor cost analyze 15–20 % at 40,000 namespaces (docs/PERFORMANCE.md).
 */
export function growHeapByAtMostPast(bounds: { committed: number; live: number }, percent: number, heap: HeapWatch = realHeapWatch()): NodeJS.Timeout {
  const check = setInterval(() => {
    const live = heap.liveBytes();
    if (heap.committedBytes() <= bounds.committed && (live === undefined || live <= bounds.live)) return;
    heap.grow(percent);
    clearInterval(check);
    void heap.collect();
  }, 250);
  return check.unref();
}

/** This thread's heap: its full collections seen through V8's GC profiler, restarted at each look. */
export function realHeapWatch(): HeapWatch {
  let profiler: GCProfiler | undefined = new GCProfiler();
  profiler.start();
  return {
    committedBytes: () => getHeapStatistics().total_heap_size,
    liveBytes() {
      if (profiler === undefined) return undefined;
      const full = profiler.stop().statistics.filter((gc) => gc.gcType === 'MarkSweepCompact');
      profiler.start();
      return full.at(-1)?.afterGC.heapStatistics.usedHeapSize;
    },
    grow(percent) {
      profiler?.stop();
      profiler = undefined;
      growHeapByAtMost(percent);
    },
    collect: collectGarbageNow,
  };
}

import { getHeapStatistics } from 'node:v8';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { allowForcedCollections, collectGarbageNow, growHeapByAtMostPast, realHeapWatch } from '../../functions/adapters/collect-garbage';

// As the CLI's process does (bin/cutover-watch.ts); the worker's later files call the pipeline as a library.
beforeAll(() => allowForcedCollections());
afterAll(() => allowForcedCollections(false));

describe('collectGarbageNow', () => {
  it('collects what nothing holds any more, right away', async () => {
    // ~64 MB of arrays, old enough to be promoted, then dropped
    let held: number[][] | null = Array.from({ length: 64 }, () => Array.from({ length: 131_072 }, (_, i) => i + 0.5));
    expect(held).toHaveLength(64);
    const before = getHeapStatistics().used_heap_size;
    held = null;
    await collectGarbageNow();
    const after = getHeapStatistics().used_heap_size;
    expect(before - after).toBeGreaterThan(48 * 1024 * 1024);
  });
});

describe('growHeapByAtMostPast', () => {
  afterEach(() => void vi.useRealTimers());

  const watched = (committed: number[], live: (number | undefined)[]) => {
    const events: string[] = [];
    const heap = {
      committedBytes: () => committed.shift() ?? 0,
      liveBytes: () => live.shift(),
      grow: (p: number) => void events.push(`grow ${p}`),
      collect: async () => void events.push('collect'),
    };
    return { heap, events };
  };

  it('sets the factor once, at the first check that finds the heap past its size bound, collects at once, and keeps no process alive', () => {
    vi.useFakeTimers();
    const committed = [100, 200, 300, 400, 50];
    const { heap, events } = watched(committed, []);
    const check = growHeapByAtMostPast({ committed: 250, live: 1000 }, 20, heap);
    expect(check.hasRef()).toBe(false);
    vi.advanceTimersByTime(500);
    expect(events).toEqual([]);
    vi.advanceTimersByTime(250);
    // the collection after the factor: the limit it sets is the one the factor bounds
    expect(events).toEqual(['grow 20', 'collect']);
    // checked no more: the heap's later sizes are not even asked for
    vi.advanceTimersByTime(5_000);
    expect(events).toEqual(['grow 20', 'collect']);
    expect(committed).toEqual([400, 50]);
  });

  it('sets it as soon as a full collection leaves more than the live bound in use, however small the heap', () => {
    vi.useFakeTimers();
    const { heap, events } = watched([100, 100, 100, 100], [undefined, 80, undefined, 120]);
    growHeapByAtMostPast({ committed: 250, live: 100 }, 20, heap);
    vi.advanceTimersByTime(750);
    expect(events).toEqual([]);
    vi.advanceTimersByTime(250);
    expect(events).toEqual(['grow 20', 'collect']);
  });

  it("reads this thread's full collections: what the last one left in use, once", async () => {
    vi.useRealTimers();
    const watch = realHeapWatch();
    let held: number[][] | null = Array.from({ length: 16 }, () => Array.from({ length: 131_072 }, (_, i) => i + 0.5));
    expect(held).toHaveLength(16);
    const withHeld = getHeapStatistics().used_heap_size;
    held = null;
    await collectGarbageNow();
    const live = watch.liveBytes();
    // ~16 MB of arrays were dropped before the collection
    expect(live).toBeGreaterThan(0);
    expect(live).toBeLessThan(withHeld - 12 * 1024 * 1024);
    expect(watch.liveBytes()).toBeUndefined();
  });
});

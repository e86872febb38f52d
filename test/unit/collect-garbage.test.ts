import { getHeapStatistics } from 'node:v8';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { collectGarbageNow, growHeapByAtMostPast } from '../../functions/adapters/collect-garbage';

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

  it('sets the factor once, at the first check that finds the heap past the bound, collects at once, and keeps no process alive', () => {
    vi.useFakeTimers();
    const sizes = [100, 200, 300, 400, 50];
    const events: string[] = [];
    const heap = { committedBytes: () => sizes.shift() ?? 0, grow: (p: number) => void events.push(`grow ${p}`), collect: async () => void events.push('collect') };
    const check = growHeapByAtMostPast(250, 20, heap);
    expect(check.hasRef()).toBe(false);
    vi.advanceTimersByTime(500);
    expect(events).toEqual([]);
    vi.advanceTimersByTime(250);
    // the collection after the factor: the limit it sets is the one the factor bounds
    expect(events).toEqual(['grow 20', 'collect']);
    // checked no more: the heap's later sizes are not even asked for
    vi.advanceTimersByTime(5_000);
    expect(events).toEqual(['grow 20', 'collect']);
    expect(sizes).toEqual([400, 50]);
  });
});

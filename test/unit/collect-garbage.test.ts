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

  it('sets the factor once, the first second the heap is past the bound, and keeps no process alive', () => {
    vi.useFakeTimers();
    const sizes = [100, 200, 300, 400, 50];
    const grown: number[] = [];
    const check = growHeapByAtMostPast(250, 20, { committedBytes: () => sizes.shift() ?? 0, grow: (p) => void grown.push(p) });
    expect(check.hasRef()).toBe(false);
    vi.advanceTimersByTime(2_000);
    expect(grown).toEqual([]);
    vi.advanceTimersByTime(1_000);
    expect(grown).toEqual([20]);
    // checked no more: the heap's later sizes are not even asked for
    vi.advanceTimersByTime(5_000);
    expect(grown).toEqual([20]);
    expect(sizes).toEqual([400, 50]);
  });
});

import { getHeapStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { collectGarbageNow } from '../../functions/adapters/collect-garbage';

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

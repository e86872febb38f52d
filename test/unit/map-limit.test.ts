import { describe, expect, it } from 'vitest';
import { mapLimit } from '../../functions/adapters/map-limit';

/** A call that settles when told to: what was started, and what has settled, in order. */
function controlled() {
  const log: string[] = [];
  const settle = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  const fn = (n: number) =>
    new Promise<number>((resolve, reject) => {
      log.push(`start ${n}`);
      settle.set(n, {
        resolve: () => {
          log.push(`done ${n}`);
          resolve(n * 10);
        },
        reject: (e) => {
          log.push(`failed ${n}`);
          reject(e);
        },
      });
    });
  return { log, settle, fn };
}
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('mapLimit', () => {
  it('keeps at most `limit` calls in flight and gives the results in input order', async () => {
    const { log, settle, fn } = controlled();
    const all = mapLimit([1, 2, 3, 4], 2, fn);
    await turn();
    expect(log).toEqual(['start 1', 'start 2']);
    settle.get(2)!.resolve();
    await turn();
    expect(log).toEqual(['start 1', 'start 2', 'done 2', 'start 3']);
    for (const n of [1, 3]) settle.get(n)!.resolve();
    await turn();
    settle.get(4)!.resolve();
    await expect(all).resolves.toEqual([10, 20, 30, 40]);
  });

  it('on a failure starts nothing more, and throws it only once the calls in flight have settled', async () => {
    const { log, settle, fn } = controlled();
    let thrown: unknown;
    const all = mapLimit([1, 2, 3, 4, 5], 2, fn).catch((e: unknown) => {
      log.push('thrown');
      thrown = e;
    });
    await turn();
    settle.get(1)!.reject(new Error('first'));
    await turn();
    // 2 is still in flight: nothing is thrown yet, and nothing new started
    expect(log).toEqual(['start 1', 'start 2', 'failed 1']);
    settle.get(2)!.resolve();
    await all;
    expect(log).toEqual(['start 1', 'start 2', 'failed 1', 'done 2', 'thrown']);
    expect((thrown as Error).message).toBe('first');
  });
});

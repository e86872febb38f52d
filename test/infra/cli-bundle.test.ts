import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cliBundle } from '../../scripts/build.mjs';

describe('the CLI bundle (built by the run’s global setup)', () => {
  it('is ASCII only, so V8 holds its 5 MB of source one byte a character', () => {
    const outside = [...readFileSync(cliBundle, 'utf8').matchAll(/[^\x00-\x7f]/g)].map((m) => m[0]);
    expect(outside).toEqual([]);
  });
});

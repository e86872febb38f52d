import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHUNKS, cliBundle, prestartBundle } from '../../scripts/build.mjs';

const chunks = path.join(path.dirname(cliBundle), CHUNKS);

describe('the CLI bundle (built by the run’s global setup)', () => {
  it('is ASCII only, its chunks too, so V8 holds their megabytes of source one byte a character', () => {
    const files = [cliBundle, ...readdirSync(chunks).filter((f) => f.endsWith('.mjs')).map((f) => path.join(chunks, f))];
    const outside = files.flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/[^\x00-\x7f]/g)].map((m) => `${path.basename(file)}: ${m[0]}`));
    expect(outside).toEqual([]);
    expect(files.length).toBeGreaterThan(1);
  });

  it('loads only what every command needs before main(): the AWS clients of other commands are chunks imported when they run', () => {
    const text = [...staticallyLoaded(cliBundle)].map((file) => readFileSync(file, 'utf8')).join('\n');
    // each client's name as its own package gives it to its commands (makeBuilder(…, "EKSClient", …))
    for (const client of ['EKSClient', 'IAMClient', 'S3Client', 'CloudTrailClient', 'AthenaClient', 'OrganizationsClient', 'SNSClient']) {
      expect(text.includes(`"${client}"`), client).toBe(false);
    }
    expect(text.includes('"DynamoDBClient"'), 'the store is every command\'s').toBe(true);
  });

  it("shares the store thread's module with the launcher's prestart, which loads little: the thread it starts is the one the store takes", () => {
    const prestart = staticallyLoaded(prestartBundle);
    const bundle = staticallyLoaded(cliBundle);
    // the module holding the thread's source (its token header) is one chunk both import
    const holders = [...prestart].filter((file) => /["']x-cutover-watch-token["']/.test(readFileSync(file, 'utf8')));
    expect(holders).toHaveLength(1);
    expect(bundle.has(holders[0]!)).toBe(true);
    expect(holders[0]).not.toBe(prestartBundle);
    expect([...prestart].reduce((bytes, file) => bytes + readFileSync(file).length, 0)).toBeLessThan(200 * 1024);
  });
});

/** What an entry imports statically (the chunks it shares with others), transitively, itself included. */
function staticallyLoaded(entry: string): Set<string> {
  const loaded = new Set<string>();
  const visit = (file: string) => {
    if (loaded.has(file)) return;
    loaded.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:^|[;}\n])\s*import\s*(?:[\w*{}\s,$]+from\s*)?"(\.[^"]+)"/g)) visit(path.resolve(path.dirname(file), m[1]!));
  };
  visit(entry);
  return loaded;
}

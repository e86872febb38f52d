import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { buildCli } from '../scripts/build.mjs';
import { stopSharedDemo } from './support/shared-demo.mjs';

declare module 'vitest' {
  interface ProvidedContext {
    /** A folder for fixtures built once per run and shared by test files (see test/support/demo.ts). */
    sharedFixtures: string;
  }
}

/**
 * Tests that spawn the CLI run the bundle; build it once, before any of them start. Fixtures that
 * several files need (the demo's output) are built into one folder, removed at the end (the demo
 * stopped first if no test waited for it).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await buildCli();
  const shared = await mkdtemp(path.join(os.tmpdir(), 'cw-shared-'));
  project.provide('sharedFixtures', shared);
  return async () => {
    await stopSharedDemo(shared);
    await rm(shared, { recursive: true, force: true });
  };
}

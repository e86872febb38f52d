import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { useOutdirRoot } from './outdir';

// A setup file of the infra tests: the cloud assemblies of a test file's Apps go in one folder,
// removed after the file.
const root = mkdtempSync(join(tmpdir(), 'cw-cdk-out-'));
useOutdirRoot(root);
afterAll(() => rmSync(root, { recursive: true, force: true }));

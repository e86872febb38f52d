/**
 * `npm run samples`: writes samples/ again, from the generator the tests use. What is there is
 * committed, so that anyone can try a check without AWS; test/integration/samples.test.ts
 * fails when the committed files are not what this writes.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeLostLogFileSample } from '../functions/local/sample-fleet/digest-trail';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'samples', 'lost-log-file');
await rm(root, { recursive: true, force: true });
const lost = await writeLostLogFileSample(root);
console.log(`wrote ${root} (lost: ${lost})`);

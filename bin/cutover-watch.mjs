#!/usr/bin/env node
// The `cutover-watch` command. Runs the bundled CLI, (re)building it first when the sources are
// newer, so `npx cutover-watch` in a fresh clone works without a separate build step.
import { pathToFileURL } from 'node:url';
import { buildCli, cliBundle, cliIsStale, prestartBundle } from '../scripts/build.mjs';

// The SDK's notice that it will need Node 22 from 2027 concerns the Lambda runtime (Node 22), not
// someone reading reports on a laptop; it would also land in the middle of the CLI's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

if (cliIsStale()) await buildCli();
// The store's thread starts now, on the other core, while the bundle loads (bin/prestart.ts).
const { prestart } = await import(pathToFileURL(prestartBundle).href);
prestart(process.argv.slice(2));
const { main } = await import(pathToFileURL(cliBundle).href);
await main();

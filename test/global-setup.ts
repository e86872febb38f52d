import { buildCli } from '../scripts/build.mjs';

/** Tests that spawn the CLI run the bundle; build it once, before any of them start. */
export default async function setup(): Promise<void> {
  await buildCli();
}

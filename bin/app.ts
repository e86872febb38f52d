import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { ConfigError } from '../lib/config';
import { addCutoverWatch } from '../lib/cutover-watch-app';
import { unconfiguredFeatureFlags } from '../lib/feature-flags';

// Configuration: context `cutoverWatch` (cdk.json or -c) or a JSON file named by `cutoverWatchConfig`
// (docs/deploy.md). Synth needs no account: unset account/region fall back to CDK_DEFAULT_*.

// aws-cdk-lib announces each asset it bundles on stderr, whatever the log level; esbuild itself is
// quiet below errors (lib/constructs/watch-function.ts). A successful `cdk synth -q` prints nothing.
const writeStderr = process.stderr.write.bind(process.stderr);
process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) =>
  typeof chunk === 'string' && /^Bundling asset \S+\.\.\.\n$/.test(chunk) ? true : writeStderr(chunk, ...rest)) as typeof process.stderr.write;

try {
  const app = new App({ context: unconfiguredFeatureFlags() });
  addCutoverWatch(app);
  // cdk-nag v3 runs as CDK policy validation at synth; a finding not acknowledged beside its
  // resource (Validations.of(x).acknowledge) fails the synth.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
} catch (e) {
  // A configuration mistake is the deployer's to fix, not a bug: one line naming the setting, no stack.
  if (!(e instanceof ConfigError)) throw e;
  writeStderr(`cutover-watch: ${e.message.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(1);
}

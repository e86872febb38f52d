import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { addCutoverWatch } from '../lib/cutover-watch-app';

// Configuration: context `cutoverWatch` (cdk.json or -c) or a JSON file named by `cutoverWatchConfig`
// (docs/deploy.md). Synth needs no account: unset account/region fall back to CDK_DEFAULT_*.
const app = new App();
addCutoverWatch(app);
// cdk-nag v3 runs as CDK policy validation at synth; a finding not acknowledged beside its
// resource (Validations.of(x).acknowledge) fails the synth.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));

import { App } from 'aws-cdk-lib';
import { CutoverWatchStack } from '../lib/cutover-watch-stack';

const app = new App();
new CutoverWatchStack(app, 'CutoverWatch', {
  // Environment-agnostic unless the deployer's account and region are known: synth needs neither.
  env: process.env['CDK_DEFAULT_ACCOUNT'] ? { account: process.env['CDK_DEFAULT_ACCOUNT'], region: process.env['CDK_DEFAULT_REGION'] } : undefined,
});

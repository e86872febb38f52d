import type { App } from 'aws-cdk-lib';
import { CollectorStack } from './collector-stack';
import { loadConfig, type ConfigEnvironment, type CutoverWatchConfig } from './config';
import { CutoverWatchStack } from './cutover-watch-stack';
import { MemberReadRoleStack } from './member-read-role-stack';

export const HOME_STACK_ID = 'CutoverWatch';
export const MEMBER_READ_ROLE_STACK_ID = 'CutoverWatchMemberRead';

export interface CutoverWatchStacks {
  readonly config: CutoverWatchConfig;
  readonly home: CutoverWatchStack;
  readonly collectors: readonly CollectorStack[];
  /** One read role stack per member account (config memberAccounts); the same template in each. */
  readonly memberReadRoles: readonly MemberReadRoleStack[];
}

/**
 * Every stack of a deployment, from the configuration in the app's context: the home stack in
 * `homeRegion`, and one collector stack per other (account, region) the configuration names.
 */
export function addCutoverWatch(app: App, env: ConfigEnvironment = process.env): CutoverWatchStacks {
  const config = loadConfig(app.node, env);
  const home = new CutoverWatchStack(app, HOME_STACK_ID, {
    env: { account: config.homeAccount, region: config.homeRegion },
    config,
  });
  const collectors = config.collectors.map(
    (c) =>
      new CollectorStack(app, `CutoverWatchCollector-${c.account ? `${c.account}-` : ''}${c.region}`, {
        env: { account: c.account ?? config.homeAccount, region: c.region },
        homeRegion: config.homeRegion,
        homeAccount: config.homeAccount,
        nodeRoles: { nodeRoleArns: config.nodeRoleArns, nodeRolePatterns: config.nodeRolePatterns },
      }),
  );
  // Deploy the bus before anything forwards to it.
  for (const collector of collectors) collector.addStackDependency(home, 'collectors forward to the central bus');
  const memberReadRoles = config.memberAccounts.map(
    (account) =>
      new MemberReadRoleStack(app, `${MEMBER_READ_ROLE_STACK_ID}-${account}`, {
        env: { account, region: config.homeRegion },
        homeAccount: config.homeAccount!,
        inventoryRoleName: config.inventoryRoleName!,
        roleName: config.memberReadRoleName,
        eksRegions: config.eksRegions,
      }),
  );
  return { config, home, collectors, memberReadRoles };
}

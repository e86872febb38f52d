import { FLAGS } from 'aws-cdk-lib/cx-api';

/**
 * The CDK feature flags this app leaves at their unconfigured behaviour, stated explicitly.
 *
 * The CDK CLI warns on every synth ("85 feature flags are not configured") while a flag whose
 * default differs from the recommendation has no value in the context; that warning is the only
 * output left of a successful `cdk synth -q`. Each flag gets the value the library already uses
 * when it is unset (`unconfiguredBehavesLike`, which never changes within CDK v2), so templates are
 * exactly those of an unpinned app (test/infra/config.test.ts compares them). A value in cdk.json
 * or `-c` still wins: these are passed as the App's default context. `npx cdk flags
 * --unstable=flags` lists the recommendations.
 *
 * `@aws-cdk/core:target-partitions` has no unconfigured value (unset means every partition); it
 * only shapes the lookup tables of environment-agnostic stacks, and every stack here has a region,
 * so it gets the recommended value.
 */
export function unconfiguredFeatureFlags(): Record<string, unknown> {
  const pinned: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(FLAGS)) {
    if (flag.introducedIn.v2 === undefined) continue; // expired in v2: always on, not reported
    const unconfigured = flag.unconfiguredBehavesLike?.v2;
    if (unconfigured !== undefined) pinned[name] = unconfigured;
    else if (typeof flag.recommendedValue === 'boolean') pinned[name] = false; // unset reads as false
    else pinned[name] = flag.recommendedValue;
  }
  return pinned;
}

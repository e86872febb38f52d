/**
 * What the CLI checks its arguments against before it loads any AWS client (the commands that call
 * AWS import theirs when they run): account ids, region names, the placeholder of a role ARN
 * template, how far back LookupEvents reaches.
 */

export const ACCOUNT_PLACEHOLDER = '{account}';

export const ACCOUNT_ID_PATTERN = /^\d{12}$/;

/** AWS region names: `us-east-1`, `ap-southeast-2`, `us-gov-west-1`, `cn-north-1`. */
export const REGION_PATTERN = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;

/** LookupEvents keeps 90 days of history (CloudTrail API reference). */
export const LOOKUP_DAYS = 90;

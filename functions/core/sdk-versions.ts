/**
 * Which AWS SDK (or CLI) made a call, from the user agent CloudTrail records, and whether that
 * version can get credentials from EKS Pod Identity at all.
 *
 * Pod Identity credentials come through the container credential provider of the default chain;
 * an SDK older than the version that taught that provider the Pod Identity Agent's endpoint skips
 * it and falls through to the node's instance role. The minimum versions are AWS's, from "Use pod
 * identity with the AWS SDK": https://docs.aws.amazon.com/eks/latest/userguide/pod-id-minimum-sdk.html
 *
 * Pure: no I/O. The stored form of a sighting is a short tag, `<sdk>/<version>` (or `?/<token>` for
 * an agent that names no SDK known here), so a service account's bounded set of tags holds
 * versions, not whole user agents that differ by kernel or Python patch level.
 */

export type SdkId =
  | 'aws-cli-v1'
  | 'aws-cli-v2'
  | 'boto3'
  | 'botocore'
  | 'java-v1'
  | 'java-v2'
  | 'kotlin'
  | 'go-v1'
  | 'go-v2'
  | 'js-v2'
  | 'js-v3'
  | 'dotnet'
  | 'ruby'
  | 'php'
  | 'rust'
  | 'cpp';

export interface SdkRequirement {
  sdk: SdkId;
  /** How people name it: "AWS SDK for Go v1". */
  label: string;
  /** The lowest version whose user agent says it supports Pod Identity; null when the user agent cannot tell (see `note`). */
  minimum: string | null;
  /** What AWS's page says, verbatim, when the user agent carries another number. */
  documented: string;
  note?: string;
}

/** From https://docs.aws.amazon.com/eks/latest/userguide/pod-id-minimum-sdk.html ("or later"). */
export const SDK_REQUIREMENTS: Record<SdkId, SdkRequirement> = {
  'aws-cli-v1': { sdk: 'aws-cli-v1', label: 'AWS CLI v1', minimum: '1.30.0', documented: '1.30.0' },
  'aws-cli-v2': { sdk: 'aws-cli-v2', label: 'AWS CLI v2', minimum: '2.15.0', documented: '2.15.0' },
  boto3: { sdk: 'boto3', label: 'AWS SDK for Python (Boto3)', minimum: '1.34.41', documented: '1.34.41' },
  botocore: { sdk: 'botocore', label: 'AWS SDK for Python (botocore)', minimum: '1.34.41', documented: '1.34.41' },
  'java-v1': { sdk: 'java-v1', label: 'AWS SDK for Java v1', minimum: '1.12.746', documented: '1.12.746' },
  'java-v2': { sdk: 'java-v2', label: 'AWS SDK for Java v2', minimum: '2.21.30', documented: '2.21.30' },
  kotlin: { sdk: 'kotlin', label: 'AWS SDK for Kotlin', minimum: '1.0.1', documented: 'v1.0.1' },
  'go-v1': { sdk: 'go-v1', label: 'AWS SDK for Go v1', minimum: '1.47.11', documented: 'v1.47.11' },
  'go-v2': {
    sdk: 'go-v2',
    label: 'AWS SDK for Go v2',
    // The user agent carries the core module's version (`aws-sdk-go-v2/1.x`), AWS documents the
    // release tag release-2023-11-14 (the credentials/config modules). The first core release after
    // that tag is v1.23.0 (release 2023-11-15, aws-sdk-go-v2 CHANGELOG.md); an older core may be built
    // with new enough credentials, but the user agent cannot show it, so it is taken as too old.
    minimum: '1.23.0',
    documented: 'release-2023-11-14',
    note: 'the user agent shows the core module version; release-2023-11-14 predates core v1.23.0',
  },
  'js-v2': { sdk: 'js-v2', label: 'AWS SDK for JavaScript v2', minimum: '2.1550.0', documented: '2.1550.0' },
  'js-v3': { sdk: 'js-v3', label: 'AWS SDK for JavaScript v3', minimum: '3.458.0', documented: 'v3.458.0' },
  dotnet: {
    sdk: 'dotnet',
    label: 'AWS SDK for .NET',
    // AWS's 3.7.734.0 is the bundle's version; the user agent carries AWSSDK.Core's, and support
    // landed in AWSSDK.Core 3.7.302 (maintainers, https://github.com/aws/aws-sdk-net/discussions/3214).
    minimum: '3.7.302',
    documented: '3.7.734.0 (bundle; AWSSDK.Core 3.7.302)',
  },
  ruby: { sdk: 'ruby', label: 'AWS SDK for Ruby', minimum: '3.188.0', documented: '3.188.0' },
  php: { sdk: 'php', label: 'AWS SDK for PHP', minimum: '3.287.1', documented: '3.287.1' },
  rust: {
    sdk: 'rust',
    label: 'AWS SDK for Rust',
    // AWS documents a release tag; the user agent carries a runtime crate version that does not map to it.
    minimum: null,
    documented: 'release-2024-03-13',
    note: 'AWS documents a release tag (release-2024-03-13), the user agent a crate version: check the Cargo.lock',
  },
  cpp: { sdk: 'cpp', label: 'AWS SDK for C++', minimum: '1.11.263', documented: '1.11.263' },
};

export interface SdkSighting {
  sdk: SdkId;
  version: string;
}

const V = String.raw`(\d+(?:\.\d+)*(?:-[0-9A-Za-z.]+)?)`;

/**
 * In order: a user agent can name several (the AWS CLI v1 names botocore, Boto3 names Botocore,
 * Terraform names Go v1 and v2, .NET names its client and core); the first that matches is the caller.
 */
const PATTERNS: { re: RegExp; sdk: (version: string) => SdkId | null }[] = [
  { re: new RegExp(String.raw`\baws-cli/${V}`, 'i'), sdk: (v) => (major(v) === 1 ? 'aws-cli-v1' : major(v) === 2 ? 'aws-cli-v2' : null) },
  { re: new RegExp(String.raw`\bBoto3/${V}`, 'i'), sdk: () => 'boto3' },
  { re: new RegExp(String.raw`\bBotocore[/#]${V}`, 'i'), sdk: () => 'botocore' },
  { re: new RegExp(String.raw`\baws-sdk-java/${V}`, 'i'), sdk: (v) => (major(v) === 1 ? 'java-v1' : major(v) === 2 ? 'java-v2' : null) },
  { re: new RegExp(String.raw`\baws-sdk-kotlin/${V}`, 'i'), sdk: () => 'kotlin' },
  { re: new RegExp(String.raw`\baws-sdk-go-v2/${V}`, 'i'), sdk: () => 'go-v2' },
  { re: new RegExp(String.raw`\baws-sdk-go/${V}`, 'i'), sdk: () => 'go-v1' },
  { re: new RegExp(String.raw`\baws-sdk-nodejs/${V}`, 'i'), sdk: (v) => (major(v) === 2 ? 'js-v2' : null) },
  // JavaScript v3's first releases named the client package: aws-sdk-nodejs-v3-@aws-sdk/client-sts/1.0.0-gamma.8.
  { re: new RegExp(String.raw`\baws-sdk-nodejs-v3-@aws-sdk/client-[a-z0-9-]+/${V}`, 'i'), sdk: () => 'js-v3' },
  { re: new RegExp(String.raw`\baws-sdk-js/${V}`, 'i'), sdk: (v) => (major(v) === 3 ? 'js-v3' : major(v) === 2 ? 'js-v2' : null) },
  { re: new RegExp(String.raw`\baws-sdk-dotnet-core[/#]${V}`, 'i'), sdk: () => 'dotnet' },
  { re: new RegExp(String.raw`\baws-sdk-dotnet(?:-[a-z0-9]+)?/${V}`, 'i'), sdk: () => 'dotnet' },
  { re: new RegExp(String.raw`\baws-sdk-ruby[23]?/${V}`, 'i'), sdk: () => 'ruby' },
  { re: new RegExp(String.raw`\baws-sdk-php/${V}`, 'i'), sdk: () => 'php' },
  { re: new RegExp(String.raw`\baws-sdk-rust/${V}`, 'i'), sdk: () => 'rust' },
  { re: new RegExp(String.raw`\baws-sdk-cpp/${V}`, 'i'), sdk: () => 'cpp' },
];

/** The SDK and version a user agent names, or null when it names none known here. */
export function parseUserAgent(userAgent: string): SdkSighting | null {
  for (const { re, sdk } of PATTERNS) {
    const m = re.exec(userAgent);
    if (!m) continue;
    const version = m[1]!;
    const id = sdk(version);
    if (id) return { sdk: id, version };
  }
  return null;
}

/** Longest tag stored: a set of 50 such tags stays far below DynamoDB's item limit. */
const TAG_MAX = 64;

/**
 * What the evidence stores for one user agent: `go-v1/1.44.122`, or `?/<first token>` for an agent
 * this table does not know (`?/Apache-HttpClient/4.5.13`), so a person can see what it was.
 * null for a missing user agent.
 */
export function sdkTag(userAgent: string | null): string | null {
  if (userAgent === null) return null;
  let tag = sdkTags.get(userAgent);
  if (tag === undefined) {
    if (sdkTags.size >= MAX_SDK_TAGS) sdkTags.clear();
    tag = tagOf(userAgent);
    sdkTags.set(userAgent, tag);
  }
  return tag;
}

/**
 * Tags made once per user agent: a fleet's IRSA calls come from a few SDK builds, and the fold asks
 * for every event's (parsing each with the table's expressions was ~0.1 s per 100,000 events).
 */
const sdkTags = new Map<string, string | null>();
const MAX_SDK_TAGS = 1_000;

function tagOf(userAgent: string): string | null {
  const ua = userAgent.replace(/^\[|\]$/g, '').trim();
  if (ua === '') return null;
  const seen = parseUserAgent(ua);
  if (seen) return `${seen.sdk}/${seen.version}`.slice(0, TAG_MAX);
  const first = ua.split(/\s+/)[0]!.replace(/[^\x21-\x7e]/g, '');
  return `?/${first}`.slice(0, TAG_MAX);
}

export type SdkStatus = 'ok' | 'too-old' | 'unknown';

export interface SdkJudgement {
  tag: string;
  status: SdkStatus;
  sdk: SdkId | null;
  version: string | null;
  requirement: SdkRequirement | null;
  /** One line a person reads: "AWS SDK for Go v1 1.44.122 < 1.47.11". */
  text: string;
}

/** Whether the version in a stored tag supports Pod Identity. */
export function judgeSdkTag(tag: string): SdkJudgement {
  const slash = tag.indexOf('/');
  const id = tag.slice(0, slash);
  const version = tag.slice(slash + 1);
  const requirement = (SDK_REQUIREMENTS as Record<string, SdkRequirement | undefined>)[id];
  if (slash < 0 || requirement === undefined) {
    return { tag, status: 'unknown', sdk: null, version: null, requirement: null, text: `user agent ${JSON.stringify(version || tag)} names no AWS SDK this check knows` };
  }
  const label = `${requirement.label} ${version}`;
  if (requirement.minimum === null) {
    return { tag, status: 'unknown', sdk: requirement.sdk, version, requirement, text: `${label}: ${requirement.note ?? 'its version cannot be compared'}` };
  }
  const tooOld = compareVersions(version, requirement.minimum) < 0;
  return {
    tag,
    status: tooOld ? 'too-old' : 'ok',
    sdk: requirement.sdk,
    version,
    requirement,
    text: `${label} ${tooOld ? '<' : '>='} ${requirement.minimum}${requirement.documented !== requirement.minimum ? ` (AWS documents ${requirement.documented})` : ''}`,
  };
}

/** Numeric segments compared in order; a pre-release (`1.0.0-gamma.8`) sorts before its release. */
export function compareVersions(a: string, b: string): number {
  const [ca, pa] = splitPre(a);
  const [cb, pb] = splitPre(b);
  const xs = ca.split('.').map(Number);
  const ys = cb.split('.').map(Number);
  for (let i = 0; i < Math.max(xs.length, ys.length); i += 1) {
    const d = (xs[i] ?? 0) - (ys[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  if (pa === pb) return 0;
  if (pa === null) return 1;
  if (pb === null) return -1;
  return pa < pb ? -1 : 1;
}

function splitPre(v: string): [string, string | null] {
  const dash = v.indexOf('-');
  return dash < 0 ? [v, null] : [v.slice(0, dash), v.slice(dash + 1)];
}

function major(version: string): number {
  return Number(version.split('.')[0]);
}

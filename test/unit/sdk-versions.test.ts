import { describe, expect, it } from 'vitest';
import { compareVersions, judgeSdkTag, parseUserAgent, SDK_REQUIREMENTS, sdkTag, type SdkId } from '../../functions/core/sdk-versions';

/**
 * Real user agents, as CloudTrail records them (`userAgent`) or as the SDKs send them, each with
 * where it was seen. "CloudTrail sample" means a published CloudTrail record (AWS documentation,
 * detection-rule test data, blog posts); "SDK source/test" the SDK's own user-agent tests or a
 * request captured from it in an issue.
 */
const REAL: { ua: string; sdk: SdkId; version: string; status: 'ok' | 'too-old' | 'unknown'; from: string }[] = [
  // AWS CLI
  { ua: 'aws-cli/1.18.147 Python/2.7.18 Linux/4.14.336-257.562.amzn2.x86_64 botocore/1.18.6', sdk: 'aws-cli-v1', version: '1.18.147', status: 'too-old', from: 'CloudTrail sample (Amazon Linux 2 CLI v1)' },
  { ua: '[aws-cli/2.15.34 Python/3.11.8 Linux/5.10.210-201.852.amzn2.x86_64 docker/x86_64.amzn.2 prompt/off command/s3.ls]', sdk: 'aws-cli-v2', version: '2.15.34', status: 'ok', from: 'CloudTrail sample (S3 data event, brackets as CloudTrail writes them)' },
  { ua: 'aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off command/sts.assume-role', sdk: 'aws-cli-v2', version: '2.15.30', status: 'ok', from: 'CloudTrail sample (sts:AssumeRole)' },
  { ua: 'aws-cli/2.13.0 Python/3.11.4 Linux/5.15.0', sdk: 'aws-cli-v2', version: '2.13.0', status: 'too-old', from: 'CloudTrail sample (secretsmanager GetSecretValue, detection test data)' },
  { ua: 'aws-cli/2.17.60 md/awscrt#0.21.2 ua/2.0 os/linux#5.15.0 lang/python#3.11.4 md/command#s3.cp', sdk: 'aws-cli-v2', version: '2.17.60', status: 'ok', from: 'CloudTrail sample (S3 GetObject, ua/2.0 format)' },
  // Python
  { ua: 'Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10.215-203.850.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.0', sdk: 'boto3', version: '1.34.0', status: 'too-old', from: 'CloudTrail sample (IRSA AssumeRoleWithWebIdentity, test/fixtures/cloudtrail)' },
  { ua: 'Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.214-202.855.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69', sdk: 'boto3', version: '1.34.69', status: 'ok', from: 'CloudTrail sample' },
  { ua: 'botocore/1.29.0 raw-script', sdk: 'botocore', version: '1.29.0', status: 'too-old', from: 'CloudTrail sample (IAM CreateAccessKey, detection test data)' },
  // Java
  { ua: 'aws-sdk-java/1.11.1025Linux/4.14.232-176.381.amzn2.x86_64OpenJDK_64-Bit_Server_VM/11.0.10+9java/11.0.10groovy/2.5.12vendor/AdoptOpenJDKcfg/retry-mode/legacy', sdk: 'java-v1', version: '1.11.1025', status: 'too-old', from: 'CloudTrail sample (KMS DescribeKey; spaces lost as in the published record)' },
  { ua: 'aws-sdk-java/1.12.746 Linux/5.10.240 OpenJDK/11.0.25+9-LTS', sdk: 'java-v1', version: '1.12.746', status: 'ok', from: 'CloudTrail sample (DynamoDB ListTables)' },
  { ua: 'aws-sdk-java/2.25.10 Linux/5.10.217-205.860.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS Java/17.0.11 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy', sdk: 'java-v2', version: '2.25.10', status: 'ok', from: 'CloudTrail sample (IRSA, test/fixtures/cloudtrail)' },
  // Kotlin
  { ua: 'aws-sdk-kotlin/1.3.81 ua/2.1 api/cognito-identity-provider#1.3.81 os/android#34', sdk: 'kotlin', version: '1.3.81', status: 'ok', from: 'SDK request captured (User-Agent header)' },
  { ua: 'aws-sdk-kotlin/1.2.3 ua/2.1 api/test-service#1.2.3', sdk: 'kotlin', version: '1.2.3', status: 'ok', from: 'aws-sdk-kotlin user-agent middleware test' },
  // Go
  { ua: 'aws-sdk-go/1.44.122 (go1.19.3; linux; amd64)', sdk: 'go-v1', version: '1.44.122', status: 'too-old', from: 'CloudTrail sample (IRSA, test/fixtures/cloudtrail)' },
  { ua: 'aws-sdk-go/1.50.38 (go1.21.8; linux; amd64)', sdk: 'go-v1', version: '1.50.38', status: 'ok', from: 'CloudTrail sample' },
  { ua: 'aws-sdk-go/1.44.330 (go1.21.5; linux; amd64) ecr-credential-provider', sdk: 'go-v1', version: '1.44.330', status: 'too-old', from: 'CloudTrail sample (EKS node ecr-credential-provider)' },
  { ua: 'aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/sts#1.30.3', sdk: 'go-v2', version: '1.30.3', status: 'ok', from: 'CloudTrail sample (test/fixtures/cloudtrail)' },
  { ua: 'aws-sdk-go-v2/1.21.2 os/linux lang/go#1.19.13 md/GOOS#linux md/GOARCH#amd64 api/eksauth#1.0.0-zeta.e49712bf27d5', sdk: 'go-v2', version: '1.21.2', status: 'too-old', from: 'CloudTrail sample (eks-auth agent, docs/cloudtrail.md §1a)' },
  // JavaScript
  { ua: 'aws-sdk-nodejs/2.1112.0 linux/v20.19.0 configure-aws-credentials-for-github-actions promise', sdk: 'js-v2', version: '2.1112.0', status: 'too-old', from: 'CloudTrail sample (AssumeRoleWithWebIdentity)' },
  { ua: 'aws-sdk-nodejs/2.1586.0 linux/v20.15.1 aws-cdk/2.135.0 promise', sdk: 'js-v2', version: '2.1586.0', status: 'ok', from: 'CloudTrail sample (GetCallerIdentity)' },
  { ua: 'aws-sdk-js/3.540.0 ua/2.0 os/linux#6.5.0-1017-azure lang/js md/nodejs#20.12.0 api/sts#3.540.0 configure-aws-credentials-for-github-actions', sdk: 'js-v3', version: '3.540.0', status: 'ok', from: 'CloudTrail sample' },
  { ua: 'aws-sdk-js/3.632.0 ua/2.0 os/linux#5.10.227-239.884.amzn2.x86_64 lang/js md/nodejs#20.18.0 api/connect#3.632.0 exec-env/AWS_Lambda_nodejs20.x', sdk: 'js-v3', version: '3.632.0', status: 'ok', from: 'CloudTrail sample (Connect GetMetricDataV2)' },
  { ua: 'aws-sdk-js/3.0.0', sdk: 'js-v3', version: '3.0.0', status: 'too-old', from: 'CloudTrail sample (RDS Data API ExecuteStatement)' },
  // .NET
  { ua: 'aws-sdk-dotnet-coreclr/3.7.305.28 ua/2.0 os/windows#10.0.22631.0 md/ARCH#X64 lang/.NET_Core#8.0.2 md/aws-sdk-dotnet-core#3.7.302.12 api/S3#3.7.305.28 cfg/retry-mode#legacy md/ClientAsync', sdk: 'dotnet', version: '3.7.302.12', status: 'ok', from: 'SDK request captured (aws-sdk-net issue)' },
  { ua: 'aws-sdk-dotnet-coreclr/3.7.108.0 aws-sdk-dotnet-core/3.7.108.2 .NET_Core/6.0.20 OS/Linux_5.15.0-76-generic ClientAsync', sdk: 'dotnet', version: '3.7.108.2', status: 'too-old', from: 'SDK request captured (aws-sdk-net test log)' },
  { ua: 'aws-sdk-dotnet/1.4.11.0 .NET Runtime/4.0 .NET Framework/4.0 OS/6.1.7601.65536', sdk: 'dotnet', version: '1.4.11.0', status: 'too-old', from: 'CloudTrail sample (EC2)' },
  // Ruby
  { ua: 'aws-sdk-ruby3/3.190.0 md/internal ua/2.0 api/xray#1.0.0 os/linux md/x86_64 lang/ruby#2.7.8 md/2.7.8 cfg/retry-mode#legacy', sdk: 'ruby', version: '3.190.0', status: 'ok', from: 'CloudTrail sample (X-Ray PutTraceSegments)' },
  { ua: 'aws-sdk-ruby3/3.75.0 jruby/2.3.3 java aws-sdk-elasticloadbalancing/1.19.0 cloudhealth', sdk: 'ruby', version: '3.75.0', status: 'too-old', from: 'CloudTrail sample' },
  // PHP
  { ua: 'aws-sdk-php/3.297.1 OS/Linux#5.10.25-linuxkit lang/php#8.2.15 GuzzleHttp/7', sdk: 'php', version: '3.297.1', status: 'ok', from: 'SDK request captured (User-Agent header)' },
  { ua: 'aws-sdk-php/3.184.6 OS/Linux/5.4.0-126-generic', sdk: 'php', version: '3.184.6', status: 'too-old', from: 'SDK request captured (User-Agent header)' },
  // Rust: the user agent's crate version cannot be compared with AWS's release tag
  { ua: 'aws-sdk-rust/1.3.9 os/macos lang/rust/1.87.0', sdk: 'rust', version: '1.3.9', status: 'unknown', from: 'SDK request captured (User-Agent header)' },
  // C++
  { ua: 'aws-sdk-cpp/1.7.176 Linux/3.10.0-957.27.2.el7.x86_64 x86_64 GCC/8.3.1', sdk: 'cpp', version: '1.7.176', status: 'too-old', from: 'SDK ClientConfiguration.userAgent (debugger dump)' },
];

describe('parseUserAgent on real user agents', () => {
  it.each(REAL)('$sdk $version ($from)', ({ ua, sdk, version, status }) => {
    expect(parseUserAgent(ua)).toEqual({ sdk, version });
    expect(judgeSdkTag(sdkTag(ua)!).status).toBe(status);
  });

  it('covers every SDK in the table', () => {
    expect(new Set(REAL.map((r) => r.sdk))).toEqual(new Set(Object.keys(SDK_REQUIREMENTS)));
  });

  it('names the caller, not the library it embeds (CLI v1 carries botocore, the CDK and the VPC CNI their SDK)', () => {
    expect(parseUserAgent('aws-cli/1.29.0 Python/3.9.16 Linux/5.10 botocore/1.31.0')?.sdk).toBe('aws-cli-v1');
    expect(parseUserAgent('aws-sdk-nodejs/2.1586.0 linux/v20.15.1 aws-cdk/2.135.0 promise')?.sdk).toBe('js-v2');
    expect(parseUserAgent('aws-sdk-go/1.54.20 (go1.22.5; linux; amd64) amazon-vpc-cni-k8s/agent/v1.18.3')?.sdk).toBe('go-v1');
  });

  it('stores an unknown agent as its first token, and nothing for no user agent', () => {
    expect(sdkTag('Apache-HttpClient/4.5.13 (Java/17.0.7)')).toBe('?/Apache-HttpClient/4.5.13');
    expect(judgeSdkTag('?/Apache-HttpClient/4.5.13')).toMatchObject({ status: 'unknown', sdk: null });
    expect(judgeSdkTag('?/Apache-HttpClient/4.5.13').text).toContain('Apache-HttpClient/4.5.13');
    expect(sdkTag(null)).toBeNull();
    expect(sdkTag('  ')).toBeNull();
    expect(sdkTag(`x${'y'.repeat(500)}`)!.length).toBeLessThanOrEqual(64);
  });

  it('says which version AWS documents where the user agent carries another number', () => {
    expect(judgeSdkTag('dotnet/3.7.108.2').text).toBe('AWS SDK for .NET 3.7.108.2 < 3.7.302 (AWS documents 3.7.734.0 (bundle; AWSSDK.Core 3.7.302))');
    expect(judgeSdkTag('go-v1/1.44.122').text).toBe('AWS SDK for Go v1 1.44.122 < 1.47.11 (AWS documents v1.47.11)');
    expect(judgeSdkTag('rust/1.3.9').text).toContain('release-2024-03-13');
  });
});

describe('compareVersions', () => {
  it('compares numerically, with a pre-release before its release', () => {
    expect(compareVersions('1.44.122', '1.47.11')).toBe(-1);
    expect(compareVersions('2.1550.0', '2.999.0')).toBe(1);
    expect(compareVersions('3.7.302.12', '3.7.302')).toBe(1);
    expect(compareVersions('1.34.41', '1.34.41')).toBe(0);
    expect(compareVersions('1.0.0-gamma.8', '1.0.0')).toBe(-1);
    expect(compareVersions('1.0.1', '1.0.1-beta')).toBe(1);
  });

  it('minimums are those of https://docs.aws.amazon.com/eks/latest/userguide/pod-id-minimum-sdk.html', () => {
    expect(Object.fromEntries(Object.values(SDK_REQUIREMENTS).map((r) => [r.sdk, r.documented]))).toEqual({
      'aws-cli-v1': '1.30.0',
      'aws-cli-v2': '2.15.0',
      boto3: '1.34.41',
      botocore: '1.34.41',
      'java-v1': '1.12.746',
      'java-v2': '2.21.30',
      kotlin: 'v1.0.1',
      'go-v1': 'v1.47.11',
      'go-v2': 'release-2023-11-14',
      'js-v2': '2.1550.0',
      'js-v3': 'v3.458.0',
      dotnet: '3.7.734.0 (bundle; AWSSDK.Core 3.7.302)',
      ruby: '3.188.0',
      php: '3.287.1',
      rust: 'release-2024-03-13',
      cpp: '1.11.263',
    });
  });
});

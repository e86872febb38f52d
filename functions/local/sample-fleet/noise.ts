/**
 * Noise: unrelated CloudTrail (console sign-ins, S3/EC2/KMS/STS calls by people and automation) that
 * the ingest must ignore, and that gives every account and region a record in every hour.
 *
 * Apart from the traffic plan because it has nothing to do with the migration scenario; the plan
 * decides how many noise records there are and when. The principals come from their own fixed-seed
 * PRNG; `emitNoise` draws from the traffic PRNG, in call order.
 */
import { UPPER_ALNUM, BASE32, Random, STRUCTURE_SEED } from './random';
import { HOUR, ctTime, stsExpiration } from './time';
import { ACCOUNT_A, ACCOUNT_B } from './topology';
import { UA } from './records';
import type { FleetBuilder } from './records';

export interface NoisePrincipals {
  account: string;
  regions: readonly string[];
  users: { name: string; principalId: string; accessKeyId: string }[];
  automation: { name: string; roleId: string };
  assumable: string;
  kmsKey: string;
}

export function noisePrincipals(): NoisePrincipals[] {
  const r = new Random(STRUCTURE_SEED ^ 0x5a5a);
  const user = (name: string) => ({ name, principalId: 'AIDA' + r.chars(BASE32, 17), accessKeyId: r.accessKeyId('AKIA') });
  return [
    {
      account: ACCOUNT_A,
      regions: ['us-east-1', 'us-east-1', 'us-west-2'],
      users: [user('alice.ops'), user('bob.dev')],
      automation: { name: 'ops-inventory-automation', roleId: 'AROA' + r.chars(BASE32, 17) },
      assumable: 'arn:aws:iam::111122223333:role/platform-readonly-audit',
      kmsKey: r.uuid(),
    },
    {
      account: ACCOUNT_B,
      regions: ['eu-west-1', 'eu-west-1', 'us-east-1'],
      users: [user('carol.batch')],
      automation: { name: 'ops-inventory-automation', roleId: 'AROA' + r.chars(BASE32, 17) },
      assumable: 'arn:aws:iam::444455556666:role/batch-operator',
      kmsKey: r.uuid(),
    },
  ];
}

export function emitNoise(b: FleetBuilder, p: NoisePrincipals, t: number, inRegion?: string): void {
  const r = b.r;
  const acct = p.account;
  const u = r.pick(p.users);
  const iamUser = () => ({
    type: 'IAMUser',
    principalId: u.principalId,
    arn: `arn:aws:iam::${acct}:user/${u.name}`,
    accountId: acct,
    accessKeyId: u.accessKeyId,
    userName: u.name,
  });
  const automation = () => {
    const session = `inventory-${Math.floor(t / HOUR) * 3600}`;
    return {
      type: 'AssumedRole',
      principalId: `${p.automation.roleId}:${session}`,
      arn: `arn:aws:sts::${acct}:assumed-role/${p.automation.name}/${session}`,
      accountId: acct,
      accessKeyId: r.accessKeyId('ASIA'),
      sessionContext: {
        sessionIssuer: {
          type: 'Role',
          principalId: p.automation.roleId,
          arn: `arn:aws:iam::${acct}:role/${p.automation.name}`,
          accountId: acct,
          userName: p.automation.name,
        },
        webIdFederationData: {},
        attributes: { creationDate: ctTime(Math.floor(t / HOUR) * HOUR), mfaAuthenticated: 'false' },
      },
    };
  };
  const officeIp = `198.51.100.${r.int(10, 60)}`;
  const automationIp = `192.0.2.${r.int(10, 250)}`;
  // A record that must land in a region (the hourly background) is never a us-east-1-only sign-in.
  const roll = inRegion ? 0.05 + r.next() * 0.95 : r.next();
  let region = inRegion ?? r.pick(p.regions);
  let rec: Record<string, unknown>;
  const head = (userIdentity: unknown, source: string, name: string, ip: string, ua: string) => ({
    eventVersion: '1.08',
    userIdentity,
    eventTime: ctTime(t),
    eventSource: source,
    eventName: name,
    awsRegion: region,
    sourceIPAddress: ip,
    userAgent: ua,
  });
  if (roll < 0.05) {
    region = 'us-east-1';
    const consoleUser: Record<string, unknown> = iamUser();
    delete consoleUser.accessKeyId; // console sign-ins carry no access key
    rec = {
      ...head(consoleUser, 'signin.amazonaws.com', 'ConsoleLogin', officeIp, UA.consoleBrowser),
      requestParameters: null,
      responseElements: { ConsoleLogin: 'Success' },
      additionalEventData: {
        LoginTo: 'https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true',
        MobileVersion: 'No',
        MFAUsed: 'Yes',
      },
      ...b.tail(acct, { readOnly: false, eventType: 'AwsConsoleSignIn' }),
    };
    delete rec.requestID;
  } else if (roll < 0.2) {
    rec = {
      ...head(iamUser(), 's3.amazonaws.com', 'ListBuckets', officeIp, UA.cliUser),
      requestParameters: { Host: `s3.${region}.amazonaws.com` },
      responseElements: null,
      additionalEventData: { SignatureVersion: 'SigV4', CipherSuite: 'TLS_AES_128_GCM_SHA256', bytesTransferredIn: 0, AuthenticationMethod: 'AuthHeader', bytesTransferredOut: 1892 },
      ...b.tail(acct, { readOnly: true, requestId: r.chars(UPPER_ALNUM, 16), tlsHost: `s3.${region}.amazonaws.com` }),
    };
  } else if (roll < 0.45) {
    rec = {
      ...head(automation(), 'ec2.amazonaws.com', 'DescribeInstances', automationIp, UA.automation),
      requestParameters: { instancesSet: {}, filterSet: { items: [{ name: 'instance-state-name', valueSet: { items: [{ value: 'running' }] } }] } },
      responseElements: null,
      ...b.tail(acct, { readOnly: true, tlsHost: `ec2.${region}.amazonaws.com` }),
    };
  } else if (roll < 0.7) {
    const service = r.pick(['secretsmanager.amazonaws.com', 'ssm.amazonaws.com', 'logs.amazonaws.com']);
    rec = {
      ...head({ type: 'AWSService', invokedBy: service }, 'kms.amazonaws.com', 'Decrypt', service, service),
      requestParameters: { encryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
      responseElements: null,
      ...b.tail(acct, {
        readOnly: true,
        resources: [{ accountId: acct, type: 'AWS::KMS::Key', ARN: `arn:aws:kms:${region}:${acct}:key/${p.kmsKey}` }],
        sharedEventID: true,
      }),
    };
  } else if (roll < 0.85) {
    const who = r.chance(0.5) ? iamUser() : automation();
    rec = {
      ...head(who, 'sts.amazonaws.com', 'GetCallerIdentity', who.type === 'IAMUser' ? officeIp : automationIp, who.type === 'IAMUser' ? UA.cliUser : UA.automation),
      requestParameters: null,
      responseElements: null,
      ...b.tail(acct, { readOnly: true, tlsHost: `sts.${region}.amazonaws.com` }),
    };
  } else if (roll < 0.93) {
    const session = `${u.name}-cli`;
    const roleName = p.assumable.split('/').pop() ?? 'role';
    rec = {
      ...head(iamUser(), 'sts.amazonaws.com', 'AssumeRole', officeIp, UA.cliUser),
      requestParameters: { roleArn: p.assumable, roleSessionName: session },
      responseElements: {
        credentials: { accessKeyId: r.accessKeyId('ASIA'), sessionToken: r.sessionToken(), expiration: stsExpiration(t + HOUR) },
        assumedRoleUser: { assumedRoleId: `AROA${r.chars(BASE32, 17)}:${session}`, arn: `arn:aws:sts::${acct}:assumed-role/${roleName}/${session}` },
      },
      ...b.tail(acct, {
        readOnly: true,
        resources: [{ accountId: acct, type: 'AWS::IAM::Role', ARN: p.assumable }],
        tlsHost: `sts.${region}.amazonaws.com`,
      }),
    };
  } else {
    rec = {
      ...head(iamUser(), 'cloudtrail.amazonaws.com', 'LookupEvents', officeIp, UA.cliUser),
      requestParameters: { lookupAttributes: [{ attributeKey: 'EventName', attributeValue: 'ConsoleLogin' }], maxResults: 50 },
      responseElements: null,
      ...b.tail(acct, { readOnly: true, tlsHost: `cloudtrail.${region}.amazonaws.com` }),
    };
  }
  rec.awsRegion = region;
  b.emit(t, 'noise', acct, region, rec);
}

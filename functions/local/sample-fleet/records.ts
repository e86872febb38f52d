/**
 * Record shapes: `FleetBuilder` turns one call into one CloudTrail record in CloudTrail's key order
 * (docs/cloudtrail.md §1a Pod Identity fetch, §1b companion AssumeRole, §2a/§2b IRSA, §3 node-role
 * calls) and collects it with its time, category, account and region; the user agents they carry.
 *
 * It knows how a record looks, not when one happens: the traffic plan decides that. Its random draws
 * (request/event ids, credentials, pods) come from the traffic PRNG it is given, in call order.
 */
import { UPPER_ALNUM, ALNUM, K8S_SAFE } from './random';
import type { Random } from './random';
import { SECOND, MINUTE, HOUR, DAY, ctTime, stsExpiration } from './time';
import type { Node, Role, ServiceAccount, Cluster } from './topology';

// ---------------------------------------------------------------------------------------------
// User agents (realistic strings; the eks-auth agent UA is the one SEEN in docs/cloudtrail.md §1a)

export const UA = {
  podIdentityAgent:
    'aws-sdk-go-v2/1.21.2 os/linux lang/go#1.19.13 md/GOOS#linux md/GOARCH#amd64 api/eksauth#1.0.0-zeta.e49712bf27d5',
  botocore:
    'Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.214-202.855.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69',
  goV1: 'aws-sdk-go/1.50.38 (go1.21.8; linux; amd64)',
  /** Older than Go v1's Pod Identity minimum (v1.47.11): the planted sdk-too-old case. */
  goV1Old: 'aws-sdk-go/1.44.122 (go1.19.3; linux; amd64)',
  ecrCredentialProvider: 'aws-sdk-go/1.44.330 (go1.21.5; linux; amd64) ecr-credential-provider',
  containerd: 'containerd/v1.7.11-eks-1-29-5',
  vpcCni: 'aws-sdk-go/1.54.20 (go1.22.5; linux; amd64) amazon-vpc-cni-k8s/agent/v1.18.3',
  awsCliV2S3Ls:
    '[aws-cli/2.15.34 Python/3.11.8 Linux/5.10.213-201.855.amzn2.x86_64 docker/x86_64.amzn.2 prompt/off command/s3.ls]',
  awsCliV1: 'aws-cli/1.18.147 Python/2.7.18 Linux/4.14.336-257.562.amzn2.x86_64 botocore/1.18.6',
  awsCliV1S3: '[aws-cli/1.18.147 Python/2.7.18 Linux/4.14.336-257.562.amzn2.x86_64 botocore/1.18.6]',
  githubActions:
    'aws-sdk-js/3.540.0 ua/2.0 os/linux#6.5.0-1017-azure lang/js md/nodejs#20.12.0 api/sts#3.540.0 configure-aws-credentials-for-github-actions',
  consoleBrowser:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  cliUser:
    'aws-cli/2.15.38 md/awscrt#0.19.19 ua/2.0 os/macos#23.4.0 md/arch#arm64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe',
  automation: 'Boto3/1.34.80 md/Botocore#1.34.80 ua/2.0 os/linux#5.10.215-203.850.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 Botocore/1.34.80',
} as const;

const TLS13 = { tlsVersion: 'TLSv1.3', cipherSuite: 'TLS_AES_128_GCM_SHA256' } as const;

function tls(host: string): Record<string, unknown> {
  return { ...TLS13, clientProvidedHostHeader: host };
}

// ---------------------------------------------------------------------------------------------
// Generator

export interface Pending {
  t: number;
  seq: number;
  category: string;
  account: string;
  region: string;
  record: Record<string, unknown>;
}

export interface Pod {
  name: string;
  uid: string;
  node: Node;
}

export class FleetBuilder {
  readonly out: Pending[] = [];
  private seq = 0;
  private readonly nodeCreds = new Map<string, { accessKeyId: string; creationDate: string }>();
  private readonly pods = new Map<string, Pod[]>();

  constructor(
    readonly r: Random,
    readonly start: number,
    readonly end: number,
    /**
     * Where the pods of one service account generation are drawn from. The default, the traffic
     * PRNG, makes them depend on every draw before; the scaled fleet builds one FleetBuilder per
     * file and passes a PRNG seeded by the key, so a pod keeps its name across files.
     */
    private readonly podRandom?: (key: string) => Random,
    /**
     * A record's eventID from the UUID drawn for it. The default keeps the draw: one PRNG stream
     * for the whole fleet never repeats itself. The scaled fleet seeds a stream per file, and those
     * streams overlap (see `uniqueEventId` in scale.ts).
     */
    private readonly eventIdOf?: (drawn: string) => string,
  ) {}

  emit(t: number, category: string, account: string, region: string, record: Record<string, unknown>): void {
    this.out.push({ t, seq: this.seq++, category, account, region, record });
  }

  /** Common tail of every record, in CloudTrail's key order. */
  tail(account: string, extra: { resources?: unknown[]; readOnly: boolean; eventType?: string; sharedEventID?: boolean; category?: 'Management' | 'Data'; tlsHost?: string | null; requestId?: string }): Record<string, unknown> {
    const requestID = extra.requestId ?? this.r.uuid();
    const drawn = this.r.uuid();
    const t: Record<string, unknown> = {
      requestID,
      eventID: this.eventIdOf ? this.eventIdOf(drawn) : drawn,
      readOnly: extra.readOnly,
    };
    if (extra.resources) t.resources = extra.resources;
    t.eventType = extra.eventType ?? 'AwsApiCall';
    t.managementEvent = (extra.category ?? 'Management') === 'Management';
    t.recipientAccountId = account;
    if (extra.sharedEventID) t.sharedEventID = this.r.uuid();
    t.eventCategory = extra.category ?? 'Management';
    if (extra.tlsHost) t.tlsDetails = tls(extra.tlsHost);
    return t;
  }

  /** Instance-profile credentials rotate; one access key per (node, delivery, 6-hour block). */
  private nodeSession(node: Node, t: number, delivery: '1.0' | '2.0'): { accessKeyId: string; creationDate: string } {
    const block = Math.floor(t / (6 * HOUR));
    const key = `${node.instanceId}|${delivery}|${block}`;
    let s = this.nodeCreds.get(key);
    if (!s) {
      s = {
        accessKeyId: this.r.accessKeyId('ASIA'),
        creationDate: ctTime(block * 6 * HOUR - this.r.int(5, 50) * MINUTE),
      };
      this.nodeCreds.set(key, s);
    }
    return s;
  }

  nodeIdentity(cluster: Cluster, node: Node, t: number, delivery: '1.0' | '2.0'): Record<string, unknown> {
    const s = this.nodeSession(node, t, delivery);
    const acct = cluster.plan.account;
    return {
      type: 'AssumedRole',
      principalId: `${node.role.roleId}:${node.instanceId}`,
      arn: `arn:aws:sts::${acct}:assumed-role/${node.role.name}/${node.instanceId}`,
      accountId: acct,
      accessKeyId: s.accessKeyId,
      sessionContext: {
        sessionIssuer: {
          type: 'Role',
          principalId: node.role.roleId,
          arn: node.role.arn,
          accountId: acct,
          userName: node.role.name,
        },
        attributes: { creationDate: s.creationDate, mfaAuthenticated: 'false' },
        ec2RoleDelivery: delivery,
      },
    };
  }

  /** Pods of a service account alive at `t` (rollouts every few days give new template hashes). */
  podsAt(cluster: Cluster, acct: ServiceAccount, since: number, t: number): Pod[] {
    const gen = Math.max(0, Math.floor((t - since) / (acct.rolloutEvery * DAY)));
    const key = `${cluster.plan.name}/${acct.namespace}/${acct.plan.name}/${gen}`;
    let pods = this.pods.get(key);
    if (!pods) {
      const r = this.podRandom?.(key) ?? this.r;
      const hash = r.chars(K8S_SAFE, r.int(9, 10));
      pods = [];
      for (let i = 0; i < acct.replicas; i++) {
        pods.push({
          name: `${acct.plan.name}-${hash}-${r.chars(K8S_SAFE, 5)}`,
          uid: r.uuid(),
          node: r.pick(cluster.nodes),
        });
      }
      this.pods.set(key, pods);
    }
    return pods;
  }

  // -- §1a eks-auth:AssumeRoleForPodIdentity ---------------------------------------------------

  fetch(cluster: Cluster, node: Node, t: number, denied: boolean): void {
    const { account, region, name } = cluster.plan;
    const rec: Record<string, unknown> = {
      eventVersion: '1.09',
      userIdentity: this.nodeIdentity(cluster, node, t, '2.0'),
      eventTime: ctTime(t),
      eventSource: 'eks-auth.amazonaws.com',
      eventName: 'AssumeRoleForPodIdentity',
      awsRegion: region,
      sourceIPAddress: this.r.pick(cluster.egressIps),
      userAgent: UA.podIdentityAgent,
    };
    if (denied) {
      rec.errorCode = 'AccessDenied';
      rec.errorMessage = 'Unauthorized Exception! EKS does not have permissions to assume the associated role.';
    }
    rec.requestParameters = { clusterName: name, token: 'HIDDEN_DUE_TO_SECURITY_REASONS' };
    rec.responseElements = null;
    Object.assign(rec, this.tail(account, { readOnly: true, tlsHost: `eks-auth.${region}.api.aws` }));
    this.emit(t, denied ? 'pod-identity-fetch-denied' : 'pod-identity-fetch', account, region, rec);
  }

  // -- §1b companion sts:AssumeRole by pods.eks.amazonaws.com ----------------------------------

  /** `role` defaults to the service account's own; a planted case passes another one. */
  companion(cluster: Cluster, acct: ServiceAccount, pod: Pod, t: number, role: Role = acct.role): void {
    const { account, region, name } = cluster.plan;
    const session = `eks-${name.slice(0, 10)}-${pod.name.slice(0, 10)}-${this.r.uuid()}`;
    const tagged = !acct.plan.disableSessionTags;
    const requestParameters: Record<string, unknown> = {
      roleArn: role.arn,
      roleSessionName: session,
      durationSeconds: 21600,
    };
    if (tagged) {
      const tags = [
        { key: 'eks-cluster-arn', value: cluster.arn },
        { key: 'eks-cluster-name', value: name },
        { key: 'kubernetes-namespace', value: acct.namespace },
        { key: 'kubernetes-service-account', value: acct.plan.name },
        { key: 'kubernetes-pod-name', value: pod.name },
        { key: 'kubernetes-pod-uid', value: pod.uid },
      ];
      requestParameters.tags = tags;
      requestParameters.transitiveTagKeys = tags.map((x) => x.key);
    }
    const responseElements: Record<string, unknown> = {
      credentials: {
        accessKeyId: this.r.accessKeyId('ASIA'),
        sessionToken: this.r.sessionToken(),
        expiration: stsExpiration(t + 21600 * SECOND),
      },
      assumedRoleUser: {
        assumedRoleId: `${role.roleId}:${session}`,
        arn: `arn:aws:sts::${account}:assumed-role/${role.name}/${session}`,
      },
    };
    // INFERRED: packedPolicySize reflects the packed session tags, so it is absent without tags.
    if (tagged) responseElements.packedPolicySize = 56;
    const rec: Record<string, unknown> = {
      eventVersion: '1.08',
      userIdentity: { type: 'AWSService', invokedBy: 'pods.eks.amazonaws.com' },
      eventTime: ctTime(t),
      eventSource: 'sts.amazonaws.com',
      eventName: 'AssumeRole',
      awsRegion: region,
      sourceIPAddress: 'pods.eks.amazonaws.com',
      userAgent: 'pods.eks.amazonaws.com',
      requestParameters,
      responseElements,
      ...this.tail(account, {
        readOnly: true,
        resources: [{ accountId: account, type: 'AWS::IAM::Role', ARN: role.arn }],
        sharedEventID: true,
      }),
    };
    this.emit(t, tagged ? 'pod-identity-assume' : 'pod-identity-assume-untagged', account, region, rec);
  }

  // -- §2a/§2b sts:AssumeRoleWithWebIdentity ---------------------------------------------------

  webIdentity(
    t: number,
    category: string,
    o: {
      account: string;
      region: string;
      providerArn: string;
      subject: string;
      roleArn: string;
      roleName: string;
      roleId: string;
      session: string;
      sourceIp: string;
      userAgent: string;
      denied: boolean;
      durationSeconds?: number;
      /**
       * `global`: the SDK called sts.amazonaws.com, so the record is in us-east-1 (`region`) and says
       * where it was served (docs/cloudtrail.md §4c; fixture irsa-global-endpoint-us-east-1.json).
       */
      globalEndpoint?: { servedIn: string };
    },
  ): void {
    const rec: Record<string, unknown> = {
      eventVersion: '1.08',
      userIdentity: {
        type: 'WebIdentityUser',
        principalId: `${o.providerArn}:sts.amazonaws.com:${o.subject}`,
        userName: o.subject,
        identityProvider: o.providerArn,
      },
      eventTime: ctTime(t),
      eventSource: 'sts.amazonaws.com',
      eventName: 'AssumeRoleWithWebIdentity',
      awsRegion: o.region,
      sourceIPAddress: o.sourceIp,
      userAgent: o.userAgent,
    };
    if (o.denied) {
      rec.errorCode = 'AccessDenied';
      rec.errorMessage = 'An unknown error occurred';
    }
    const requestParameters: Record<string, unknown> = { roleArn: o.roleArn, roleSessionName: o.session };
    if (o.durationSeconds !== undefined) requestParameters.durationSeconds = o.durationSeconds;
    rec.requestParameters = requestParameters;
    rec.responseElements = o.denied
      ? null
      : {
          credentials: {
            accessKeyId: this.r.accessKeyId('ASIA'),
            sessionToken: this.r.sessionToken(),
            expiration: stsExpiration(t + (o.durationSeconds ?? 3600) * SECOND),
          },
          subjectFromWebIdentityToken: o.subject,
          assumedRoleUser: {
            assumedRoleId: `${o.roleId}:${o.session}`,
            arn: `arn:aws:sts::${o.account}:assumed-role/${o.roleName}/${o.session}`,
          },
          provider: o.providerArn,
          audience: 'sts.amazonaws.com',
        };
    rec.additionalEventData = o.globalEndpoint
      ? {
          identityProviderConnectionVerificationMethod: 'IAMTrustStore',
          RequestDetails: { awsServingRegion: o.globalEndpoint.servedIn, endpointType: 'global' },
        }
      : { identityProviderConnectionVerificationMethod: 'IAMTrustStore' };
    Object.assign(
      rec,
      this.tail(o.account, {
        readOnly: true,
        resources: [{ accountId: o.account, type: 'AWS::IAM::Role', ARN: o.roleArn }],
        tlsHost: o.globalEndpoint ? 'sts.amazonaws.com' : `sts.${o.region}.amazonaws.com`,
      }),
    );
    this.emit(t, category, o.account, o.region, rec);
  }

  /** `global`: through sts.amazonaws.com, recorded in us-east-1 whatever the cluster's region. */
  irsa(cluster: Cluster, acct: ServiceAccount, t: number, denied: boolean, global = false): void {
    const session =
      acct.plan.sdk === 'botocore'
        ? `botocore-session-${Math.floor(t / SECOND)}`
        : `${t}${String(this.r.int(0, 999999)).padStart(6, '0')}`;
    this.webIdentity(t, denied ? 'irsa-denied' : 'irsa', {
      account: cluster.plan.account,
      region: global ? 'us-east-1' : cluster.plan.region,
      providerArn: cluster.providerArn,
      subject: `system:serviceaccount:${acct.namespace}:${acct.plan.name}`,
      roleArn: acct.role.arn,
      roleName: acct.role.name,
      roleId: acct.role.roleId,
      session,
      sourceIp: this.r.pick(cluster.egressIps),
      userAgent: acct.plan.oldSdk ? UA.goV1Old : acct.plan.sdk === 'botocore' ? UA.botocore : UA.goV1,
      denied,
      ...(global ? { globalEndpoint: { servedIn: cluster.plan.region } } : {}),
    });
  }

  // -- §3 node-role calls -----------------------------------------------------------------------

  nodeCall(
    cluster: Cluster,
    node: Node,
    t: number,
    category: string,
    o: {
      eventVersion?: string;
      eventSource: string;
      eventName: string;
      userAgent: string;
      delivery?: '1.0' | '2.0';
      error?: { code: string; message: string };
      requestParameters: unknown;
      responseElements: unknown;
      additionalEventData?: unknown;
      requestId?: string;
      readOnly: boolean;
      resources?: unknown[];
      tlsHost: string;
    },
  ): void {
    const { account, region } = cluster.plan;
    const rec: Record<string, unknown> = {
      eventVersion: o.eventVersion ?? '1.09',
      userIdentity: this.nodeIdentity(cluster, node, t, o.delivery ?? '2.0'),
      eventTime: ctTime(t),
      eventSource: o.eventSource,
      eventName: o.eventName,
      awsRegion: region,
      sourceIPAddress: o.eventSource === 'ecr.amazonaws.com' ? node.privateIp : this.r.pick(cluster.egressIps),
      userAgent: o.userAgent,
    };
    if (o.error) {
      rec.errorCode = o.error.code;
      rec.errorMessage = o.error.message;
    }
    rec.requestParameters = o.requestParameters;
    rec.responseElements = o.responseElements;
    if (o.additionalEventData !== undefined) rec.additionalEventData = o.additionalEventData;
    const tailOpts: Parameters<FleetBuilder['tail']>[1] = { readOnly: o.readOnly, tlsHost: o.tlsHost };
    if (o.resources) tailOpts.resources = o.resources;
    if (o.requestId) tailOpts.requestId = o.requestId;
    Object.assign(rec, this.tail(account, tailOpts));
    this.emit(t, category, account, region, rec);
  }

  expectedNodeTraffic(cluster: Cluster, node: Node, t: number, kind: number): void {
    const { account, region } = cluster.plan;
    switch (kind) {
      case 0:
        this.nodeCall(cluster, node, t, 'node-expected', {
          eventVersion: '1.08',
          eventSource: 'ecr.amazonaws.com',
          eventName: 'GetAuthorizationToken',
          userAgent: UA.ecrCredentialProvider,
          requestParameters: { registryIds: [account] },
          responseElements: null,
          readOnly: true,
          tlsHost: `api.ecr.${region}.amazonaws.com`,
        });
        break;
      case 1: {
        const app = this.r.pick(cluster.serviceAccounts);
        const repo = `${cluster.plan.name}/${app.plan.name}`;
        this.nodeCall(cluster, node, t, 'node-expected', {
          eventVersion: '1.08',
          eventSource: 'ecr.amazonaws.com',
          eventName: 'BatchGetImage',
          userAgent: UA.containerd,
          requestParameters: {
            imageIds: [{ imageTag: `v${this.r.int(1, 4)}.${this.r.int(0, 30)}.${this.r.int(0, 9)}` }],
            acceptedMediaTypes: [
              'application/vnd.docker.distribution.manifest.v2+json',
              'application/vnd.oci.image.manifest.v1+json',
              'application/vnd.oci.image.index.v1+json',
            ],
            registryId: account,
            repositoryName: repo,
          },
          responseElements: null,
          readOnly: true,
          resources: [{ ARN: `arn:aws:ecr:${region}:${account}:repository/${repo}`, accountId: account }],
          tlsHost: `${account}.dkr.ecr.${region}.amazonaws.com`,
        });
        break;
      }
      case 2:
        this.nodeCall(cluster, node, t, 'node-expected', {
          eventVersion: '1.08',
          eventSource: 'ec2.amazonaws.com',
          eventName: 'DescribeInstances',
          userAgent: UA.vpcCni,
          requestParameters: { instancesSet: { items: [{ instanceId: node.instanceId }] }, filterSet: {} },
          responseElements: null,
          readOnly: true,
          tlsHost: `ec2.${region}.amazonaws.com`,
        });
        break;
      default: {
        const requestId = this.r.uuid();
        this.nodeCall(cluster, node, t, 'node-expected', {
          eventVersion: '1.08',
          eventSource: 'ec2.amazonaws.com',
          eventName: 'AssignPrivateIpAddresses',
          userAgent: UA.vpcCni,
          requestParameters: { networkInterfaceId: node.eni, secondaryPrivateIpAddressCount: this.r.int(1, 5) },
          responseElements: {
            requestId,
            networkInterfaceId: node.eni,
            assignedPrivateIpAddressesSet: {
              assignedPrivateIpAddressSetType: [{ privateIpAddress: this.r.ipv4(cluster.plan.vpc) }],
            },
            _return: true,
          },
          requestId,
          readOnly: false,
          tlsHost: `ec2.${region}.amazonaws.com`,
        });
      }
    }
  }

  fallthrough(cluster: Cluster, node: Node, t: number, kind: 'A' | 'B' | 'C' | 'D'): void {
    const { account, region } = cluster.plan;
    const s3Extra = () => ({
      SignatureVersion: 'SigV4',
      CipherSuite: 'TLS_AES_128_GCM_SHA256',
      bytesTransferredIn: 0,
      AuthenticationMethod: 'AuthHeader',
      'x-amz-id-2': this.r.chars(ALNUM, 56) + '=',
      bytesTransferredOut: 243,
    });
    switch (kind) {
      case 'A': // aws s3 ls from a pod with no pod credentials: falls to the node role (IMDSv2), denied
      case 'D': // same from a pod running an old CLI that still uses IMDSv1
        this.nodeCall(cluster, node, t, 'node-fallthrough', {
          eventVersion: '1.09',
          eventSource: 's3.amazonaws.com',
          eventName: 'ListBuckets',
          userAgent: kind === 'A' ? UA.awsCliV2S3Ls : UA.awsCliV1S3,
          delivery: kind === 'A' ? '2.0' : '1.0',
          error: { code: 'AccessDenied', message: 'Access Denied' },
          requestParameters: { Host: `s3.${region}.amazonaws.com` },
          responseElements: null,
          additionalEventData: s3Extra(),
          requestId: this.r.chars(UPPER_ALNUM, 16),
          readOnly: true,
          tlsHost: `s3.${region}.amazonaws.com`,
        });
        break;
      case 'B': {
        const table = 'payments-ledger-entries';
        this.nodeCall(cluster, node, t, 'node-fallthrough', {
          eventVersion: '1.08',
          eventSource: 'dynamodb.amazonaws.com',
          eventName: 'DescribeTable',
          userAgent: UA.botocore,
          requestParameters: { tableName: table },
          responseElements: null,
          requestId: this.r.chars(UPPER_ALNUM, 52),
          readOnly: true,
          resources: [{ accountId: account, type: 'AWS::DynamoDB::Table', ARN: `arn:aws:dynamodb:${region}:${account}:table/${table}` }],
          tlsHost: `dynamodb.${region}.amazonaws.com`,
        });
        break;
      }
      case 'C':
        this.nodeCall(cluster, node, t, 'node-fallthrough', {
          eventVersion: '1.08',
          eventSource: 'sqs.amazonaws.com',
          eventName: 'ListQueues',
          userAgent: UA.awsCliV1,
          delivery: '1.0',
          requestParameters: null,
          responseElements: null,
          readOnly: true,
          tlsHost: `sqs.${region}.amazonaws.com`,
        });
        break;
    }
  }
}

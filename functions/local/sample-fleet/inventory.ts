/**
 * The EKS inventory an operator would export with the AWS CLI (describe-cluster, the Pod Identity
 * associations, describe-nodegroup, describe-addon of the eks-pod-identity-agent, and get-role of
 * each associated role), in the shape the CLI prints (CLI timestamps, CLI key order).
 *
 * Built from the topology and the association times the traffic plan drew; no randomness of its own.
 * Planted preflight cases: a cluster without the agent add-on (`podIdentityAgent: false`) and a
 * role whose trust lacks sts:TagSession (`trustWithoutTagSession`).
 */
import { MINUTE, HOUR, DAY, cliTime } from './time';
import type { SampleInventoryFile } from './types';
import type { ServiceAccount, Cluster } from './topology';

/** IAM's CLI timestamps: second precision, `+00:00`. */
const iamTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');

export function buildInventory(
  clusters: Cluster[],
  associationTimes: Map<ServiceAccount, number>,
  associationModified: Map<ServiceAccount, number>,
  end: number,
): SampleInventoryFile[] {
  const files: SampleInventoryFile[] = [];
  clusters.forEach((c, ci) => {
    const { name, region, account, version } = c.plan;
    const created = end - (400 + 150 * ci) * DAY + 37 * MINUTE;
    files.push({
      name: `describe-cluster-${name}.json`,
      content: {
        cluster: {
          name,
          arn: c.arn,
          createdAt: cliTime(created),
          version,
          endpoint: `https://${c.oidcId}.gr7.${region}.eks.amazonaws.com`,
          roleArn: c.serviceRoleArn,
          resourcesVpcConfig: {
            subnetIds: c.subnets,
            securityGroupIds: [],
            clusterSecurityGroupId: c.securityGroup,
            vpcId: c.vpcId,
            endpointPublicAccess: true,
            endpointPrivateAccess: true,
            publicAccessCidrs: ['0.0.0.0/0'],
          },
          kubernetesNetworkConfig: { serviceIpv4Cidr: '172.20.0.0/16', ipFamily: 'ipv4' },
          logging: { clusterLogging: [{ types: ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'], enabled: false }] },
          identity: { oidc: { issuer: `https://${c.issuerHost}` } },
          status: 'ACTIVE',
          certificateAuthority: { data: 'RkFLRS1DRVJUSUZJQ0FURS1EQVRB' },
          platformVersion: 'eks.12',
          tags: {},
          accessConfig: { bootstrapClusterCreatorAdminPermissions: true, authenticationMode: 'API_AND_CONFIG_MAP' },
        },
      },
    });

    const assocs = c.serviceAccounts.filter((a) => a.association);
    files.push({
      name: `list-pod-identity-associations-${name}.json`,
      content: {
        associations: assocs.map((a) => ({
          clusterName: name,
          namespace: a.namespace,
          serviceAccount: a.plan.name,
          associationArn: a.association?.associationArn,
          associationId: a.association?.associationId,
        })),
      },
    });
    for (const a of assocs) {
      const createdAt = associationTimes.get(a) ?? end - 30 * DAY;
      files.push({
        name: `describe-pod-identity-association-${name}-${a.namespace}-${a.plan.name}.json`,
        content: {
          association: {
            clusterName: name,
            namespace: a.namespace,
            serviceAccount: a.plan.name,
            roleArn: a.role.arn,
            associationArn: a.association?.associationArn,
            associationId: a.association?.associationId,
            tags: {},
            createdAt: cliTime(createdAt),
            modifiedAt: cliTime(associationModified.get(a) ?? createdAt),
            disableSessionTags: a.plan.disableSessionTags === true,
          },
        },
      });
    }

    if (c.plan.podIdentityAgent) {
      const addonCreated = end - 45 * DAY - 3 * HOUR + 11 * MINUTE;
      files.push({
        name: `describe-addon-${name}-eks-pod-identity-agent.json`,
        content: {
          addon: {
            addonName: 'eks-pod-identity-agent',
            clusterName: name,
            status: 'ACTIVE',
            addonVersion: 'v1.3.4-eksbuild.1',
            health: { issues: [] },
            addonArn: `arn:aws:eks:${region}:${account}:addon/${name}/eks-pod-identity-agent/${c.oidcId.slice(0, 8).toLowerCase()}-${c.oidcId.slice(8, 12).toLowerCase()}-${c.oidcId.slice(12, 16).toLowerCase()}-${c.oidcId.slice(16, 20).toLowerCase()}-${c.oidcId.slice(20, 32).toLowerCase()}`,
            createdAt: cliTime(addonCreated),
            modifiedAt: cliTime(addonCreated + 2 * MINUTE),
            tags: {},
          },
        },
      });
    }

    // The associated roles: Pod Identity trust, and the IRSA statement while a namespace using the
    // role still needs it (its scenario intent is not READY: READY namespaces' roles were cleaned up).
    const roles = new Map<string, ServiceAccount[]>();
    for (const a of assocs) roles.set(a.role.arn, [...(roles.get(a.role.arn) ?? []), a]);
    for (const users of roles.values()) {
      const role = users[0]!.role;
      const stillIrsa = c.serviceAccounts.filter(
        (s) => s.role.arn === role.arn && !s.plan.plantedOnly && c.plan.namespaces.find((n) => n.name === s.namespace)?.intent !== 'READY',
      );
      const subjects = stillIrsa.map((s) => `system:serviceaccount:${s.namespace}:${s.plan.name}`);
      const statements: unknown[] = [
        {
          Effect: 'Allow',
          Principal: { Service: 'pods.eks.amazonaws.com' },
          Action: users.some((u) => u.plan.trustWithoutTagSession) ? 'sts:AssumeRole' : ['sts:AssumeRole', 'sts:TagSession'],
        },
      ];
      if (subjects.length > 0) {
        statements.unshift({
          Effect: 'Allow',
          Principal: { Federated: c.providerArn },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: { StringEquals: { [`${c.issuerHost}:sub`]: subjects.length === 1 ? subjects[0] : subjects, [`${c.issuerHost}:aud`]: 'sts.amazonaws.com' } },
        });
      }
      files.push({
        name: `get-role-${role.name}.json`,
        content: {
          Role: {
            Path: '/',
            RoleName: role.name,
            RoleId: role.roleId,
            Arn: role.arn,
            CreateDate: iamTime(created + 3 * DAY),
            AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: statements },
            MaxSessionDuration: 3600,
            RoleLastUsed: {},
          },
        },
      });
    }

    for (const g of c.nodeGroups) {
      if (g.plan.kind !== 'eksctl') continue;
      const ngCreated = created + 2 * HOUR;
      files.push({
        name: `describe-nodegroup-${name}-${g.plan.name}.json`,
        content: {
          nodegroup: {
            nodegroupName: g.plan.name,
            nodegroupArn: `arn:aws:eks:${region}:${account}:nodegroup/${name}/${g.plan.name}/${g.nodegroupUuid}`,
            clusterName: name,
            version,
            releaseVersion: `${version}.0-20241115`,
            createdAt: cliTime(ngCreated),
            modifiedAt: cliTime(end - 20 * DAY),
            status: 'ACTIVE',
            capacityType: 'ON_DEMAND',
            scalingConfig: { minSize: g.plan.nodes, maxSize: g.plan.nodes + 3, desiredSize: g.plan.nodes },
            instanceTypes: g.plan.instanceTypes,
            subnets: c.subnets,
            amiType: 'AL2023_x86_64_STANDARD',
            nodeRole: g.role.arn,
            labels: { 'alpha.eksctl.io/cluster-name': name, 'alpha.eksctl.io/nodegroup-name': g.plan.name },
            resources: { autoScalingGroups: [{ name: g.asgName }] },
            health: { issues: [] },
            updateConfig: { maxUnavailable: 1 },
            tags: { 'alpha.eksctl.io/nodegroup-name': g.plan.name, 'alpha.eksctl.io/nodegroup-type': 'managed' },
          },
        },
      });
    }
  });
  return files;
}

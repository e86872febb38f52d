/**
 * The EKS inventory an operator would export with the AWS CLI (describe-cluster, the Pod Identity
 * associations, describe-nodegroup), in the shape the CLI prints (CLI timestamps, CLI key order).
 *
 * Built from the topology and the association times the traffic plan drew; no randomness of its own.
 */
import { MINUTE, HOUR, DAY, cliTime } from './time';
import type { SampleInventoryFile } from './types';
import type { ServiceAccount, Cluster } from './topology';

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

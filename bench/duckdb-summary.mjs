// The benchmark's reference: DuckDB (@duckdb/node-api, a dev dependency) computing from the same
// CloudTrail files what analyze keeps per service account: first and last seen and the number of
// distinct events per (cluster, namespace, service account, mechanism), for Pod Identity (the
// companion AssumeRole's session tags) and IRSA (the OIDC subject, the issuer placed in its cluster
// by the inventory's describe-cluster files). Run as a child: node bench/duckdb-summary.mjs LOGS INVENTORY
// Prints {rows, events, seconds, threads}.
import { DuckDBInstance } from '@duckdb/node-api';
import path from 'node:path';

const [logs, inventory] = process.argv.slice(2);
if (!logs || !inventory) throw new Error('usage: node bench/duckdb-summary.mjs LOGS_DIR INVENTORY_DIR');
const quote = (s) => `'${s.replaceAll("'", "''")}'`;
const started = performance.now();
const db = await DuckDBInstance.create(':memory:');
const connection = await db.connect();
const sql = `
WITH clusters AS (
  SELECT cluster.name AS cluster, regexp_replace(cluster.identity.oidc.issuer, '^https://', '') AS issuer
  FROM read_json(${quote(path.join(inventory, 'describe-cluster-*.json'))}, columns = {cluster: 'STRUCT(name VARCHAR, identity STRUCT(oidc STRUCT(issuer VARCHAR)))'})
),
records AS (
  SELECT unnest(Records) AS r
  FROM read_json(${quote(path.join(logs, '**', '*.json.gz'))}, columns = {Records: 'JSON[]'}, compression = 'gzip', maximum_object_size = 268435456)
),
picked AS (
  SELECT (r->>'eventName') AS name, (r->>'eventID') AS id, (r->>'eventTime') AS t,
         (r->'userIdentity') AS who, (r->'requestParameters') AS params
  FROM records
  WHERE (r->>'eventName') IN ('AssumeRole', 'AssumeRoleWithWebIdentity') AND (r->>'eventSource') = 'sts.amazonaws.com'
),
pod_identity AS (
  SELECT map_from_entries([((tag->>'key'), (tag->>'value')) FOR tag IN CAST((params->'tags') AS JSON[])]) AS tags, id, t
  FROM picked
  WHERE name = 'AssumeRole' AND (who->>'invokedBy') = 'pods.eks.amazonaws.com'
),
irsa AS (
  SELECT regexp_replace((who->>'identityProvider'), '^arn:[^:]+:iam::[0-9]+:oidc-provider/', '') AS issuer,
         split_part((who->>'userName'), ':', 3) AS namespace, split_part((who->>'userName'), ':', 4) AS service_account, id, t
  FROM picked
  WHERE name = 'AssumeRoleWithWebIdentity' AND (who->>'identityProvider') LIKE '%:oidc-provider/oidc.eks.%'
),
events AS (
  SELECT tags['eks-cluster-name'] AS cluster, tags['kubernetes-namespace'] AS namespace,
         tags['kubernetes-service-account'] AS service_account, 'pod-identity' AS mechanism, id, t
  FROM pod_identity
  UNION ALL
  SELECT coalesce(c.cluster, i.issuer), i.namespace, i.service_account, 'irsa', i.id, i.t
  FROM irsa i LEFT JOIN clusters c USING (issuer)
)
SELECT cluster, namespace, service_account, mechanism, min(t) AS first_seen, max(t) AS last_seen, count(DISTINCT id) AS events
FROM events
GROUP BY ALL
`;
const reader = await connection.runAndReadAll(sql);
const rows = reader.getRowObjects();
const events = rows.reduce((a, row) => a + Number(row.events), 0);
const threads = (await connection.runAndReadAll("SELECT current_setting('threads') AS t")).getRowObjects()[0]?.t;
process.stdout.write(JSON.stringify({ rows: rows.length, events, seconds: (performance.now() - started) / 1000, threads: Number(threads) }) + '\n');
connection.closeSync();

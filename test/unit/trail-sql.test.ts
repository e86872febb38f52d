import { describe, expect, it } from 'vitest';
import {
  athenaCreateTable,
  athenaSliceQuery,
  athenaTableName,
  callGlobsSql,
  duckdbQuery,
  lakeSliceQuery,
  parseTrailLocation,
  patternSql,
  rebuildRecord,
  rulePredicates,
  TrailSqlError,
} from '../../functions/core/trail-sql';

const LOCATION = 's3://org-trail/AWSLogs/o-a1b2c3d4e5';
const PREDICATE = { nodeRoleArns: ['arn:aws:iam::111122223333:role/custom-nodes'], nodeRolePatterns: ['*NodeInstanceRole*', 'karpenter_node*'] };

describe('the renderings (snapshots: a change to the SQL is a reviewed change)', () => {
  it('Athena: the table with partition projection', () => {
    expect(athenaCreateTable({ database: 'security', table: athenaTableName(LOCATION), location: LOCATION })).toMatchSnapshot();
  });

  it('Athena: a day of the trail', () => {
    expect(
      athenaSliceQuery({
        database: 'security',
        table: athenaTableName(LOCATION),
        location: LOCATION,
        accounts: ['111122223333', '444455556666'],
        regions: ['us-east-1', 'eu-west-1'],
        day: '2026-11-24',
        predicate: PREDICATE,
      }),
    ).toMatchSnapshot();
  });

  it('CloudTrail Lake: a day of an event data store', () => {
    expect(lakeSliceQuery({ eventDataStore: 'EXAMPLE6d-0c7f-4b81-b3b7-dd01f8f4fd6a', start: '2026-11-24T00:00:00.000Z', end: '2026-11-25T00:00:00.000Z', predicate: PREDICATE })).toMatchSnapshot();
  });

  it('DuckDB: the log files on disk', () => {
    expect(duckdbQuery('logs/**/*.json.gz', PREDICATE)).toMatchSnapshot();
  });
});

describe('patterns to SQL', () => {
  it('one predicate per rule, in the rules order; the node-role rule only leaves out the expected node calls', () => {
    const rules = rulePredicates('athena', { ...PREDICATE, expectedNodeCalls: ['ecr.amazonaws.com:BatchGetImage'] });
    expect(rules.map((r) => r.rule)).toEqual(['pod-identity-fetch', 'pod-identity-assume', 'irsa', 'node-role']);
    expect(rules[3]!.sql).toContain("useridentity.sessioncontext.sessionissuer.arn = 'arn:aws:iam::111122223333:role/custom-nodes'");
    expect(rules[3]!.sql).toContain("NOT (lower(eventsource) = 'ecr.amazonaws.com' AND lower(eventname) = 'batchgetimage')");
    // `_` in a role glob is a literal (escaped) where the dialect allows it, a one-character wildcard in Lake.
    expect(rules[3]!.sql).toContain("LIKE 'arn:aws%:iam::%:role/%karpenter\\_node%' ESCAPE '\\'");
    expect(rulePredicates('lake', PREDICATE)[3]!.sql).toContain("LIKE 'arn:aws%:iam::%:role/%karpenter_node%'");
  });

  it('renders each EventBridge operator', () => {
    const sql = patternSql('athena', {
      'detail-type': ['AWS API Call via CloudTrail'],
      source: ['aws.sts'],
      account: ['111122223333'],
      region: [{ prefix: 'eu-' }],
      detail: {
        eventName: ['A', 'B'],
        errorCode: [{ exists: false }],
        userAgent: [{ suffix: '.amazonaws.com' }],
        userIdentity: { type: [{ 'equals-ignore-case': 'AssumedRole' }] },
        requestParameters: { roleArn: [{ 'anything-but': { prefix: 'arn:aws:iam::999' } }] },
      },
    });
    expect(sql).toBe(
      "(eventsource IN ('sts.amazonaws.com', 'sts') AND recipientaccountid = '111122223333' AND awsregion LIKE 'eu-%' ESCAPE '\\' AND " +
        "(eventname IN ('A', 'B') AND errorcode IS NULL AND useragent LIKE '%.amazonaws.com' ESCAPE '\\' AND lower(useridentity.type) = 'assumedrole' AND " +
        "(json_extract_scalar(requestparameters, '$.roleArn') IS NOT NULL AND NOT json_extract_scalar(requestparameters, '$.roleArn') LIKE 'arn:aws:iam::999%' ESCAPE '\\')))",
    );
    expect(patternSql('duckdb', { 'detail-type': ['Something else'], detail: { eventName: ['A'] } })).toBe('FALSE');
    expect(patternSql('lake', { detail: { requestParameters: { clusterName: ["it's"] } } })).toBe("element_at(requestparameters, 'clusterName') = 'it''s'");
  });

  it('refuses what it cannot say exactly or more broadly, naming the field', () => {
    expect(() => patternSql('athena', { detail: { tlsDetails: { tlsVersion: ['TLSv1.3'] } } })).toThrow(new TrailSqlError('field tlsDetails.tlsVersion is not a column of the Athena CloudTrail table'));
    expect(() => patternSql('lake', { detail: { requestParameters: { a: { b: ['x'] } } } })).toThrow(/Lake keeps requestParameters as a map of strings, one level deep/);
    expect(() => patternSql('athena', { detail: { eventName: [1] } })).toThrow(/eventName: a number matcher/);
    expect(() => patternSql('athena', { time: ['x'] })).toThrow(/pattern key "time" has no CloudTrail column/);
    expect(() => callGlobsSql('athena', ['BatchGetImage'])).toThrow(/is not eventSource:eventName/);
  });
});

describe('inputs', () => {
  it('a trail location ends where the account folders start', () => {
    expect(parseTrailLocation('s3://org-trail/AWSLogs/o-a1b2c3d4e5/')).toEqual({ bucket: 'org-trail', prefix: 'AWSLogs/o-a1b2c3d4e5', location: 's3://org-trail/AWSLogs/o-a1b2c3d4e5' });
    expect(parseTrailLocation('s3://trail/team/AWSLogs').location).toBe('s3://trail/team/AWSLogs');
    expect(() => parseTrailLocation('s3://org-trail')).toThrow(/must end where the account folders start: s3:\/\/BUCKET\/\[PREFIX\/\]AWSLogs/);
    expect(() => parseTrailLocation('s3://org-trail/AWSLogs/o-a1b2c3d4e5/111122223333')).toThrow(/must end where the account folders start/);
    expect(() => parseTrailLocation('https://org-trail/AWSLogs')).toThrow(/is not s3:\/\/BUCKET\/PREFIX/);
  });

  it('one table per trail location', () => {
    expect(athenaTableName(LOCATION)).toMatch(/^cutover_watch_trail_v1_[0-9a-f]{8}$/);
    expect(athenaTableName(LOCATION)).toBe(athenaTableName(LOCATION));
    expect(athenaTableName(LOCATION)).not.toBe(athenaTableName('s3://other/AWSLogs'));
  });

  it('a slice names real accounts, regions and a day', () => {
    const base = { database: 'default', table: 't', location: LOCATION, accounts: ['111122223333'], regions: ['us-east-1'], day: '2026-11-24', predicate: {} };
    expect(() => athenaSliceQuery({ ...base, accounts: ["1' OR '1"] })).toThrow(/is not a 12-digit AWS account id/);
    expect(() => athenaSliceQuery({ ...base, regions: [] })).toThrow(/at least one account and one region/);
    expect(() => athenaCreateTable({ database: 'Bad-Name', table: 't', location: LOCATION })).toThrow(/--database "Bad-Name": Athena names are lower-case letters, digits and _/);
    expect(() => lakeSliceQuery({ eventDataStore: 'x; DROP', start: '2026-11-24T00:00:00Z', end: '2026-11-25T00:00:00Z', predicate: {} })).toThrow(/is not an id/);
  });

  it('rebuilds a row into the record shape, and names a JSON column that does not parse', () => {
    expect(
      rebuildRecord({ eventid: 'e1', eventtime: '2026-11-24T10:00:00Z', ui_type: 'AssumedRole', ui_issuer_arn: 'arn:aws:iam::1:role/n', requestparameters: '{"roleArn":"r"}', re_provider: null }),
    ).toEqual({
      record: { eventID: 'e1', eventTime: '2026-11-24T10:00:00Z', userIdentity: { type: 'AssumedRole', sessionContext: { sessionIssuer: { arn: 'arn:aws:iam::1:role/n' } } }, requestParameters: { roleArn: 'r' } },
    });
    expect(rebuildRecord({ eventid: 'e1', requestparameters: '{"roleArn":' })).toEqual({ problem: 'column requestparameters is not JSON ({"roleArn":)' });
  });
});

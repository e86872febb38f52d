import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { ReadWriteType, Trail } from 'aws-cdk-lib/aws-cloudtrail';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface ManagementTrailProps {
  /** @default RemovalPolicy.RETAIN - the logs are audit records */
  readonly removalPolicy?: RemovalPolicy;
  /** @default Duration.days(400) */
  readonly logExpiration?: Duration;
}

/**
 * A multi-region trail logging management events only (no data events, no Insights), for accounts
 * without one. The first copy of management events is free in CloudTrail; only S3 storage is
 * billed. docs/deploy.md says how to tell whether the account already has such a trail.
 */
export class ManagementTrail extends Construct {
  readonly trail: Trail;
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: ManagementTrailProps = {}) {
    super(scope, id);
    this.bucket = new Bucket(this, 'Bucket', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      lifecycleRules: [{ id: 'expire-logs', expiration: props.logExpiration ?? Duration.days(400) }],
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'this bucket holds CloudTrail log files, written only by cloudtrail.amazonaws.com under the bucket policy the trail adds; access logs of a log bucket would need a third bucket',
    });
    this.trail = new Trail(this, 'Trail', {
      bucket: this.bucket,
      isMultiRegionTrail: true,
      includeGlobalServiceEvents: true,
      managementEvents: ReadWriteType.ALL,
      enableFileValidation: true,
    });
  }
}

import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/** The report function writes under this prefix only. */
export const REPORTS_PREFIX = 'reports/';

export interface ReportsBucketProps {
  /** @default RemovalPolicy.RETAIN - reports outlive the stack */
  readonly removalPolicy?: RemovalPolicy;
  /** @default Duration.days(400) - a year of weekly reports, plus a month to compare */
  readonly expiration?: Duration;
}

/** Where the scheduled straggler reports are kept: private, encrypted, TLS only, expiring. */
export class ReportsBucket extends Construct {
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: ReportsBucketProps = {}) {
    super(scope, id);
    this.bucket = new Bucket(this, 'Bucket', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      lifecycleRules: [
        { id: 'expire-reports', prefix: REPORTS_PREFIX, expiration: props.expiration ?? Duration.days(400) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'one writer (the report function, s3:PutObject on reports/* only) and no public access; object-level access is in CloudTrail data events if the account enables them, a second logging bucket would add cost without a reader',
    });
  }
}

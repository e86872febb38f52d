/**
 * An S3 bucket's name: 3–63 lowercase letters, digits, dots and hyphens, starting and ending with a
 * letter or digit (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
 * The pattern's source, for the patterns of `s3://BUCKET/…` URLs built on it.
 */
export const S3_BUCKET_NAME = '[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]';

/** A whole string that is an S3 bucket's name. */
export const S3_BUCKET_NAME_ONLY = new RegExp(`^${S3_BUCKET_NAME}$`);

/** `s3://BUCKET` with an optional `/…` after it: the bucket in group 1, the rest in group 2. */
export const S3_URL = new RegExp(`^s3:\\/\\/(${S3_BUCKET_NAME})(\\/.*)?$`);

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

export interface S3Location {
  bucket: string;
  /** A key prefix, as S3 matches it: `AWSLogs/1111/` is a folder, `AWSLogs/1111` also matches `AWSLogs/11112…`. */
  prefix: string;
  /** `s3://bucket/prefix`, for messages. */
  url: string;
}

export class S3UrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'S3UrlError';
  }
}

export function isS3Url(path: string): boolean {
  return /^s3:\/\//i.test(path);
}

/**
 * `s3://bucket[/prefix]`. Bucket names: 3–63 lowercase letters, digits, dots and hyphens, starting
 * and ending with a letter or digit (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
 */
export function parseS3Url(url: string): S3Location {
  const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/is.exec(url);
  if (!match) throw new S3UrlError(`${url} is not an S3 URL: write s3://BUCKET/PREFIX/`);
  const bucket = match[1] ?? '';
  const prefix = match[2] ?? '';
  if (!S3_BUCKET_NAME_ONLY.test(bucket) || bucket.includes('..')) {
    throw new S3UrlError(`${url}: "${bucket}" is not an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens): write s3://BUCKET/PREFIX/`);
  }
  return { bucket, prefix, url: `s3://${bucket}/${prefix}` };
}

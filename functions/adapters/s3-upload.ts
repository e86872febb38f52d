import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';

/**
 * An object written to S3 as its text is made: one PutObject when it fits a part (5 MiB), else a
 * multipart upload of 5 MiB parts (`@aws-sdk/lib-storage`), which s3:PutObject allows and
 * s3:AbortMultipartUpload cleans up after a failure (Amazon S3 User Guide, "Multipart upload API and
 * permissions"). A document of hundreds of megabytes never exists whole in memory: at most a few
 * parts do.
 */
export async function putStreamed(client: S3Client, target: { bucket: string; key: string; contentType: string }, body: Iterable<string> | string): Promise<void> {
  const stream = typeof body === 'string' ? body : Readable.from(body);
  await new Upload({ client, params: { Bucket: target.bucket, Key: target.key, Body: stream, ContentType: target.contentType } }).done();
}

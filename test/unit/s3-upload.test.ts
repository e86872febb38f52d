import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, PutObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { putStreamed } from '../../functions/adapters/s3-upload';

// The weekly report's JSON and CSV go to S3 as they are made: past one part (5 MiB), a multipart
// upload. S3 is faked at the client; what is checked is what reaches it.
const s3 = mockClient(S3Client);
afterEach(() => s3.reset());
// Unit files share a worker: put the client's real send back for the files after this one.
afterAll(() => s3.restore());

const client = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
const bytesOf = (body: unknown) => (Buffer.isBuffer(body) ? body : typeof body === 'string' ? Buffer.from(body) : Buffer.from(body as Uint8Array));

describe('putStreamed', () => {
  it('sends a document larger than a part as a multipart upload whose parts, in order, are its bytes', async () => {
    // GIVEN ~16 MB of lines with two-byte characters (a part boundary falls inside some), as pieces
    const parts: { n: number; body: Buffer }[] = [];
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'upload-1' });
    s3.on(UploadPartCommand).callsFake(async (input: { PartNumber: number; Body: unknown }) => {
      parts.push({ n: input.PartNumber, body: bytesOf(input.Body) });
      return { ETag: `"${input.PartNumber}"` };
    });
    s3.on(CompleteMultipartUploadCommand).resolves({});
    function* lines() {
      for (let i = 0; i < 200_000; i += 1) yield `{"row":${i},"namespace":"é-${'x'.repeat(i % 50)}"}\n`;
    }

    // WHEN
    await putStreamed(client, { bucket: 'reports', key: 'reports/2026-12-07/r.json', contentType: 'application/json' }, lines());

    // THEN several parts, no single PutObject, the content type on the upload, the bytes whole
    expect(parts.length).toBeGreaterThan(1);
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(s3.commandCalls(CreateMultipartUploadCommand)[0]!.args[0].input).toMatchObject({ Bucket: 'reports', Key: 'reports/2026-12-07/r.json', ContentType: 'application/json' });
    const completed = s3.commandCalls(CompleteMultipartUploadCommand)[0]!.args[0].input.MultipartUpload!.Parts!;
    expect(completed.map((p) => p.PartNumber)).toEqual(parts.map((p) => p.n).sort((a, b) => a - b));
    const sent = Buffer.concat(parts.sort((a, b) => a.n - b.n).map((p) => p.body));
    expect(sent.equals(Buffer.from([...lines()].join('')))).toBe(true);
  });

  it('sends a small document, or a text, as one PutObject', async () => {
    s3.on(PutObjectCommand).resolves({});
    await putStreamed(client, { bucket: 'reports', key: 'a.csv', contentType: 'text/csv' }, ['a,b\n', '1,2\n']);
    await putStreamed(client, { bucket: 'reports', key: 'a.html', contentType: 'text/html' }, '<html></html>');
    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts.map((p) => [p.Key, p.ContentType, bytesOf(p.Body).toString()])).toEqual([
      ['a.csv', 'text/csv', 'a,b\n1,2\n'],
      ['a.html', 'text/html', '<html></html>'],
    ]);
    expect(s3.commandCalls(CreateMultipartUploadCommand)).toHaveLength(0);
  });
});

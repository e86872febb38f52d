import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * One S3 bucket on a loopback HTTP server, for the real S3 client (AWS_ENDPOINT_URL_S3, path-style
 * requests to an IP endpoint, SigV4, its own retries and XML parsing): ListObjectsV2 as S3 pages it
 * (`pageSize` keys a page, `Delimiter=/` as common prefixes) and GetObject, with S3's error bodies.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
 */
export class LoopbackS3 {
  /** key → body */
  readonly objects = new Map<string, Buffer>();
  /** `METHOD /path[ list]`, every request. */
  readonly requests: string[] = [];
  /** The region each request was signed for (SigV4's credential scope). */
  readonly signedRegions: string[] = [];
  /** Keys whose next GetObject answers 503 SlowDown once (the SDK retries it). */
  readonly slowDownOnce = new Set<string>();
  private server: Server | undefined;
  endpoint = '';

  constructor(
    readonly bucket: string,
    readonly pageSize = 1000,
  ) {}

  static etag(body: Buffer): string {
    return `"${createHash('md5').update(body).digest('hex')}"`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      this.requests.push(`${req.method} ${url.pathname}${url.searchParams.has('list-type') ? ' list' : ''}`);
      this.signedRegions.push(/Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '');
      const [, bucket, ...rest] = url.pathname.split('/');
      const error = (status: number, code: string, message: string) =>
        res.writeHead(status, { 'content-type': 'application/xml' }).end(`<Error><Code>${code}</Code><Message>${message}</Message></Error>`);
      if (bucket !== this.bucket) return error(404, 'NoSuchBucket', 'The specified bucket does not exist');
      if (url.searchParams.get('list-type') === '2') return this.list(url.searchParams, res);
      const key = decodeURIComponent(rest.join('/'));
      const body = this.objects.get(key);
      if (this.slowDownOnce.delete(key)) return error(503, 'SlowDown', 'Please reduce your request rate.');
      if (!body) return error(404, 'NoSuchKey', 'The specified key does not exist.');
      res.writeHead(200, { etag: LoopbackS3.etag(body), 'content-length': String(body.length), 'content-type': 'application/octet-stream' }).end(body);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
  }

  private list(params: URLSearchParams, res: import('node:http').ServerResponse): void {
    const prefix = params.get('prefix') ?? '';
    const delimiter = params.get('delimiter');
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    // With a delimiter, keys past it under the prefix roll up into one common prefix each.
    const entries = delimiter
      ? [...new Set(keys.map((k) => (k.indexOf(delimiter, prefix.length) === -1 ? k : k.slice(0, k.indexOf(delimiter, prefix.length) + delimiter.length))))]
      : keys;
    const token = params.get('continuation-token');
    const from = token ? entries.indexOf(Buffer.from(token, 'base64').toString()) + 1 : 0;
    const page = entries.slice(from, from + this.pageSize);
    const truncated = from + this.pageSize < entries.length;
    const isFolder = (e: string) => delimiter !== null && e.endsWith(delimiter) && !this.objects.has(e);
    res.writeHead(200, { 'content-type': 'application/xml' }).end(
      '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        `<Name>${xml(this.bucket)}</Name><Prefix>${xml(prefix)}</Prefix>${delimiter ? `<Delimiter>${xml(delimiter)}</Delimiter>` : ''}<KeyCount>${page.length}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>${truncated}</IsTruncated>` +
        page
          .map((k) =>
            isFolder(k)
              ? `<CommonPrefixes><Prefix>${xml(k)}</Prefix></CommonPrefixes>`
              : `<Contents><Key>${xml(k)}</Key><ETag>${xml(LoopbackS3.etag(this.objects.get(k)!))}</ETag><Size>${this.objects.get(k)!.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
          )
          .join('') +
        (truncated ? `<NextContinuationToken>${Buffer.from(page.at(-1)!).toString('base64')}</NextContinuationToken>` : '') +
        '</ListBucketResult>',
    );
  }
}

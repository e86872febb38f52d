/**
 * `analyze s3://bucket/prefix/`: a trail's log objects read where they are, without an
 * `aws s3 sync` first, through the same pipeline as local files (ingest-pipeline `ingestUnits`):
 * the same parser and caps, coverage, rejections and detections.
 *
 * - Listing: ListObjectsV2, every page (at most 1,000 keys each; `ContinuationToken` while
 *   `IsTruncated`), https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html. Only
 *   `.json.gz`/`.json` keys are log files; CloudTrail-Insight objects are not, and CloudTrail-Digest
 *   objects are the lists of log files delivered, read first (adapters/cloudtrail-digests)
 *   (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-find-log-files.html).
 *   The whole listing comes first: objects are read in delivery order across accounts and regions
 *   (`chronological`), as the detections need.
 * - Reading: up to `concurrency` GetObject calls in flight, read ahead into memory (compressed,
 *   within a byte budget) and handed over strictly in that order; an object larger than
 *   `prefetchObjectBytes` is streamed when its turn comes. Each call has the SDK's retries; an
 *   object that still fails (or whose body breaks off) gets a few more attempts of our own, then is
 *   one rejection naming it, and the run goes on.
 * - Checkpoints: an object read whole is recorded in the store with its ETag (table-schema
 *   `SOURCES#s3://<bucket>`) once its events are stored; a rerun skips it while its ETag is the
 *   same. Storing every object as its own batch would cost a journal and a write per touched item
 *   each (14× the run time and 65× the writes on the demo fleet), so objects are stored in groups
 *   (`checkpointObjects`, `checkpointRecords`), each group one `ingestUnits` run ending in a flush.
 */
import { GetObjectCommand, ListObjectsV2Command, S3Client, type ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { listInputFiles, readRecords, readRecordsFromStream, type ReadLimits } from './cloudtrail-files';
import { AwsFatalError, backoffMs, defaultSleep, fatalReason, isThrottling, SDK_MAX_ATTEMPTS } from './aws-calls';
import { chronological, emptySummary, ingestUnits, localDigestFiles, readMarksOf, recordDigests, type AnalyzeOptions, type AnalyzeSummary, type DigestFiles, type RecordUnit } from './ingest-pipeline';
import { digestPlace } from '../core/cloudtrail-digest';
import type { InputItem, InputProblem } from '../core/envelopes';
import type { S3Location } from '../core/s3-names';

export interface S3LogObject {
  bucket: string;
  key: string;
  /** As listed (quoted, as S3 gives it). */
  etag: string;
  size: number;
  /** `s3://bucket/key`: the `file` of its records and rejections. */
  url: string;
}

export interface S3Listing {
  location: S3Location;
  /** Log objects, in key order. */
  objects: S3LogObject[];
  /** CloudTrail's digest files (core/cloudtrail-digest): the lists of log files delivered, read apart. */
  digests: S3LogObject[];
  /** Other keys under the prefix: Insights events, folder markers, other files. */
  ignored: number;
  pages: number;
}

/** Folders CloudTrail writes beside `CloudTrail/`: digests hold hash chains, Insights files hold Insights events. */
const SKIPPED_SEGMENT = /(?:^|\/)CloudTrail-(?:Digest|Insight)\//;
const SKIPPED_NAME = /_CloudTrail-(?:Digest|Insight)_/;

/** A CloudTrail log file's key: `.json.gz` (what CloudTrail writes) or `.json`, neither a digest nor Insights. */
export function isS3LogKey(key: string): boolean {
  const lower = key.toLowerCase();
  return (lower.endsWith('.json.gz') || lower.endsWith('.json')) && !SKIPPED_SEGMENT.test(key) && !SKIPPED_NAME.test(key);
}

/** A CloudTrail digest file's key, by its name. */
export function isS3DigestKey(key: string): boolean {
  return digestPlace(key) !== null;
}

/**
 * An S3 client for the CLI: the SDK's default credential chain; the region of AWS_REGION (or the
 * profile's), else us-east-1, and the bucket's own region through S3's redirects
 * (`followRegionRedirects`), so any bucket can be read; naming its region saves a redirect a call.
 */
export async function s3Client(env: NodeJS.ProcessEnv = process.env): Promise<{ client: S3Client; region: string }> {
  // AWS_MAX_ATTEMPTS, as the SDK's own setting, wins over ours.
  const options = { followRegionRedirects: true, maxAttempts: Number(env['AWS_MAX_ATTEMPTS']) || SDK_MAX_ATTEMPTS, retryMode: 'adaptive' } as const;
  const named = env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  if (named) return { client: new S3Client({ ...options, region: named }), region: named };
  const client = new S3Client(options);
  try {
    return { client, region: await client.config.region() };
  } catch {
    client.destroy();
    return { client: new S3Client({ ...options, region: 'us-east-1' }), region: 'us-east-1' };
  }
}

export interface ListOptions {
  /** For messages: the region the client calls first. */
  region?: string;
  sleep?: (ms: number) => Promise<void>;
  /** Our retries of a throttled or failed page once the SDK's are spent. @default 5 */
  retries?: number;
}

/**
 * Every log object under the location. Anything that stops the listing (no credentials, no bucket,
 * no s3:ListBucket) is an AwsFatalError with one line for the user: a part of a listing would read
 * a part of the logs as if it were all of them.
 */
export async function listS3Logs(client: S3Client, location: S3Location, options: ListOptions = {}): Promise<S3Listing> {
  const objects: S3LogObject[] = [];
  const digests: S3LogObject[] = [];
  let ignored = 0;
  let pages = 0;
  for await (const page of listPages(client, location, options)) {
    pages += 1;
    for (const entry of page.Contents ?? []) {
      const key = entry.Key;
      if (key === undefined) continue;
      const into = isS3LogKey(key) ? objects : isS3DigestKey(key) ? digests : null;
      if (into === null) ignored += 1;
      else into.push({ bucket: location.bucket, key, etag: entry.ETag ?? '', size: entry.Size ?? 0, url: `s3://${location.bucket}/${key}` });
    }
  }
  return { location, objects, digests, ignored, pages };
}

/**
 * The names of the folders one level under the location (`Delimiter=/`: a common prefix per
 * folder), listed and retried as `listS3Logs` lists: CloudTrail's account and region folders.
 */
export async function listS3Folders(client: S3Client, location: S3Location, options: ListOptions = {}): Promise<string[]> {
  const folders: string[] = [];
  for await (const page of listPages(client, location, options, '/')) {
    for (const common of page.CommonPrefixes ?? []) if (common.Prefix !== undefined) folders.push(common.Prefix.slice(location.prefix.length, -1));
  }
  return folders;
}

/** Every ListObjectsV2 page under the location, each retried (throttling, 5xx) before it stops the listing. */
async function* listPages(client: S3Client, location: S3Location, options: ListOptions, delimiter?: string): AsyncGenerator<ListObjectsV2CommandOutput> {
  const sleep = options.sleep ?? defaultSleep;
  const retries = options.retries ?? 5;
  let token: string | undefined;
  do {
    let page: ListObjectsV2CommandOutput | undefined;
    for (let attempt = 0; page === undefined; attempt += 1) {
      try {
        page = await client.send(
          new ListObjectsV2Command({
            Bucket: location.bucket,
            ...(location.prefix ? { Prefix: location.prefix } : {}),
            ...(delimiter ? { Delimiter: delimiter } : {}),
            ...(token ? { ContinuationToken: token } : {}),
          }),
        );
      } catch (error) {
        const fatal = fatalReason(error, 's3', options.region ?? 'the configured region');
        if (fatal) throw new AwsFatalError(fatal, { cause: error });
        if (!isTransient(error) || attempt >= retries) throw new AwsFatalError(listFailure(error, location), { cause: error });
        await sleep(backoffMs(attempt));
      }
    }
    yield page;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

function listFailure(error: unknown, location: S3Location): string {
  const { name, status, what } = describe(error);
  if (name === 'NoSuchBucket' || (status === 404 && !name.startsWith('NoSuchKey'))) return `no bucket named ${location.bucket} (${what})`;
  if (/AccessDenied|Forbidden/i.test(name) || status === 403) return `missing permission s3:ListBucket on ${location.url} (${what})`;
  if (isTransient(error)) return `cannot list ${location.url}: still failing after retries (${what}); run again later`;
  return `cannot list ${location.url} (${what})`;
}

// ---------------------------------------------------------------------------------------------
// Reading in order, with read-ahead

export interface S3ReadOptions {
  /** GetObject calls in flight, objects read ahead included. @default 8 */
  concurrency?: number;
  /** Compressed bytes held read ahead at most (besides the object being parsed). @default 64 MiB */
  prefetchBytes?: number;
  /** Objects above this size are not read ahead but streamed when their turn comes. @default 16 MiB */
  prefetchObjectBytes?: number;
  /** Our attempts at an object after the first, once the SDK's retries are spent: throttling, 5xx, a broken connection. @default 3 */
  objectRetries?: number;
  sleep?: (ms: number) => Promise<void>;
  /** For messages: the region the client calls first. */
  region?: string;
}

/** A body read ahead is a Buffer; a large one is the stream. */
type Fetched = { ok: true; etag: string; body: Readable | Buffer } | { ok: false; reason: string; fatal: boolean };

const MIB = 1024 * 1024;

/**
 * The objects' bodies strictly in the given order, with up to `concurrency` GetObject calls in
 * flight ahead of the consumer. The consumer reads each body before asking for the next.
 */
async function* fetchInOrder(client: S3Client, objects: readonly S3LogObject[], options: S3ReadOptions): AsyncGenerator<Fetched, void, undefined> {
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const budget = options.prefetchBytes ?? 64 * MIB;
  const largest = options.prefetchObjectBytes ?? 16 * MIB;
  const abort = new AbortController();
  const window: { held: number; result: Promise<Fetched> }[] = [];
  let next = 0;
  let held = 0;
  const fill = () => {
    while (next < objects.length && window.length < concurrency) {
      const object = objects[next]!;
      const buffered = object.size <= largest;
      // Something is always under way; past that, a large object waits to be first in line (it is
      // streamed, not held), and small ones wait for the budget.
      if (window.length > 0 && (!buffered || held + object.size > budget)) break;
      next += 1;
      const size = buffered ? object.size : 0;
      held += size;
      window.push({ held: size, result: getObject(client, object, buffered ? largest : 0, abort.signal, options) });
    }
  };
  try {
    for (;;) {
      fill();
      const head = window[0];
      if (head === undefined) return;
      const result = await head.result;
      // Its call is done: the slot goes to the next object while this one is parsed.
      window.shift();
      fill();
      try {
        yield result;
      } finally {
        held -= head.held;
      }
    }
  } finally {
    // A run that stops early (a fatal error, an exception) leaves no download running.
    abort.abort();
  }
}

/** One object's body: read whole into memory when it is at most `bufferUpTo` bytes, else the stream. Never throws. */
async function getObject(client: S3Client, object: S3LogObject, bufferUpTo: number, signal: AbortSignal, options: S3ReadOptions): Promise<Fetched> {
  const retries = options.objectRetries ?? 3;
  const sleep = options.sleep ?? defaultSleep;
  for (let attempt = 0; ; attempt += 1) {
    try {
      const out = await client.send(new GetObjectCommand({ Bucket: object.bucket, Key: object.key }), { abortSignal: signal });
      const body = out.Body;
      if (!(body instanceof Readable)) throw Object.assign(new Error('GetObject returned no body stream'), { name: 'NoBody' });
      const etag = out.ETag ?? object.etag;
      if ((out.ContentLength ?? object.size) > bufferUpTo) return { ok: true, etag, body };
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
      return { ok: true, etag, body: Buffer.concat(chunks) };
    } catch (error) {
      if (signal.aborted) return { ok: false, reason: 'not read: the run stopped', fatal: false };
      const fatal = fatalReason(error, 's3', options.region ?? 'the configured region');
      if (fatal) return { ok: false, reason: fatal, fatal: true };
      if (!isTransient(error) || attempt >= retries) return { ok: false, reason: objectFailure(error, attempt + 1), fatal: false };
      await sleep(backoffMs(attempt));
    }
  }
}

function objectFailure(error: unknown, attempts: number): string {
  const { name, status, message, what } = describe(error);
  if (name === 'NoSuchKey' || status === 404) return `deleted since it was listed (${what})`;
  if (name === 'InvalidObjectState') return `archived (S3 Glacier or an archive access tier): restore it, then run again (${what})`;
  if (/AccessDenied|Forbidden/i.test(name) || status === 403) {
    return /kms/i.test(message)
      ? `missing permission kms:Decrypt on the trail's KMS key (${what})`
      : `missing permission s3:GetObject (or kms:Decrypt for an SSE-KMS trail) (${what})`;
  }
  if (isTransient(error)) return `GetObject still failing after ${attempts} attempts (${what}): run again to read it`;
  return `GetObject failed (${what})`;
}

const TRANSIENT_NAMES = new Set(['InternalError', 'ServiceUnavailable', 'RequestTimeout', 'RequestTimeoutException', 'TimeoutError', 'SlowDown', 'NoBody']);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNREFUSED', 'ENETUNREACH', 'EAI_AGAIN', 'ERR_STREAM_PREMATURE_CLOSE']);

/** Worth another attempt: throttling, a server error, a timeout or a connection that broke off. */
function isTransient(error: unknown): boolean {
  const e = error as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } } | null;
  if (!e) return false;
  const status = e.$metadata?.httpStatusCode;
  return isThrottling(error) || (status !== undefined && status >= 500) || TRANSIENT_NAMES.has(e.name ?? '') || TRANSIENT_CODES.has(e.code ?? '');
}

function describe(error: unknown): { name: string; status: number | undefined; message: string; what: string } {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } } | null;
  const name = e?.name ?? 'Error';
  const message = (e?.message ?? '').replace(/\s+/g, ' ').trim();
  return { name, status: e?.$metadata?.httpStatusCode, message, what: message && message !== name ? `${name}: ${message}` : name };
}

// ---------------------------------------------------------------------------------------------
// A run: local paths and S3 listings, in delivery order, checkpointed

export interface AnalyzeSourcesOptions extends Omit<AnalyzeOptions, 'paths'>, S3ReadOptions {
  /** Local files and directories ('-' for stdin), read as `analyzePaths` reads them. */
  paths: string[];
  listings: S3Listing[];
  /** Needed when a listing holds objects. */
  client?: S3Client;
  /** Read objects recorded as read before, too. @default false */
  reread?: boolean;
  /** Objects recorded as read after at most this many objects (files included)… @default 1000 */
  checkpointObjects?: number;
  /** …or records. @default 200000 */
  checkpointRecords?: number;
  /** Local files' caps; S3 objects get the same. */
  limits?: Partial<ReadLimits>;
  /** Asked before each source is taken: a reason stops the run there (`stopped`), as a fatal error would. */
  stopReading?: () => string | null;
}

export interface S3Summary {
  locations: string[];
  /** Log objects under the locations (each once, however many locations list it). */
  listed: number;
  /** Other keys listed: Insights events, folder markers, other files. */
  ignored: number;
  /** Read by an earlier run, with the same ETag: not read again. */
  skipped: number;
  /** Read whole by this run and recorded as read. */
  read: number;
  /** Read whole, but some of their events could not be stored: not recorded, read again next run. */
  unrecorded: number;
  /** Could not be read whole (each a rejection naming it): read again next run. */
  failed: number;
  /** Of those, never fetched: GetObject failed (a permission, the KMS key, throttling past the retries, deleted since listed). */
  unfetched: number;
  /** Not reached because the run stopped (`stopped`). */
  notRead: number;
  /** Why the run stopped reading S3 before the end (credentials expired…), or null. */
  stopped: string | null;
}

export type SourcesSummary = AnalyzeSummary & { s3: S3Summary };

type Source = { kind: 'file'; name: string } | { kind: 's3'; name: string; object: S3LogObject };

export async function analyzeSources(options: AnalyzeSourcesOptions): Promise<SourcesSummary> {
  const started = process.hrtime.bigint();
  const local = options.paths.length > 0 ? await listInputFiles(options.paths, { skipFolders: options.skipFolders }) : { files: [], digests: [], problems: [] };
  const problems: InputProblem[] = [...local.problems];
  const s3: S3Summary = { locations: options.listings.map((l) => l.location.url), listed: 0, ignored: 0, skipped: 0, read: 0, unrecorded: 0, failed: 0, unfetched: 0, notRead: 0, stopped: null };

  const toRead: S3LogObject[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  const digestObjects = new Map<string, S3LogObject>();
  let digestsSkipped = 0;
  for (const listing of options.listings) {
    s3.ignored += listing.ignored;
    if (listing.objects.length === 0) {
      problems.push({ type: 'problem', file: listing.location.url, where: null, reason: `no CloudTrail log objects (.json.gz, .json) under ${listing.location.url}` });
      continue;
    }
    const before = options.reread ? new Map<string, string>() : await options.store.sourcesRead(listing.location.bucket, listing.location.prefix);
    // A day folder's digests are in CloudTrail-Digest/, beside it: what was read there is looked up there.
    const digestsBefore = options.reread ? before : await readUnder(options.store, listing.location.bucket, listing.location.prefix, listing.digests, before);
    for (const digest of listing.digests) {
      if (digest.etag !== '' && digestsBefore.get(digest.key) === digest.etag) digestsSkipped += 1;
      else digestObjects.set(digest.url, digest);
    }
    for (const object of listing.objects) {
      if (seen.has(object.url)) continue;
      seen.add(object.url);
      s3.listed += 1;
      if (object.etag !== '' && before.get(object.key) === object.etag) {
        s3.skipped += 1;
        skipped.push(object.key);
      } else toRead.push(object);
    }
  }
  if (toRead.length > 0 && options.client === undefined) throw new TypeError('analyzeSources: S3 objects to read and no client');

  // The digests first (the lists of what was delivered; the objects skipped as read before are
  // marked read). A run whose time is already up (the trail fold) starts nothing: the next run reads them.
  const stopped = options.stopReading?.() ?? null;
  const digestFiles = stopped !== null || local.digests.length + digestObjects.size + digestsSkipped === 0 ? null : await bothDigestFiles(local.digests, digestObjects, digestsSkipped, options);
  const digests = digestFiles === null ? null : await recordDigests(digestFiles, skipped, options);
  problems.push(...(digests?.problems ?? []));
  // With digests (or unread files to match), each source's inflated bytes are hashed as read: what a digest lists of it.
  const marks = await readMarksOf(options.store, [...local.digests, ...options.listings.flatMap((l) => l.digests.map((d) => d.key))]);
  const keep = marks === null ? {} : { contents: marks.keep };

  const byName = new Map<string, Source>();
  for (const file of local.files) byName.set(file, { kind: 'file', name: file });
  for (const object of toRead) byName.set(object.url, { kind: 's3', name: object.url, object });
  const order = chronological([...byName.keys()]).map((name) => byName.get(name)!);
  const objectsInOrder = order.flatMap((s) => (s.kind === 's3' ? [s.object] : []));
  const bodies = objectsInOrder.length > 0 ? fetchInOrder(options.client!, objectsInOrder, options) : null;
  options.onFiles?.(order.length);

  const total = emptySummary();
  const everyObjects = Math.max(1, options.checkpointObjects ?? 1000);
  const everyRecords = Math.max(1, options.checkpointRecords ?? 200_000);
  let position = 0;
  let done = 0;
  let recordsBefore = 0;
  try {
    for (let first = true; first || (position < order.length && s3.stopped === null); first = false) {
      const readWhole: { object: S3LogObject; etag: string }[] = [];
      const group = async function* (): AsyncGenerator<RecordUnit> {
        let sources = 0;
        let records = 0;
        const counting = (item: InputItem) => {
          if (item.type === 'record') records += 1;
        };
        while (position < order.length && s3.stopped === null && sources < everyObjects && records < everyRecords) {
          const stop = options.stopReading?.() ?? null;
          if (stop !== null) {
            s3.stopped = stop;
            break;
          }
          const source = order[position++]!;
          sources += 1;
          if (source.kind === 'file') {
            yield { name: source.name, items: watched(readRecords(source.name, { stdin: options.stdin, limits: options.limits, ...keep }), counting) };
            continue;
          }
          const next = await bodies!.next();
          const fetched: Fetched = next.done ? { ok: false, reason: 'not read', fatal: false } : next.value;
          if (!fetched.ok) {
            s3.failed += 1;
            s3.unfetched += 1;
            if (fetched.fatal) s3.stopped = fetched.reason;
            yield { name: source.name, items: only({ type: 'problem', file: source.name, where: null, reason: fetched.reason }) };
            continue;
          }
          let whole = true;
          const hash = marks === null ? {} : { contents: (sha256: string) => marks.keep(source.name, sha256) };
          const items = watched(readRecordsFromStream(source.name, fetched.body, { limits: options.limits, ...hash }), (item) => {
            counting(item);
            if (item.type === 'problem') whole = false;
          });
          yield {
            name: source.name,
            items: (async function* () {
              yield* items;
              // Reached only when every item was taken: the pipeline has the whole object.
              if (whole) readWhole.push({ object: source.object, etag: fetched.etag });
              else s3.failed += 1;
            })(),
          };
        }
      };
      const part = await ingestUnits(
        group(),
        {
          ...options,
          onFileDone: (name, _done, records) => options.onFileDone?.(name, ++done, recordsBefore + records),
          ...(marks === null ? {} : { readMarks: marks.readMarks }),
        },
        first ? problems : [],
      );
      recordsBefore += part.records;
      addTotals(total, part);
      if (readWhole.length === 0) continue;
      if (part.notStored > 0) {
        s3.unrecorded += readWhole.length;
        continue;
      }
      await recordObjectsRead(options, readWhole.map(({ object, etag }) => ({ ...object, etag })));
      s3.read += readWhole.length;
    }
  } finally {
    await bodies?.return(undefined);
  }
  s3.notRead = order.slice(position).filter((s) => s.kind === 's3').length;
  total.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (digests !== null) total.digests = { files: digests.read.length, skipped: digests.skipped, logFilesListed: digests.listed };
  return { ...total, s3 };
}

/** Local digest files and digest objects as one run's: read, skipped as read before, recorded each where it is recorded. */
async function bothDigestFiles(local: readonly string[], objects: ReadonlyMap<string, S3LogObject>, objectsSkipped: number, options: AnalyzeSourcesOptions): Promise<DigestFiles> {
  const files = local.length === 0 ? null : await localDigestFiles(local, { ...options, skipFilesRead: true });
  return {
    names: [...(files?.names ?? []), ...objects.keys()],
    skipped: (files?.skipped ?? 0) + objectsSkipped,
    bytesOf: (name) => {
      const object = objects.get(name);
      return object === undefined ? readFile(name) : digestBytes(options.client!, object, options);
    },
    recordRead: async (names) => {
      await files?.recordRead?.(names.filter((name) => !objects.has(name)));
      await recordObjectsRead(options, names.flatMap((name) => objects.get(name) ?? []));
    },
  };
}

/** Objects read whole, recorded with their ETag in their bucket's sources: a rerun skips them while it is the same. */
async function recordObjectsRead(options: Pick<AnalyzeOptions, 'store' | 'now'>, objects: readonly S3LogObject[]): Promise<void> {
  const byBucket = new Map<string, { key: string; etag: string; size: number }[]>();
  for (const { bucket, key, etag, size } of objects) {
    const read = byBucket.get(bucket) ?? [];
    read.push({ key, etag, size });
    byBucket.set(bucket, read);
  }
  for (const [bucket, read] of byBucket) await options.store.recordSourcesRead(bucket, read, options.now());
}

/** What `sourcesRead` holds for these objects: `before` (read under `prefix`), and the folders of those outside it, one query each. */
async function readUnder(store: AnalyzeOptions['store'], bucket: string, prefix: string, objects: readonly S3LogObject[], before: Map<string, string>): Promise<Map<string, string>> {
  const folders = new Set(objects.filter((o) => !o.key.startsWith(prefix)).map((o) => o.key.slice(0, o.key.lastIndexOf('/') + 1)));
  if (folders.size === 0) return before;
  const all = new Map(before);
  for (const folder of folders) for (const [key, etag] of await store.sourcesRead(bucket, folder)) all.set(key, etag);
  return all;
}

/** A digest object's bytes: read as a log object is, retried the same; a failure throws its reason. */
async function digestBytes(client: S3Client, object: S3LogObject, options: S3ReadOptions): Promise<Buffer> {
  const fetched = await getObject(client, object, DIGEST_OBJECT_BYTES, new AbortController().signal, options);
  if (!fetched.ok) throw new Error(fetched.reason);
  if (!Buffer.isBuffer(fetched.body)) {
    fetched.body.destroy();
    throw new Error(`over ${DIGEST_OBJECT_BYTES / MIB} MiB: not a digest file`);
  }
  return fetched.body;
}

/** A digest is a few kB: a larger object under a digest's name is not read. */
const DIGEST_OBJECT_BYTES = 16 * MIB;

async function* watched(items: AsyncIterable<InputItem>, see: (item: InputItem) => void): AsyncGenerator<InputItem> {
  for await (const item of items) {
    see(item);
    yield item;
  }
}

async function* only(item: InputItem): AsyncGenerator<InputItem> {
  yield item;
}


function addTotals(total: AnalyzeSummary, part: AnalyzeSummary): void {
  for (const field of ['files', 'records', 'inScope', 'rejected', 'replayed', 'itemsWritten', 'notStored'] as const) total[field] += part[field];
  const add = <K extends string>(into: Partial<Record<K, number>>, from: Partial<Record<K, number>>) => {
    for (const [key, n] of Object.entries(from) as [K, number][]) into[key] = (into[key] ?? 0) + n;
  };
  add(total.skipped, part.skipped);
  add(total.byKind, part.byKind);
  add(total.byOutcome, part.byOutcome);
  add(total.alertsByDetection, part.alertsByDetection);
  total.storeErrors.push(...part.storeErrors);
}

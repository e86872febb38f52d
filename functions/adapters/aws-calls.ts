/**
 * What every AWS call of cutover-watch shares, whichever client makes it (EKS, IAM, CloudTrail, S3,
 * Athena, STS, Organizations): the SDK's attempts, our own retries of throttling past them, and the
 * errors no retry gets past. No SDK client is imported here: a command that only names these (the
 * CLI's handling of AwsFatalError) does not load the clients.
 */

/**
 * An error no retry or other cluster can get past: expired or missing credentials, an endpoint that
 * does not resolve (a region that does not exist, or no network). The message is one line for the user.
 */
export class AwsFatalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AwsFatalError';
  }
}

/** Arguments that cannot be resolved into accounts (no region); the CLI turns it into a usage error. */
export class AccountsError extends Error {
  override name = 'AccountsError';
}

/** The SDK's attempts per call (its standard backoff; adaptive mode also rate-limits the client after throttling). */
export const SDK_MAX_ATTEMPTS = 5;

/** An SDK response as the AWS CLI prints it: Dates become ISO strings, `undefined` fields vanish. */
export function plain(value: unknown): unknown {
  return value === undefined ? null : JSON.parse(JSON.stringify(value));
}

/** A response not of the shape the API promises: that call's problem, named as such (`problemReason`). */
export class UnexpectedResponse extends Error {
  override name = 'UnexpectedResponse';
}

export interface Retry {
  sleep: (ms: number) => Promise<void>;
  retries: number;
}

export const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Error names the SDK itself treats as throttling (smithy service-error-classification), plus HTTP 429. */
const THROTTLING = new Set([
  'ThrottlingException',
  'TooManyRequestsException',
  'Throttling',
  'ThrottledException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'LimitExceededException',
  'SlowDown',
]);

export function isThrottling(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | null;
  return !!e && (THROTTLING.has(e.name ?? '') || e.$metadata?.httpStatusCode === 429);
}

/** Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"), 1 s base, 30 s cap, never under 250 ms. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(30_000, 1000 * 2 ** attempt);
  return Math.max(250, Math.floor(random() * ceiling));
}

/** Retries a throttled call with our own backoff once the SDK's attempts are spent; bounded. */
export async function withRetry<T>(call: () => Promise<T>, retry: Retry): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await call();
    } catch (e) {
      if (!isThrottling(e) || attempt >= retry.retries) throw e;
      await retry.sleep(backoffMs(attempt));
    }
  }
}

const CREDENTIAL_ERRORS = new Set(['ExpiredTokenException', 'ExpiredToken', 'RequestExpired', 'TokenRefreshRequired']);
const INVALID_CREDENTIALS = new Set(['UnrecognizedClientException', 'InvalidClientTokenId', 'InvalidSignatureException', 'SignatureDoesNotMatch']);
const UNREACHABLE = new Set(['ENOTFOUND', 'EAI_AGAIN']);

/** The one line to stop on, or null when the error concerns only this call. */
export function fatalReason(error: unknown, service: string, region: string): string | null {
  const e = error as { name?: string; code?: string; message?: string; hostname?: string } | null;
  if (!e) return null;
  const name = e.name ?? '';
  if (CREDENTIAL_ERRORS.has(name)) {
    return `the AWS credentials have expired (${name}): refresh them (aws sso login, or new session credentials) and run again`;
  }
  if (name === 'CredentialsProviderError') {
    return `no AWS credentials found (${oneLine(e.message)}): set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and run again`;
  }
  if (INVALID_CREDENTIALS.has(name)) {
    return `the AWS credentials were refused in ${region} (${name}): they are wrong or expired, or ${region} is not enabled for the account`;
  }
  if (name === 'UnknownEndpoint' || UNREACHABLE.has(e.code ?? '') || /getaddrinfo (ENOTFOUND|EAI_AGAIN)/.test(e.message ?? '')) {
    const host = e.hostname ?? /getaddrinfo \w+ (\S+)/.exec(e.message ?? '')?.[1] ?? `the ${service} endpoint`;
    return `cannot reach ${host} for region ${region}: check the region name (aws ec2 describe-regions) and the network`;
  }
  if (/^Invalid region/i.test(e.message ?? '')) return `${region} is not a region ${service} can be called in: ${oneLine(e.message)}`;
  return null;
}

export function rethrowFatal(error: unknown, service: string, region: string): void {
  const reason = fatalReason(error, service, region);
  if (reason) throw new AwsFatalError(reason, { cause: error });
}

/** A problem's reason: names the missing permission for a denial, says "deleted" for not-found. */
export function problemReason(error: unknown, operation: string, service = 'eks'): string {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } } | null;
  const name = e?.name ?? 'Error';
  const message = oneLine(e?.message);
  if (/AccessDenied|UnauthorizedOperation|Forbidden/i.test(name) || e?.$metadata?.httpStatusCode === 403) {
    return `missing permission ${service}:${operation} (${name}${message ? `: ${message}` : ''})`;
  }
  if (name === 'ResourceNotFoundException' || name === 'NotFoundException') {
    return `not found: deleted while the sync ran (${name}${message ? `: ${message}` : ''})`;
  }
  if (name === 'UnexpectedResponse') return `unexpected ${operation} response: ${message}`;
  if (isThrottling(error)) return `still throttled after retries (${name}); run the sync again later`;
  return `${name}${message ? `: ${message}` : ''}`;
}

export function oneLine(text: string | undefined): string {
  return (text ?? '').replace(/\s+/g, ' ').trim();
}

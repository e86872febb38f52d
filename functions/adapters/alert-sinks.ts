/**
 * Where alerts go: a Slack incoming webhook and an SNS topic. Each sink delivers one alert or
 * throws a `DeliveryError` whose message says, in one line, what to fix. How an alert looks is
 * decided by core/alert-format; the only I/O is here.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { PublishCommand, type MessageAttributeValue, type PublishCommandInput, type SNSClient } from '@aws-sdk/client-sns';
import { IncomingWebhook, IncomingWebhookHTTPError, type FetchFunction, type RetryOptions } from '@slack/webhook';
import { SAMPLE_EVENT_IDS, type Alert } from '../core/alert';
import { alertSubject, alertText, slackMessage } from '../core/alert-format';

export interface AlertSink {
  /** Short name for logs and errors (`slack`, `sns`). */
  readonly name: string;
  /** Deliver one alert; throws `DeliveryError` when it could not. */
  send(alert: Alert): Promise<void>;
  /** Which of these alerts it already has, for a sink that can tell (alerts.jsonl): those are not sent again. */
  holds?(ids: readonly string[]): Promise<Set<string>>;
}

/** An alert could not be delivered. The message is one line that says what to check; it never holds a secret. */
export class DeliveryError extends Error {
  constructor(
    readonly sink: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'DeliveryError';
  }
}

// ---------------------------------------------------------------------------------------------
// Slack

export interface SlackSinkOptions {
  /** The incoming webhook URL. A secret (it is the only credential): it never appears in an error message. */
  webhookUrl: string;
  /** How long one HTTP request may take, in ms. @default 5000 */
  timeoutMs?: number;
  /**
   * Retries after a 5xx, a network error or a timeout (exponential backoff with jitter, through
   * the library's `retryConfig`), and, separately, after HTTP 429 (waiting as `Retry-After` asks).
   * @default 3
   */
  retries?: number;
  /** The HTTP client. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** How to wait out a `Retry-After`; tests pass one that records and returns at once. @default a timer */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Backoff between retries of 5xx/network/timeout, handed to the library as node-retry options:
 * 250 ms doubling, each delay randomised ×1–2 (jitter) and capped at 2 s. With the defaults
 * (3 retries, 5 s timeout) a send that meets no 429 gives up within 4 × 5 s + 3.5 s = 23.5 s;
 * each 429 can add up to 30 s (`RETRY_AFTER_CAP_MS`), at most `retries` times.
 */
const SLACK_BACKOFF: Omit<RetryOptions, 'retries'> = { factor: 2, minTimeout: 250, maxTimeout: 2000, randomize: true };

/** The longest `Retry-After` we wait, and what we wait when Slack sends 429 without one. */
const RETRY_AFTER_CAP_MS = 30_000;
const RETRY_AFTER_DEFAULT_MS = 1_000;

/**
 * Answers that mean the webhook no longer works and retrying cannot help: the webhook, its
 * channel, app or workspace was removed, archived or revoked
 * ("Handling errors", https://api.slack.com/messaging/webhooks#handling_errors).
 */
const GONE_STATUSES = new Set([403, 404, 410]);
const GONE_CODES = new Set(['no_service', 'channel_is_archived', 'invalid_token', 'no_team', 'no_active_hooks', 'team_disabled']);

/** `Retry-After` as ms: delta-seconds or an HTTP date (RFC 9110 §10.2.3), capped; 1 s when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number {
  if (header === null || header.trim() === '') return RETRY_AFTER_DEFAULT_MS;
  const value = header.trim();
  let ms: number;
  if (/^\d+$/.test(value)) ms = Number(value) * 1000;
  else {
    const at = Date.parse(value);
    if (Number.isNaN(at)) return RETRY_AFTER_DEFAULT_MS;
    ms = Math.max(0, at - now);
  }
  return Math.min(ms, RETRY_AFTER_CAP_MS);
}

/** What one send saw, across the library's retries and our 429 retries. */
interface SendState {
  /** HTTP requests made (each is an attempt, whatever it answered). */
  attempts: number;
  rateLimitRetriesLeft: number;
  /** The last request that did not succeed: its status, or what it threw (timeout, network). */
  lastFailure: { status: number } | { error: unknown } | null;
}

/**
 * Posts alerts to a Slack incoming webhook with `@slack/webhook`.
 *
 * - 5xx, network errors and timeouts: retried by the library (`retryConfig`, `SLACK_BACKOFF`).
 * - 429: the library fails it at once, so our `fetch` wrapper retries it first, waiting what
 *   `Retry-After` asks (capped at 30 s), up to `retries` times per send; then it hands the 429
 *   to the library, which raises it.
 * - Anything else (a gone webhook, a rejected payload): no retry.
 */
export class SlackSink implements AlertSink {
  readonly name = 'slack';
  // ES private fields: not enumerable, not shown by util.inspect or JSON.stringify of the sink.
  readonly #webhookUrl: string;
  readonly #secretParts: string[];
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #fetch: typeof fetch;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(opts: SlackSinkOptions) {
    let url: URL;
    try {
      url = new URL(opts.webhookUrl);
    } catch {
      throw new Error('the Slack webhook URL is not a valid URL (expected https://hooks.slack.com/services/…)');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new Error(`the Slack webhook URL must be https, not ${url.protocol.replace(':', '')}`);
    }
    this.#webhookUrl = opts.webhookUrl;
    // The path (and any query) is the secret; the host is not.
    this.#secretParts = [opts.webhookUrl, url.href, `${url.pathname}${url.search}`].filter((part) => part.length > 1);
    this.#timeoutMs = opts.timeoutMs ?? 5000;
    this.#retries = opts.retries ?? 3;
    this.#fetch = opts.fetch ?? globalThis.fetch;
    this.#sleep = opts.sleep ?? ((ms) => delay(ms));
  }

  async send(alert: Alert): Promise<void> {
    const state: SendState = { attempts: 0, rateLimitRetriesLeft: this.#retries, lastFailure: null };
    // One client per send: the fetch wrapper counts this send's attempts.
    const webhook = new IncomingWebhook(this.#webhookUrl, {
      fetch: this.#fetchFor(state),
      timeout: this.#timeoutMs,
      retryConfig: { retries: this.#retries, ...SLACK_BACKOFF },
    });
    try {
      // No unfurling: a link that reached a message anyway (it should not) gets no preview.
      await webhook.send({ ...slackMessage(alert), unfurl_links: false, unfurl_media: false });
    } catch (err) {
      throw this.#deliveryError(err, state);
    }
  }

  /** The library's fetch: counts attempts, remembers the last failure, retries 429 itself. */
  #fetchFor(state: SendState): FetchFunction {
    return async (url, init) => {
      for (let request = 0; ; request += 1) {
        state.attempts += 1;
        // The library's signal bounds its first request; one after a Retry-After wait gets its own.
        const signal = request === 0 ? init?.signal : AbortSignal.timeout(this.#timeoutMs);
        let response: Response;
        try {
          response = await this.#fetch(url, { ...init, signal });
        } catch (error) {
          state.lastFailure = { error };
          throw error;
        }
        if (response.status === 429 && state.rateLimitRetriesLeft > 0) {
          state.rateLimitRetriesLeft -= 1;
          const wait = retryAfterMs(response.headers.get('retry-after'));
          await response.arrayBuffer().catch(() => undefined); // free the connection
          await this.#sleep(wait);
          continue;
        }
        state.lastFailure = response.ok ? null : { status: response.status };
        return response;
      }
    };
  }

  #deliveryError(err: unknown, state: SendState): DeliveryError {
    const attempts = `${state.attempts} attempt${state.attempts === 1 ? '' : 's'}`;
    let message: string;
    if (err instanceof IncomingWebhookHTTPError && err.statusCode < 500) {
      // Slack answers errors with a short code as the body (`no_service`); show nothing else of it.
      const code = /^[a-z_]{1,64}$/.test(err.body.trim()) ? err.body.trim() : '';
      const status = `HTTP ${err.statusCode}${code ? ` ${code}` : ''}`;
      if (GONE_STATUSES.has(err.statusCode) || GONE_CODES.has(code)) {
        message = `Slack webhook is gone (${status}): create a new incoming webhook and update the configured URL`;
      } else if (err.statusCode === 429) {
        message = `Slack rate-limited the webhook (HTTP 429) after ${attempts}: alerts arrive faster than Slack takes them (about one message per second per webhook)`;
      } else if (err.statusCode === 400) {
        message = `Slack rejected the message (${status}): cutover-watch built a payload Slack does not accept; report it`;
      } else {
        message = `Slack answered ${status}`;
      }
    } else if (state.lastFailure !== null && 'status' in state.lastFailure) {
      message = `Slack answered HTTP ${state.lastFailure.status} after ${attempts}`;
    } else if (state.lastFailure !== null && isTimeout(state.lastFailure.error)) {
      message = `Slack webhook did not answer within ${this.#timeoutMs / 1000} s (${attempts})`;
    } else if (state.lastFailure !== null) {
      message = `Slack webhook could not be reached (${networkReason(state.lastFailure.error)}) after ${attempts}`;
    } else {
      message = `Slack delivery failed (${err instanceof Error ? err.name : typeof err})`;
    }
    const safeMessage = this.#redact(message);
    // Keep the library's error as the cause unless something in its chain repeats the URL.
    return this.#mentionsSecret(err)
      ? new DeliveryError(this.name, safeMessage)
      : new DeliveryError(this.name, safeMessage, { cause: err });
  }

  #redact(text: string): string {
    return this.#secretParts.reduce((out, part) => out.replaceAll(part, '<webhook URL>'), text);
  }

  #mentionsSecret(err: unknown, depth = 0): boolean {
    if (depth > 5 || err === null || typeof err !== 'object') return false;
    const e = err as { message?: unknown; stack?: unknown; body?: unknown; cause?: unknown };
    const texts = [e.message, e.stack, e.body].filter((t): t is string => typeof t === 'string');
    if (texts.some((t) => this.#secretParts.some((part) => t.includes(part)))) return true;
    return this.#mentionsSecret(e.cause, depth + 1);
  }
}

/** `AbortSignal.timeout` rejects fetch with a `TimeoutError` DOMException. */
function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
}

/** undici's `fetch failed` carries the socket error as its cause: show its code (ECONNREFUSED, ENOTFOUND…). */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (error instanceof Error) return error.message.split('\n')[0] ?? error.name;
  return String(error);
}

// ---------------------------------------------------------------------------------------------
// SNS

/**
 * SNS's maximum message size, body plus all attributes (names, types, values): 256 KiB by
 * default (Publish, `Message`: "a message can be at most 256 KiB in size (262,144 bytes, not
 * 262,144 characters)"). A topic's `MaximumMessageSize` may allow up to 1 MiB; 256 KiB fits any.
 */
export const SNS_MAX_MESSAGE_BYTES = 262_144;
/** Room left for what SNS may count that we do not see (the subject, encodings). */
const SNS_SIZE_MARGIN_BYTES = 2_048;
/** Longest prose field (summary, cause, next step) and identifier we put in a message. */
const PROSE_MAX_CHARS = 20_000;
const VALUE_MAX_CHARS = 1_000;
/** Prose in the `alert` attribute: enough for a chat message, small next to the text's budget. */
const ATTRIBUTE_PROSE_MAX_CHARS = 4_000;
const TRUNCATED_NOTE = "\n[truncated to fit SNS's 256 KiB message limit]";

/** The message attribute carrying the alert as JSON. */
export const ALERT_ATTRIBUTE = 'alert';

export interface SnsSinkOptions {
  client: SNSClient;
  topicArn: string;
}

/**
 * Publishes alerts to an SNS topic: the subject for email, the plain text as the message, and
 * `detection`, `severity` and `cluster` as message attributes so subscribers can filter with a
 * filter policy (for example `{"severity": ["high", "critical"]}`).
 */
export class SnsSink implements AlertSink {
  readonly name = 'sns';

  constructor(private readonly opts: SnsSinkOptions) {}

  async send(alert: Alert): Promise<void> {
    try {
      await this.opts.client.send(new PublishCommand(snsPublishInput(alert, this.opts.topicArn)));
    } catch (err) {
      throw snsDeliveryError(err, this.opts.topicArn);
    }
  }
}

/** The Publish request for one alert, within SNS's size limit. */
export function snsPublishInput(alert: Alert, topicArn: string): PublishCommandInput {
  const attributes: Record<string, MessageAttributeValue> = {
    detection: { DataType: 'String', StringValue: alert.detection },
    severity: { DataType: 'String', StringValue: alert.severity },
  };
  if (alert.cluster) attributes['cluster'] = { DataType: 'String', StringValue: alert.cluster.slice(0, VALUE_MAX_CHARS) };
  // The whole alert, for programs subscribed to the topic (the Slack notifier): the message itself
  // is the text a person reads in an inbox.
  attributes[ALERT_ATTRIBUTE] = { DataType: 'String', StringValue: JSON.stringify(boundedAlert(alert, ATTRIBUTE_PROSE_MAX_CHARS)) };
  const attributeBytes = Object.entries(attributes).reduce(
    (sum, [name, v]) => sum + utf8Bytes(name) + utf8Bytes(v.DataType ?? '') + utf8Bytes(v.StringValue ?? ''),
    0,
  );
  const budget = SNS_MAX_MESSAGE_BYTES - attributeBytes - SNS_SIZE_MARGIN_BYTES;
  return {
    TopicArn: topicArn,
    Subject: alertSubject(alert),
    Message: truncateUtf8(alertText(boundedAlert(alert)), budget, TRUNCATED_NOTE),
    MessageAttributes: attributes,
  };
}

/**
 * The alert with each field cut to a size that keeps the whole text well under the limit, so
 * an oversized field is shortened where it is and the text keeps its sections (cause, next
 * step); `truncateUtf8` is only the last guard.
 */
function boundedAlert(alert: Alert, proseMax = PROSE_MAX_CHARS): Alert {
  const prose = (s: string) => (s.length > proseMax ? `${s.slice(0, proseMax)}…` : s);
  const value = (s: string | null) => (s !== null && s.length > VALUE_MAX_CHARS ? `${s.slice(0, VALUE_MAX_CHARS)}…` : s);
  return {
    ...alert,
    id: value(alert.id) ?? alert.id,
    key: value(alert.key) ?? alert.key,
    window: value(alert.window) ?? alert.window,
    cluster: value(alert.cluster),
    clusterArn: value(alert.clusterArn),
    oidcIssuer: value(alert.oidcIssuer),
    namespace: value(alert.namespace),
    serviceAccount: value(alert.serviceAccount),
    roleArn: value(alert.roleArn),
    nodeRoleArn: value(alert.nodeRoleArn),
    nodeInstanceId: value(alert.nodeInstanceId),
    action: value(alert.action),
    firstEventTime: value(alert.firstEventTime) ?? alert.firstEventTime,
    lastEventTime: value(alert.lastEventTime) ?? alert.lastEventTime,
    raisedAt: value(alert.raisedAt) ?? alert.raisedAt,
    sampleEventIds: alert.sampleEventIds.slice(0, SAMPLE_EVENT_IDS).map((id) => value(id) ?? id),
    summary: prose(alert.summary),
    likelyCause: prose(alert.likelyCause),
    nextStep: prose(alert.nextStep),
  };
}

const encoder = new TextEncoder();
const utf8Bytes = (s: string): number => encoder.encode(s).length;

/** `text` if it fits in `maxBytes` of UTF-8, else its longest prefix that fits with `note`, cut on a character boundary. */
export function truncateUtf8(text: string, maxBytes: number, note: string): string {
  const bytes = encoder.encode(text);
  if (bytes.length <= maxBytes) return text;
  let end = Math.max(0, maxBytes - utf8Bytes(note));
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1; // not inside a multi-byte character
  return new TextDecoder().decode(bytes.subarray(0, end)) + note;
}

/** What each SNS error means for whoever runs cutover-watch. */
function snsDeliveryError(err: unknown, topicArn: string): DeliveryError {
  const name = err instanceof Error ? err.name : 'Error';
  const aws = err instanceof Error && err.message ? ` ${err.message.replace(/\s+/g, ' ').trim()}` : '';
  const region = topicArn.split(':')[3] || 'unknown';
  const kms = `the KMS key that encrypts topic ${topicArn}`;
  const messages: Record<string, string> = {
    NotFoundException: `SNS topic ${topicArn} does not exist (${name}): check the configured topic ARN, and that the SNS client uses the topic's region (${region})`,
    AuthorizationErrorException: `not allowed to publish to ${topicArn} (${name}:${aws}): grant sns:Publish on the topic to this role, and check the topic's access policy does not deny it`,
    KMSAccessDeniedException: `SNS could not use ${kms} (${name}): the key policy must allow this role kms:GenerateDataKey* and kms:Decrypt`,
    KMSDisabledException: `${kms} is disabled (${name}): enable the key, or change the topic's KmsMasterKeyId`,
    KMSInvalidStateException: `${kms} cannot be used in its current state (${name}, e.g. pending deletion): cancel the deletion or change the topic's KmsMasterKeyId`,
    KMSNotFoundException: `${kms} does not exist (${name}): check the topic's KmsMasterKeyId`,
    KMSOptInRequired: `the account is not subscribed to AWS KMS (${name}), which ${kms} needs`,
    KMSThrottlingException: `KMS throttled SNS for ${kms} (${name}) after the SDK's retries: check the account's KMS request quota`,
    ThrottledException: `SNS throttled publishing to ${topicArn} (${name}) after the SDK's retries: check the account's Publish quota for ${region}`,
    InvalidParameterException: `SNS rejected the alert for ${topicArn} (${name}:${aws}): cutover-watch built a request SNS does not accept; report it`,
    InvalidParameterValueException: `SNS rejected the alert for ${topicArn} (${name}:${aws}): cutover-watch built a request SNS does not accept; report it`,
    ValidationException: `SNS rejected the alert for ${topicArn} (${name}:${aws}): cutover-watch built a request SNS does not accept; report it`,
    InvalidSecurityException: `SNS refused the request's signature for ${topicArn} (${name}): check the credentials and the client's clock`,
    CredentialsProviderError: `no AWS credentials to publish to ${topicArn} (${name}): run with a role, a profile or AWS_* environment variables`,
  };
  return new DeliveryError('sns', messages[name] ?? `publishing to ${topicArn} failed (${name}:${aws})`, { cause: err });
}

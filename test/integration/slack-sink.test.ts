import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryError, SlackSink } from '../../functions/adapters/alert-sinks';
import type { Alert } from '../../functions/core/alert';

// A real HTTP server on 127.0.0.1 stands in for hooks.slack.com: the sink, @slack/webhook and
// Node's fetch run exactly as in production, only the answers are scripted.

const SECRET = 'XXsecretTOKENdoNotLeak42';
const HOSTILE_NAMESPACE = '<!channel>';
const HOSTILE_USER_AGENT = '<https://evil.example|click here> @here';

interface Seen {
  method: string;
  contentType: string | undefined;
  body: string;
}
type Responder = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let baseUrl: string;
let seen: Seen[] = [];
let responders: Responder[] = [];

const answer =
  (status: number, body: string, headers: Record<string, string> = {}): Responder =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'text/plain', ...headers });
    res.end(body);
  };
/** Reads the request and never answers. */
const silent: Responder = () => {};

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', contentType: req.headers['content-type'], body });
      const respond = responders.shift() ?? answer(200, 'ok');
      respond(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(() => {
  seen = [];
  responders = [];
});

afterAll(async () => {
  server.closeAllConnections(); // keep-alive sockets would hold close() open
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
});

const webhookUrl = () => `${baseUrl}/services/T0000TEST/B0000TEST/${SECRET}`;

function sleepRecorder(): { sleep: (ms: number) => Promise<void>; waits: number[] } {
  const waits: number[] = [];
  return { waits, sleep: async (ms) => void waits.push(ms) };
}

function makeAlert(over: Partial<Alert> = {}): Alert {
  return {
    id: 'node-role-fallthrough:00000000000000aa',
    detection: 'node-role-fallthrough',
    severity: 'high',
    key: 'arn:aws:iam::111122223333:role/eks-node|s3:GetObject',
    window: '2026-11-20T18:00:00.000Z',
    cluster: 'payments-prod',
    clusterArn: 'arn:aws:eks:us-east-1:111122223333:cluster/payments-prod',
    oidcIssuer: null,
    namespace: HOSTILE_NAMESPACE,
    serviceAccount: null,
    roleArn: null,
    nodeRoleArn: 'arn:aws:iam::111122223333:role/eks-node',
    nodeInstanceId: 'i-0abc1234def567890',
    action: 's3:GetObject',
    count: 12,
    firstEventTime: '2026-11-20T21:58:00Z',
    lastEventTime: '2026-11-20T22:03:00Z',
    sampleEventIds: ['6f1c2b3a-1111-2222-3333-444455556666'],
    summary: 's3:GetObject called with the instance role of i-0abc1234def567890 in payments-prod',
    likelyCause: 'a pod fell back to the node role through IMDS',
    nextStep: `find the pod on i-0abc1234def567890 (user agent: ${HOSTILE_USER_AGENT})`,
    raisedAt: '2026-11-20T22:05:00Z',
    ...over,
  };
}

/** Every text in a Block Kit payload, wherever it sits. */
function allTexts(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(allTexts);
  if (value && typeof value === 'object') return Object.values(value).flatMap(allTexts);
  return [];
}

describe('SlackSink against a real HTTP server', () => {
  it('posts one Block Kit message with the summary, cause and next step, hostile values escaped', async () => {
    const sink = new SlackSink({ webhookUrl: webhookUrl() });

    await sink.send(makeAlert());

    expect(seen).toHaveLength(1);
    expect(seen[0]!.method).toBe('POST');
    expect(seen[0]!.contentType).toBe('application/json');
    const payload = JSON.parse(seen[0]!.body) as { text: string; blocks: unknown[]; unfurl_links: boolean; unfurl_media: boolean };
    const texts = allTexts(payload.blocks);
    expect(texts.some((t) => t.includes('s3:GetObject called with the instance role of i-0abc1234def567890 in payments-prod'))).toBe(true);
    expect(texts).toContain('*Likely cause*\na pod fell back to the node role through IMDS');
    expect(texts.some((t) => t.startsWith('*Next step*\nfind the pod on i-0abc1234def567890'))).toBe(true);
    expect(texts).toContain('*Namespace*\n`&lt;!channel&gt;`');
    // Nothing Slack would turn into a broadcast, a mention or a link, anywhere in the body.
    expect(seen[0]!.body).not.toContain('<!channel>');
    expect(seen[0]!.body).not.toContain('<http');
    expect(seen[0]!.body).not.toMatch(/@here/);
    expect(payload.unfurl_links).toBe(false);
    expect(payload.unfurl_media).toBe(false);
    expect(payload.text).toContain('HIGH · node-role-fallthrough');
  });

  it('retries HTTP 500 through the library and succeeds on the third request', async () => {
    responders = [answer(500, 'internal_error'), answer(500, 'internal_error'), answer(200, 'ok')];
    const sink = new SlackSink({ webhookUrl: webhookUrl() });

    await expect(sink.send(makeAlert())).resolves.toBeUndefined();

    expect(seen).toHaveLength(3);
    expect(seen[2]!.body).toBe(seen[0]!.body);
  });

  it('waits what Retry-After asks after HTTP 429, then succeeds', async () => {
    responders = [answer(429, 'rate_limited', { 'retry-after': '2' }), answer(200, 'ok')];
    const { sleep, waits } = sleepRecorder();
    const sink = new SlackSink({ webhookUrl: webhookUrl(), sleep });

    await sink.send(makeAlert());

    expect(seen).toHaveLength(2);
    expect(waits).toEqual([2000]);
  });

  it('caps Retry-After at 30 s, defaults it to 1 s, and gives up on 429 after `retries` waits', async () => {
    responders = [
      answer(429, 'rate_limited', { 'retry-after': '120' }),
      answer(429, 'rate_limited'),
      answer(429, 'rate_limited', { 'retry-after': '3' }),
    ];
    const { sleep, waits } = sleepRecorder();
    const sink = new SlackSink({ webhookUrl: webhookUrl(), sleep, retries: 2 });

    const error = await sink.send(makeAlert()).catch((e: unknown) => e);

    expect(waits).toEqual([30_000, 1_000]);
    expect(seen).toHaveLength(3);
    expect(error).toBeInstanceOf(DeliveryError);
    expect((error as DeliveryError).message).toMatch(/^Slack rate-limited the webhook \(HTTP 429\) after 3 attempts/);
  });

  it('reports a gone webhook (404 no_service) after one request, without the secret URL', async () => {
    responders = [answer(404, 'no_service')];
    const sink = new SlackSink({ webhookUrl: webhookUrl() });

    const error = await sink.send(makeAlert()).catch((e: unknown) => e);

    expect(seen).toHaveLength(1);
    expect(error).toBeInstanceOf(DeliveryError);
    const delivery = error as DeliveryError;
    expect(delivery.sink).toBe('slack');
    expect(delivery.message).toBe(
      'Slack webhook is gone (HTTP 404 no_service): create a new incoming webhook and update the configured URL',
    );
    expect(delivery.message).not.toContain(SECRET);
    expect(inspect(delivery, { depth: 10 })).not.toContain(SECRET);
  });

  it('treats 403 invalid_token as a gone webhook too', async () => {
    responders = [answer(403, 'invalid_token')];
    const sink = new SlackSink({ webhookUrl: webhookUrl() });

    await expect(sink.send(makeAlert())).rejects.toThrow(/^Slack webhook is gone \(HTTP 403 invalid_token\)/);
    expect(seen).toHaveLength(1);
  });

  it('reports the last 5xx with the number of attempts when retries run out', async () => {
    responders = [answer(502, 'bad gateway'), answer(500, 'internal_error')];
    const sink = new SlackSink({ webhookUrl: webhookUrl(), retries: 1 });

    await expect(sink.send(makeAlert())).rejects.toThrow(new DeliveryError('slack', 'Slack answered HTTP 500 after 2 attempts'));
    expect(seen).toHaveLength(2);
  });

  // No stopwatch (speed belongs in benchmarks): a sink that ignored timeoutMs would wait for the
  // silent server until this test's own timeout, 25 times the two attempts' 0.2 s.
  it('gives up on a server that never answers, within the timeout per attempt', { timeout: 10_000 }, async () => {
    responders = [silent, silent];
    const sink = new SlackSink({ webhookUrl: webhookUrl(), timeoutMs: 200, retries: 1 });

    const error = await sink.send(makeAlert()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DeliveryError);
    expect((error as DeliveryError).message).toBe('Slack webhook did not answer within 0.2 s (2 attempts)');
    expect(seen).toHaveLength(2);
    expect(inspect(error, { depth: 10 })).not.toContain(SECRET);
  });

  it('says the webhook could not be reached when nothing listens, without the secret URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const sink = new SlackSink({ webhookUrl: `http://127.0.0.1:${port}/services/T0/B0/${SECRET}`, retries: 1 });

    const error = await sink.send(makeAlert()).catch((e: unknown) => e);

    expect((error as DeliveryError).message).toBe('Slack webhook could not be reached (ECONNREFUSED) after 2 attempts');
    expect(inspect(error, { depth: 10 })).not.toContain(SECRET);
  });
});

import { vi } from 'vitest';

/**
 * What a Lambda handler module reads when it is imported, for a test file of its own process (the
 * `handlers` project): the DynamoDB endpoint of the test's embedded store, a region and fake
 * credentials, Powertools' dev mode, and `extra`; the handlers' logs muted.
 */
export function handlerEnvironment(dynamodbEndpoint: string, extra: Record<string, string> = {}): void {
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_DYNAMODB: dynamodbEndpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    POWERTOOLS_DEV: 'true',
    ...extra,
  });
  for (const level of ['log', 'info', 'warn', 'error'] as const) vi.spyOn(console, level).mockImplementation(() => undefined);
}

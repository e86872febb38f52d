// The ingest's SQS batching as plain numbers, apart from its construct: the handler's tests batch
// the way the event source does without loading aws-cdk-lib (half a second in each fresh process).

/**
 * The most messages per invocation a standard queue allows (10,000,
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html). The poller also
 * stops at the 6 MB synchronous invocation payload ("up to the payload limit for synchronous
 * invocation (6 MB)", https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html):
 * with CloudTrail events of 2-3 KB in their SQS envelope, a busy batch ends there, around 2,000 messages.
 */
export const INGEST_BATCH_SIZE = 10_000;
/** The SQS event source's own batch payload cap (see INGEST_BATCH_SIZE). */
export const INGEST_BATCH_PAYLOAD_BYTES = 6 * 1024 * 1024;

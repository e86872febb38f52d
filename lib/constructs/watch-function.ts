import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RemovalPolicy, Validations, type Duration } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, LoggingFormat, Runtime, Tracing, type IDestination } from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** The directory of the Lambda entry points (`functions/handlers/<name>.ts`, each `export const handler`). */
export const HANDLERS_DIR = fileURLToPath(new URL('../../functions/handlers/', import.meta.url));

/** Powertools service name: the `service` dimension of every metric the handlers emit. */
export const POWERTOOLS_SERVICE_NAME = 'cutover-watch';
/** Powertools metrics namespace (the dashboard's namespace). */
export const METRICS_NAMESPACE = 'CutoverWatch';

/** Lambda caps the environment at 4 KB (keys and values; Lambda developer guide, "Lambda quotas"). */
const MAX_ENVIRONMENT_BYTES = 4096;

/**
 * The environment each handler reads, by handler file name: a function cannot be created without
 * the variables its handler requires (`requiredEnv` in functions/handlers/runtime.ts throws at
 * cold start otherwise).
 */
export interface HandlerEnvironments {
  ingest: {
    TABLE_NAME: string;
    /** Comma list; may be empty. */
    NODE_ROLE_ARNS: string;
    /** The policy file's JSON as written; absent → the handler's defaults. */
    POLICY?: string;
  };
  'alert-publisher': { TOPIC_ARN: string };
  'slack-notifier': { SLACK_SECRET_ARN: string };
  inventory: {
    TABLE_NAME: string;
    EKS_REGIONS: string;
    POLICY?: string;
    /** Comma list of member accounts read through their read role; absent → this account only. */
    MEMBER_ACCOUNTS?: string;
    /** The member read role's ARN with `{account}` for the member's id. */
    MEMBER_READ_ROLE_ARN?: string;
  };
  report: { TABLE_NAME: string; TOPIC_ARN: string; REPORT_BUCKET: string; SOAK_DAYS: string; LIVE_GAP_HOURS: string; POLICY?: string };
  'trail-fold': {
    TABLE_NAME: string;
    TRAIL_BUCKET: string;
    /** Above the account folders, ending in `/`. */
    TRAIL_PREFIX: string;
    /** Comma list; absent → every account folder under the prefix. */
    TRAIL_ACCOUNTS?: string;
    /** Comma list. */
    TRAIL_REGIONS: string;
    TRAIL_LOOKBACK_DAYS: string;
    /** Comma list; may be empty. */
    NODE_ROLE_ARNS: string;
    POLICY?: string;
  };
}
export type HandlerName = keyof HandlerEnvironments;

/**
 * How Lambda is invoked decides where a failure ends up: an event source mapping keeps failed
 * records in its own failure path (queue redrive, stream on-failure destination); an asynchronous
 * caller (EventBridge Scheduler, SNS) needs the function's on-failure destination.
 */
export type Invocation =
  | { readonly kind: 'event-source'; readonly failurePath: string }
  | {
      readonly kind: 'asynchronous';
      /** Where an invocation that failed every retry goes. */
      readonly onFailure: IDestination;
      /** Retries of a failed asynchronous invocation. @default 2 (Lambda's default) */
      readonly retryAttempts?: number;
    };

export interface WatchFunctionProps<H extends HandlerName> {
  /** The entry point, `functions/handlers/<handler>.ts`. */
  readonly handler: H;
  /** A fixed name for the function's role, when another account's trust policy must name it. @default generated */
  readonly roleName?: string;
  readonly description: string;
  readonly environment: HandlerEnvironments[H];
  /** Sized to the work, not left at Lambda's 3 s default. */
  readonly timeout: Duration;
  /** In MB. */
  readonly memorySize: number;
  /** @default RetentionDays.THREE_MONTHS */
  readonly logRetention?: RetentionDays;
  /** What happens to the log group when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
  readonly invocation: Invocation;
  /** @default false - the handlers are not instrumented with the Powertools tracer */
  readonly tracing?: boolean;
  /**
   * Files copied beside the bundle, for a handler that reads them from LAMBDA_TASK_ROOT at run time.
   * @default none
   */
  readonly copyIntoBundle?: readonly string[];
}

/**
 * A handler of functions/handlers as a Lambda function, with the house defaults in one place:
 * Node 22 on ARM64, an ESM bundle built by the local esbuild (never Docker), source maps, JSON
 * logs into an explicit log group with retention, the Powertools environment, and a role of its own
 * that starts with nothing but writing to that log group (no AWSLambdaBasicExecutionRole).
 *
 * @example
 * const fn = new WatchFunction(this, 'Ingest', {
 *   handler: 'ingest', description: 'CloudTrail events → evidence', timeout: Duration.seconds(60), memorySize: 1024,
 *   environment: { TABLE_NAME: table.tableName, NODE_ROLE_ARNS: '' },
 *   invocation: { kind: 'event-source', failurePath: 'the queue redrives to its DLQ' },
 * });
 * table.grantReadWriteData(fn.function);
 */
export class WatchFunction<H extends HandlerName> extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: WatchFunctionProps<H>) {
    super(scope, id);
    const environment = definedOnly({
      ...props.environment,
      POWERTOOLS_SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      POWERTOOLS_LOG_LEVEL: 'INFO',
      NODE_OPTIONS: '--enable-source-maps',
    });
    for (const file of props.copyIntoBundle ?? []) {
      if (!existsSync(file)) throw new Error(`the ${props.handler} function needs ${file} beside its bundle, and it does not exist: run npm ci`);
    }
    const size = Object.entries(environment).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
    if (size > MAX_ENVIRONMENT_BYTES) {
      throw new Error(
        `the ${props.handler} function's environment is ${size} bytes, over Lambda's ${MAX_ENVIRONMENT_BYTES}: shorten the policy file (omit keys left at their defaults) or use nodeRolePatterns instead of listing nodeRoleArns`,
      );
    }

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? RetentionDays.THREE_MONTHS,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `cutover-watch ${props.handler} function`,
      roleName: props.roleName,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: `${HANDLERS_DIR}${props.handler}.ts`,
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      timeout: props.timeout,
      memorySize: props.memorySize,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      tracing: props.tracing ? Tracing.ACTIVE : Tracing.DISABLED,
      environment,
      ...(props.invocation.kind === 'asynchronous' ? { onFailure: props.invocation.onFailure, retryAttempts: props.invocation.retryAttempts } : {}),
      bundling: {
        // Local esbuild only (devDependency): synth must work without Docker.
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        // One bundling policy for every function: the AWS SDK is bundled too, so the versions that
        // run are the ones our lockfile pins and the tests ran with, not the runtime's copy.
        externalModules: [],
        // CommonJS dependencies bundled into ESM still call require() for Node built-ins.
        banner: "import { createRequire as topLevelCreateRequire } from 'node:module'; const require = topLevelCreateRequire(import.meta.url);",
        minify: true,
        keepNames: true,
        sourceMap: true,
        sourcesContent: false,
        // esbuild prints each bundle's size on success; errors (and only errors) still show.
        logLevel: LogLevel.ERROR,
        ...(props.copyIntoBundle?.length
          ? {
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: (_inputDir: string, outputDir: string) => (props.copyIntoBundle ?? []).map((file) => `cp "${file}" "${outputDir}/"`),
              },
            }
          : {}),
      },
    });

    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Node.js 22 is the runtime the project targets and tests (runtime and esbuild target node22 above); move with the project, not per function',
    });
    Validations.of(this.function).acknowledge({
      id: 'Serverless-LambdaLatestVersion',
      reason: 'Node.js 22 is the runtime the project targets and tests (runtime and esbuild target node22 above); move with the project, not per function',
    });
    Validations.of(this.function).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason:
        props.invocation.kind === 'asynchronous'
          ? 'asynchronous failures go to the on-failure destination (EventInvokeConfig), which records the error and request context a DeadLetterConfig would not'
          : `invoked synchronously by an event source mapping, where DeadLetterConfig never applies: ${props.invocation.failurePath}`,
    });
    if (!props.tracing) {
      Validations.of(this.function).acknowledge({
        id: 'Serverless-LambdaTracing',
        reason: 'the handlers carry no tracer; each function is one hop observed through its Powertools metrics and structured logs (set tracing to turn X-Ray on)',
      });
    }
  }
}

function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

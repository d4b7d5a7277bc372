/**
 * JSON schemas of the REST API. Fastify validates bodies, params and query strings with them (ajv, no coercion,
 * no removal of extra properties: anything not declared is a 400), and the OpenAPI document is built from them.
 */

const str = (max: number, extra: Record<string, unknown> = {}) => ({ type: 'string', minLength: 1, maxLength: max, ...extra });

export const TENANT_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';
export const GPU_TYPE_PATTERN = '^[a-z0-9][a-z0-9_.-]{0,63}$';
export const JOB_ID_PATTERN = '^job-[0-9]{1,15}$';
export const WORKER_ID_PATTERN = '^w-[0-9]{1,15}$';
const DIGITS = '^[0-9]{1,15}$';

/**
 * Bounds of every number a tenant controls. A value outside them is a 400 naming the field and the range; inside
 * them the policies' LPs stay well scaled (a weight of 5e-324 once made every round fail for every tenant).
 */
export const BOUNDS = {
  priorityWeight: { minimum: 0.01, maximum: 100 },
  sloFactor: { minimum: 1, maximum: 1000 },
  deadlineS: { minimum: 1, maximum: 1e9 },
  totalSteps: { minimum: 1, maximum: 1e15 },
  scaleFactor: { minimum: 1, maximum: 1024 },
  stepsPerSecond: { minimum: 1e-6, maximum: 1e9 },
  durationS: { minimum: 1, maximum: 1e9 },
  /** A job's own report of its throughput (steps/s); values below the minimum are no measurement. */
  throughput: { minimum: 0, maximum: 1e9 },
} as const;

const bounded = (kind: 'number' | 'integer', b: { readonly minimum: number; readonly maximum: number }, description?: string) => ({
  type: kind,
  minimum: b.minimum,
  maximum: b.maximum,
  ...(description ? { description } : {}),
});

/** Query-string page sizes: `GET /api/v1/jobs` answers this many jobs when `limit` is absent, and never more than the maximum. */
export const JOBS_PAGE = { default: 100, maximum: 1000 } as const;

export const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { status: { type: 'integer' }, code: { type: 'string' }, message: { type: 'string' } },
      required: ['status', 'code', 'message'],
    },
  },
  required: ['error'],
};

export const submitJobBody = {
  type: 'object',
  additionalProperties: false,
  required: ['command', 'cwd'],
  properties: {
    name: str(256),
    command: { type: 'array', minItems: 1, maxItems: 256, items: { type: 'string', minLength: 1, maxLength: 4096 } },
    cwd: str(4096, { pattern: '^/', description: 'absolute, normalised working directory (no "..", "." or "//" segments)', examples: ['/tmp'] }),
    env: {
      type: 'object',
      maxProperties: 100,
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$' },
      additionalProperties: { type: 'string', maxLength: 4096 },
    },
    scaleFactor: bounded('integer', BOUNDS.scaleFactor, 'GPUs, gang-scheduled on one worker and one GPU type'),
    jobType: str(256, { description: 'model name as in a throughput table, when known' }),
    priorityWeight: bounded('number', BOUNDS.priorityWeight, 'relative weight in weighted policies (default 1)'),
    tenant: { type: 'string', pattern: TENANT_PATTERN },
    sloFactor: bounded('number', BOUNDS.sloFactor, 'SLO as a multiple of the time the job takes alone'),
    deadlineS: bounded('number', BOUNDS.deadlineS, 'seconds from submission'),
    totalSteps: bounded('number', BOUNDS.totalSteps),
    gpuTypes: { type: 'array', minItems: 1, maxItems: 32, uniqueItems: true, items: { type: 'string', pattern: GPU_TYPE_PATTERN } },
  },
};

export const jobSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: ['string', 'null'] },
    tenant: { type: 'string' },
    state: { type: 'string', enum: ['queued', 'running', 'completed', 'failed', 'cancelled'] },
    command: { type: 'array', items: { type: 'string' } },
    cwd: { type: 'string' },
    scaleFactor: { type: 'integer' },
    jobType: { type: ['string', 'null'] },
    priorityWeight: { type: 'number' },
    totalSteps: { type: ['number', 'null'] },
    stepsDone: { type: 'number' },
    checkpoint: { type: ['string', 'null'] },
    attempts: { type: 'integer' },
    submittedAt: { type: 'string', format: 'date-time' },
    startedAt: { type: ['string', 'null'] },
    finishedAt: { type: ['string', 'null'] },
    exitCode: { type: ['integer', 'null'], minimum: -2147483648, maximum: 2147483647 },
    failure: { type: ['string', 'null'] },
    cancelRequested: { type: 'boolean' },
    throughputs: {
      type: 'array',
      description: 'GET /jobs/:id only: steps/s per GPU type of the live cluster, where each value comes from, and its confidence (docs/estimate.md)',
      items: {
        type: 'object',
        properties: {
          gpuType: { type: 'string' },
          value: { type: 'number' },
          source: { type: 'string', enum: ['table', 'measured', 'estimated', 'default'] },
          confidence: { type: 'number' },
          uncertainty: { type: 'number' },
        },
      },
    },
  },
};

/** The `{id}` of a route's path, matching `pattern`. */
function idParams(pattern: string) {
  return { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', pattern } } };
}

export const jobIdParams = idParams(JOB_ID_PATTERN);

export const workerIdParams = idParams(WORKER_ID_PATTERN);

export const listJobsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    state: { type: 'string', pattern: '^(queued|running|completed|failed|cancelled)(,(queued|running|completed|failed|cancelled)){0,4}$' },
    limit: { type: 'string', pattern: '^[0-9]{1,4}$', description: `jobs per page, 1 to ${JOBS_PAGE.maximum} (default ${JOBS_PAGE.default})` },
    after: { type: 'string', pattern: DIGITS, description: 'cursor: return jobs submitted after this sequence number (the previous page\'s `next`)' },
  },
};

export const logsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { after: { type: 'string', pattern: DIGITS }, limit: { type: 'string', pattern: DIGITS } },
};

export const emptyQuery = { type: 'object', additionalProperties: false, properties: {} };

export const createTokenBody = {
  type: 'object',
  additionalProperties: false,
  required: ['kind'],
  properties: {
    kind: { type: 'string', enum: ['tenant', 'worker'] },
    tenant: { type: 'string', pattern: TENANT_PATTERN, description: 'required for a tenant token, absent for a worker token' },
    label: str(128),
  },
  // Stated in the schema (not only checked in the route) so the OpenAPI document says which bodies are valid.
  if: { properties: { kind: { const: 'tenant' } } },
  then: { required: ['tenant'] },
  else: { not: { required: ['tenant'] }, description: 'must not name a tenant: a worker token has none' },
};

export const tokenIdParams = idParams(DIGITS);

export const registerWorkerBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'gpus'],
  properties: {
    name: str(128),
    machine: { ...str(128), description: "a stable identity of the agent's machine (the agent sends a hash); with the name, a registration of the same worker retires the earlier one" },
    gpus: {
      type: 'array',
      minItems: 1,
      maxItems: 16,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['type', 'count'],
        properties: { type: { type: 'string', pattern: GPU_TYPE_PATTERN }, count: { type: 'integer', minimum: 1, maximum: 1024 } },
      },
    },
  },
};

const attemptId = { type: 'integer', minimum: 1, maximum: 1e15 };
const epochMs = { type: 'number', minimum: 0, maximum: 1e14 };

const progressProps = {
  steps: { type: 'number', minimum: 0, maximum: 1e15 },
  total: bounded('number', BOUNDS.totalSteps),
  throughput: bounded('number', BOUNDS.throughput, 'steps/s; below 1e-6 counts as no measurement'),
  checkpoint: { type: 'string', minLength: 1, maxLength: 4096 },
};

/**
 * In a worker's sync the same reports are relayed from job output (`RONDO_PROGRESS` lines, which the agent bounds at
 * 1e15): a job must not be able to make its worker's heartbeat a 400, so the store drops out-of-range throughputs
 * rather than the schema rejecting them.
 */
const relayedProgressProps = {
  ...progressProps,
  total: { type: 'number', exclusiveMinimum: 0, maximum: 1e15 },
  throughput: { type: 'number', minimum: 0, maximum: 1e15 },
};

export const syncBody = {
  type: 'object',
  additionalProperties: false,
  required: ['running', 'ended', 'progress', 'logs'],
  properties: {
    running: {
      type: 'array',
      maxItems: 1024,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['attempt', 'pid', 'startedAt'],
        properties: { attempt: attemptId, pid: { type: 'integer', minimum: 0, maximum: 2147483647 }, startedAt: epochMs },
      },
    },
    ended: {
      type: 'array',
      maxItems: 1024,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['attempt', 'exitCode', 'signal', 'stoppedByWorker', 'spawnError', 'at'],
        properties: {
          attempt: attemptId,
          exitCode: { type: ['integer', 'null'], minimum: -2147483648, maximum: 2147483647 },
          signal: { type: ['string', 'null'], maxLength: 32 },
          stoppedByWorker: { type: 'boolean' },
          spawnError: { type: ['string', 'null'], maxLength: 4096 },
          at: epochMs,
          startedAt: epochMs,
        },
      },
    },
    progress: {
      type: 'array',
      maxItems: 1024,
      items: { type: 'object', additionalProperties: false, required: ['attempt'], properties: { attempt: attemptId, ...relayedProgressProps } },
    },
    logs: {
      type: 'array',
      maxItems: 1024,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['attempt', 'lines'],
        properties: {
          attempt: attemptId,
          lines: {
            type: 'array',
            maxItems: 2000,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['stream', 'text', 'at'],
              properties: { stream: { type: 'string', enum: ['stdout', 'stderr', 'system'] }, text: { type: 'string', maxLength: 8192 }, at: epochMs },
            },
          },
        },
      },
    },
  },
};

/** `POST /api/v1/workers/register`: many workers at once; `id` re-registers a known one. */
export const batchRegisterBody = {
  type: 'object',
  additionalProperties: false,
  required: ['workers'],
  properties: {
    workers: {
      type: 'array',
      minItems: 1,
      maxItems: 20_000,
      items: { type: 'object', additionalProperties: false, required: ['name', 'gpus'], properties: { id: { type: 'string', pattern: WORKER_ID_PATTERN }, ...registerWorkerBody.properties } },
    },
  },
};

/** `POST /api/v1/workers/sync`: many workers' heartbeats at once (arrays optional, bounded as in one sync). */
export const batchSyncBody = {
  type: 'object',
  additionalProperties: false,
  required: ['workers'],
  properties: {
    workers: {
      type: 'array',
      maxItems: 20_000,
      items: { type: 'object', additionalProperties: false, required: ['id'], properties: {
        id: { type: 'string', pattern: WORKER_ID_PATTERN },
        leaving: { type: 'boolean' },
        known: { type: 'array', maxItems: 1024, items: { type: 'array', minItems: 2, maxItems: 2, items: [attemptId, epochMs] } },
        needTokens: { type: 'array', maxItems: 1024, items: attemptId },
        ...syncBody.properties,
      } },
    },
  },
};

export const progressBody = { type: 'object', additionalProperties: false, properties: progressProps, minProperties: 1 };

export const whatIfBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    scaleFactor: bounded('integer', BOUNDS.scaleFactor),
    totalSteps: bounded('number', BOUNDS.totalSteps),
    stepsPerSecond: bounded('number', BOUNDS.stepsPerSecond),
    durationS: bounded('number', BOUNDS.durationS),
    gpuTypes: { type: 'array', minItems: 1, maxItems: 32, uniqueItems: true, items: { type: 'string', pattern: GPU_TYPE_PATTERN } },
    priorityWeight: bounded('number', BOUNDS.priorityWeight),
  },
};

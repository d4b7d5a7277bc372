/**
 * JSON schemas of success responses, for the OpenAPI document only (routes name them in `config.responses`; fastify
 * does not serialise with them, so a field added to a handler is never silently dropped). schemathesis
 * (test/api/schemathesis.test.ts) checks every answer against them, which keeps them true.
 */
import { jobSchema, JOB_ID_PATTERN, WORKER_ID_PATTERN } from './schemas.js';

const nullable = (type: string) => ({ type: [type, 'null'] });

export const tokenCreatedSchema = {
  type: 'object',
  required: ['id', 'kind', 'tenant', 'token'],
  properties: {
    id: { type: 'integer' },
    kind: { type: 'string', enum: ['tenant', 'worker'] },
    tenant: nullable('string'),
    token: { type: 'string', description: 'the token itself: shown this once, only its hash is stored' },
  },
};

export const tokenListSchema = {
  type: 'object',
  required: ['tokens'],
  properties: {
    tokens: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'kind', 'tenant', 'workerId', 'label', 'createdAt', 'revoked'],
        properties: {
          id: { type: 'integer' },
          kind: { type: 'string', enum: ['admin', 'tenant', 'worker'] },
          tenant: nullable('string'),
          workerId: nullable('string'),
          label: nullable('string'),
          createdAt: { type: 'number', description: 'ms since the epoch' },
          revoked: { type: 'boolean' },
        },
      },
    },
  },
};

export const tokenRevokedSchema = {
  type: 'object',
  required: ['id', 'revoked'],
  properties: { id: { type: 'integer' }, revoked: { type: 'boolean', const: true } },
};

export const workerRegisteredSchema = {
  type: 'object',
  required: ['id', 'heartbeatMs', 'graceMs'],
  properties: {
    id: { type: 'string', pattern: WORKER_ID_PATTERN },
    heartbeatMs: { type: 'number', exclusiveMinimum: 0 },
    graceMs: { type: 'number', minimum: 0 },
  },
};

export const jobListSchema = {
  type: 'object',
  required: ['jobs', 'next'],
  properties: {
    jobs: { type: 'array', items: jobSchema },
    next: { type: ['string', 'null'], description: 'cursor for `after`; null on the last page' },
  },
};

const reason = {
  type: ['object', 'null'],
  required: ['kind', 'text', 'round'],
  properties: { kind: { type: 'string' }, text: { type: 'string' }, round: { type: ['integer', 'null'] } },
};

export const jobWhySchema = {
  type: 'object',
  required: ['id', 'state', 'position', 'queued', 'estimatedStart', 'estimatedFinish', 'estimated', 'why', 'preemption', 'preemptions'],
  properties: {
    id: { type: 'string', pattern: JOB_ID_PATTERN },
    state: jobSchema.properties.state,
    position: { type: ['integer', 'null'], description: 'place in the queue (1 = next), null unless queued' },
    queued: { type: 'integer' },
    estimatedStart: nullable('string'),
    estimatedFinish: nullable('string'),
    estimated: { type: 'boolean' },
    why: { ...reason, description: "the planner's reason a queued job waits; null while it runs or before a round saw it" },
    preemption: { ...reason, description: 'its last preemption or move' },
    preemptions: { type: 'integer' },
  },
};

export * from './errors.js';
export * from './cluster.js';
export * from './job.js';
export * from './throughput.js';
export * from './allocation.js';
export * from './round.js';
export * from './random.js';
export * from './policy-job.js';

export type { Policy, PolicyJob, PolicyMeta, PolicyResult, PolicySnapshot } from './types.js';
export { getPolicy, isPolicyName, listPolicies, registerPolicy } from './registry.js';
export { initSolver } from '../solver/index.js';

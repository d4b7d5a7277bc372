export type { Policy, PolicyJob, PolicyMeta, PolicyResult, PolicySnapshot } from './types.js';
export { getPolicy, isPolicyName, listPolicies, registerPolicy } from './registry.js';
export { initSolver } from '../solver/index.js';
// Factories, for variants the registry does not name (e.g. base FIFO without Gavel's quirk, the plain per-job LP).
export { createFifoPolicy } from './fifo.js';
export type { FifoOptions, FifoState } from './fifo.js';
export { createFinishTimeFairnessPolicy } from './finish-time-fairness.js';
export type { FtfOptions, FtfState } from './finish-time-fairness.js';
export { createIsolatedPolicy } from './isolated.js';
export { createLasPolicy } from './las.js';
export { createPackedLasPolicy, packedLasObjective, solvePackedLas } from './las-packed.js';
export type { PackedLasOptions, PackedLasResult } from './las-packed.js';
export type { LasOptions } from './las.js';
export { createMaxSumPolicy, DEFAULT_PRICES } from './max-sum-throughput.js';
export { createMinTotalDurationPolicy } from './min-total-duration.js';
export { createSjfPolicy } from './sjf.js';
export { createWaterFillingPolicy } from './water-filling.js';
export type { Reweighting, WaterFillingOptions } from './water-filling.js';

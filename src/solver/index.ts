export { initSolver, solverReady } from './highs-runtime.js';
export { centralFallbackCount, LpBuilder, solverSeconds } from './lp.js';
export type { LpMethod, LpResult, LpStatus, SolveOptions, VarOptions, WarmStart } from './lp.js';
export { clearSolveCache, configureSolveCache, solveCacheStats } from './cache.js';
export type { SolveCacheStats } from './cache.js';

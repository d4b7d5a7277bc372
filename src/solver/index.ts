export { BasisStatus, centralFallbackCount, clearSolveCache, configureSolveCache, defaultSolver, initSolver, LpBuilder, Solver, solveCacheStats, solverReady, solverSeconds } from './lp.js';
export type { LpMethod, LpResult, LpStatus, SolveOptions, VarOptions, WarmStart } from './lp.js';
export type { SolveCacheStats } from './cache.js';

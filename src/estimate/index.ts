export * from './lowrank.js';
export * from './estimator.js';
export * from './live.js';

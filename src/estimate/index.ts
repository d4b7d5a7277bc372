export * from './lowrank.js';
export * from './estimator.js';

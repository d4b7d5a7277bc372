export * from './ledger.js';
export * from './plan.js';

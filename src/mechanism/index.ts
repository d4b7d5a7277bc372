export * from './budget.js';
export * from './ledger.js';
export * from './plan.js';
export * from './queue-index.js';

export * from './types.js';
export * from './loop.js';

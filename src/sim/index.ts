export * from './clock.js';
export * from './executor.js';
export * from './sources.js';
export * from './generate.js';
export * from './throughput.js';
export * from './simulate.js';
export * from './timeline.js';
export * from './stop.js';

export * from './grid.js';
export * from './presets.js';
export * from './point.js';
export * from './output.js';
export * from './run.js';
export * from './merge.js';

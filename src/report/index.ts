export * from './data.js';
export * from './charts.js';
export * from './html.js';

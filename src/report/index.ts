export * from './data.js';
export * from './charts.js';
export * from './html.js';
export * from './names.js';
export * from './gpu-colors.js';

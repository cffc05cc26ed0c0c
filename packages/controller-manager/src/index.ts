export * from './controller-context.js';
export * from './controllers.js';
export * from './start.js';

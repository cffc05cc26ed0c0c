export * from './api-error.js';
export * from './resources.js';
export * from './label-selector.js';
export * from './field-selector.js';
export * from './meta.js';
export * from './schema/schema-node.js';
export * from './quantity.js';

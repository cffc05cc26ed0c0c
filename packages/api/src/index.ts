export * from './core.js';
export * from './schema/schema-node.js';
export * from './schema/dsl.js';
export * from './schema/definitions.js';
export * from './schema/decoder.js';
export * from './schema/openapi.js';
export * from './patch/index.js';

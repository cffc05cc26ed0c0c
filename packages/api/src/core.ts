/**
 * The light part of the API package, like Kubernetes' apimachinery beside its api: object
 * metadata, the resource registry, selectors, quantities, durations and Status errors, with the
 * generated object types. What a client or node agent needs; it loads no schema definitions,
 * decoder, OpenAPI builder or patch engine (the API server's side: `@flotilla/api`, which
 * re-exports this too). Each module here imports only modules here.
 */
export * from './api-error.js';
export * from './resources.js';
export * from './label-selector.js';
export * from './field-selector.js';
export * from './meta.js';
export * from './quantity.js';
export * from './duration.js';
export type * from './types/generated.js';
export * from './node-selection.js';
export * from './bootstrap-token.js';
export * from './channel-protocols.js';
export * from './service-account-token.js';
export * from './resource-quota.js';

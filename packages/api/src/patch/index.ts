export * from './merge-patch.js';
export * from './strategic-merge-patch.js';
export * from './field-set.js';
export * from './server-side-apply.js';

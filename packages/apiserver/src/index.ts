export * from './storage/storage.js';
export { start, type ApiServerConfig, type ApiServerHandle } from './start.js';
export { main } from './main.js';

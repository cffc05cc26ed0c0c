export { main } from './main.js';
export { runServer, type ServerOptions } from './server.js';
export { Backoff, Supervised, ComponentExitedError, type ComponentSpec, type SupervisedOptions } from './supervisor.js';
export { componentBin } from './components.js';
export { ensureJoinToken } from './token.js';

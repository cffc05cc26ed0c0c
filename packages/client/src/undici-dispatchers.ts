/**
 * undici's connection pools (Pool, Agent) and its error classes, loaded without the package's entry
 * point. `import 'undici'` also loads fetch, WebSocket, EventSource, caches, cookies and mocks (110
 * modules), and its cookies module reads `globalThis.Headers`, which makes Node load and compile its
 * own bundled copy of undici as well: ~10 MiB of a long-running component's memory for parts it never
 * uses. These are the very same classes (the entry point re-exports these modules); the request API
 * (`dispatcher.request()` and friends) is installed on Dispatcher.prototype here as the entry point
 * does. undici-dispatchers.test.ts checks the identity, so an undici that moves its files fails there.
 */
import { createRequire } from 'node:module';
import type * as undici from 'undici';

const require = createRequire(import.meta.url);

const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as typeof undici.Dispatcher;
Object.assign(Dispatcher.prototype, require('undici/lib/api/index.js'));

/** undici's Pool (connections to one origin). */
export const UndiciPool = require('undici/lib/dispatcher/pool.js') as typeof undici.Pool;
/** undici's Agent (a pool per origin). */
export const UndiciAgent = require('undici/lib/dispatcher/agent.js') as typeof undici.Agent;
/** undici's error classes (`undici.errors`). */
export const undiciErrors = require('undici/lib/core/errors.js') as typeof undici.errors;

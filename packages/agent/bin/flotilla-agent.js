#!/usr/bin/env node
// V8 memory settings first, before the agent's modules load (src/v8-settings.ts).
import { applyAgentV8Settings } from '../dist/v8-settings.js';
import { agentEntry } from '../dist/agent-entry.js';

applyAgentV8Settings();
// The bundled agent when it is up to date with the compiled files, else those (src/agent-entry.ts).
const { main } = await import(agentEntry(new URL('../dist/', import.meta.url)).href);
main(process.argv.slice(2));

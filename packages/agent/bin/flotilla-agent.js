#!/usr/bin/env node
// V8 memory settings first, before the agent's modules load (src/v8-settings.ts).
import { applyAgentV8Settings } from '../dist/v8-settings.js';

applyAgentV8Settings();
const { main } = await import('../dist/main.js');
main(process.argv.slice(2));

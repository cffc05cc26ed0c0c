#!/usr/bin/env node
import { main } from '../dist/hollow-nodes-main.js';

main(process.argv.slice(2));

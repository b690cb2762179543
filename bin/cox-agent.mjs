#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx). Hosts get a one-file esbuild bundle instead (agent/bundle.ts).
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../agent/main.ts');
process.exitCode = await main(process.argv.slice(2));

#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx); there is no build step for the CLI.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../engine/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

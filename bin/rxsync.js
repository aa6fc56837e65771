#!/usr/bin/env node
// The `rxsync` command: runs the compiled CLI (npm run build first when working from a checkout).
import { main } from '../dist/server/cli.js';

const code = await main(process.argv.slice(2));
if (code !== 0) process.exit(code);

// The `rxsync` command from source, for specs that run sync servers as processes of their own
// (spec/support/server-process.ts bundles this file): kill -9, SIGSTOP and SIGTERM need a process.
import { main } from '../../src/server/cli.js';

const code = await main(process.argv.slice(2));
if (code !== 0) process.exit(code);

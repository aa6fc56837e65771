// The `rxsync` command from source, for benches that run sync servers as processes of their own
// (bench/run.mjs bundles this file next to the benches; bench/cli-process.ts spawns it): what
// `npx rxsync serve` runs, without `npm run build`.
import { main } from '../src/server/cli.js';

const code = await main(process.argv.slice(2));
if (code !== 0) process.exit(code);

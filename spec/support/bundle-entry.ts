import { mkdirSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const root = resolve(__dirname, '../..');
const bundles = new Map<string, Promise<string>>();

/**
 * `entry` (a file of spec/support that imports the sources) bundled once per test worker into
 * node_modules/.cache/rxsync-spec/`name`.mjs, npm packages left as imports, so that a spec can run
 * it as a process of its own without `npm run build`. Written under a name of its own and
 * renamed, as workers bundle at the same time.
 */
export function bundleEntry(entry: string, name: string): Promise<string> {
  let bundled = bundles.get(name);
  if (!bundled) {
    bundled = (async () => {
      const dir = join(root, 'node_modules', '.cache', 'rxsync-spec');
      mkdirSync(dir, { recursive: true });
      const out = join(dir, `${name}.mjs`);
      const temporary = join(dir, `${name}.${process.pid}.mjs`);
      await build({
        entryPoints: [join(__dirname, entry)],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        packages: 'external',
        outfile: temporary,
        logLevel: 'warning',
      });
      renameSync(temporary, out);
      return out;
    })();
    bundles.set(name, bundled);
  }
  return bundled;
}

/**
 * The benches' command-line options: `--name=value`, `--name value`, or a bare `--name` (a flag).
 */

/** The value of `--name`, 'true' for a bare flag, or undefined when it is not given. */
export function option(name: string): string | undefined {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1]?.startsWith('--') || args[i + 1] === undefined ? 'true' : args[i + 1];
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return undefined;
}

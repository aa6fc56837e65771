/**
 * How a bench process ends: exit 0 once main() resolves (open sockets or timers must not keep a
 * finished bench alive), or print the error and exit 1 so that bench/all.mjs sees the failure.
 */
export function runMain(main: () => Promise<unknown>): void {
  main().then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}

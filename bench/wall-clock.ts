/**
 * Time that two processes on one machine can compare: the live benches stamp a write in one
 * process and time its arrival in another.
 */

/** Wall-clock ms with sub-ms resolution, comparable between processes on one machine. */
export const wallNow = (): number => performance.timeOrigin + performance.now();

/**
 * The other process's clock minus ours, from IPC round trips (NTP style, the quickest of `samples`
 * round trips). Both use wallNow(); on one machine the offset is expected to be ~0, and this checks it.
 */
export async function clockOffset(ask: () => Promise<number>, samples = 30): Promise<{ offsetMs: number; rttMs: number }> {
  let best = { offsetMs: 0, rttMs: Infinity };
  for (let i = 0; i < samples; i++) {
    const t0 = wallNow();
    const remote = await ask();
    const t1 = wallNow();
    if (t1 - t0 < best.rttMs) best = { offsetMs: remote - (t0 + t1) / 2, rttMs: t1 - t0 };
  }
  return best;
}

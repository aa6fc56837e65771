import { cpus, loadavg } from 'node:os';

/** The load averages (1, 5, 15 min), for the start and end lines of a bench: other load skews every figure. */
export const loadAverage = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** `node v20..., 2 CPU(s) <model>`: what a bench ran on. */
export const machineLine = (): string => `node ${process.version}, ${cpus().length} CPU(s) ${cpus()[0]?.model ?? ''}`;

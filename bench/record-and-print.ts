/**
 * How a bench hands over its figures: into bench/results.json (bench/report.mjs builds the table
 * and chart from it), and as the last line of output, one JSON object, for whoever ran it.
 */
import { recordResults } from './results.js';

export interface RecordOptions {
  /** False for a partial or non-default run, whose figures would not compare with the recorded ones. */
  record?: boolean;
  /** Printed when the figures are not recorded, to say why. */
  notRecordedNote?: string;
  /** The last line's object, when it is more than { bench, ...data }. */
  printed?: Record<string, unknown>;
}

export function recordAndPrint(bench: string, section: string, data: Record<string, unknown>, options: RecordOptions = {}): void {
  if (options.record ?? true) recordResults(section, data);
  else if (options.notRecordedNote) console.log(options.notRecordedNote);
  console.log(JSON.stringify(options.printed ?? { bench, ...data }));
}

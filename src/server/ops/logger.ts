import { pino, type Logger } from 'pino';

/** What `--log-level` (or RXSYNC_LOG_LEVEL) takes: pino's levels, and silent for none. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/**
 * The CLI's logger: one JSON object a line on stdout (`level` as a word, `time` in ISO 8601, `msg`),
 * written synchronously so the lines of a shutdown are out before the process exits. Fields that
 * could hold a secret, should a log call ever pass one, are replaced by "[redacted]".
 */
export function createLogger(level: LogLevel): Logger {
  return pino(
    {
      level,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization', 'password', '*.password'],
        censor: '[redacted]',
      },
    },
    pino.destination({ dest: 1, sync: true }),
  );
}

// Structured logs with pino: JSON lines, or a readable form when stdout is a terminal.
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export function createLogger(
  fields: Record<string, string>,
  level = process.env.NOKUBE_LOG_LEVEL ?? 'info',
): Logger {
  const options = { level, base: { pid: process.pid, ...fields }, timestamp: pino.stdTimeFunctions.isoTime };
  if (process.stdout.isTTY) {
    return pino(
      options,
      pretty({ colorize: true, sync: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' }),
    );
  }
  return pino(options, pino.destination({ fd: 1, sync: false }));
}

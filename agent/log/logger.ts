// Structured logs with pino: JSON lines, or a readable form when stdout is a terminal. Every line also
// goes to `logTap`, where the OTLP log pipeline (agent/telemetry/logs/agent-source.ts) takes it when
// monitoring is on; with nothing attached a line costs one call.
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** A pino destination that hands each serialized line to whoever is attached (one at a time). */
export const logTap = {
  sink: undefined as ((line: string) => void) | undefined,
  write(line: string): void {
    this.sink?.(line);
  },
};

export function createLogger(
  fields: Record<string, string>,
  level = process.env.NOKUBE_LOG_LEVEL ?? 'info',
): Logger {
  const options = { level, base: { pid: process.pid, ...fields }, timestamp: pino.stdTimeFunctions.isoTime };
  const out = process.stdout.isTTY
    ? pretty({ colorize: true, sync: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' })
    : pino.destination({ fd: 1, sync: false });
  return pino(
    options,
    pino.multistream([
      { stream: out, level: level as pino.Level },
      { stream: logTap, level: level as pino.Level },
    ]),
  );
}

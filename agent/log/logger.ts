// Structured logs with pino: JSON lines, or for the agent a readable form when stdout is a terminal. Every line also
// goes to `logTap`, where the OTLP log pipeline (agent/telemetry/logs/agent-source.ts) takes it when
// monitoring is on; with nothing attached a line costs one call.
import pino, { type Logger } from 'pino';

export type { Logger };

/** A pino destination that hands each serialized line to whoever is attached (one at a time). */
export const logTap = {
  sink: undefined as ((line: string) => void) | undefined,
  write(line: string): void {
    this.sink?.(line);
  },
};

/** JSON lines on stdout (or on `out`). */
export function createLogger(
  fields: Record<string, string>,
  level = process.env.NOKUBE_LOG_LEVEL ?? 'info',
  out: pino.DestinationStream = pino.destination({ fd: 1, sync: false }),
): Logger {
  const options = { level, base: { pid: process.pid, ...fields }, timestamp: pino.stdTimeFunctions.isoTime };
  return pino(
    options,
    pino.multistream([
      { stream: out, level: level as pino.Level },
      { stream: logTap, level: level as pino.Level },
    ]),
  );
}

/** The agent's logger: readable lines when stdout is a terminal (pino-pretty, loaded only then), else JSON. */
export async function createAgentLogger(fields: Record<string, string>): Promise<Logger> {
  if (!process.stdout.isTTY) return createLogger(fields);
  const { default: pretty } = await import('pino-pretty');
  return createLogger(
    fields,
    undefined,
    pretty({ colorize: true, sync: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' }),
  );
}

// A container line's severity, when the line says it: a JSON log with a "level" (text, or pino/bunyan's
// number), logfmt's level=..., or a level word near the start ("2026-11-23 10:00:01 WARN ...", "[error]").
// Only the first 80 characters are looked at; undefined when none is found (the stream decides then).
import type { SeverityText } from './otlp.ts';

const WORDS: Record<string, SeverityText> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  notice: 'INFO',
  warn: 'WARN',
  warning: 'WARN',
  error: 'ERROR',
  err: 'ERROR',
  crit: 'FATAL',
  critical: 'FATAL',
  fatal: 'FATAL',
  panic: 'FATAL',
};

const JSON_LEVEL = /"(?:level|severity|lvl)"\s*:\s*(?:"([a-zA-Z]+)"|(\d+))/;
const LOGFMT_LEVEL = /(?:^|\s)(?:level|lvl|severity)=["']?([a-zA-Z]+)/;
const WORD =
  /(?:^|[\s[(|:])(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|CRIT|CRITICAL|FATAL|PANIC)(?=[\s\]):|]|$)/i;

export function detectSeverity(line: string): SeverityText | undefined {
  const head = line.length > 80 ? line.slice(0, 80) : line;
  if (head.charCodeAt(0) === 123 /* { */) {
    const m = JSON_LEVEL.exec(line.length > 400 ? line.slice(0, 400) : line);
    if (m) return m[1] ? WORDS[m[1].toLowerCase()] : pinoLevel(Number(m[2]));
  }
  const m = LOGFMT_LEVEL.exec(head) ?? WORD.exec(head);
  return m ? WORDS[m[1]!.toLowerCase()] : undefined;
}

/** pino's (and bunyan's) numeric levels: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal. */
export function pinoLevel(n: number): SeverityText {
  if (n >= 60) return 'FATAL';
  if (n >= 50) return 'ERROR';
  if (n >= 40) return 'WARN';
  if (n >= 30) return 'INFO';
  if (n >= 20) return 'DEBUG';
  return 'TRACE';
}

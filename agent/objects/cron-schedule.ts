// CronJob schedules (k8s' syntax: five fields, minute hour day-of-month month day-of-week, or @yearly,
// @annually, @monthly, @weekly, @daily, @midnight, @hourly; a day restricted in both day fields runs on
// either, as Vixie cron and k8s do) and time zones (IANA names), with the croner parser.
import { Cron } from 'croner';

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const expand = (schedule: string) => MACROS[schedule.trim()] ?? schedule.trim();

/** Why a schedule is not one k8s takes, or undefined. */
export function scheduleProblem(schedule: string): string | undefined {
  if (/^\s*(CRON_)?TZ=/.test(schedule))
    return 'a time zone in the schedule is not supported: use spec.timeZone';
  const text = expand(schedule);
  if (text.startsWith('@')) return `unknown macro "${text}" (known: ${Object.keys(MACROS).join(', ')})`;
  if (text.split(/\s+/).length !== 5)
    return 'must have five fields: minute hour day-of-month month day-of-week';
  try {
    new Cron(text, { paused: true });
    return undefined;
  } catch (err) {
    return (err as Error).message.replace(/^CronPattern: /, '');
  }
}

export function timeZoneProblem(zone: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return undefined;
  } catch {
    return `unknown time zone "${zone}" (an IANA name such as Europe/Berlin or America/New_York)`;
  }
}

export interface Schedule {
  /** The first time after `after`, or undefined when there is none. */
  next(after: Date): Date | undefined;
}

export function scheduleOf(schedule: string, timeZone?: string): Schedule {
  const cron = new Cron(expand(schedule), { paused: true, ...(timeZone ? { timezone: timeZone } : {}) });
  return { next: (after) => cron.nextRun(after) ?? undefined };
}

/** The schedule's times in (since, now]: the latest, and how many there are (counted up to `cap`). */
export function unmetTimes(s: Schedule, since: Date, now: Date, cap = 101): { latest?: Date; count: number } {
  let count = 0;
  for (let t = s.next(since); t && t.getTime() <= now.getTime() && count < cap; t = s.next(t)) count++;
  if (count === 0) return { count };
  return { latest: lastAtOrBefore(s, since, now) ?? now, count };
}

/** The last time in (since, now], found in a window before `now` that doubles until it holds one (a
 * schedule missed for a month is not walked minute by minute). */
function lastAtOrBefore(s: Schedule, since: Date, now: Date): Date | undefined {
  for (let w = 60_000; ; w *= 2) {
    const from = new Date(Math.max(since.getTime(), now.getTime() - w));
    const first = s.next(from);
    if (first && first.getTime() <= now.getTime()) {
      let last = first;
      for (let n = s.next(first); n && n.getTime() <= now.getTime(); n = s.next(n)) last = n;
      return last;
    }
    if (from.getTime() === since.getTime()) return undefined;
  }
}

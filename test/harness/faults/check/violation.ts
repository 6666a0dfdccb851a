// What a checker returns: each broken invariant with the time it was seen, readable on its own.
import { at, type History } from '../history.ts';

export interface Violation {
  check: string;
  /** On the history's clock (performance.now() ms). */
  t: number;
  what: string;
}

/** One line per violation, in time order: `+12.3 s pods-deleted: pod default/web-x (on f3) deleted`. */
export function summary(h: History, violations: Violation[]): string {
  return [...violations]
    .sort((a, b) => a.t - b.t)
    .map((v) => `${at(h, v.t)} ${v.check}: ${v.what}`)
    .join('\n');
}

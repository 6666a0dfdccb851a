// The state a fault must end in, judged on the latest samples: what "correct again" means (and what
// a scenario needs before its fault).
import type { History } from '../history.ts';
import { aliveAtEnd } from './alive.ts';
import { converged } from './converged.ts';
import { agreedLeader } from './leader.ts';
import type { Violation } from './violation.ts';

/** Converged, one agreed leader, alive records complete; `since`: only samples taken after it count. */
export function endState(h: History, since: number): Violation[] {
  return [...converged(h, since), ...agreedLeader(h), ...aliveAtEnd(h)];
}

// (e) The kubecontroller leader: never two at once, agreed on at the end, unchanged or re-elected in time.
// Two signals per head: its answer to GET /api/v1/kubecontroller, and whether it runs the controllers
// (`acting`, from its /metrics). A head that is frozen, stopped or cut off is not asked to be right.
import { at, electionHolder, type History, impairedAt, okEtcd } from '../history.ts';
import type { Violation } from './violation.ts';

/** How long two heads may both believe they lead: a deposed head learns it from its lease keepalive. */
export const ACTING_OVERLAP_MS = 5000;

export function oneLeader(h: History, overlapMs = ACTING_OVERLAP_MS): Violation[] {
  const out: Violation[] = [];
  let both: { since: number; reported: boolean } | undefined;
  for (const s of h.leaders) {
    const impaired = impairedAt(h, s.t);
    const fine = Object.entries(s.heads).filter(([n, v]) => !impaired.has(n) && v.error === undefined);
    const named = new Set(fine.map(([, v]) => v.answer).filter((a): a is string => typeof a === 'string'));
    if (named.size > 1)
      out.push({
        check: 'one-leader',
        t: s.t,
        what: `heads answer different leaders: ${[...named].join(', ')}`,
      });
    const acting = fine.filter(([, v]) => v.acting).map(([n]) => n);
    if (acting.length <= 1) {
      both = undefined;
      continue;
    }
    both ??= { since: s.t, reported: false };
    if (!both.reported && s.t - both.since > overlapMs) {
      both.reported = true;
      out.push({
        check: 'one-leader',
        t: both.since,
        what: `${acting.join(' and ')} all run the controllers for more than ${overlapMs / 1000} s`,
      });
    }
  }
  return out;
}

/** At the end every head answers the same leader, not null; it holds the election and it alone acts. */
export function agreedLeader(h: History): Violation[] {
  const last = h.leaders.at(-1);
  const etcd = okEtcd(h).at(-1);
  if (!last || !etcd) return [{ check: 'agreed-leader', t: h.end, what: 'no sample of the heads and etcd' }];
  const v = (what: string): Violation[] => [{ check: 'agreed-leader', t: last.t, what }];
  const answers = Object.entries(last.heads).map(([n, x]) => `${n}: ${x.error ?? x.answer}`);
  const leaders = new Set(Object.values(last.heads).map((x) => (x.error ? undefined : x.answer)));
  const [leader] = leaders;
  if (leaders.size !== 1 || typeof leader !== 'string')
    return v(`the heads do not agree on one leader (${answers.join(', ')})`);
  const holder = electionHolder(etcd);
  if (holder !== leader) return v(`heads say ${leader} leads, the election is held by ${holder ?? 'nobody'}`);
  const acting = Object.entries(last.heads)
    .filter(([, x]) => x.acting)
    .map(([n]) => n);
  if (acting.length !== 1 || acting[0] !== leader)
    return v(`${leader} leads but the controllers run on ${acting.join(', ') || 'no head'}`);
  return [];
}

/** The leader never changes: every answer and every election sample names `leader`. */
export function leaderUnchanged(h: History, leader: string): Violation[] {
  for (const s of h.leaders) {
    const impaired = impairedAt(h, s.t);
    for (const [n, x] of Object.entries(s.heads))
      if (!impaired.has(n) && x.error === undefined && x.answer !== leader)
        return [{ check: 'leader-unchanged', t: s.t, what: `${n} answers ${x.answer} instead of ${leader}` }];
  }
  for (const s of okEtcd(h)) {
    const holder = electionHolder(s);
    if (holder !== leader)
      return [
        {
          check: 'leader-unchanged',
          t: s.t,
          what: `the election is held by ${holder ?? 'nobody'}, not ${leader}`,
        },
      ];
  }
  return [];
}

/** After `after`, a head other than `gone` answers a leader other than `gone` within `withinMs`. */
export function leaderWithin(h: History, gone: string, after: number, withinMs: number): Violation[] {
  for (const s of h.leaders) {
    if (s.t <= after) continue;
    const found = Object.entries(s.heads).some(
      ([n, x]) => n !== gone && typeof x.answer === 'string' && x.answer !== gone,
    );
    if (found) {
      if (s.t - after <= withinMs) return [];
      break;
    }
  }
  return [
    {
      check: 'leader-within',
      t: after,
      what: `no head answered a new leader within ${withinMs / 1000} s of ${at(h, after)}, when ${gone} went away`,
    },
  ];
}

// (f) Heads keep etcd: while etcd runs and nothing is done to a head, the head's own etcd client keeps
// answering. A head that says "etcd unreachable" then lost its connection for a reason of its own (once:
// every election, and every slow call, closed the client's connections: agent/store/etcd-faults.ts
// keepConnections).
import { type History, impairedAt, RECOVERY_GRACE_MS, touchedWithin } from '../history.ts';
import { ETCD } from '../inject.ts';
import type { Violation } from './violation.ts';

const UNREACHABLE = /etcd unreachable/;

export function headsKeepEtcd(h: History): Violation[] {
  for (const s of h.leaders) {
    const impaired = impairedAt(h, s.t);
    if (impaired.has(ETCD) || touchedWithin(h, ETCD, s.t, RECOVERY_GRACE_MS)) continue;
    for (const [n, v] of Object.entries(s.heads)) {
      if (
        impaired.has(n) ||
        touchedWithin(h, n, s.t, RECOVERY_GRACE_MS) ||
        !v.error ||
        !UNREACHABLE.test(v.error)
      )
        continue;
      return [
        { check: 'heads-keep-etcd', t: s.t, what: `${n}, untouched with etcd up, answers: ${v.error}` },
      ];
    }
  }
  return [];
}

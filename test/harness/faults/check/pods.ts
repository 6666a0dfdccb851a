// Pods in etcd: none deleted or created unless the scenario allows it, and none left Unknown too long.
import { at, type History, okEtcd, type PodView } from '../history.ts';
import type { Violation } from './violation.ts';

export type PodAllowed = (p: PodView) => boolean;
const none: PodAllowed = () => false;

const label = (p: PodView) => `pod ${p.namespace}/${p.name} (${p.node ? `on ${p.node}` : 'unbound'})`;

/** (a) A pod seen in one sample and missing (by uid) from a later one was deleted. */
export function podsDeleted(h: History, allowed: PodAllowed = none): Violation[] {
  const out: Violation[] = [];
  const seen = new Map<string, PodView>();
  for (const s of okEtcd(h)) {
    const now = new Set(s.pods.map((p) => p.uid));
    for (const [uid, p] of seen) {
      if (now.has(uid)) continue;
      seen.delete(uid);
      if (!allowed(p)) out.push({ check: 'pods-deleted', t: s.t, what: `${label(p)} deleted` });
    }
    for (const p of s.pods) seen.set(p.uid, p);
  }
  return out;
}

/** A pod absent from the first sample and present later was created. */
export function podsCreated(h: History, allowed: PodAllowed = none): Violation[] {
  const samples = okEtcd(h);
  const first = new Set(samples[0]?.pods.map((p) => p.uid));
  const out: Violation[] = [];
  for (const s of samples)
    for (const p of s.pods) {
      if (first.has(p.uid)) continue;
      first.add(p.uid);
      if (!allowed(p)) out.push({ check: 'pods-created', t: s.t, what: `${label(p)} created` });
    }
  return out;
}

/** No sample later than `after + withinMs` shows the pod (by namespace/name) in phase Unknown. */
export function notUnknownAfter(
  h: History,
  pod: { namespace: string; name: string },
  after: number,
  withinMs: number,
): Violation[] {
  for (const s of okEtcd(h)) {
    if (s.t <= after + withinMs) continue;
    const p = s.pods.find((x) => x.namespace === pod.namespace && x.name === pod.name);
    if (p?.phase === 'Unknown')
      return [
        {
          check: 'pod-unknown',
          t: s.t,
          what: `${label(p)} still Unknown (${p.reason ?? 'no reason'}) ${((s.t - after) / 1000).toFixed(1)} s after ${at(h, after)} (bound ${withinMs / 1000} s)`,
        },
      ];
  }
  return [];
}

/** No sample shows a pod bound to `node` in phase Unknown (NodeLost: the node was judged gone). */
export function neverLost(h: History, node: string): Violation[] {
  for (const s of okEtcd(h)) {
    const p = s.pods.find((x) => x.node === node && x.phase === 'Unknown');
    if (p) return [{ check: 'pod-lost', t: s.t, what: `${label(p)} Unknown (${p.reason ?? 'no reason'})` }];
  }
  return [];
}

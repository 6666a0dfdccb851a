// Feasibility and ranking by other pods (k8s InterPodAffinity), from the domains pod-rules.ts worked
// out: required pod affinity (each term: a matching pod in the node's domain; the first pod of a group
// that matches its own term may go anywhere the label exists), required anti-affinity (no matching pod
// in the node's domain; a node without the label is no domain), and existing pods' anti-affinity. The
// score: the preferred terms' weights times the matching pods in the node's domain (anti-affinity
// negative), normalised from the lowest to the highest.
import type { Checker, Scorer } from './types.ts';

export const podAffinityFits: Checker = (node, _pod, _load, rules) => {
  if (!rules) return null;
  for (const t of rules.affinity) {
    const v = node.labels[t.key];
    if (v === undefined) return "node(s) didn't match pod affinity rules";
    if ((t.domains.get(v) ?? 0) > 0) continue;
    if (t.total === 0 && t.self) continue;
    return "node(s) didn't match pod affinity rules";
  }
  for (const t of rules.antiAffinity) {
    const v = node.labels[t.key];
    if (v !== undefined && (t.domains.get(v) ?? 0) > 0) return "node(s) didn't match pod anti-affinity rules";
  }
  for (const f of rules.forbidden)
    if (node.labels[f.key] === f.value) return "node(s) didn't satisfy existing pods anti-affinity rules";
  return null;
};

export const preferredPodAffinity: Scorer = {
  name: 'pod-affinity',
  weight: 2,
  normalize: 'minmax',
  active: (_pod, rules) => (rules?.preferred.length ?? 0) > 0,
  score: (node, _pod, _load, rules) => {
    let sum = 0;
    for (const t of rules!.preferred) {
      const v = node.labels[t.key];
      if (v !== undefined) sum += t.weight * (t.domains.get(v) ?? 0);
    }
    return sum;
  },
};

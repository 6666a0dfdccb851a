// Feasibility and ranking by topologySpreadConstraints (k8s PodTopologySpread), from the domains
// pod-rules.ts worked out over the nodes the pod's own selector and affinity allow. DoNotSchedule: the
// node's domain, with this pod, may hold at most maxSkew more matching pods than the emptiest domain; a
// node without the label is out. ScheduleAnyway: fewer matching pods in the node's domain ranks higher.
import type { Checker, Scorer } from './types.ts';

export const spreadFits: Checker = (node, _pod, _load, rules) => {
  for (const s of rules?.hardSpread ?? []) {
    const v = node.labels[s.key];
    if (v === undefined)
      return "node(s) didn't match pod topology spread constraints (missing required label)";
    if ((s.domains.get(v) ?? 0) + s.self - s.min > s.maxSkew)
      return "node(s) didn't match pod topology spread constraints";
  }
  return null;
};

export const softSpread: Scorer = {
  name: 'topology-spread',
  weight: 2,
  normalize: 'reverse',
  active: (_pod, rules) => (rules?.softSpread.length ?? 0) > 0,
  score: (node, _pod, _load, rules) => {
    let sum = 0;
    for (const s of rules!.softSpread) {
      const v = node.labels[s.key];
      // A node outside every domain ranks as the fullest one plus one.
      sum += v === undefined ? Math.max(0, ...s.domains.values()) + 1 : (s.domains.get(v) ?? 0);
    }
    return sum;
  },
};

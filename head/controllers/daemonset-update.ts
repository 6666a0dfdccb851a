// A DaemonSet's update, as Kubernetes' daemon controller does it (pkg/controller/daemon/update.go), node
// by node in name order among the nodes that hold the new images (one whose pull ends first may go
// first). Pure: which old pods go now and on which nodes a new pod starts beside the old.
//
//   - RollingUpdate, maxSurge 0: an old pod that is not available goes at once (it serves nothing; it
//     counts as unavailable); the others go while fewer than maxUnavailable nodes are without an available pod (a node with no pod,
//     a Terminating one, or a new pod not available yet counts), and only on nodes that hold the new
//     images (prepull.ts); the new pod is made once the old one is gone (same name, `<ds>-<node>`);
//   - RollingUpdate, maxSurge > 0: the new pod (`<ds>-<node>-<hash>`) starts beside the old one on up to
//     maxSurge nodes at once (at once where the old pod is not available), and the old pod goes when the
//     new one is available; maxUnavailable is not used then (k8s);
//   - OnDelete: old pods stay until the user deletes them; their nodes then get the new template.
// maxUnavailable and maxSurge are numbers or percents of the nodes that should run the pod, rounded up
// (k8s' DaemonSet rounding); available = Ready for minReadySeconds.
import { DAEMONSET_DEFAULTS } from '../../agent/objects/defaults.ts';
import type { Stored } from '../../agent/objects/store.ts';
import type { DaemonSet, Pod } from '../../agent/objects/types.ts';
import { scaledValue } from './rollout-params.ts';

export interface DaemonSetParams {
  strategy: 'RollingUpdate' | 'OnDelete';
  maxUnavailable: number;
  maxSurge: number;
  minReadySeconds: number;
}

/** The update numbers for `desired` nodes (a DaemonSet stored before the fields existed: k8s' defaults). */
export function daemonSetParams(ds: DaemonSet, desired: number): DaemonSetParams {
  const strategy = ds.spec.updateStrategy?.type ?? 'RollingUpdate';
  const ru = ds.spec.updateStrategy?.rollingUpdate;
  let maxUnavailable = scaledValue(ru?.maxUnavailable ?? DAEMONSET_DEFAULTS.maxUnavailable, desired, true);
  const maxSurge = scaledValue(ru?.maxSurge ?? DAEMONSET_DEFAULTS.maxSurge, desired, true);
  // k8s: both 0 after scaling (0% of a few nodes) means 1 unavailable, so the update can move.
  if (maxUnavailable === 0 && maxSurge === 0) maxUnavailable = 1;
  return { strategy, maxUnavailable, maxSurge, minReadySeconds: ds.spec.minReadySeconds ?? 0 };
}

/** One eligible node: its pod of the current template and its old one (each at most one). */
export interface NodeSlot {
  node: string;
  current?: Stored<Pod>;
  old?: Stored<Pod>;
}

export interface UpdatePlan {
  deletes: Array<{ pod: Stored<Pod>; why: string }>;
  /** Nodes that get a new pod beside their old one now (maxSurge). */
  surge: string[];
  /** Nodes whose old pod the rollout means to stop by deleting it first: their pre-pull requests. */
  prePull: string[];
}

/** The update step for these slots (sorted by node). `gate` holds old pods on nodes without the images. */
export function planUpdate(
  slots: NodeSlot[],
  p: DaemonSetParams,
  available: (pod: Stored<Pod>) => boolean,
  gate: (node: string) => boolean,
): UpdatePlan {
  const plan: UpdatePlan = { deletes: [], surge: [], prePull: [] };
  if (p.strategy === 'OnDelete') return plan;
  if (p.maxSurge === 0) {
    let unavailable = 0;
    const candidates: NodeSlot[] = [];
    for (const s of slots) {
      if (s.current && s.old) {
        // Left by a surge that was turned off: the new pod is there, the old one goes.
        plan.deletes.push({ pod: s.old, why: 'replaced by the new template' });
        if (!available(s.current)) unavailable++;
      } else if (s.current) {
        if (!available(s.current)) unavailable++;
      } else if (!s.old) unavailable++;
      else if (!available(s.old)) {
        // It serves nothing: replaced at once, and counted (k8s does not count it; the documented
        // bound, at most maxUnavailable pods unavailable, holds this way).
        plan.deletes.push({ pod: s.old, why: 'not available; new template' });
        unavailable++;
      } else candidates.push(s);
    }
    plan.prePull = candidates.map((s) => s.node);
    const room = p.maxUnavailable - unavailable;
    for (const s of candidates.filter((c) => gate(c.node)).slice(0, Math.max(0, room)))
      plan.deletes.push({ pod: s.old!, why: 'replaced by the new template' });
    return plan;
  }
  let surging = 0;
  const candidates: string[] = [];
  for (const s of slots) {
    if (s.current && s.old) {
      if (available(s.current)) plan.deletes.push({ pod: s.old, why: 'replaced by the new template' });
      else surging++;
    } else if (s.old && !s.current) {
      if (!available(s.old)) plan.surge.push(s.node);
      else candidates.push(s.node);
    }
  }
  plan.surge.push(...candidates.slice(0, Math.max(0, p.maxSurge - surging)));
  return plan;
}

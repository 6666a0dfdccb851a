// DaemonSet: one pod per eligible live node (container runtime, nodeSelector, node affinity), named
// <ds>-<node>, bound to its node at creation. Pure: `reconcileDaemonSet(ds, world) -> actions`.
//
//   - a node joins or gets matching labels: its pod is created; a node is drained or its labels stop
//     matching: its pod is deleted. A node that is unreachable (no record) keeps its pod: DaemonSet pods
//     tolerate node.kubernetes.io/unreachable for ever, as k8s gives them;
//   - template change: node by node (maxUnavailable 1): while every eligible node runs a pod, delete
//     one old pod; its replacement (same name) is created on the next reconcile, and the next old pod
//     goes only once that one runs. Old pods that do not run are deleted at once;
//   - deletes are graceful (actions.ts): a node whose pod is Terminating gets its new pod (same name) once
//     the old object is gone; a Terminating pod is never deleted again nor counted;
//   - status written only when it changes.
import { isTerminating } from '../../agent/objects/pod-deletion.ts';
import type { Stored } from '../../agent/objects/store.ts';
import type { DaemonSet, DaemonSetStatus, Pod } from '../../agent/objects/types.ts';
import { feasibleNodes } from '../../agent/scheduler/stack.ts';
import { compareText } from '../../agent/text/compare.ts';
import type { Action } from './actions.ts';
import type { ReconcileEnv } from './deployment.ts';
import { standingOf } from './eviction.ts';
import { podFromTemplate, templateHash } from './pod-template.ts';
import { isReady, isRunning, ownedPods, type World } from './world.ts';

/** The k8s label a DaemonSet's pods carry with their template's hash. */
export const REVISION_HASH_LABEL = 'controller-revision-hash';

export function reconcileDaemonSet(stored: Stored<DaemonSet>, world: World, _env: ReconcileEnv): Action[] {
  const ds = stored.object;
  const hash = templateHash(ds.spec.template);
  const eligible = new Set(feasibleNodes({ spec: ds.spec.template.spec }, world.nodes).map((n) => n.name));
  const live = new Set(world.nodes.map((n) => n.name));
  const actions: Action[] = [];

  const owned = ownedPods(world, ds);
  const byNode = new Map<string, Stored<Pod>>();
  /** Nodes with a Terminating pod: its replacement (same name) waits until it is gone. */
  const terminatingOn = new Set<string>();
  for (const p of owned) {
    const node = p.object.spec.nodeName;
    if (isTerminating(p.object)) {
      if (node) terminatingOn.add(node);
      continue;
    }
    if (node && !byNode.has(node) && standingOf(p.object, world) === 'unreachable') continue;
    if (!node || !eligible.has(node) || byNode.has(node)) {
      const why = !node
        ? 'not bound'
        : world.drained.has(node)
          ? `node ${node} is drained`
          : byNode.has(node)
            ? 'duplicate'
            : `node ${node} is not eligible`;
      actions.push({ type: 'delete', pod: p, why });
    } else byNode.set(node, p);
  }
  const misscheduled = owned.filter(
    (p) =>
      p.object.spec.nodeName && live.has(p.object.spec.nodeName) && !eligible.has(p.object.spec.nodeName),
  ).length;

  for (const node of [...eligible].sort()) {
    if (byNode.has(node) || terminatingOn.has(node)) continue;
    const pod = podFromTemplate(ds, `${ds.metadata.name}-${node}`, { [REVISION_HASH_LABEL]: hash }, node);
    actions.push({ type: 'create', pod });
  }

  const onEligible = [...byNode.values()];
  const old = onEligible.filter((p) => p.object.metadata.labels?.[REVISION_HASH_LABEL] !== hash);
  // Old pods that do not run serve nothing: they go at once (as in k8s), else a template that fixes a
  // broken one (a bad image everywhere) could never roll out. Running old pods go one at a time.
  const oldBroken = old.filter((p) => !isRunning(p.object));
  for (const p of oldBroken) actions.push({ type: 'delete', pod: p, why: 'not running; new template' });
  const allRunning = byNode.size === eligible.size && onEligible.every((p) => isRunning(p.object));
  if (oldBroken.length === 0 && old.length > 0 && allRunning) {
    const next = old.sort((a, b) => compareText(a.object.spec.nodeName!, b.object.spec.nodeName!))[0]!;
    actions.push({ type: 'delete', pod: next, why: 'replaced by the new template' });
  }

  const ready = onEligible.filter((p) => isReady(p.object)).length;
  const status: DaemonSetStatus = {
    observedGeneration: ds.metadata.generation,
    desiredNumberScheduled: eligible.size,
    currentNumberScheduled: byNode.size,
    numberReady: ready,
    updatedNumberScheduled: onEligible.length - old.length,
    numberAvailable: ready,
    numberMisscheduled: misscheduled,
  };
  if (JSON.stringify(status) !== JSON.stringify(ds.status ?? null)) actions.push({ type: 'status', status });
  return actions;
}

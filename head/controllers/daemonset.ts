// DaemonSet: one pod per eligible live node (container runtime, nodeSelector, node affinity), named
// <ds>-<node>, bound to its node at creation. Pure: `reconcileDaemonSet(ds, world) -> actions`.
//
//   - a node joins or gets matching labels: its pod is created; a node is drained or its labels stop
//     matching: its pod is deleted. A node that is unreachable (no record) keeps its pod: DaemonSet pods
//     tolerate node.kubernetes.io/unreachable for ever, as k8s gives them;
//   - template change: `updateStrategy` (daemonset-update.ts: RollingUpdate within maxUnavailable /
//     maxSurge, node by node, each new pod available before the rollout goes on; or OnDelete). Pods carry
//     the template's hash in `controller-revision-hash`. Before an old pod is deleted for the update, its
//     node pulls the new images (prepull.ts);
//   - deletes are graceful (actions.ts): a node whose pod is Terminating gets its new pod (same name) once
//     the old object is gone; a Terminating pod is never deleted again nor counted;
//   - host ports and resources (Kubernetes' NodePorts and NodeResourcesFit filters, as the scheduler
//     applies them to DaemonSet pods): a node where other pods hold one of the template's host ports, or
//     leave too little room (pods, cpu, memory requests), gets its pod unbound and Pending, with
//     `FailedScheduling` and the scheduler's message; it is bound there once there is room;
//   - status (k8s' counts, per node) written only when it changes; the actor is woken when a pod becomes
//     available (minReadySeconds).
import { isTerminating } from '../../agent/objects/pod-deletion.ts';
import type { Stored } from '../../agent/objects/store.ts';
import type { DaemonSet, DaemonSetStatus, Pod } from '../../agent/objects/types.ts';
import { fitsResources } from '../../agent/scheduler/fits-resources.ts';
import { hasFreePorts } from '../../agent/scheduler/host-ports.ts';
import { feasibleNodes, unschedulableMessage } from '../../agent/scheduler/stack.ts';
import { compareText } from '../../agent/text/compare.ts';
import type { Action } from './actions.ts';
import { daemonSetParams, type NodeSlot, planUpdate } from './daemonset-update.ts';
import type { ReconcileEnv } from './deployment.ts';
import { standingOf } from './eviction.ts';
import { unschedulableStatus } from './placement.ts';
import { podFromTemplate, templateHash } from './pod-template.ts';
import { prePullGate } from './prepull.ts';
import { availableAt, controllerOf, isReady, loadOf, ownedPods, rangesOf, type World } from './world.ts';

/** The k8s label a DaemonSet's pods carry with their template's hash. */
export const REVISION_HASH_LABEL = 'controller-revision-hash';

export function reconcileDaemonSet(stored: Stored<DaemonSet>, world: World, env: ReconcileEnv): Action[] {
  const ds = stored.object;
  const hash = templateHash(ds.spec.template);
  const eligible = new Set(feasibleNodes({ spec: ds.spec.template.spec }, world.nodes).map((n) => n.name));
  const live = new Set(world.nodes.map((n) => n.name));
  const actions: Action[] = [];

  const owned = ownedPods(world, ds);
  const slots = new Map<string, NodeSlot>();
  /** Nodes with a Terminating pod: its replacement (same name) waits until it is gone. */
  const terminatingOn = new Set<string>();
  /** Unbound pods waiting for their node's host ports, by that node (their name says which). */
  const pendingFor = new Map<string, Stored<Pod>>();
  const nodeOfName = (name: string) => {
    const node = name.slice(ds.metadata.name.length + 1);
    return name === `${ds.metadata.name}-${node}` && eligible.has(node) ? node : undefined;
  };
  for (const p of owned) {
    const node = p.object.spec.nodeName;
    if (isTerminating(p.object)) {
      if (node) terminatingOn.add(node);
      continue;
    }
    const current = p.object.metadata.labels?.[REVISION_HASH_LABEL] === hash;
    const waitsFor = node ? undefined : nodeOfName(p.object.metadata.name);
    if (waitsFor && !pendingFor.has(waitsFor) && current) {
      pendingFor.set(waitsFor, p);
      continue;
    }
    if (node && standingOf(p.object, world) === 'unreachable') continue;
    const slot = node && eligible.has(node) ? (slots.get(node) ?? { node }) : undefined;
    const kind = current ? 'current' : 'old';
    if (!node || !slot || slot[kind]) {
      const why = !node
        ? 'not bound'
        : world.drained.has(node)
          ? `node ${node} is drained`
          : slot
            ? 'duplicate'
            : `node ${node} is not eligible`;
      actions.push({ type: 'delete', pod: p, why });
    } else {
      slot[kind] = p;
      slots.set(node, slot);
    }
  }
  const misscheduled = owned.filter(
    (p) =>
      p.object.spec.nodeName && live.has(p.object.spec.nodeName) && !eligible.has(p.object.spec.nodeName),
  ).length;

  const toPlace = { spec: ds.spec.template.spec };
  // What other pods hold on each node (this DaemonSet's own pod on a node is the one being replaced): host
  // ports, the pod count and requests.
  const load = loadOf({
    ...world,
    pods: world.pods.filter((p) => controllerOf(p.object)?.uid !== ds.metadata.uid),
    assumed: world.assumed?.filter((p) => controllerOf(p)?.uid !== ds.metadata.uid),
  });
  const nodeOf = new Map(world.nodes.map((n) => [n.name, n]));
  for (const node of [...eligible].sort()) {
    const pending = pendingFor.get(node);
    if (slots.has(node) || terminatingOn.has(node)) {
      if (pending) actions.push({ type: 'delete', pod: pending, why: 'duplicate' });
      continue;
    }
    const at = nodeOf.get(node)!;
    const reason = hasFreePorts(at, toPlace, load) ?? fitsResources(at, toPlace, load);
    const message = reason && unschedulableMessage(toPlace, 1, new Map([[reason, 1]]));
    if (pending) {
      if (!message) actions.push({ type: 'bind', pod: pending, node });
      else if (pending.object.status?.conditions?.[0]?.message !== message) {
        const status = unschedulableStatus(message, env.now, pending.object.status);
        actions.push({ type: 'podStatus', pod: pending, status });
        const on = {
          kind: 'Pod' as const,
          namespace: pending.object.metadata.namespace!,
          name: pending.object.metadata.name,
        };
        actions.push({ type: 'event', on, warning: true, reason: 'FailedScheduling', message });
      }
      continue;
    }
    const name = `${ds.metadata.name}-${node}`;
    const labels = { [REVISION_HASH_LABEL]: hash };
    if (!message)
      actions.push({
        type: 'create',
        pod: podFromTemplate(ds, name, labels, node, rangesOf(world, ds.metadata.namespace)),
      });
    else
      actions.push({
        type: 'create',
        pod: podFromTemplate(ds, name, labels, undefined, rangesOf(world, ds.metadata.namespace)),
        status: unschedulableStatus(message, env.now),
      });
  }

  const params = daemonSetParams(ds, eligible.size);
  const nowMs = Date.parse(env.now);
  const available = (x: Stored<Pod>) =>
    (availableAt(x.object, params.minReadySeconds) ?? Number.POSITIVE_INFINITY) <= nowMs;
  // Every eligible node, with or without a pod (one without counts as unavailable).
  const sorted = [...eligible].sort(compareText).map((node) => slots.get(node) ?? { node });
  const first = planUpdate(sorted, params, available, () => false);
  const gate = prePullGate(world, ds, ds.spec.template, hash, first.prePull);
  const plan = planUpdate(sorted, params, available, (node) => gate.allows(node));
  for (const d of plan.deletes) actions.push({ type: 'delete', pod: d.pod, why: d.why });
  for (const node of plan.surge)
    actions.push({
      type: 'create',
      pod: podFromTemplate(ds, `${ds.metadata.name}-${node}-${hash}`, { [REVISION_HASH_LABEL]: hash }, node),
    });
  actions.push(...gate.actions);

  // Per node, as k8s counts them: a node is ready / available when one of its pods is.
  const serving = sorted.map((s) => [s.current, s.old].filter((x): x is Stored<Pod> => x !== undefined));
  const numberAvailable = serving.filter((pods) => pods.some(available)).length;
  const status: DaemonSetStatus = {
    observedGeneration: ds.metadata.generation,
    desiredNumberScheduled: eligible.size,
    currentNumberScheduled: slots.size,
    numberReady: serving.filter((pods) => pods.some((x) => isReady(x.object))).length,
    updatedNumberScheduled: sorted.filter((s) => s.current).length,
    numberAvailable,
    numberMisscheduled: misscheduled,
  };
  if (eligible.size > numberAvailable) status.numberUnavailable = eligible.size - numberAvailable;
  if (JSON.stringify(status) !== JSON.stringify(ds.status ?? null)) actions.push({ type: 'status', status });
  const later = serving
    .flat()
    .map((x) => availableAt(x.object, params.minReadySeconds))
    .filter((t): t is number => t !== undefined && t > nowMs);
  if (later.length > 0) actions.push({ type: 'wake', at: Math.min(...later) });
  return actions;
}

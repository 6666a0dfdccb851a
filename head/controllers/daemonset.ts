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
//   - host ports (Kubernetes' NodePorts filter, as the scheduler applies it to DaemonSet pods): a node
//     where another pod holds one of the template's host ports gets its pod unbound and Pending, with
//     `FailedScheduling` and the scheduler's message; it is bound there once the ports are free;
//   - status written only when it changes.
import { isTerminating } from '../../agent/objects/pod-deletion.ts';
import type { Stored } from '../../agent/objects/store.ts';
import type { DaemonSet, DaemonSetStatus, Pod } from '../../agent/objects/types.ts';
import { hasFreePorts, hostPortsOf, PORTS_REASON } from '../../agent/scheduler/host-ports.ts';
import { feasibleNodes, unschedulableMessage } from '../../agent/scheduler/stack.ts';
import { compareText } from '../../agent/text/compare.ts';
import type { Action } from './actions.ts';
import type { ReconcileEnv } from './deployment.ts';
import { standingOf } from './eviction.ts';
import { unschedulableStatus } from './placement.ts';
import { podFromTemplate, templateHash } from './pod-template.ts';
import { controllerOf, isReady, isRunning, loadOf, ownedPods, type World } from './world.ts';

/** The k8s label a DaemonSet's pods carry with their template's hash. */
export const REVISION_HASH_LABEL = 'controller-revision-hash';

export function reconcileDaemonSet(stored: Stored<DaemonSet>, world: World, env: ReconcileEnv): Action[] {
  const ds = stored.object;
  const hash = templateHash(ds.spec.template);
  const eligible = new Set(feasibleNodes({ spec: ds.spec.template.spec }, world.nodes).map((n) => n.name));
  const live = new Set(world.nodes.map((n) => n.name));
  const actions: Action[] = [];

  const owned = ownedPods(world, ds);
  const byNode = new Map<string, Stored<Pod>>();
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
    const waitsFor = node ? undefined : nodeOfName(p.object.metadata.name);
    if (waitsFor && !pendingFor.has(waitsFor) && p.object.metadata.labels?.[REVISION_HASH_LABEL] === hash) {
      pendingFor.set(waitsFor, p);
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

  const toPlace = { spec: ds.spec.template.spec };
  // The host ports other pods hold (this DaemonSet's own pod on a node is the one being replaced); only
  // read when the template asks for any (most do not: no pass over every pod of the cluster then).
  const load =
    hostPortsOf(toPlace.spec).length === 0
      ? undefined
      : loadOf({
          ...world,
          pods: world.pods.filter((p) => controllerOf(p.object)?.uid !== ds.metadata.uid),
          assumed: world.assumed?.filter((p) => controllerOf(p)?.uid !== ds.metadata.uid),
        });
  const portsMessage = unschedulableMessage(toPlace, 1, new Map([[PORTS_REASON, 1]]));
  for (const node of [...eligible].sort()) {
    const pending = pendingFor.get(node);
    if (byNode.has(node) || terminatingOn.has(node)) {
      if (pending) actions.push({ type: 'delete', pod: pending, why: 'duplicate' });
      continue;
    }
    const portsFree =
      !load || hasFreePorts(world.nodes.find((n) => n.name === node)!, toPlace, load) === null;
    if (pending) {
      if (portsFree) actions.push({ type: 'bind', pod: pending, node });
      else if (pending.object.status?.conditions?.[0]?.message !== portsMessage) {
        const status = unschedulableStatus(portsMessage, env.now, pending.object.status);
        actions.push({ type: 'podStatus', pod: pending, status });
        const on = {
          kind: 'Pod' as const,
          namespace: pending.object.metadata.namespace!,
          name: pending.object.metadata.name,
        };
        actions.push({ type: 'event', on, warning: true, reason: 'FailedScheduling', message: portsMessage });
      }
      continue;
    }
    const name = `${ds.metadata.name}-${node}`;
    const labels = { [REVISION_HASH_LABEL]: hash };
    if (portsFree) actions.push({ type: 'create', pod: podFromTemplate(ds, name, labels, node) });
    else
      actions.push({
        type: 'create',
        pod: podFromTemplate(ds, name, labels, undefined),
        status: unschedulableStatus(portsMessage, env.now),
      });
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

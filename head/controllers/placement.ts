// Pure helpers shared by the Deployment and Job reconciles: new pods placed by the scheduler (one after
// another, each counted before the next is placed), and pending pods bound once a node fits.

import { withLimitRangeDefaults } from '../../agent/objects/limit-range.ts';
import { isTerminating } from '../../agent/objects/pod-deletion.ts';
import { preempts, priorityOf } from '../../agent/objects/priority-classes.ts';
import type { Stored } from '../../agent/objects/store.ts';
import type { Pod, PodStatus } from '../../agent/objects/types.ts';
import { addLoad, schedule } from '../../agent/scheduler/stack.ts';
import type { Load, PodToPlace } from '../../agent/scheduler/types.ts';
import type { Action } from './actions.ts';
import { type Controller, podFromTemplate } from './pod-template.ts';
import { type Preemption, planPreemption } from './preemption.ts';
import { algorithmFor, rangesOf, type World } from './world.ts';

export function unschedulableStatus(message: string, now: string, prev?: PodStatus): PodStatus {
  const before = prev?.conditions?.find((c) => c.type === 'PodScheduled');
  return {
    phase: 'Pending',
    conditions: [
      {
        type: 'PodScheduled',
        status: 'False',
        reason: 'Unschedulable',
        message,
        lastTransitionTime: before?.status === 'False' ? before.lastTransitionTime : now,
      },
    ],
  };
}

/** `count` new pods of `owner`, each placed on the best node (or left pending with the reason); `avoid`:
 * the nodes penalised for the owner (ranked last). */
export function createPlaced(
  owner: Controller,
  world: World,
  load: Load,
  count: number,
  name: () => string,
  labels: Record<string, string>,
  now: string,
  avoid?: ReadonlySet<string>,
): Action[] {
  const out: Action[] = [];
  const ranges = rangesOf(world, owner.metadata.namespace);
  const toPlace = {
    spec: withLimitRangeDefaults(owner.spec.template.spec, ranges),
    ownerUid: owner.metadata.uid,
    avoid,
    algorithm: algorithmFor(world, owner.metadata.namespace),
    namespace: owner.metadata.namespace,
    labels: { ...owner.spec.template.metadata?.labels, ...labels },
    priority: priorityOf(owner.spec.template.spec, world.priorityClasses ?? []),
  };
  for (let i = 0; i < count; i++) {
    const placed = schedule(toPlace, world.nodes, load);
    const pod = podFromTemplate(owner, name(), labels, placed.node ?? undefined, ranges);
    if (placed.node === null)
      out.push({ type: 'create', pod, status: unschedulableStatus(placed.message, now) });
    else {
      addLoad(load, placed.node, toPlace);
      out.push({ type: 'create', pod });
    }
  }
  return out;
}

/** Bind the owner's pending pods where a node fits now; refresh the reason of those still pending. */
export function bindPending(
  owner: Controller,
  pending: Array<Stored<Pod>>,
  world: World,
  load: Load,
  now: string,
  avoid?: ReadonlySet<string>,
) {
  const out: Action[] = [];
  const algorithm = algorithmFor(world, owner.metadata.namespace);
  for (const p of pending) {
    const { namespace, labels, uid } = p.object.metadata;
    const toPlace = {
      spec: p.object.spec,
      ownerUid: owner.metadata.uid,
      avoid,
      algorithm,
      namespace,
      labels,
      uid,
      priority: priorityOf(p.object.spec, world.priorityClasses ?? []),
    };
    const placed = schedule(toPlace, world.nodes, load);
    if (placed.node !== null) {
      addLoad(load, placed.node, toPlace);
      out.push({ type: 'bind', pod: p, node: placed.node });
      continue;
    }
    // The nominated node is written before the victims go: their room is held for this pod from the
    // moment it is free (world.ts loadOf), so their replacements cannot take it.
    const evictions: Action[] = [];
    const preempting = preemptFor(p, toPlace, world, placed.message, evictions);
    if (preempting === 'waiting') continue;
    const nominated = preempting?.node;
    const before = p.object.status?.conditions?.find((c) => c.type === 'PodScheduled');
    const same = before?.message === placed.message && p.object.status?.nominatedNodeName === nominated;
    if (same && evictions.length === 0) continue;
    if (same) {
      out.push(...evictions);
      continue;
    }
    const status = unschedulableStatus(placed.message, now, p.object.status);
    if (nominated) status.nominatedNodeName = nominated;
    out.push({ type: 'podStatus', pod: p, status }, ...evictions);
    out.push({
      type: 'event',
      on: { kind: 'Pod', namespace: p.object.metadata.namespace!, name: p.object.metadata.name },
      warning: true,
      reason: 'FailedScheduling',
      message: placed.message,
    });
  }
  return out;
}

/** A pending pod that fits nowhere makes room by preemption (preemption.ts) when its class may: the
 * victims' deletions and Preempted events go to `out`; 'waiting' while the victims of an earlier
 * preemption are still going (nothing more is taken). */
function preemptFor(
  p: Stored<Pod>,
  toPlace: PodToPlace,
  world: World,
  why: string,
  out: Action[],
): Preemption | 'waiting' | undefined {
  const classes = world.priorityClasses ?? [];
  if (!preempts(p.object.spec, classes)) return undefined;
  const priority = toPlace.priority ?? 0;
  if (priority <= lowestBoundPriority(world)) return undefined;
  const nominated = p.object.status?.nominatedNodeName;
  if (nominated && world.pods.some((q) => q.object.spec.nodeName === nominated && isTerminating(q.object)))
    return 'waiting';
  const plan = planPreemption(
    toPlace,
    priority,
    world.nodes,
    world.pods,
    classes,
    world.podNetwork,
    world.disruptionBudgets,
  );
  if (!plan) return undefined;
  const { namespace, name } = p.object.metadata;
  for (const v of plan.victims) {
    out.push({ type: 'delete', pod: v, why: `preempted by pod ${namespace}/${name}` });
    out.push({
      type: 'event',
      on: { kind: 'Pod', namespace: v.object.metadata.namespace!, name: v.object.metadata.name },
      reason: 'Preempted',
      message: `Preempted by pod ${namespace}/${name} on node ${plan.node}`,
    });
  }
  out.push({
    type: 'event',
    on: { kind: 'Pod', namespace: namespace!, name },
    reason: 'Preempting',
    message: `${why.replace(/\.$/, '')}; preempting ${plan.victims.length} lower-priority pod(s) on node ${plan.node}`,
  });
  return plan;
}

const lowest = new WeakMap<World, number>();
/** The lowest priority of a bound pod (once per world): a pod no higher than it has nobody to preempt. */
function lowestBoundPriority(world: World): number {
  let v = lowest.get(world);
  if (v === undefined) {
    v = Number.POSITIVE_INFINITY;
    for (const p of world.pods)
      if (p.object.spec.nodeName !== undefined)
        v = Math.min(v, priorityOf(p.object.spec, world.priorityClasses ?? []));
    lowest.set(world, v);
  }
  return v;
}

// Pure helpers shared by the Deployment and Job reconciles: new pods placed by the scheduler (one after
// another, each counted before the next is placed), and pending pods bound once a node fits.
import type { Stored } from '../../agent/objects/store.ts';
import type { Pod, PodStatus } from '../../agent/objects/types.ts';
import { addLoad, schedule } from '../../agent/scheduler/stack.ts';
import type { Load } from '../../agent/scheduler/types.ts';
import type { Action } from './actions.ts';
import { type Controller, podFromTemplate } from './pod-template.ts';
import { algorithmFor, type World } from './world.ts';

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
  const toPlace = {
    spec: owner.spec.template.spec,
    ownerUid: owner.metadata.uid,
    avoid,
    algorithm: algorithmFor(world, owner.metadata.namespace),
    namespace: owner.metadata.namespace,
    labels: { ...owner.spec.template.metadata?.labels, ...labels },
  };
  for (let i = 0; i < count; i++) {
    const placed = schedule(toPlace, world.nodes, load);
    const pod = podFromTemplate(owner, name(), labels, placed.node ?? undefined);
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
    const { namespace, labels } = p.object.metadata;
    const toPlace = {
      spec: p.object.spec,
      ownerUid: owner.metadata.uid,
      avoid,
      algorithm,
      namespace,
      labels,
    };
    const placed = schedule(toPlace, world.nodes, load);
    if (placed.node !== null) {
      addLoad(load, placed.node, toPlace);
      out.push({ type: 'bind', pod: p, node: placed.node });
      continue;
    }
    const before = p.object.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (before?.message === placed.message) continue;
    out.push({
      type: 'podStatus',
      pod: p,
      status: unschedulableStatus(placed.message, now, p.object.status),
    });
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

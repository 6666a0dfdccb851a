// Reschedule on repeated failure (seed 003, issue 16 item 6), for a Deployment with the annotation
// nokube.io/reschedule-after-restarts (agent/objects/reschedule-policy.ts). Pure, part of the
// Deployment's reconcile:
//   - a pod whose container has restarted N times on its node (the container's restartCount: a pod
//     never moves, so every restart of it was on that node) is replaced on another node when one fits
//     that is not penalised: the reconcile deletes it (the rollout logic creates the replacement) and the
//     node is penalised for this Deployment for the penalty's time, with a Warning event `Rescheduled`;
//   - when no other node fits, the pod stays: the Deployment's condition `Rescheduling=False
//     NoOtherNodeFits` says why, with a Warning event `FailedReschedule` each time that reason changes;
//   - the penalties live in the Deployment's status (`reschedulePenalties`: node, until), so a new leader
//     honours them; the scheduler ranks penalised nodes after every other one that fits
//     (agent/scheduler/penalty.ts) for all of this Deployment's new pods, until the penalty ends.
import { reschedulePolicy } from '../../agent/objects/reschedule-policy.ts';
import type { Stored } from '../../agent/objects/store.ts';
import type { Condition, Deployment, DeploymentStatus, Pod } from '../../agent/objects/types.ts';
import { schedule } from '../../agent/scheduler/stack.ts';
import type { Load } from '../../agent/scheduler/types.ts';
import type { Action } from './actions.ts';
import { algorithmFor, type World } from './world.ts';

export const RESCHEDULING_CONDITION = 'Rescheduling';
const NO_OTHER_NODE = 'NoOtherNodeFits';

export interface ReschedulePlan {
  /** Pods to delete and replace elsewhere, with the delete's reason. */
  replace: Array<{ pod: Stored<Pod>; why: string }>;
  /** Nodes this Deployment's new pods avoid: penalties still running, the new ones included. */
  avoid: ReadonlySet<string>;
  /** The status' penalties after this reconcile (by node name). */
  penalties: NonNullable<DeploymentStatus['reschedulePenalties']>;
  /** Why pods due for a reschedule stay (one line each); empty when none does. */
  stuck: string[];
  events: Action[];
  /** The first penalty's end (ms): the status drops it then. */
  wakeAt?: number;
}

/** The most restarts of any container of the pod (on its node). */
export const restartsOf = (pod: Pod): number =>
  Math.max(0, ...(pod.status?.containerStatuses ?? []).map((c) => c.restartCount));

/** `pods`: the Deployment's live, bound pods (not Terminating, not lost). */
export function planReschedule(
  d: Deployment,
  pods: ReadonlyArray<Stored<Pod>>,
  world: World,
  load: Load,
  nowMs: number,
): ReschedulePlan {
  const until = new Map<string, number>();
  for (const p of d.status?.reschedulePenalties ?? []) {
    const end = Date.parse(p.until);
    if (end > nowMs) until.set(p.node, end);
  }
  const plan: ReschedulePlan = { replace: [], avoid: new Set(), penalties: [], stuck: [], events: [] };
  const policy = reschedulePolicy(d.metadata.annotations);
  for (const { p, restarts } of pods.map((p) => ({ p, restarts: restartsOf(p.object) }))) {
    const node = p.object.spec.nodeName;
    if (!policy || !node || restarts < policy.afterRestarts) continue;
    const name = p.object.metadata.name;
    const others = world.nodes.filter((n) => n.name !== node && !until.has(n.name));
    const algorithm = algorithmFor(world, d.metadata.namespace);
    const { namespace, labels } = p.object.metadata;
    const toPlace = { spec: p.object.spec, ownerUid: d.metadata.uid, algorithm, namespace, labels };
    const placed = schedule(toPlace, others, load);
    const said = `pod ${name} restarted ${restarts} times on node ${node}`;
    if (placed.node === null) {
      const penalised = [...until.keys()].filter((n) => n !== node).sort();
      const why =
        others.length > 0
          ? `of the other nodes, ${placed.message.replace(/\.$/, '')}`
          : `no other node${penalised.length > 0 ? ` that is not penalised (${penalised.join(', ')})` : ''}`;
      plan.stuck.push(`${said}; it stays, no other node fits: ${why}`);
      continue;
    }
    const end = nowMs + policy.penaltySeconds * 1000;
    until.set(node, Math.max(end, until.get(node) ?? 0));
    plan.replace.push({ pod: p, why: `${said}: rescheduled` });
    plan.events.push({
      type: 'event',
      on: 'owner',
      warning: true,
      reason: 'Rescheduled',
      message:
        `Pod ${name} restarted ${restarts} times on node ${node} (${policy.afterRestarts} allowed): replaced ` +
        `on another node; ${node} penalised for this Deployment until ${new Date(until.get(node)!).toISOString()}`,
    });
  }
  plan.avoid = new Set(until.keys());
  plan.penalties = [...until]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([node, end]) => ({ node, until: new Date(end).toISOString() }));
  if (until.size > 0) plan.wakeAt = Math.min(...until.values());
  const message = plan.stuck.join('; ');
  const before = d.status?.conditions?.find((c) => c.type === RESCHEDULING_CONDITION);
  if (message && before?.message !== message)
    plan.events.push({ type: 'event', on: 'owner', warning: true, reason: 'FailedReschedule', message });
  return plan;
}

/** The status with the plan's penalties and its Rescheduling condition (present only while a pod due
 * for a reschedule stays). */
export function withReschedule(
  status: DeploymentStatus,
  plan: ReschedulePlan,
  now: string,
): DeploymentStatus {
  const conditions: Condition[] = (status.conditions ?? []).filter((c) => c.type !== RESCHEDULING_CONDITION);
  const before = status.conditions?.find((c) => c.type === RESCHEDULING_CONDITION);
  const message = plan.stuck.join('; ');
  if (message && before?.message === message) conditions.push(before);
  else if (message)
    conditions.push({
      type: RESCHEDULING_CONDITION,
      status: 'False',
      reason: NO_OTHER_NODE,
      message,
      lastUpdateTime: now,
      lastTransitionTime: before?.lastTransitionTime ?? now,
    });
  const out: DeploymentStatus = { ...status, conditions };
  if (plan.penalties.length > 0) out.reschedulePenalties = plan.penalties;
  else delete out.reschedulePenalties;
  return out;
}

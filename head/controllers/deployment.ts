// Deployment: `replicas` pods (default 1) made from the template, named <deploy>-<hash>-<rand5> with the
// label pod-template-hash. Pure: `reconcileDeployment(deployment, world) -> actions`.
//
//   - deletes are graceful (actions.ts): a Terminating pod (deletionTimestamp set) is not counted, so it is
//     replaced at once (as k8s), and never deleted again (its agent finishes it);
//   - pods on a drained node, and terminated ones, are deleted and replaced; pods on an unreachable node
//     (no record) are kept, counted but not available, until their toleration of it runs out (eviction.ts),
//     then deleted (only while the node is still absent) and replaced;
//   - scale up: new pods placed by the scheduler (spread over nodes); scale down: not-running pods
//     first, then those on the node most crowded with this deployment's pods, then the newest;
//   - template change (RollingUpdate, as maxSurge 1 / maxUnavailable 0): create one new pod, wait until
//     it runs (with minReadySeconds: until it has been ready that long), delete one old pod, repeat.
//     Recreate: delete every old pod, then create the new ones once no old pod object exists at all;
//   - availableReplicas: pods ready for minReadySeconds (default 0: ready); the actor is woken when the
//     next one becomes available;
//   - status written only when it changes.
import { isTerminating } from '../../agent/objects/pod-deletion.ts';
import type { Stored } from '../../agent/objects/store.ts';
import {
  type Deployment,
  type DeploymentStatus,
  POD_TEMPLATE_HASH_LABEL,
  type Pod,
} from '../../agent/objects/types.ts';
import type { Action } from './actions.ts';
import { fateOnUnreachable, standingOf } from './eviction.ts';
import { bindPending, createPlaced } from './placement.ts';
import { randomSuffix, templateHash } from './pod-template.ts';
import {
  availableAt,
  condition,
  isReady,
  isRunning,
  isTerminal,
  loadOf,
  ownedPods,
  type World,
} from './world.ts';

export const DEFAULT_REPLICAS = 1;

export interface ReconcileEnv {
  now: string;
  suffix?: () => string;
}

export function reconcileDeployment(stored: Stored<Deployment>, world: World, env: ReconcileEnv): Action[] {
  const d = stored.object;
  const want = d.spec.replicas ?? DEFAULT_REPLICAS;
  const hash = templateHash(d.spec.template);
  const suffix = env.suffix ?? randomSuffix;
  const load = loadOf(world);
  const actions: Action[] = [];

  const minReady = d.spec.minReadySeconds ?? 0;
  const nowMs = Date.parse(env.now);
  /** A new pod an old one may make way for: running (and, with minReadySeconds, available). */
  const settled = (p: Stored<Pod>) =>
    minReady <= 0 ? isRunning(p.object) : (availableAt(p.object, minReady) ?? Infinity) <= nowMs;

  const owned = ownedPods(world, d);
  const gone: Array<Stored<Pod>> = [];
  const wakes: number[] = [];
  for (const p of owned) {
    const standing = standingOf(p.object, world);
    const drop = (why: string, whileNodeAbsent?: string) => {
      gone.push(p);
      actions.push({ type: 'delete', pod: p, why, ...(whileNodeAbsent ? { whileNodeAbsent } : {}) });
    };
    // A Terminating pod is its agent's to finish; only a lost node's verdict removes it (no agent).
    if (isTerminating(p.object) && standing !== 'unreachable') gone.push(p);
    else if (isTerminal(p.object)) drop(`pod ${p.object.status?.phase}`);
    else if (standing === 'drained') drop(`node ${p.object.spec.nodeName} is drained`);
    else if (standing === 'unreachable') {
      const fate = fateOnUnreachable(p.object, nowMs);
      if (fate.evict) drop(fate.why, p.object.spec.nodeName);
      else if (isTerminating(p.object)) gone.push(p);
      else if (fate.wakeAt !== undefined) wakes.push(fate.wakeAt);
    }
  }
  const live = owned.filter((p) => !gone.includes(p));
  const current = live.filter((p) => p.object.metadata.labels?.[POD_TEMPLATE_HASH_LABEL] === hash);
  const old = live.filter((p) => !current.includes(p));

  actions.push(
    ...bindPending(
      d,
      current.filter((p) => !p.object.spec.nodeName),
      world,
      load,
      env.now,
    ),
  );

  const create = (n: number) =>
    createPlaced(
      d,
      world,
      load,
      n,
      () => `${d.metadata.name}-${hash}-${suffix()}`,
      { [POD_TEMPLATE_HASH_LABEL]: hash },
      env.now,
    );
  const del = (pods: Array<Stored<Pod>>, n: number, why: string) => {
    for (const p of deletionOrder(pods, n)) actions.push({ type: 'delete', pod: p, why });
  };

  // Recreate: no new pod while any old pod object exists (Terminating or just deleted): old and new
  // containers never run side by side.
  const oldObjects = owned.filter((p) => p.object.metadata.labels?.[POD_TEMPLATE_HASH_LABEL] !== hash);
  if (d.spec.strategy?.type === 'Recreate' && oldObjects.length > 0) {
    del(old, old.length, 'template changed (Recreate)');
  } else if (old.length === 0) {
    if (current.length < want) actions.push(...create(want - current.length));
    else if (current.length > want) del(current, current.length - want, `scaled to ${want}`);
  } else if (current.length > want) {
    del(current, current.length - want, `scaled to ${want}`);
  } else if (current.length === want && current.every(settled)) {
    del(old, old.length, 'replaced by the new template');
  } else if (current.every(settled)) {
    // Rolling: one new pod beyond the desired count at most, the old one goes once the new one runs.
    if (current.length + old.length <= want) actions.push(...create(1));
    else del(old, current.length + old.length - want, 'replaced by the new template');
  }

  // A pod that becomes available later (minReadySeconds) changes the status and may let a rollout go
  // on: wake the actor then.
  const later = live
    .map((p) => availableAt(p.object, minReady))
    .filter((t): t is number => t !== undefined && t > nowMs)
    .concat(wakes);
  if (later.length > 0) actions.push({ type: 'wake', at: Math.min(...later) });

  const status = deploymentStatus(d, want, current, live, env.now);
  if (JSON.stringify(status) !== JSON.stringify(d.status ?? null)) actions.push({ type: 'status', status });
  return actions;
}

/**
 * Which pods go first when scaling down (the first `n`; all by default): not running, then on the most
 * crowded node, then newest. Crowding is counted again after every pick, so 3 + 3 pods scaled to 2 leave
 * 1 + 1 (a ranking fixed up front, as Kubernetes' ReplicaSet uses, may take all of one node's). O(n x nodes).
 */
export function deletionOrder(pods: Array<Stored<Pod>>, n = pods.length): Array<Stored<Pod>> {
  const byNode = new Map<string, Array<Stored<Pod>>>();
  for (const p of pods) {
    const node = p.object.spec.nodeName ?? '';
    const list = byNode.get(node);
    if (list) list.push(p);
    else byNode.set(node, [p]);
  }
  const running = (p: Stored<Pod>) => (isRunning(p.object) ? 1 : 0);
  // Each node's pods in the order they would go from it: not running, then newest.
  for (const list of byNode.values())
    list.sort((a, b) => running(a) - running(b) || Number(b.createRevision) - Number(a.createRevision));
  const next = new Map<string, number>();
  const out: Array<Stored<Pod>> = [];
  while (out.length < Math.min(n, pods.length)) {
    let best: { node: string; key: number[] } | undefined;
    for (const [node, list] of byNode) {
      const at = next.get(node) ?? 0;
      const p = list[at];
      if (!p) continue;
      const key = [running(p), -(list.length - at), -Number(p.createRevision)];
      if (!best || before(key, best.key)) best = { node, key };
    }
    const at = next.get(best!.node) ?? 0;
    out.push(byNode.get(best!.node)![at]!);
    next.set(best!.node, at + 1);
  }
  return out;
}

const before = (x: number[], y: number[]) => {
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! < y[i]!;
  return false;
};

function deploymentStatus(
  d: Deployment,
  want: number,
  current: Array<Stored<Pod>>,
  live: Array<Stored<Pod>>,
  now: string,
): DeploymentStatus {
  const ready = live.filter((p) => isReady(p.object)).length;
  const nowMs = Date.parse(now);
  const minReady = d.spec.minReadySeconds ?? 0;
  const availableCount = live.filter((p) => (availableAt(p.object, minReady) ?? Infinity) <= nowMs).length;
  const updatedReady = current.filter((p) => isReady(p.object)).length;
  const prev = d.status?.conditions;
  const available = availableCount >= want;
  const complete = current.length === want && updatedReady === want && live.length === want;
  const status: DeploymentStatus = {
    observedGeneration: d.metadata.generation,
    replicas: live.length,
    updatedReplicas: current.length,
    readyReplicas: ready,
    availableReplicas: availableCount,
    conditions: [
      available
        ? condition(
            prev,
            'Available',
            'True',
            'MinimumReplicasAvailable',
            'Deployment has minimum availability.',
            now,
          )
        : condition(
            prev,
            'Available',
            'False',
            'MinimumReplicasUnavailable',
            'Deployment does not have minimum availability.',
            now,
          ),
      complete
        ? condition(
            prev,
            'Progressing',
            'True',
            'NewReplicaSetAvailable',
            `Deployment "${d.metadata.name}" has successfully progressed.`,
            now,
          )
        : condition(
            prev,
            'Progressing',
            'True',
            'ReplicaSetUpdated',
            `Deployment "${d.metadata.name}" is progressing.`,
            now,
          ),
    ],
  };
  if (want > availableCount) status.unavailableReplicas = want - availableCount;
  return status;
}

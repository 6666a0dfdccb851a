// Deployment: `replicas` pods made from the template, named <deploy>-<hash>-<rand5> with the label
// pod-template-hash; one revision record (ReplicaSet, revisions.ts) per hash. Pure:
// `reconcileDeployment(deployment, world) -> actions`.
//
//   - deletes are graceful (actions.ts): a Terminating pod (deletionTimestamp set) is not counted, so it is
//     replaced at once (as k8s), and never deleted again (its agent finishes it);
//   - pods on a drained node, and terminated ones, are deleted and replaced; pods on an unreachable node
//     (no record) are kept, counted but not available, until their toleration of it runs out (eviction.ts),
//     then deleted (only while the node is still absent) and replaced;
//   - scale up: new pods placed by the scheduler (spread over nodes); scale down: not-running pods
//     first, then those on the node most crowded with this deployment's pods, then the newest;
//   - RollingUpdate (k8s' rolloutRolling, pod by pod): new pods while the total stays within
//     replicas + maxSurge; old pods go while at least replicas - maxUnavailable pods stay available
//     (unavailable old pods first). A pod is available once Ready for minReadySeconds;
//   - Recreate: delete every old pod, then create the new ones once no old pod object exists at all;
//   - paused: no rollout (a template change waits); the pod count is kept on the newest revision that
//     has pods (scaling, replacing lost pods);
//   - reschedule (reschedule.ts, annotation nokube.io/reschedule-after-restarts): a pod that restarted too
//     often on its node is replaced elsewhere, the node penalised for this Deployment's new pods;
//   - canary step (canary.ts, nokube.io/canary): a new template's first N pods beside the old ones, the
//     rollout held until they are promoted; then the rolling update as above;
//   - auto-rollback (rollback.ts, nokube.io/auto-rollback): a failed rollout goes back to the newest
//     revision that was fully available;
//   - status (deployment-status.ts) written only when it changes; the actor is woken when the next pod
//     becomes available, when the progress deadline runs out and when canaries promote themselves.
import { isTerminating } from '../../agent/objects/pod-deletion.ts';
import { rolloutAnnotations } from '../../agent/objects/rollout-annotations.ts';
import type { Stored } from '../../agent/objects/store.ts';
import {
  type Deployment,
  POD_TEMPLATE_HASH_LABEL,
  type Pod,
  type PodTemplateSpec,
} from '../../agent/objects/types.ts';
import type { Action } from './actions.ts';
import { CANARY_FAILED, canaryState, extraOldFirst, provenRecord } from './canary.ts';
import { deploymentStatus, PROGRESS_DEADLINE_EXCEEDED } from './deployment-status.ts';
import { fateOnUnreachable, standingOf } from './eviction.ts';
import { bindPending, createPlaced } from './placement.ts';
import { randomSuffix, templateHash } from './pod-template.ts';
import { prePullGate } from './prepull.ts';
import { planReschedule, withReschedule } from './reschedule.ts';
import { deploymentTemplateOf, hashOf, revisionNumber } from './revision-meta.ts';
import { planRevisions, revisionName } from './revisions.ts';
import { planRollback } from './rollback.ts';
import { type RolloutParams, rolloutParams } from './rollout-params.ts';
import {
  availableAt,
  isReady,
  isRunning,
  isTerminal,
  loadOf,
  ownedPods,
  ownedReplicaSets,
  type World,
} from './world.ts';

export interface ReconcileEnv {
  now: string;
  suffix?: () => string;
}

type Pods = Array<Stored<Pod>>;

export function reconcileDeployment(stored: Stored<Deployment>, world: World, env: ReconcileEnv): Action[] {
  const d = stored.object;
  const p = rolloutParams(d);
  const want = p.replicas;
  const hash = templateHash(d.spec.template);
  const suffix = env.suffix ?? randomSuffix;
  const load = loadOf(world);
  const podActions: Action[] = [];
  const nowMs = Date.parse(env.now);
  const available = (x: Stored<Pod>) => (availableAt(x.object, p.minReadySeconds) ?? Infinity) <= nowMs;

  const owned = ownedPods(world, d);
  // Sets, not lists: with thousands of replicas a membership test per pod must not cost a scan.
  const gone = new Set<Stored<Pod>>();
  const wakes: number[] = [];
  for (const x of owned) {
    const standing = standingOf(x.object, world);
    const drop = (why: string, whileNodeAbsent?: string) => {
      gone.add(x);
      podActions.push({ type: 'delete', pod: x, why, ...(whileNodeAbsent ? { whileNodeAbsent } : {}) });
    };
    // A Terminating pod is its agent's to finish; only a lost node's verdict removes it (no agent).
    if (isTerminating(x.object) && standing !== 'unreachable') gone.add(x);
    else if (isTerminal(x.object)) drop(`pod ${x.object.status?.phase}`);
    else if (standing === 'drained') drop(`node ${x.object.spec.nodeName} is drained`);
    else if (standing === 'unreachable') {
      const fate = fateOnUnreachable(x.object, nowMs);
      if (fate.evict) drop(fate.why, x.object.spec.nodeName);
      else if (isTerminating(x.object)) gone.add(x);
      else if (fate.wakeAt !== undefined) wakes.push(fate.wakeAt);
    }
  }
  // A pod that failed too often on its node goes (replaced below, elsewhere): reschedule.ts.
  const resched = planReschedule(
    d,
    owned.filter((x) => !gone.has(x) && x.object.spec.nodeName),
    world,
    load,
    nowMs,
  );
  for (const r of resched.replace) {
    gone.add(r.pod);
    podActions.push({ type: 'delete', pod: r.pod, why: r.why });
  }
  const live = owned.filter((x) => !gone.has(x));
  const current = live.filter((x) => hashOf(x.object) === hash);
  const old = live.filter((x) => hashOf(x.object) !== hash);
  const annotations = rolloutAnnotations(d.metadata);
  const records = ownedReplicaSets(world, d);
  const record = records.find((r) => hashOf(r.object) === hash);
  const canary = canaryState({
    name: d.metadata.name,
    annotations,
    replicas: want,
    rolling: p.strategy === 'RollingUpdate' && !p.paused,
    record,
    recordName: revisionName(d, hash),
    current,
    old,
    ended: [...gone].filter((x) => hashOf(x.object) === hash && isTerminal(x.object)),
    available,
    nowMs,
  });

  podActions.push(
    ...bindPending(
      d,
      live.filter((x) => !x.object.spec.nodeName),
      world,
      load,
      env.now,
      resched.avoid,
    ),
  );

  const create = (h: string, template: PodTemplateSpec, n: number) =>
    podActions.push(
      ...createPlaced(
        { ...d, spec: { ...d.spec, template } },
        world,
        load,
        n,
        () => `${d.metadata.name}-${h}-${suffix()}`,
        { [POD_TEMPLATE_HASH_LABEL]: h },
        env.now,
        resched.avoid,
      ),
    );
  const del = (pods: Pods, n: number, why: string) => {
    for (const x of deletionOrder(pods, n)) podActions.push({ type: 'delete', pod: x, why });
  };
  const scale = () => {
    if (current.length < want) create(hash, d.spec.template, want - current.length);
    else if (current.length > want) del(current, current.length - want, `scaled to ${want}`);
  };

  // The newest older revision that still has pods: the one that keeps the count while nothing rolls out.
  const newestOld = records
    .filter((r) => old.some((x) => hashOf(x.object) === hashOf(r.object)))
    .sort((a, b) => revisionNumber(b.object) - revisionNumber(a.object))[0];

  const prePull = prePullGate(world, d, d.spec.template, hash, rollingNodes(p, old));
  if (p.paused) {
    // The newest revision that has pods keeps the count (the template's own when it has any).
    const target = current.length > 0 || old.length === 0 ? hash : newestOld && hashOf(newestOld.object);
    const mine = live.filter((x) => hashOf(x.object) === target);
    const others = live.filter((x) => hashOf(x.object) !== target);
    if (live.length < want && target !== undefined) {
      const template = target === hash ? d.spec.template : deploymentTemplateOf(newestOld!.object);
      create(target, template, want - live.length);
    } else if (live.length > want) {
      const extra = live.length - want;
      const first = deletionOrder(others, Math.min(extra, others.length));
      for (const x of [...first, ...deletionOrder(mine, extra - first.length)])
        podActions.push({ type: 'delete', pod: x, why: `scaled to ${want}` });
    }
  } else if (p.strategy === 'Recreate') {
    // No new pod while any old pod object exists (Terminating or just deleted): old and new containers
    // never run side by side.
    const oldObjects = owned.filter((x) => hashOf(x.object) !== hash);
    if (oldObjects.length > 0) del(old, old.length, 'template changed (Recreate)');
    else scale();
  } else if (old.length === 0 || current.length > want) {
    scale();
  } else if (canary.holding) {
    // The canaries beside the old pods, which stay at `replicas` (more than that: the canaries of a
    // template replaced meanwhile, a rollout cut short; they go, the unproven first).
    if (current.length < canary.count) create(hash, d.spec.template, canary.count - current.length);
    // Old pods lost (or a scale-up) meanwhile: made again of the newest older revision that has pods,
    // one that was fully available first (not the canary of a template replaced meanwhile).
    const proven = new Set(records.filter(provenRecord).map((r) => hashOf(r.object)));
    const source =
      records
        .filter((r) => proven.has(hashOf(r.object)) && old.some((x) => hashOf(x.object) === hashOf(r.object)))
        .sort((a, b) => revisionNumber(b.object) - revisionNumber(a.object))[0] ?? newestOld;
    if (old.length < want && source)
      create(hashOf(source.object)!, deploymentTemplateOf(source.object), want - old.length);
    const extra = extraOldFirst(old, available, (x) => proven.has(hashOf(x.object))).slice(
      0,
      Math.max(0, old.length - want),
    );
    for (const x of extra)
      podActions.push({ type: 'delete', pod: x, why: 'beyond replicas while canaries wait' });
  } else {
    const up = Math.max(0, Math.min(want + p.maxSurge - live.length, want - current.length));
    if (up > 0) create(hash, d.spec.template, up);
    // Old pods go while replicas - maxUnavailable stay available; the new pods not yet available count
    // against that room (k8s' reconcileOldReplicaSets): unavailable old pods first.
    const minAvailable = want - p.maxUnavailable;
    const room = live.length - minAvailable - current.filter((x) => !available(x)).length;
    if (room > 0) {
      const unhealthy = old.filter((x) => !available(x));
      del(unhealthy, Math.min(room, unhealthy.length), 'not available; replaced by the new template');
      // Available old pods stop only on nodes that hold the new images (prepull.ts, Nomad #6380).
      const oldAvailable = old.filter(available).filter((x) => prePull.allows(x.object.spec.nodeName));
      const n = Math.min(live.filter(available).length - minAvailable, oldAvailable.length);
      if (n > 0) del(oldAvailable, n, 'replaced by the new template');
    }
  }

  // Pods per revision once these actions are done: the records' spec.replicas.
  const after = new Map<string, number>();
  const bump = (h: string | undefined, by: number) => h && after.set(h, (after.get(h) ?? 0) + by);
  for (const x of live) bump(hashOf(x.object), 1);
  const isLive = new Set(live);
  for (const a of podActions) {
    if (a.type === 'create') bump(hashOf(a.pod), 1);
    else if (a.type === 'delete' && isLive.has(a.pod)) bump(hashOf(a.pod.object), -1);
  }
  const revisions = planRevisions(world, {
    d,
    hash,
    paused: p.paused,
    revisionHistoryLimit: p.revisionHistoryLimit,
    owned,
    live,
    after,
    isReady: (x) => isReady(x.object),
    isAvailable: available,
    fullyAvailable: want > 0 && current.length === want && live.length === want && current.every(available),
    ...(canary.promote ? { promoted: env.now } : {}),
    now: env.now,
  });

  const outcome = deploymentStatus(
    d,
    p,
    {
      replicas: live.length,
      updated: current.length,
      ready: live.filter((x) => isReady(x.object)).length,
      available: live.filter(available).length,
      updatedAvailable: current.filter(available).length,
    },
    revisionName(d, hash),
    revisions.started,
    env.now,
    { canary, rolledBack: annotations.rolledBackTo === hash },
  );

  const actions = [...revisions.actions, ...podActions, ...prePull.actions];
  // A pod that becomes available later (minReadySeconds) changes the status and may let a rollout go
  // on; the progress deadline ends: wake the actor then.
  const later = live
    .map((x) => availableAt(x.object, p.minReadySeconds))
    .filter((t): t is number => t !== undefined && t > nowMs)
    .concat(wakes, outcome.deadlineAt === undefined ? [] : [outcome.deadlineAt])
    .concat(resched.wakeAt === undefined ? [] : [resched.wakeAt])
    .concat(canary.holding && canary.promoteAt !== undefined ? [canary.promoteAt] : []);
  if (later.length > 0) actions.push({ type: 'wake', at: Math.min(...later) });
  if (canary.promote)
    actions.push({
      type: 'event',
      on: 'owner',
      reason: 'CanaryPromoted',
      message: `Canaries of ReplicaSet "${revisionName(d, hash)}" ${canary.promote}`,
    });
  const progressMessage = outcome.status.conditions?.find((c) => c.type === 'Progressing')?.message ?? '';
  if (outcome.timedOut)
    actions.push({
      type: 'event',
      on: 'owner',
      warning: true,
      reason: PROGRESS_DEADLINE_EXCEEDED,
      message: progressMessage,
    });
  if (outcome.canaryFailed)
    actions.push({
      type: 'event',
      on: 'owner',
      warning: true,
      reason: CANARY_FAILED,
      message: progressMessage,
    });
  const status = withReschedule(outcome.status, resched, env.now);
  const rollback = annotations.autoRollback
    ? planRollback({
        stored,
        hash,
        records,
        status,
        failedNow: outcome.timedOut || outcome.canaryFailed,
        now: env.now,
      })
    : undefined;
  // A new penalty is stored before the pod goes: a leader taking over in between still honours it.
  const first = resched.replace.length > 0 ? 'unshift' : 'push';
  // A rollback writes the status with the Deployment (one transaction); else the status alone.
  if (rollback?.some((a) => a.type === 'putObject')) actions[first](...rollback);
  else {
    if (JSON.stringify(status) !== JSON.stringify(d.status ?? null))
      actions[first]({ type: 'status', status });
    actions.push(...(rollback ?? []));
  }
  actions.push(...resched.events);
  return actions;
}

/** The nodes whose old pods a rolling update will stop (its pre-pull requests go there). */
const rollingNodes = (p: RolloutParams, old: Pods): string[] =>
  p.strategy === 'RollingUpdate' && !p.paused
    ? old.flatMap((x) => (x.object.spec.nodeName ? [x.object.spec.nodeName] : []))
    : [];

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

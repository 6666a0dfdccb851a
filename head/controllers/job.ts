// Job: run pods until `completions` (default 1) of them succeed, at most `parallelism` (default 1) at a
// time, giving up after more than `backoffLimit` (default 6) failures. Pure: `reconcileJob(job, world)`.
//
//   - counts come from the pods' status: Succeeded and Failed pods (kept, for their logs), plus the
//     container restarts of OnFailure pods (each restart is a failure, as in k8s);
//   - a pod on a drained node, or on an unreachable one past its toleration (eviction.ts), is marked
//     Failed (reason NodeLost) and so replaced;
//   - active = min(parallelism, completions - succeeded) pods; a succeeded pod is never re-created;
//     after a failure new pods wait for the back-off (JOB_BACKOFF, k8s values; the actor is woken);
//   - Complete / Failed (BackoffLimitExceeded, or DeadlineExceeded once `activeDeadlineSeconds` have
//     passed since startTime: the actor is woken at the deadline) conditions, completionTime; a failed
//     job's running pods are deleted (gracefully: actions.ts); events Completed / BackoffLimitExceeded /
//     DeadlineExceeded (Warning);
//   - a Terminating pod (deletionTimestamp set) is not active: it is replaced at once, as k8s does;
//   - `ttlSecondsAfterFinished`: a finished Job is deleted that long after it finished (its pods with it).
import { isTerminating } from '../../agent/objects/pod-deletion.ts';
import type { Stored } from '../../agent/objects/store.ts';
import type { Job, JobStatus, Pod } from '../../agent/objects/types.ts';
import type { Action } from './actions.ts';
import type { ReconcileEnv } from './deployment.ts';
import { fateOnUnreachable, NODE_LOST, standingOf } from './eviction.ts';
import { bindPending, createPlaced } from './placement.ts';
import { randomSuffix } from './pod-template.ts';
import { condition, isTerminal, loadOf, ownedPods, phaseOf, type World } from './world.ts';

export const JOB_DEFAULTS = { completions: 1, parallelism: 1, backoffLimit: 6 } as const;

/** k8s's pod failure back-off: a failed pod's replacement waits 10 s, doubling per failed pod, at most
 * 6 min, counted from the last failure (its containers' finish time; a pod lost with its node has none
 * and is replaced at once). */
export const JOB_BACKOFF = { firstMs: 10_000, maxMs: 360_000 } as const;

function lastFinish(pods: Array<Stored<Pod>>): number | undefined {
  const times = pods.flatMap((p) =>
    (p.object.status?.containerStatuses ?? []).flatMap((c) =>
      c.state.terminated ? [Date.parse(c.state.terminated.finishedAt)] : [],
    ),
  );
  return times.length > 0 ? Math.max(...times) : undefined;
}

const restarts = (p: Pod) => (p.status?.containerStatuses ?? []).reduce((n, c) => n + c.restartCount, 0);

export function reconcileJob(stored: Stored<Job>, world: World, env: ReconcileEnv): Action[] {
  const job = stored.object;
  const completions = job.spec.completions ?? JOB_DEFAULTS.completions;
  const parallelism = job.spec.parallelism ?? JOB_DEFAULTS.parallelism;
  const backoffLimit = job.spec.backoffLimit ?? JOB_DEFAULTS.backoffLimit;
  const actions: Action[] = [];
  const prev = job.status;
  const finished = prev?.conditions?.find(
    (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
  );

  const owned = ownedPods(world, job);
  const nowMs = Date.parse(env.now);
  const lost: Array<Stored<Pod>> = [];
  for (const p of owned) {
    // A Terminating pod is its agent's to finish (the sweep removes one whose node is gone).
    if (isTerminal(p.object) || isTerminating(p.object)) continue;
    const standing = standingOf(p.object, world);
    let why: string | undefined;
    if (standing === 'drained') why = `Node ${p.object.spec.nodeName} is drained`;
    else if (standing === 'unreachable') {
      const fate = fateOnUnreachable(p.object, nowMs);
      if (fate.evict) why = `Pod ${p.object.metadata.name} evicted: ${fate.why}`;
      else if (fate.wakeAt !== undefined) actions.push({ type: 'wake', at: fate.wakeAt });
    }
    if (!why) continue;
    lost.push(p);
    const status = {
      ...(p.object.status ?? { phase: 'Pending' as const }),
      phase: 'Failed' as const,
      reason: NODE_LOST,
      message: why,
    };
    const whileNodeAbsent = standing === 'unreachable' ? p.object.spec.nodeName : undefined;
    actions.push({ type: 'podStatus', pod: p, status, ...(whileNodeAbsent ? { whileNodeAbsent } : {}) });
  }
  const phase = (p: Stored<Pod>) => (lost.includes(p) ? 'Failed' : phaseOf(p.object));
  const succeeded = owned.filter((p) => phase(p) === 'Succeeded').length;
  const onFailure = job.spec.template.spec.restartPolicy === 'OnFailure';
  const failed =
    owned.filter((p) => phase(p) === 'Failed').length +
    (onFailure ? owned.reduce((n, p) => n + restarts(p.object), 0) : 0);
  // Terminating pods are not active (k8s): they are replaced at once and never deleted again.
  const active = owned.filter(
    (p) => phase(p) !== 'Succeeded' && phase(p) !== 'Failed' && !isTerminating(p.object),
  );

  const status: JobStatus = {
    ...prev,
    observedGeneration: job.metadata.generation,
    startTime: prev?.startTime ?? env.now,
  };
  const conditions = [...(prev?.conditions ?? [])];
  const deadline =
    job.spec.activeDeadlineSeconds === undefined
      ? undefined
      : Date.parse(status.startTime!) + job.spec.activeDeadlineSeconds * 1000;
  let activeCount = active.length;
  if (!finished) {
    if (succeeded >= completions) {
      conditions.push(condition(undefined, 'Complete', 'True', 'Completed', '', env.now));
      status.completionTime = env.now;
      actions.push({ type: 'event', on: 'owner', reason: 'Completed', message: 'Job completed' });
      for (const p of active) actions.push({ type: 'delete', pod: p, why: 'job complete' });
      activeCount = 0;
    } else if (failed > backoffLimit || (deadline !== undefined && Date.parse(env.now) >= deadline)) {
      const [reason, message] =
        failed > backoffLimit
          ? (['BackoffLimitExceeded', 'Job has reached the specified backoff limit'] as const)
          : (['DeadlineExceeded', 'Job was active longer than specified deadline'] as const);
      conditions.push(condition(undefined, 'Failed', 'True', reason, message, env.now));
      actions.push({ type: 'event', on: 'owner', warning: true, reason, message });
      for (const p of active) actions.push({ type: 'delete', pod: p, why: 'job failed' });
      activeCount = 0;
    } else {
      const load = loadOf(world);
      actions.push(
        ...bindPending(
          job,
          active.filter((p) => !p.object.spec.nodeName),
          world,
          load,
          env.now,
        ),
      );
      const want = Math.min(parallelism, completions - succeeded);
      const labels = { 'job-name': job.metadata.name, 'controller-uid': job.metadata.uid };
      const suffix = env.suffix ?? randomSuffix;
      const failedPods = owned.filter((p) => phase(p) === 'Failed');
      const last = lastFinish(failedPods);
      const notBefore =
        last === undefined
          ? 0
          : last + Math.min(JOB_BACKOFF.firstMs * 2 ** (failedPods.length - 1), JOB_BACKOFF.maxMs);
      if (active.length < want && Date.parse(env.now) < notBefore)
        actions.push({ type: 'wake', at: notBefore });
      else if (active.length < want) {
        actions.push(
          ...createPlaced(
            job,
            world,
            load,
            want - active.length,
            () => `${job.metadata.name}-${suffix()}`,
            labels,
            env.now,
          ),
        );
        activeCount = want;
      } else if (active.length > want) {
        for (const p of active.slice(want))
          actions.push({ type: 'delete', pod: p, why: `parallelism ${parallelism}` });
        activeCount = want;
      }
      if (deadline !== undefined) actions.push({ type: 'wake', at: deadline });
    }
  }
  status.active = activeCount;
  status.succeeded = succeeded;
  status.failed = failed;
  if (conditions.length > 0) status.conditions = conditions;
  if (JSON.stringify(status) !== JSON.stringify(prev ?? null)) actions.push({ type: 'status', status });
  actions.push(...ttlAfterFinished(stored, conditions, Date.parse(env.now)));
  return actions;
}

/** k8s' TTL-after-finished controller: a finished Job with `ttlSecondsAfterFinished` is deleted that long
 * after it finished (its Complete or Failed condition's time); its pods go with it (the sweep). */
function ttlAfterFinished(stored: Stored<Job>, conditions: JobStatus['conditions'], nowMs: number): Action[] {
  const ttl = stored.object.spec.ttlSecondsAfterFinished;
  const done = conditions?.find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
  if (ttl === undefined || !done) return [];
  const at = Date.parse(done.lastTransitionTime) + ttl * 1000;
  if (nowMs < at) return [{ type: 'wake', at }];
  return [{ type: 'deleteObject', target: stored, why: `ttlSecondsAfterFinished ${ttl} s passed` }];
}

// The ImagePrewarm controller (README "Image prewarm", seed 001). Pure: `reconcileImagePrewarm(task,
// world)` -> actions, run by the kubecontroller's leader like a Job's (its writes carry the leader's fence;
// all state is the task's status in etcd, so a new leader goes on where the old one stopped).
//
//   - Pending: the target nodes are fixed (targets.ts) and the first batch starts; no node: Failed;
//   - a batch: one image pull request per node (agent/images: the node's agent pulls and reports in its
//     node status); a node is Completed when it reports every image pulled, its request then removed;
//   - a failed attempt (the agent's report, or no answer within pullTimeoutSeconds) is tried again after a
//     back-off (10 s doubling; the request written again) up to `retries` times, then the node is Failed
//     (a detail per failing image); a timed-out attempt is left running, only its clock starts again;
//   - failed nodes over maxFailureRatio of all: the task is Failed at once and its requests removed (the
//     agents stop the pulls in flight); the next batch starts when every node of this one is done; the
//     last batch done: Completed;
//   - `spec.cancel`: Cancelled, requests removed; a finished task keeps no request.
import { answerOf, type ImagePullRequest, pullSecretsOf } from '../../agent/images/pull-requests.ts';
import type { Stored } from '../../agent/objects/store.ts';
import type {
  Container,
  ImagePrewarm,
  ImagePrewarmStatus,
  PrewarmNodeState,
} from '../../agent/objects/types.ts';
import { pullPolicy } from '../../agent/runtime/images.ts';
import type { Entry } from '../../agent/store/informer/informer.ts';
import type { Action } from '../controllers/actions.ts';
import type { ReconcileEnv } from '../controllers/deployment.ts';
import type { World } from '../controllers/world.ts';
import { backoffMs, isFinished, PREWARM_FAILED_DETAILS_MAX, requestKey, settingsOf } from './defaults.ts';
import { batchCount, batchOf, targetNodes } from './targets.ts';

export function reconcileImagePrewarm(
  stored: Stored<ImagePrewarm>,
  world: World,
  env: ReconcileEnv,
): Action[] {
  const task = stored.object;
  const prev = task.status;
  const now = env.now;
  const nowMs = Date.parse(now);
  const actions: Action[] = [];
  const mine = requestsOf(world, task);
  const remove = (node: string) => {
    const e = mine.get(node);
    if (e) actions.push({ type: 'imagePull', key: requestKey(node, task), prevRevision: e.modRevision });
    mine.delete(node);
  };
  if (isFinished(prev?.phase)) {
    for (const node of mine.keys()) remove(node);
    return actions;
  }
  const st: ImagePrewarmStatus = structuredClone(prev ?? { phase: 'Pending' });
  const event = (reason: string, message: string, warning = false) =>
    actions.push({ type: 'event', on: 'owner', reason, message, ...(warning ? { warning } : {}) });
  const finish = (phase: 'Completed' | 'Failed' | 'Cancelled', message: string) => {
    st.phase = phase;
    st.message = message;
    st.completionTime = now;
    delete st.estimatedCompletion;
    for (const node of mine.keys()) remove(node);
  };
  const done = () => {
    if (JSON.stringify(st) !== JSON.stringify(prev ?? null)) actions.push({ type: 'status', status: st });
    return actions;
  };

  if (task.spec.cancel) {
    finish('Cancelled', 'cancelled; pulls in flight were stopped');
    event(
      'Cancelled',
      `Cancelled at batch ${st.progress?.currentBatch ?? 0} of ${st.progress?.totalBatches ?? 0}`,
    );
    return done();
  }
  const request = requestOf(task);
  const put = (node: string) => {
    const e = mine.get(node);
    actions.push({
      type: 'imagePull',
      key: requestKey(node, task),
      request,
      ...(e ? { prevRevision: e.modRevision } : {}),
    });
  };
  const startBatch = (index: number) => {
    const nodes = batchOf(st.nodes!, task.spec.batchSize, index);
    st.progress!.currentBatch = index;
    st.batch = Object.fromEntries(
      nodes.map((n): [string, PrewarmNodeState] => [n, { state: 'Pulling', attempts: 0, since: now }]),
    );
    for (const node of nodes) put(node);
  };

  if (st.phase === 'Pending' || !st.nodes || !st.progress) {
    const nodes = targetNodes(task.spec, world.nodes);
    if (nodes.length === 0) {
      finish('Failed', 'no node matches the task (nodeSelector, affinity; cordoned nodes are left out)');
      event('NoNodes', st.message!, true);
      return done();
    }
    st.phase = 'Running';
    st.nodes = nodes;
    st.startTime = now;
    const totalBatches = batchCount(nodes.length, task.spec.batchSize);
    st.progress = {
      totalNodes: nodes.length,
      completedNodes: 0,
      failedNodes: 0,
      currentBatch: 0,
      totalBatches,
      percentage: 0,
    };
    startBatch(1);
    actions.push({ type: 'wake', at: nowMs + settingsOf(task.spec).pullTimeoutMs });
    event(
      'Started',
      `Pulling ${task.spec.images.length} image(s) onto ${nodes.length} node(s) in ${totalBatches} batch(es) of ${task.spec.batchSize}`,
    );
    return done();
  }

  const settings = settingsOf(task.spec);
  const progress = st.progress;
  const processedBefore = progress.completedNodes + progress.failedNodes;
  let wakeAt = Number.POSITIVE_INFINITY;
  for (const [node, ns] of Object.entries(st.batch ?? {})) {
    if (ns.state !== 'Pulling') continue;
    const e = mine.get(node);
    if (!e) {
      put(node); // not written yet (a write that lost, or a leader that stopped in between)
      continue;
    }
    const nodeStatus = world.nodeStatuses?.get(node);
    const answer = nodeStatus ? answerOf(nodeStatus, e.value, e.modRevision) : { state: 'Waiting' as const };
    if (answer.state === 'Pulled') {
      ns.state = 'Completed';
      delete ns.retryAt;
      progress.completedNodes++;
      remove(node);
      continue;
    }
    let failure: { reason: string; message: string; image: string } | undefined;
    if (answer.state === 'Failed' && ns.counted !== e.modRevision)
      failure = { reason: 'PullFailed', message: answer.message, image: failingImage(nodeStatus!, e) };
    else if (
      answer.state === 'Waiting' &&
      !ns.retryAt &&
      nowMs >= Date.parse(ns.since) + settings.pullTimeoutMs
    )
      failure = {
        reason: 'PullTimeout',
        message: `no answer within ${settings.pullTimeoutMs / 1000} s${nodeStatus ? '' : ' (the node reports no image status)'}`,
        image: firstNotPulled(nodeStatus, e),
      };
    if (failure) {
      ns.attempts++;
      if (ns.attempts > settings.retries) {
        ns.state = 'Failed';
        delete ns.retryAt;
        progress.failedNodes++;
        st.failedNodeDetails ??= [];
        if (st.failedNodeDetails.length < PREWARM_FAILED_DETAILS_MAX)
          st.failedNodeDetails.push({ node, ...failure, time: now });
        remove(node);
        event('NodeFailed', `node ${node}: ${failure.message} (after ${ns.attempts} attempt(s))`, true);
        continue;
      }
      if (failure.reason === 'PullFailed') {
        ns.counted = e.modRevision;
        ns.retryAt = new Date(nowMs + backoffMs(ns.attempts)).toISOString();
      } else ns.since = now; // the pull may still finish: its clock starts again
    }
    if (ns.retryAt && nowMs >= Date.parse(ns.retryAt)) {
      put(node); // a new revision: the agent tries again (answers to the old one no longer count)
      delete ns.retryAt;
      ns.since = now;
    }
    wakeAt = Math.min(
      wakeAt,
      ns.retryAt ? Date.parse(ns.retryAt) : Date.parse(ns.since) + settings.pullTimeoutMs,
    );
  }

  const processed = progress.completedNodes + progress.failedNodes;
  progress.percentage = Math.round((processed * 1000) / progress.totalNodes) / 10;
  if (progress.failedNodes / progress.totalNodes > settings.maxFailureRatio) {
    finish(
      'Failed',
      `${progress.failedNodes} of ${progress.totalNodes} node(s) failed, more than maxFailureRatio ${settings.maxFailureRatio}`,
    );
    event('TooManyFailures', st.message!, true);
    return done();
  }
  const batchDone = Object.values(st.batch ?? {}).every((n) => n.state !== 'Pulling');
  if (batchDone && progress.currentBatch >= progress.totalBatches) {
    finish('Completed', `${progress.completedNodes} of ${progress.totalNodes} node(s) hold the image(s)`);
    event('Completed', st.message!);
    return done();
  }
  if (batchDone) {
    startBatch(progress.currentBatch + 1);
    wakeAt = nowMs + settings.pullTimeoutMs;
  }
  if (processed !== processedBefore && processed > 0) {
    const start = Date.parse(st.startTime ?? now);
    st.estimatedCompletion = new Date(
      start + ((nowMs - start) * progress.totalNodes) / processed,
    ).toISOString();
  }
  if (Number.isFinite(wakeAt)) actions.push({ type: 'wake', at: wakeAt });
  return done();
}

/** The task's requests, by node. */
function requestsOf(world: World, task: ImagePrewarm): Map<string, Entry<ImagePullRequest>> {
  const out = new Map<string, Entry<ImagePullRequest>>();
  const suffix = requestKey('', task);
  for (const [key, e] of world.imagePulls ?? [])
    if (key.endsWith(suffix) && e.value.uid === task.metadata.uid) out.set(key.slice(0, -suffix.length), e);
  return out;
}

export function requestOf(task: ImagePrewarm): ImagePullRequest {
  const { namespace = 'default', name, uid, generation } = task.metadata;
  return {
    images: task.spec.images.map((image) => ({ image, policy: pullPolicy({ image } as Container) })),
    owner: `ImagePrewarm ${namespace}/${name}`,
    uid,
    revision: String(generation ?? 1),
    priority: settingsOf(task.spec).priority,
    ...pullSecretsOf(namespace, task.spec.imagePullSecrets),
  };
}

/** The image whose current attempt failed. */
function failingImage(
  status: { pulls: Array<{ image: string; state: string; revision: string }> },
  e: Entry<ImagePullRequest>,
): string {
  const failed = status.pulls.find(
    (p) =>
      p.state === 'Failed' &&
      BigInt(p.revision) >= BigInt(e.modRevision) &&
      e.value.images.some((i) => i.image === p.image),
  );
  return failed?.image ?? e.value.images[0]!.image;
}

function firstNotPulled(
  status: { pulls: Array<{ image: string; state: string; revision: string }> } | undefined,
  e: Entry<ImagePullRequest>,
): string {
  const pulled = (image: string) =>
    status?.pulls.some(
      (p) => p.image === image && p.state === 'Pulled' && BigInt(p.revision) >= BigInt(e.modRevision),
    );
  return e.value.images.find((i) => !pulled(i.image))?.image ?? e.value.images[0]!.image;
}

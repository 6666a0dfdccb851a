// Image pre-pull (issue 16 item 4, Nomad #6380): a controller that is about to stop an old pod on a node
// first asks that node's agent for the new revision's images, and stops the old pod only once the agent
// reports them pulled. The request is a key per (node, controller object) the leader writes under its
// fence; the answer is the node's status (`node-status/<node>`, as k8s' node.status.images), written by
// its agent. Revisions, not clocks, say whether an answer is for a request: an outcome carries the etcd
// mod revision of the newest request for that image the agent had seen when the attempt began. Meant to
// grow into the prewarm service (seed 001): any writer of a request key gets the same service.
import type { Container } from '../objects/types.ts';
import { pullPolicy } from '../runtime/images.ts';

export type PullPolicy = ReturnType<typeof pullPolicy>;

export interface ImagePullRequest {
  images: Array<{ image: string; policy: PullPolicy }>;
  /** Who asks, for people: `DaemonSet default/web`. */
  owner: string;
  /** The owner's uid (a newer object of the same name is another owner). */
  uid: string;
  /** The template hash the images are for. */
  revision: string;
  /** Higher first: the agent starts pulls of higher-priority requests first (absent: 0). */
  priority?: number;
  /** The owner's imagePullSecrets: Secrets of its namespace whose registry credentials the agent pulls
   * with (names only: the agent reads the Secrets, as for its pods). */
  pullSecrets?: PullSecretRef[];
  /** A failure the controller has reported already (its Warning event), so each is reported once. */
  reported?: string;
}

export interface PullSecretRef {
  namespace: string;
  name: string;
}

/** A spec's imagePullSecrets as references (absent when none). */
export const pullSecretsOf = (namespace: string, refs: Array<{ name: string }> | undefined) =>
  refs?.length ? { pullSecrets: refs.map(({ name }) => ({ namespace, name })) } : {};

/** One image the node holds, as k8s' ContainerImage. */
export interface NodeImage {
  names: string[];
  sizeBytes: number;
}

export type PullState = 'Pulling' | 'Pulled' | 'Failed';

export interface ImagePullOutcome {
  image: string;
  state: PullState;
  /** The mod revision (decimal) of the newest request for this image the attempt answers. */
  revision: string;
  /** Why it failed (the registry's or the engine's words). */
  message?: string;
  /** When the attempt began or ended (the agent's clock; for people only). */
  time: string;
}

/** What a node's agent reports about its images (`node-status/<node>`). */
export interface NodeStatus {
  /** Largest first, MAX_NODE_IMAGES at most (the kubelet's nodeStatusMaxImages default). */
  images: NodeImage[];
  /** The outcome for each image asked for by a request that exists now. */
  pulls: ImagePullOutcome[];
}

export const MAX_NODE_IMAGES = 50;
/** Distinct images one node pulls for requests at most; more are refused (Failed) until some go. */
export const MAX_REQUESTED_IMAGES = 64;
/** Pulls one agent runs at once for requests (a pod's own pull is not counted). */
export const PULLS_AT_ONCE = 2;

/** The images a pod template needs on a node, once each, with their pull policy. */
export function imagesOf(spec: {
  containers: Container[];
  initContainers?: Container[];
}): ImagePullRequest['images'] {
  const out = new Map<string, PullPolicy>();
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    const policy = pullPolicy(c);
    const had = out.get(c.image);
    // The strictest policy wins: Always asks for more than IfNotPresent, which asks for more than Never.
    if (!had || RANK[policy] > RANK[had]) out.set(c.image, policy);
  }
  return [...out].map(([image, policy]) => ({ image, policy }));
}

export const RANK: Record<PullPolicy, number> = { Never: 0, IfNotPresent: 1, Always: 2 };

/** Whether a node's status answers every image of a request made at `modRevision`: all pulled, one
 * failed (its message), or not yet. A policy-Always image counts only when pulled by an attempt that
 * began after the request (a fresh pull of its tag), as does every other image. */
export function answerOf(
  status: NodeStatus,
  request: ImagePullRequest,
  modRevision: string,
): { state: 'Pulled' } | { state: 'Failed'; message: string } | { state: 'Waiting' } {
  let all = true;
  for (const { image } of request.images) {
    const o = status.pulls.find((p) => p.image === image);
    const current = o !== undefined && BigInt(o.revision) >= BigInt(modRevision);
    if (current && o.state === 'Failed') return { state: 'Failed', message: o.message ?? 'pull failed' };
    if (!current || o.state !== 'Pulled') all = false;
  }
  return all ? { state: 'Pulled' } : { state: 'Waiting' };
}

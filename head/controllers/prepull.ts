// The controllers' side of image pre-pull (agent/images/pull-requests.ts): before an old pod on a node is
// stopped for a new revision, that node's agent is asked for the revision's images, and the old pod may
// stop only once the node reports them pulled. Pure: the requests to write or remove are actions.
//
//   - requests go to every node given at once (pulls run in parallel while the rollout moves node by
//     node); a request of this owner for a node no longer given is removed;
//   - a node whose record says it pre-pulls (`prePull`) is waited for even before its agent's first node
//     status (an agent just started); one whose record does not and that reports no status (an agent
//     of an older nokube) is not, nor are images with pull policy Never (nothing to pull; a template
//     of only those asks nothing);
//   - a failed pull keeps the old pod: a Warning event `FailedPrePull` on the owner, once per failure
//     (the request records it as reported). The agent retries on its own back-off meanwhile; an answer
//     counts only when made after the request's last write, so the next attempt after that report.
import {
  answerOf,
  type ImagePullRequest,
  imagesOf,
  pullSecretsOf,
} from '../../agent/images/pull-requests.ts';
import type { PodTemplateSpec } from '../../agent/objects/types.ts';
import type { Entry } from '../../agent/store/informer/informer.ts';
import type { Action } from './actions.ts';
import { stableJson } from './pod-template.ts';
import type { World } from './world.ts';

export interface PrePullOwner {
  kind: string;
  metadata: { name: string; namespace?: string; uid: string };
}

export interface PrePullGate {
  /** An old pod on this node may stop now (the node holds the new images, or does not pre-pull). */
  allows(node: string | undefined): boolean;
  actions: Action[];
}

export const PRE_PULL_FAILED = 'FailedPrePull';

/** Requests for `nodes` (the nodes where old pods of `owner` are to be replaced by pods of `template`,
 * hash `revision`); none for the others. */
export function prePullGate(
  world: World,
  owner: PrePullOwner,
  template: PodTemplateSpec,
  revision: string,
  nodes: Iterable<string>,
): PrePullGate {
  const statuses = world.nodeStatuses;
  if (!statuses) return { allows: () => true, actions: [] };
  // Images with pull policy Never have nothing to pull: the new pod's own start decides for them.
  const images = imagesOf(template.spec).filter((i) => i.policy !== 'Never');
  const namespace = owner.metadata.namespace ?? 'default';
  const ownerKey = `${owner.kind}/${namespace}/${owner.metadata.name}`;
  const existing = new Map<string, { key: string; entry: Entry<ImagePullRequest> }>();
  for (const [key, entry] of world.imagePulls ?? [])
    if (key.slice(key.indexOf('/') + 1) === ownerKey)
      existing.set(key.slice(0, key.indexOf('/')), { key, entry });

  const want: ImagePullRequest = {
    images,
    owner: `${owner.kind} ${namespace}/${owner.metadata.name}`,
    uid: owner.metadata.uid,
    revision,
    ...pullSecretsOf(namespace, template.spec.imagePullSecrets),
  };
  const actions: Action[] = [];
  const ready = new Set<string>();
  const asked = new Set<string>();
  const prePulling = new Set(world.nodes.filter((n) => n.prePull).map((n) => n.name));
  for (const node of images.length > 0 ? nodes : []) {
    const status = statuses.get(node);
    if (asked.has(node) || !(status || prePulling.has(node))) continue;
    asked.add(node);
    const key = `${node}/${ownerKey}`;
    const have = existing.get(node)?.entry;
    const current =
      have &&
      have.value.uid === want.uid &&
      have.value.revision === revision &&
      stableJson(have.value.images) === stableJson(images) &&
      stableJson(have.value.pullSecrets ?? []) === stableJson(want.pullSecrets ?? []);
    if (!current) {
      actions.push({
        type: 'imagePull',
        key,
        request: want,
        ...(have ? { prevRevision: have.modRevision } : {}),
      });
      continue;
    }
    if (!status) continue; // its agent has not reported yet
    const answer = answerOf(status, have.value, have.modRevision);
    if (answer.state === 'Pulled') ready.add(node);
    else if (answer.state === 'Failed' && have.value.reported !== answer.message) {
      const request = { ...have.value, reported: answer.message };
      actions.push({ type: 'imagePull', key, request, prevRevision: have.modRevision });
      const message = `node ${node}: ${answer.message}; its old pod is kept`;
      actions.push({ type: 'event', on: 'owner', warning: true, reason: PRE_PULL_FAILED, message });
    }
  }
  for (const [node, { key, entry }] of existing)
    if (!asked.has(node)) actions.push({ type: 'imagePull', key, prevRevision: entry.modRevision });
  // Nodes not asked (an older agent, or nothing to pull) are not waited for.
  return { allows: (node) => node === undefined || !asked.has(node) || ready.has(node), actions };
}

// A Deployment's revisions: one ReplicaSet object per pod-template hash, named <deploy>-<hash>, owned by
// the Deployment, with the revision number (`deployment.kubernetes.io/revision`), the Deployment's
// `kubernetes.io/change-cause`, the template (with its `pod-template-hash` label, as k8s) and the count of
// the Deployment's pods of that hash (spec.replicas: after this reconcile's actions; status: as seen).
//
// The pods stay owned by the Deployment (their controller reference), as nokube made them before
// revisions existed: a Deployment whose pods predate this gets a record per hash its pods carry, oldest
// pods' hash first, the current template's last (highest revision), and no pod is written or restarted.
// A template made current again (`rollout undo`) gets the next revision number, as in k8s. Records of
// old revisions with no pod left beyond `revisionHistoryLimit` are removed, oldest first. The current
// record is marked when all its replicas are first available (an automatic rollback's target) and when
// its canaries are promoted (rollout-annotations.ts).
import { canonical } from '../../agent/objects/canonical.ts';
import {
  FULLY_AVAILABLE_ANNOTATION,
  PROMOTED_AT_ANNOTATION,
} from '../../agent/objects/rollout-annotations.ts';
import { newMeta, type Stored, storedForm } from '../../agent/objects/store.ts';
import {
  API_VERSION,
  type Deployment,
  POD_TEMPLATE_HASH_LABEL,
  type Pod,
  type PodTemplateSpec,
  type ReplicaSet,
  type ReplicaSetStatus,
} from '../../agent/objects/types.ts';
import type { Action } from './actions.ts';
import { CHANGE_CAUSE_ANNOTATION, hashOf, REVISION_ANNOTATION, revisionNumber } from './revision-meta.ts';
import { ownedReplicaSets, type World } from './world.ts';

export const revisionName = (d: Deployment, hash: string) => `${d.metadata.name}-${hash}`;

export interface RevisionInput {
  d: Deployment;
  hash: string;
  paused: boolean;
  revisionHistoryLimit: number;
  /** Every pod of the Deployment (Terminating ones too: a revision with any is kept). */
  owned: Array<Stored<Pod>>;
  /** Pods counted as the revision's (not Terminating, not lost). */
  live: Array<Stored<Pod>>;
  /** Pods per hash once this reconcile's pod actions are done. */
  after: ReadonlyMap<string, number>;
  isReady: (p: Stored<Pod>) => boolean;
  isAvailable: (p: Stored<Pod>) => boolean;
  /** Every replica is of the current template and available: its record is marked so (once). */
  fullyAvailable: boolean;
  /** Its canaries are promoted now: the record says so from then on. */
  promoted?: string;
  now: string;
}

/** The records' writes (create, revision / count / change-cause updates, status, pruning), and whether
 * the current template starts a rollout now (its record made, or made current again: `rollout undo`). */
export function planRevisions(world: World, input: RevisionInput): { actions: Action[]; started: boolean } {
  const { d, hash } = input;
  const records = ownedReplicaSets(world, d);
  const byHash = new Map<string, Stored<ReplicaSet>>();
  for (const r of records) {
    const h = hashOf(r.object);
    if (h) byHash.set(h, r);
  }
  const actions: Action[] = [];
  let maxRevision = Math.max(0, ...records.map((r) => revisionNumber(r.object)));

  // Hashes of pods with no record (pods from before revisions, or a record deleted by hand): oldest first.
  const firstSeen = new Map<string, bigint>();
  for (const p of input.owned) {
    const h = hashOf(p.object);
    if (!h || h === hash || byHash.has(h)) continue;
    const rev = BigInt(p.createRevision);
    if (!firstSeen.has(h) || rev < firstSeen.get(h)!) firstSeen.set(h, rev);
  }
  const missing = [...firstSeen].sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)).map(([h]) => h);
  const adopted: number[] = [];
  for (const h of missing) {
    const pod = input.owned.find((p) => hashOf(p.object) === h)!.object;
    adopted.push(++maxRevision);
    const rs = newRecord(d, h, templateOfPod(pod), maxRevision, input.after.get(h) ?? 0);
    actions.push({ type: 'putObject', object: rs, status: statusOf(rs, h, input), why: 'pods adopted' });
  }

  // The current template's record. While paused, no new revision starts (k8s).
  const currentHasPods = input.owned.some((p) => hashOf(p.object) === hash);
  const current = byHash.get(hash);
  const othersMax = Math.max(
    0,
    ...records.filter((r) => r !== current).map((r) => revisionNumber(r.object)),
    ...adopted,
  );
  let started = false;
  if (!current && (!input.paused || currentHasPods)) {
    started = true;
    const template = structuredClone(d.spec.template);
    template.metadata = {
      ...template.metadata,
      labels: { ...template.metadata?.labels, [POD_TEMPLATE_HASH_LABEL]: hash },
    };
    const rs = newRecord(d, hash, template, ++maxRevision, input.after.get(hash) ?? 0);
    actions.push({ type: 'putObject', object: rs, status: statusOf(rs, hash, input), why: 'new revision' });
    if (rs.spec.replicas > 0) actions.push(scaled(rs.metadata.name, 0, rs.spec.replicas));
  }

  for (const r of records) {
    const h = hashOf(r.object) ?? '';
    const want = structuredClone(r.object);
    delete (want as { status?: unknown }).status;
    want.spec.replicas = input.after.get(h) ?? 0;
    want.spec.minReadySeconds = d.spec.minReadySeconds ?? 0;
    if (h === hash && !input.paused) {
      const annotations = { ...want.metadata.annotations };
      if (revisionNumber(r.object) < othersMax) {
        annotations[REVISION_ANNOTATION] = String(++maxRevision);
        // Current again: a new rollout, whose canaries (if any) are promoted anew.
        delete annotations[PROMOTED_AT_ANNOTATION];
        started = true;
      }
      const cause = d.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION];
      if (cause !== undefined) annotations[CHANGE_CAUSE_ANNOTATION] = cause;
      want.metadata.annotations = annotations;
    }
    if (h === hash) {
      const marks: Record<string, string> = {};
      if (input.fullyAvailable && !r.object.metadata.annotations?.[FULLY_AVAILABLE_ANNOTATION])
        marks[FULLY_AVAILABLE_ANNOTATION] = input.now;
      if (input.promoted && !r.object.metadata.annotations?.[PROMOTED_AT_ANNOTATION])
        marks[PROMOTED_AT_ANNOTATION] = input.promoted;
      if (Object.keys(marks).length > 0)
        want.metadata.annotations = { ...want.metadata.annotations, ...marks };
    }
    if (want.spec.replicas !== r.object.spec.replicas)
      actions.push(scaled(r.object.metadata.name, r.object.spec.replicas, want.spec.replicas));
    const specChanged = canonical(want.spec) !== canonical(r.object.spec);
    if (specChanged) want.metadata.generation = r.object.metadata.generation + 1;
    const objectChanged = canonical(storedForm(want)) !== canonical(storedForm(r.object));
    const status = statusOf(want, h, input);
    const statusChanged = canonical(status) !== canonical(r.object.status ?? null);
    if (objectChanged || statusChanged)
      actions.push({
        type: 'putObject',
        prev: r,
        ...(objectChanged ? { object: want } : {}),
        ...(statusChanged ? { status } : {}),
        why: 'revision updated',
      });
  }

  // History: old records with no pod at all, beyond the limit, oldest revision first.
  const cleanable = records
    .filter((r) => {
      const h = hashOf(r.object);
      return (
        h !== hash &&
        (input.after.get(h ?? '') ?? 0) === 0 &&
        !input.owned.some((p) => hashOf(p.object) === h)
      );
    })
    .sort((a, b) => revisionNumber(a.object) - revisionNumber(b.object));
  const excess = cleanable.length - input.revisionHistoryLimit;
  for (const r of cleanable.slice(0, Math.max(0, excess)))
    actions.push({
      type: 'deleteObject',
      target: r,
      why: `revisionHistoryLimit ${input.revisionHistoryLimit}`,
    });
  return { actions, started };
}

/** k8s' event on the Deployment when a revision's count changes. */
const scaled = (name: string, from: number, to: number): Action => ({
  type: 'event',
  on: 'owner',
  reason: 'ScalingReplicaSet',
  message: `Scaled ${to > from ? 'up' : 'down'} replica set ${name} from ${from} to ${to}`,
});

function newRecord(
  d: Deployment,
  hash: string,
  template: PodTemplateSpec,
  revision: number,
  replicas: number,
): ReplicaSet {
  const cause = d.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION];
  const selector = structuredClone(d.spec.selector);
  selector.matchLabels = { ...selector.matchLabels, [POD_TEMPLATE_HASH_LABEL]: hash };
  return newMeta<ReplicaSet>({
    apiVersion: API_VERSION.ReplicaSet,
    kind: 'ReplicaSet',
    metadata: {
      name: revisionName(d, hash),
      namespace: d.metadata.namespace!,
      uid: '',
      resourceVersion: '0',
      generation: 1,
      creationTimestamp: '',
      labels: { ...template.metadata?.labels, [POD_TEMPLATE_HASH_LABEL]: hash },
      annotations: {
        [REVISION_ANNOTATION]: String(revision),
        ...(cause === undefined ? {} : { [CHANGE_CAUSE_ANNOTATION]: cause }),
      },
      ownerReferences: [
        {
          apiVersion: API_VERSION.Deployment,
          kind: 'Deployment',
          name: d.metadata.name,
          uid: d.metadata.uid,
          controller: true,
        },
      ],
    },
    spec: { replicas, minReadySeconds: d.spec.minReadySeconds ?? 0, selector, template },
  });
}

/** The template a pod was made from (podFromTemplate in reverse): its labels (hash included, as a
 * ReplicaSet's template has it), annotations and spec without the node. */
function templateOfPod(pod: Pod): PodTemplateSpec {
  const spec = structuredClone(pod.spec);
  delete spec.nodeName;
  const metadata: NonNullable<PodTemplateSpec['metadata']> = { labels: { ...pod.metadata.labels } };
  if (pod.metadata.annotations) metadata.annotations = { ...pod.metadata.annotations };
  return { metadata, spec };
}

function statusOf(rs: ReplicaSet, hash: string, input: RevisionInput): ReplicaSetStatus {
  const pods = input.live.filter((p) => hashOf(p.object) === hash);
  return {
    observedGeneration: rs.metadata.generation,
    replicas: pods.length,
    fullyLabeledReplicas: pods.length,
    readyReplicas: pods.filter(input.isReady).length,
    availableReplicas: pods.filter(input.isAvailable).length,
  };
}

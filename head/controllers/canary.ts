// The canary step of a Deployment's rolling update (nokube.io/canary, as Nomad's `canary`): a new
// template first gets N pods beside the old ones (which stay at full count: canaries are extra); the
// rollout then holds until the canaries are promoted, by `nokube rollout promote` (the Deployment's
// nokube.io/canary-promoted-revision names the current revision) or by themselves once all N have been
// Ready for nokube.io/canary-auto-promote-after. The promotion is then recorded on the revision's record
// (nokube.io/canary-promoted-at), so it holds whatever is applied later. A canary that crash-loops or
// fails marks the rollout failed (Progressing=False CanaryFailed); one never ready runs into the
// progress deadline as any new pod does. A template that was fully available before (a rollback, an
// undo to a known revision) has nothing to prove: no canary step. Pure.

import {
  FULLY_AVAILABLE_ANNOTATION,
  PROMOTED_AT_ANNOTATION,
  type RolloutAnnotations,
} from '../../agent/objects/rollout-annotations.ts';
import type { Stored } from '../../agent/objects/store.ts';
import type { Pod, ReplicaSet } from '../../agent/objects/types.ts';
import { revisionNumber } from './revision-meta.ts';
import { readySince } from './world.ts';

export const CANARY_WAITING = 'CanaryWaiting';
export const CANARY_FAILED = 'CanaryFailed';

export interface CanaryInput {
  name: string;
  annotations: RolloutAnnotations;
  replicas: number;
  rolling: boolean;
  /** The current template's record, if made. */
  record: Stored<ReplicaSet> | undefined;
  recordName: string;
  /** Live pods of the current template, and of older ones. */
  current: Array<Stored<Pod>>;
  old: Array<Stored<Pod>>;
  /** Pods of the current template that ended (Failed, Succeeded) this reconcile. */
  ended: Array<Stored<Pod>>;
  available: (p: Stored<Pod>) => boolean;
  nowMs: number;
}

export interface CanaryState {
  /** The rollout holds at `count` new pods, the old ones kept. */
  holding: boolean;
  count: number;
  /** Canaries available now. */
  ready: number;
  /** Why the canaries failed (a crash loop, a failed pod), while holding. */
  failed?: string;
  /** A promotion to record now (on the revision's record, with an event). */
  promote?: string;
  /** When the canaries promote themselves (ms), if they all stay Ready. */
  promoteAt?: number;
  /** The Progressing message while every canary is ready and the rollout waits. */
  waitingMessage: string;
}

export const provenRecord = (r: Stored<ReplicaSet> | undefined) =>
  r?.object.metadata.annotations?.[FULLY_AVAILABLE_ANNOTATION] !== undefined;

export function canaryState(x: CanaryInput): CanaryState {
  const count = Math.min(x.annotations.canary, x.replicas);
  const ready = x.current.filter(x.available).length;
  const idle: CanaryState = { holding: false, count, ready, waitingMessage: '' };
  const recorded = x.record?.object.metadata.annotations?.[PROMOTED_AT_ANNOTATION] !== undefined;
  if (count === 0 || !x.rolling || x.old.length === 0 || provenRecord(x.record) || recorded) return idle;
  const revision = x.record ? revisionNumber(x.record.object) : 0;
  if (revision > 0 && x.annotations.promotedRevision === revision)
    return { ...idle, promote: `promoted by nokube rollout promote (revision ${revision})` };
  const failed = failure(x.current, x.ended);
  let promoteAt: number | undefined;
  const after = x.annotations.autoPromoteAfterSeconds;
  if (after !== undefined && !failed && ready >= count) {
    // Ready since: the latest of the `count` longest-ready canaries.
    const since = x.current
      .map((p) => readySince(p.object))
      .filter((t): t is number => t !== undefined)
      .sort((a, b) => a - b)
      .slice(0, count);
    if (since.length === count) promoteAt = since[count - 1]! + after * 1000;
    if (promoteAt !== undefined && x.nowMs >= promoteAt)
      return {
        ...idle,
        promote: `promoted automatically: ${count} of ${count} canaries Ready for ${after}s (nokube.io/canary-auto-promote-after)`,
      };
  }
  const how =
    promoteAt === undefined
      ? `nokube rollout promote deployment/${x.name}`
      : `promoted automatically at ${new Date(promoteAt).toISOString()}, or by nokube rollout promote deployment/${x.name}`;
  return {
    holding: true,
    count,
    ready,
    ...(failed ? { failed } : {}),
    ...(promoteAt === undefined ? {} : { promoteAt }),
    waitingMessage: `${Math.min(ready, count)} of ${count} canaries of ReplicaSet "${x.recordName}" ready; waiting for promotion (${how})`,
  };
}

/** A canary crash-looping (its container waiting in CrashLoopBackOff) or ended Failed. */
function failure(current: Array<Stored<Pod>>, ended: Array<Stored<Pod>>): string | undefined {
  for (const p of ended)
    if (p.object.status?.phase === 'Failed')
      return `canary pod ${p.object.metadata.name} failed${p.object.status.reason ? ` (${p.object.status.reason})` : ''}`;
  for (const p of current)
    for (const c of p.object.status?.containerStatuses ?? [])
      if (c.state.waiting?.reason === 'CrashLoopBackOff')
        return `canary pod ${p.object.metadata.name}: container ${c.name} is crash-looping (${c.restartCount} restarts)`;
  return undefined;
}

/** Which old pods go when the canary step holds more than `replicas` old ones (a canary of a template
 * replaced meanwhile, a rollout cut short): unavailable ones, then those of revisions never fully
 * available, then the rest in `order`. */
export function extraOldFirst(
  old: Array<Stored<Pod>>,
  available: (p: Stored<Pod>) => boolean,
  proven: (p: Stored<Pod>) => boolean,
): Array<Stored<Pod>> {
  const rank = (p: Stored<Pod>) => (available(p) ? 2 : 0) + (proven(p) ? 1 : 0);
  return [...old].sort((a, b) => rank(a) - rank(b));
}

// Automatic rollback (nokube.io/auto-rollback: "true", as Nomad's auto_revert): a rollout that failed
// (Progressing=False: ProgressDeadlineExceeded, or CanaryFailed) of a template never fully available
// goes back to the newest revision that was (its record carries nokube.io/fully-available-at): the
// Deployment's template is written back to that revision's, as `rollout undo` does, with the
// Deployment's status (RolledBack condition) in the same transaction, only over the Deployment as read
// and under the leader's fence; a Warning event RolledBack says from which revision to which and why.
//
// No loop: only a revision never fully available is rolled back, and only to one that was; the
// template rolled back to is such a revision, so if its own rollout fails too it stays (the
// ProgressDeadlineExceeded says so) instead of bouncing between revisions. Pure.

import { ROLLED_BACK_TO_ANNOTATION } from '../../agent/objects/rollout-annotations.ts';
import type { Stored } from '../../agent/objects/store.ts';
import type { Condition, Deployment, DeploymentStatus, ReplicaSet } from '../../agent/objects/types.ts';
import type { Action } from './actions.ts';
import { CANARY_FAILED, provenRecord } from './canary.ts';
import { PROGRESS_DEADLINE_EXCEEDED, ROLLED_BACK } from './deployment-status.ts';
import { CHANGE_CAUSE_ANNOTATION, deploymentTemplateOf, hashOf, revisionNumber } from './revision-meta.ts';

export interface RollbackInput {
  stored: Stored<Deployment>;
  hash: string;
  records: Array<Stored<ReplicaSet>>;
  /** The status this reconcile computed. */
  status: DeploymentStatus;
  /** The rollout failed in this reconcile (not before): the one moment a refusal is worth an event. */
  failedNow: boolean;
  now: string;
}

/**
 * The rollback's write (the Deployment and its status in one action, with the event on success), or
 * an event saying why there is none, or nothing. Undefined when the rollout has not failed.
 */
export function planRollback(x: RollbackInput): Action[] | undefined {
  const d = x.stored.object;
  const progressing = x.status.conditions?.find((c) => c.type === 'Progressing');
  const why = progressing?.reason;
  if (progressing?.status !== 'False' || (why !== PROGRESS_DEADLINE_EXCEEDED && why !== CANARY_FAILED))
    return undefined;
  const current = x.records.find((r) => hashOf(r.object) === x.hash);
  // A revision fully available before that fails now (a scale-up that cannot be placed, a node gone)
  // is not a failed update: nothing to go back from. This is also what ends a failed rollback.
  if (provenRecord(current)) return undefined;
  const from = current ? `revision ${revisionNumber(current.object)}` : 'the new template';
  const target = x.records
    .filter((r) => hashOf(r.object) !== x.hash && provenRecord(r))
    .sort((a, b) => revisionNumber(b.object) - revisionNumber(a.object))[0];
  if (!target)
    return x.failedNow
      ? [
          {
            type: 'event',
            on: 'owner',
            warning: true,
            reason: 'RollbackImpossible',
            message: `auto-rollback: ${from} failed (${why}) and no earlier revision was fully available; staying`,
          },
        ]
      : [];
  const to = revisionNumber(target.object);
  const targetHash = hashOf(target.object)!;
  const message = `Rolled back from ${from} to revision ${to} (${why}: ${progressing.message ?? ''})`;
  const next = structuredClone(d);
  delete next.status;
  next.spec.template = deploymentTemplateOf(target.object);
  next.metadata.generation = d.metadata.generation + 1;
  const annotations: Record<string, string> = {
    ...d.metadata.annotations,
    [ROLLED_BACK_TO_ANNOTATION]: targetHash,
  };
  const cause = target.object.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION];
  if (cause === undefined) delete annotations[CHANGE_CAUSE_ANNOTATION];
  else annotations[CHANGE_CAUSE_ANNOTATION] = cause;
  next.metadata.annotations = annotations;
  const condition: Condition = {
    type: ROLLED_BACK,
    status: 'True',
    reason: why,
    message,
    lastUpdateTime: x.now,
    lastTransitionTime: x.now,
  };
  // Observed as written: `rollout status` tells this status from one older than a later apply by it.
  const status: DeploymentStatus = {
    ...x.status,
    observedGeneration: next.metadata.generation,
    conditions: [...(x.status.conditions ?? []).filter((c) => c.type !== ROLLED_BACK), condition],
  };
  return [
    {
      type: 'putObject',
      object: next,
      prev: x.stored,
      status,
      why: 'automatic rollback',
      done: { warning: true, reason: ROLLED_BACK, message },
    },
  ];
}

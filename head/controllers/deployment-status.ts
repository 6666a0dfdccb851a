// A Deployment's status as Kubernetes computes it: counts of its pods, and the Available / Progressing
// conditions. Progressing (with a progress deadline, k8s' syncRolloutStatus):
//   - True NewReplicaSetAvailable once the rollout is complete (every replica updated and available,
//     no old pod left); a complete rollout is not looked at again until its template or counts change;
//   - True NewReplicaSetCreated when a new revision starts; True ReplicaSetUpdated, with lastUpdateTime
//     now, whenever the rollout progresses (more updated, ready or available pods, fewer old ones);
//   - False ProgressDeadlineExceeded once progressDeadlineSeconds pass after the last progress (the
//     rollout goes on; the condition turns True again on the next progress);
//   - Unknown DeploymentPaused while paused, True DeploymentResumed when resumed.
// With a canary step (canary.ts), while it holds: False CanaryFailed once a canary fails (kept until the
// canaries are promoted or a new template starts), True CanaryWaiting while every canary is available
// (no deadline then: the wait for a promotion is not a lack of progress); else as above.
// Available: True when at least replicas - maxUnavailable pods are available.
// RolledBack (nokube's, rollback.ts): True once the controller rolled the Deployment back, while the
// template is the one it went back to.
import type { Condition, Deployment, DeploymentStatus } from '../../agent/objects/types.ts';
import { CANARY_FAILED, CANARY_WAITING, type CanaryState } from './canary.ts';
import type { RolloutParams } from './rollout-params.ts';

export const PROGRESS_DEADLINE_EXCEEDED = 'ProgressDeadlineExceeded';
export const ROLLED_BACK = 'RolledBack';
const COMPLETE = 'NewReplicaSetAvailable';

export interface Counts {
  /** Live pods (not Terminating, not lost). */
  replicas: number;
  updated: number;
  ready: number;
  available: number;
  updatedAvailable: number;
}

export interface StatusOutcome {
  status: DeploymentStatus;
  /** When the progress deadline runs out (ms), if the rollout is still waiting for it. */
  deadlineAt?: number;
  /** The Progressing condition just turned False ProgressDeadlineExceeded. */
  timedOut: boolean;
  /** It just turned False CanaryFailed. */
  canaryFailed: boolean;
}

export interface StatusExtras {
  canary?: CanaryState;
  /** The RolledBack condition still holds (the template is the one rolled back to). */
  rolledBack?: boolean;
}

/** k8s' SetDeploymentCondition: the same status and reason keep the condition as it is; a new reason
 * keeps the transition time while the status is the same. */
function setCondition(
  conds: Condition[],
  type: string,
  status: Condition['status'],
  reason: string,
  message: string,
  now: string,
  force = false,
): void {
  const i = conds.findIndex((c) => c.type === type);
  const prev = i >= 0 ? conds[i] : undefined;
  if (!force && prev && prev.status === status && prev.reason === reason) return;
  const next: Condition = {
    type,
    status,
    lastUpdateTime: now,
    lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : now,
    reason,
    message,
  };
  if (i >= 0) conds[i] = next;
  else conds.push(next);
}

export function deploymentStatus(
  d: Deployment,
  p: RolloutParams,
  c: Counts,
  revisionName: string,
  startedRevision: boolean,
  now: string,
  extras: StatusExtras = {},
): StatusOutcome {
  const prev = d.status;
  const conds: Condition[] = structuredClone(prev?.conditions ?? []).filter(
    (x) => x.type !== ROLLED_BACK || extras.rolledBack,
  );
  const canary = extras.canary?.holding ? extras.canary : undefined;
  let canaryFailed = false;
  const nowMs = Date.parse(now);
  if (c.available >= p.replicas - p.maxUnavailable)
    setCondition(
      conds,
      'Available',
      'True',
      'MinimumReplicasAvailable',
      'Deployment has minimum availability.',
      now,
    );
  else
    setCondition(
      conds,
      'Available',
      'False',
      'MinimumReplicasUnavailable',
      'Deployment does not have minimum availability.',
      now,
    );
  const progressing = () => conds.find((x) => x.type === 'Progressing');
  let deadlineAt: number | undefined;
  let timedOut = false;
  if (p.paused) {
    setCondition(conds, 'Progressing', 'Unknown', 'DeploymentPaused', 'Deployment is paused', now);
  } else {
    if (progressing()?.reason === 'DeploymentPaused')
      setCondition(conds, 'Progressing', 'True', 'DeploymentResumed', 'Deployment is resumed', now);
    if (startedRevision)
      setCondition(
        conds,
        'Progressing',
        'True',
        'NewReplicaSetCreated',
        `Created new replica set "${revisionName}"`,
        now,
      );
    const cur = progressing();
    const settled = c.replicas === c.updated && cur?.reason === COMPLETE;
    const complete =
      c.updated === p.replicas && c.replicas === p.replicas && c.updatedAvailable === p.replicas;
    const moved =
      c.updated > (prev?.updatedReplicas ?? 0) ||
      c.replicas - c.updated < (prev?.replicas ?? 0) - (prev?.updatedReplicas ?? 0) ||
      c.ready > (prev?.readyReplicas ?? 0) ||
      c.available > (prev?.availableReplicas ?? 0);
    if (!settled) {
      if (complete)
        setCondition(
          conds,
          'Progressing',
          'True',
          COMPLETE,
          `ReplicaSet "${revisionName}" has successfully progressed.`,
          now,
        );
      else if (canary && cur?.reason === CANARY_FAILED) {
        // Failed canaries stay failed until promoted or replaced (a crash loop runs between its waits).
      } else if (canary?.failed) {
        setCondition(conds, 'Progressing', 'False', CANARY_FAILED, canary.failed, now);
        canaryFailed = true;
      } else if (canary && canary.ready >= canary.count)
        // Its message says how the promotion comes (the annotations may change while it waits).
        setCondition(
          conds,
          'Progressing',
          'True',
          CANARY_WAITING,
          canary.waitingMessage,
          now,
          cur?.reason === CANARY_WAITING && cur.message !== canary.waitingMessage,
        );
      else if (moved || !cur)
        setCondition(
          conds,
          'Progressing',
          'True',
          'ReplicaSetUpdated',
          `ReplicaSet "${revisionName}" is progressing.`,
          now,
          true,
        );
      else if (cur.reason !== PROGRESS_DEADLINE_EXCEEDED) {
        const from = Date.parse(cur.lastUpdateTime ?? cur.lastTransitionTime);
        const at = from + p.progressDeadlineSeconds * 1000;
        if (nowMs >= at) {
          setCondition(
            conds,
            'Progressing',
            'False',
            PROGRESS_DEADLINE_EXCEEDED,
            `ReplicaSet "${revisionName}" has timed out progressing.`,
            now,
          );
          timedOut = true;
        } else deadlineAt = at;
      }
    }
  }
  // Available first, then Progressing, as k8s lists them.
  conds.sort((a, b) => order(a.type) - order(b.type));
  const status: DeploymentStatus = {
    observedGeneration: d.metadata.generation,
    replicas: c.replicas,
    updatedReplicas: c.updated,
    readyReplicas: c.ready,
    availableReplicas: c.available,
    conditions: conds,
  };
  if (p.replicas > c.available) status.unavailableReplicas = p.replicas - c.available;
  return { status, ...(deadlineAt === undefined ? {} : { deadlineAt }), timedOut, canaryFailed };
}

const order = (type: string) => (type === 'Available' ? 0 : type === 'Progressing' ? 1 : 2);

// nokube's rollout annotations on a Deployment (beyond Kubernetes, as Nomad's `update` block: canary,
// auto_promote, auto_revert), their parsing and their validation at apply. Names and values are in the
// README (Deployment updates). The user sets the first three; `rollout promote` sets the promotion; the
// controller sets the rest (on the Deployment when it rolls back, on the revisions' records).
import { DEPLOYMENT_DEFAULTS } from './defaults.ts';

/** "N": the first N pods of a new template are canaries, made beside the old pods (which stay at full
 * count); the rollout then holds until the canaries are promoted. */
export const CANARY_ANNOTATION = 'nokube.io/canary';
/** "<duration>": promote the canaries once all of them have been Ready that long without a break. */
export const AUTO_PROMOTE_ANNOTATION = 'nokube.io/canary-auto-promote-after';
/** "true": on ProgressDeadlineExceeded or failed canaries, go back to the newest revision that was
 * fully available. */
export const AUTO_ROLLBACK_ANNOTATION = 'nokube.io/auto-rollback';
/** "<revision>": `nokube rollout promote` promotes that revision's canaries (written with the
 * resourceVersion read: atomic). A revision made current again gets a new number, so a promotion
 * never carries over to a later rollout of the same template. */
export const PROMOTE_ANNOTATION = 'nokube.io/canary-promoted-revision';
/** "<pod-template-hash>": the controller rolled the Deployment back to this template (with its
 * RolledBack condition); it holds while the template is that one. */
export const ROLLED_BACK_TO_ANNOTATION = 'nokube.io/rolled-back-to';
/** On a revision's record (ReplicaSet): when all its replicas were first updated and available. Only
 * such a revision is an automatic rollback's target, and only one without it is rolled back. */
export const FULLY_AVAILABLE_ANNOTATION = 'nokube.io/fully-available-at';
/** On a revision's record: when its canaries were promoted (the rollout goes on from then, even if the
 * Deployment's annotations are applied again without the promotion). */
export const PROMOTED_AT_ANNOTATION = 'nokube.io/canary-promoted-at';

export interface RolloutAnnotations {
  /** Canary pods of a new template (0: no canary step). */
  canary: number;
  autoPromoteAfterSeconds?: number;
  autoRollback: boolean;
  promotedRevision?: number;
  rolledBackTo?: string;
}

const WHOLE = /^[1-9]\d{0,8}$/;

/** "30s", "5m", "2h", "1h30m" (Go's units h, m, s, in that order) -> seconds > 0; undefined otherwise. */
export function durationSeconds(text: string): number | undefined {
  const m = /^(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,6})s)?$/.exec(text);
  if (!m || text === '') return undefined;
  const seconds = Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
  return seconds > 0 ? seconds : undefined;
}

/** A stored Deployment's annotations (validated at apply; anything else reads as absent). */
export function rolloutAnnotations(meta: { annotations?: Record<string, string> }): RolloutAnnotations {
  const a = meta.annotations ?? {};
  const whole = (v: string | undefined) => (v !== undefined && WHOLE.test(v) ? Number(v) : undefined);
  const after = a[AUTO_PROMOTE_ANNOTATION];
  const autoPromoteAfterSeconds = after === undefined ? undefined : durationSeconds(after);
  const promotedRevision = whole(a[PROMOTE_ANNOTATION]);
  const rolledBackTo = a[ROLLED_BACK_TO_ANNOTATION];
  return {
    canary: whole(a[CANARY_ANNOTATION]) ?? 0,
    ...(autoPromoteAfterSeconds === undefined ? {} : { autoPromoteAfterSeconds }),
    autoRollback: a[AUTO_ROLLBACK_ANNOTATION] === 'true',
    ...(promotedRevision === undefined ? {} : { promotedRevision }),
    ...(rolledBackTo === undefined ? {} : { rolledBackTo }),
  };
}

type Problem = [Array<string | number>, string];

/** The annotations' rules, for a Deployment manifest: [path, message] per problem. */
export function rolloutAnnotationProblems(
  annotations: Record<string, string> | undefined,
  spec: { replicas?: number; strategy?: { type?: string } },
): Problem[] {
  const a = annotations ?? {};
  const out: Problem[] = [];
  const at = (k: string) => ['metadata', 'annotations', k];
  const canary = a[CANARY_ANNOTATION];
  const replicas = spec.replicas ?? DEPLOYMENT_DEFAULTS.replicas;
  if (canary !== undefined) {
    if (!WHOLE.test(canary))
      out.push([at(CANARY_ANNOTATION), `"${canary}": expected a whole number of canary pods, 1 or more`]);
    else if (Number(canary) > replicas)
      out.push([
        at(CANARY_ANNOTATION),
        `${canary} canaries for ${replicas} replicas: must not be more than spec.replicas (${replicas})`,
      ]);
    if (spec.strategy?.type === 'Recreate')
      out.push([
        at(CANARY_ANNOTATION),
        'canaries need strategy RollingUpdate (Recreate never runs old and new pods side by side)',
      ]);
  }
  const after = a[AUTO_PROMOTE_ANNOTATION];
  if (after !== undefined) {
    if (durationSeconds(after) === undefined)
      out.push([
        at(AUTO_PROMOTE_ANNOTATION),
        `"${after}": expected a duration above 0 such as 30s, 5m, 1h30m`,
      ]);
    if (canary === undefined)
      out.push([at(AUTO_PROMOTE_ANNOTATION), `needs ${CANARY_ANNOTATION} (there is nothing to promote)`]);
  }
  const rollback = a[AUTO_ROLLBACK_ANNOTATION];
  if (rollback !== undefined && rollback !== 'true' && rollback !== 'false')
    out.push([at(AUTO_ROLLBACK_ANNOTATION), `"${rollback}": expected "true" or "false"`]);
  const promoted = a[PROMOTE_ANNOTATION];
  if (promoted !== undefined && !WHOLE.test(promoted))
    out.push([
      at(PROMOTE_ANNOTATION),
      `"${promoted}": expected a revision number (set by nokube rollout promote)`,
    ]);
  const back = a[ROLLED_BACK_TO_ANNOTATION];
  if (back !== undefined && !/^[0-9a-z]{1,10}$/.test(back))
    out.push([at(ROLLED_BACK_TO_ANNOTATION), `"${back}": expected a pod-template-hash (set by nokube)`]);
  return out;
}

// A Deployment's rollout numbers as Kubernetes computes them: maxSurge / maxUnavailable from a count or a
// percentage of the desired replicas (surge rounded up, unavailable down; both 0 means 1 unavailable, as
// k8s' ResolveFenceposts), and the other fields with their k8s defaults (a Deployment stored before a
// field existed gets the same default apply would give it now).
import { DEPLOYMENT_DEFAULTS } from '../../agent/objects/defaults.ts';
import type { Deployment, IntOrPercent } from '../../agent/objects/types.ts';

export interface RolloutParams {
  replicas: number;
  strategy: 'RollingUpdate' | 'Recreate';
  /** Pods beyond `replicas` a rolling update may create. */
  maxSurge: number;
  /** Pods below `replicas` that may be unavailable during a rolling update (0 for Recreate, as k8s). */
  maxUnavailable: number;
  minReadySeconds: number;
  progressDeadlineSeconds: number;
  revisionHistoryLimit: number;
  paused: boolean;
}

/** "25%" of `total`, rounded up or down; a number as is. */
export function scaledValue(v: IntOrPercent, total: number, roundUp: boolean): number {
  if (typeof v === 'number') return v;
  const pct = Number.parseInt(v, 10);
  const exact = (pct * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

export function rolloutParams(d: Deployment): RolloutParams {
  const replicas = d.spec.replicas ?? DEPLOYMENT_DEFAULTS.replicas;
  const strategy = d.spec.strategy?.type ?? 'RollingUpdate';
  let maxSurge = 0;
  let maxUnavailable = 0;
  if (strategy === 'RollingUpdate') {
    const ru = d.spec.strategy?.rollingUpdate;
    maxSurge = scaledValue(ru?.maxSurge ?? DEPLOYMENT_DEFAULTS.maxSurge, replicas, true);
    maxUnavailable = Math.min(
      scaledValue(ru?.maxUnavailable ?? DEPLOYMENT_DEFAULTS.maxUnavailable, replicas, false),
      replicas,
    );
    if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  }
  return {
    replicas,
    strategy,
    maxSurge,
    maxUnavailable,
    minReadySeconds: d.spec.minReadySeconds ?? 0,
    progressDeadlineSeconds: d.spec.progressDeadlineSeconds ?? DEPLOYMENT_DEFAULTS.progressDeadlineSeconds,
    revisionHistoryLimit: d.spec.revisionHistoryLimit ?? DEPLOYMENT_DEFAULTS.revisionHistoryLimit,
    paused: d.spec.paused === true,
  };
}

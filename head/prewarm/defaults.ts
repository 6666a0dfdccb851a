// The documented defaults of an ImagePrewarm (README "Image prewarm") and the names its requests go by.
import type { ImagePrewarm, ImagePrewarmSpec } from '../../agent/objects/types.ts';

export const PREWARM_DEFAULTS = {
  /** The seed's rule: a task with at least 90 % of its nodes done is completed. */
  maxFailureRatio: 0.1,
  retries: 2,
  pullTimeoutSeconds: 600,
  priority: 0,
} as const satisfies Partial<ImagePrewarmSpec>;

/** A failed attempt is tried again after 10 s, doubling, at most 5 min (the agent's own pull back-off). */
export const PREWARM_BACKOFF = { firstMs: 10_000, maxMs: 300_000 } as const;

/** Failed-node details kept in a task's status (its progress counts every failed node). */
export const PREWARM_FAILED_DETAILS_MAX = 100;

export const settingsOf = (spec: ImagePrewarmSpec) => ({
  maxFailureRatio: spec.maxFailureRatio ?? PREWARM_DEFAULTS.maxFailureRatio,
  retries: spec.retries ?? PREWARM_DEFAULTS.retries,
  pullTimeoutMs: (spec.pullTimeoutSeconds ?? PREWARM_DEFAULTS.pullTimeoutSeconds) * 1000,
  priority: spec.priority ?? PREWARM_DEFAULTS.priority,
});

/** The back-off before attempt `attempts + 1` (after `attempts` failed ones). */
export const backoffMs = (attempts: number): number =>
  Math.min(PREWARM_BACKOFF.firstMs * 2 ** Math.max(0, attempts - 1), PREWARM_BACKOFF.maxMs);

/** The key of a task's request for a node, under `image-pulls/` (agent/images/pull-requests.ts). */
export const requestKey = (node: string, task: Pick<ImagePrewarm, 'metadata'>): string =>
  `${node}/ImagePrewarm/${task.metadata.namespace ?? 'default'}/${task.metadata.name}`;

export const isFinished = (phase: string | undefined): boolean =>
  phase === 'Completed' || phase === 'Failed' || phase === 'Cancelled';

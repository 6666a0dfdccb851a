// A pod's phase, as Kubernetes reads it.
import type { PodStatus } from './types.ts';

/** Succeeded or Failed: the pod ran to its end, and nothing of it runs again. */
export const isTerminalPhase = (phase: PodStatus['phase'] | undefined): boolean =>
  phase === 'Succeeded' || phase === 'Failed';

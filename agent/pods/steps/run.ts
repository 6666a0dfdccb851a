// What the steps of one container share: the pod, the container, what the actor remembers of it, and the
// outcome type. A step returns a `Waiting` (the kubelet's reason and a message) instead of throwing, so
// the status and the Warning event name the step that stopped and why.

import type Docker from 'dockerode';
import type { RegistryAuth } from '../../images/registry-auth.ts';
import type { Logger } from '../../log/logger.ts';
import type { EventRecorder } from '../../objects/events.ts';
import type { Container, ContainerState, Pod } from '../../objects/types.ts';
import type { Clock } from '../clock.ts';
import type { Lookup } from '../resolve.ts';

/** The dockerode calls the pod actor makes (a fake implements just these in unit tests). */
export type PodDocker = Pick<Docker, 'getContainer' | 'createContainer' | 'getImage' | 'pull' | 'modem'>;

export interface Backoff {
  initialMs: number;
  maxMs: number;
  /** A container that ran this long has its back-off reset (k8s: 10 minutes). */
  resetAfterMs: number;
}

/** What the actor remembers of one container between reconciles. */
export interface Tracked {
  restartCount: number;
  backoffMs: number;
  notBefore: number;
  /** Identity of the last exit we counted (so one exit is handled once). */
  seenExit?: string;
  lastState?: ContainerState;
  waiting?: { reason: string; message?: string };
  pull?: { backoffMs: number; notBefore: number };
  containerId?: string;
  /** A container made by an agent that still hashed the resolved env, adopted as matching this spec. */
  adopted?: string;
  /** The last start that Docker refused (its identity, the engine's message, when). */
  startError?: { key: string; message: string; at: string };
  /** The termination message read for an exit (termination-message.ts). */
  message?: { exit: string; text: string };
}

export class Waiting {
  readonly reason: string;
  readonly message: string;
  constructor(reason: string, message: string) {
    this.reason = reason;
    this.message = message;
  }
}

export interface RunDeps {
  docker: PodDocker;
  clock: Clock;
  log: Logger;
  recorder: EventRecorder;
  backoff: Backoff;
  /** The pod IP (pods use the host network): env fieldRefs and httpGet hooks. */
  address: string;
  lookup: Lookup;
  wakeAt(ms: number): void;
  /** Get an image (from peers first: agent/images/peers); absent: from its registry. */
  pullImage?(image: string, policy: 'Always' | 'IfNotPresent', auths: readonly RegistryAuth[]): Promise<void>;
}

/** One container of one pod, in one reconcile. */
export interface ContainerRun {
  pod: Pod;
  c: Container;
  t: Tracked;
  /** Docker's name of the container. */
  name: string;
  deps: RunDeps;
  /** Aborted when the pod starts terminating: a hook in flight stops waiting. */
  signal: AbortSignal;
  /** The host file bound at the container's terminationMessagePath, when it has one. */
  terminationLog?: string;
}

export const podRef = (pod: Pod) => ({
  kind: 'Pod' as const,
  namespace: pod.metadata.namespace ?? 'default',
  name: pod.metadata.name,
  uid: pod.metadata.uid,
});

export const warn = (run: ContainerRun, reason: string, message: string): void =>
  run.deps.recorder.warning(podRef(run.pod), reason, message);
export const note = (run: ContainerRun, reason: string, message: string): void =>
  run.deps.recorder.normal(podRef(run.pod), reason, message);

export const errorText = (err: unknown): string => {
  const e = err as { json?: { message?: string }; message?: string };
  return (e.json?.message ?? e.message ?? String(err)).trim();
};

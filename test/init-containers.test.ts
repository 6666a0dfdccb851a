// Init containers outside Docker: how `get pods` shows a pod that initializes (kubectl's STATUS and
// RESTARTS), and what the scheduler counts for it (the larger of the containers' sum and the largest
// init container, per resource, as k8s).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ContainerState, ContainerStatus, Pod } from '../agent/objects/types.ts';
import { podResources } from '../agent/scheduler/resources.ts';
import { podRestarts, podStatusText } from '../head/cli/print/pod-status.ts';

const cs = (name: string, state: ContainerState, restartCount = 0): ContainerStatus => ({
  name,
  image: 'busybox',
  ready: Boolean(state.terminated && state.terminated.exitCode === 0),
  restartCount,
  state,
});
const done: ContainerState = { terminated: { exitCode: 0, reason: 'Completed', finishedAt: 't' } };
const running: ContainerState = { running: { startedAt: 't' } };
const initializing: ContainerState = { waiting: { reason: 'PodInitializing', message: '' } };

const pod = (init: ContainerStatus[], app: ContainerStatus[] = [cs('m', initializing)]): Pod =>
  ({
    kind: 'Pod',
    metadata: { name: 'p' },
    spec: {
      initContainers: [
        { name: 'a', image: 'busybox' },
        { name: 'b', image: 'busybox' },
      ],
      containers: [{ name: 'm', image: 'busybox' }],
    },
    status: { phase: 'Pending', initContainerStatuses: init, containerStatuses: app },
  }) as unknown as Pod;

describe('a pod that initializes, as kubectl shows it', () => {
  test('Init:<done>/<all> while one runs or waits its turn; then the containers say', () => {
    assert.equal(podStatusText(pod([cs('a', running), cs('b', initializing)])), 'Init:0/2');
    assert.equal(podStatusText(pod([cs('a', done), cs('b', running)])), 'Init:1/2');
    assert.equal(podStatusText(pod([cs('a', done), cs('b', done)], [cs('m', running)])), 'Pending');
  });

  test('a failure: Init:<reason> (Init:Error, Init:CrashLoopBackOff); restarts counted with the containers’', () => {
    const failed: ContainerState = { terminated: { exitCode: 3, reason: 'Error', finishedAt: 't' } };
    assert.equal(podStatusText(pod([cs('a', failed), cs('b', initializing)])), 'Init:Error');
    const backoff: ContainerState = { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s' } };
    const p = pod([cs('a', done), cs('b', backoff, 2)], [cs('m', initializing, 1)]);
    assert.equal(podStatusText(p), 'Init:CrashLoopBackOff');
    assert.equal(podRestarts(p), 3);
    const noReason: ContainerState = { terminated: { exitCode: 2, reason: '', finishedAt: 't' } };
    assert.equal(podStatusText(pod([cs('a', noReason)])), 'Init:ExitCode:2');
  });
});

describe('what an initializing pod asks of a node', () => {
  const c = (cpu: string, memory: string) => ({ resources: { requests: { cpu, memory } } });
  test('the larger, per resource, of the containers’ sum and the largest init container', () => {
    const r = podResources({
      containers: [c('100m', '64Mi'), c('100m', '64Mi')],
      initContainers: [c('500m', '16Mi'), c('50m', '100Mi')],
    });
    assert.deepEqual(r.requests, { cpuMilli: 500, memoryBytes: 128 * 1024 * 1024 });
    const without = podResources({ containers: [c('100m', '64Mi'), c('100m', '64Mi')] });
    assert.deepEqual(without.requests, { cpuMilli: 200, memoryBytes: 128 * 1024 * 1024 });
  });
});

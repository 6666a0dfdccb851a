// What a namespace's objects use against its ResourceQuotas (agent/objects/quota.ts), as a table: a
// DaemonSet declares a pod per node its template may run on, as the DaemonSet controller picks them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { usageOf } from '../agent/objects/quota.ts';
import type { DaemonSet, Deployment, KubeObject } from '../agent/objects/types.ts';
import type { SchedNode } from '../agent/scheduler/types.ts';

const spec = (extra: object = {}) => ({
  containers: [{ name: 'c', image: 'x', resources: { requests: { cpu: '100m', memory: '64Mi' } } }],
  ...extra,
});
const daemonSet = (podSpec: object): DaemonSet =>
  ({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'agent', namespace: 'edge' },
    spec: {
      selector: { matchLabels: { app: 'a' } },
      template: { metadata: { labels: { app: 'a' } }, spec: podSpec },
    },
  }) as unknown as DaemonSet;
const deployment = (replicas: number): Deployment =>
  ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'edge' },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'w' } },
      template: { metadata: { labels: { app: 'w' } }, spec: spec() },
    },
  }) as unknown as Deployment;

const nodes: SchedNode[] = [
  { name: 'n1', labels: { pool: 'warm' } },
  { name: 'n2', labels: { pool: 'warm' } },
  { name: 'n3', labels: { pool: 'batch' } },
  {
    name: 'n4',
    labels: { pool: 'special' },
    taints: [{ key: 'pool', value: 'special', effect: 'NoSchedule' }],
  },
];

const cases: Array<{ what: string; objects: KubeObject[]; pods: number; cpu: number }> = [
  {
    what: 'a DaemonSet on every node that does not taint it away',
    objects: [daemonSet(spec())],
    pods: 3,
    cpu: 300,
  },
  {
    what: 'a DaemonSet with a nodeSelector',
    objects: [daemonSet(spec({ nodeSelector: { pool: 'warm' } }))],
    pods: 2,
    cpu: 200,
  },
  {
    what: 'a DaemonSet that tolerates the taint',
    objects: [daemonSet(spec({ tolerations: [{ key: 'pool', operator: 'Exists' }] }))],
    pods: 4,
    cpu: 400,
  },
  { what: 'a Deployment: its replicas', objects: [deployment(5)], pods: 5, cpu: 500 },
];

for (const c of cases)
  test(`usage: ${c.what}`, () => {
    const u = usageOf(c.objects, nodes, []);
    assert.equal(u.get('pods'), c.pods);
    assert.equal(u.get('requests.cpu'), c.cpu);
    assert.equal(u.get('requests.memory'), c.pods * 64 * 2 ** 20);
  });

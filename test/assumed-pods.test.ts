// The leader's assumed pods: placements of one controller count in the load of another that decides
// before reading them back (two Deployments with one host port, reconciled at once from the same read).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Stored } from '../agent/objects/store.ts';
import type { Deployment, Pod } from '../agent/objects/types.ts';
import type { NodeRecord } from '../agent/store/node-registry.ts';
import type { Action } from '../head/controllers/actions.ts';
import { AssumedPods } from '../head/controllers/assumed-pods.ts';
import { reconcileDeployment } from '../head/controllers/deployment.ts';
import type { World } from '../head/controllers/world.ts';

const docker = { name: 'docker' as const, version: '28', apiVersion: '1.41' };
const n1 = { name: 'n1', labels: {}, capacity: { containerRuntime: docker } } as unknown as NodeRecord;
const deployment = (name: string): Stored<Deployment> =>
  ({
    object: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: 'default', uid: `uid-${name}`, generation: 1 },
      spec: {
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: { containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 80 }] }] },
        },
      },
    },
    createRevision: '1',
    modRevision: '1',
  }) as unknown as Stored<Deployment>;
const emptyWorld = (pods: Array<Stored<Pod>> = []): World => ({ nodes: [n1], pods, drained: new Set() });
const now = '2026-01-01T00:00:00Z';
const created = (actions: Action[]) =>
  actions.flatMap((a) => (a.type === 'create' ? [a.pod.spec.nodeName ?? 'pending'] : []));

test('two Deployments with one host port decided from the same stale read: one bound, one pending', () => {
  const assumed = new AssumedPods();
  const t0 = Date.parse(now);
  const a = reconcileDeployment(deployment('a'), assumed.attach(emptyWorld(), t0), { now });
  assumed.record(a, t0);
  const b = reconcileDeployment(deployment('b'), assumed.attach(emptyWorld(), t0), { now });
  assert.deepEqual([created(a), created(b)], [['n1'], ['pending']]);

  // A read that shows a's pod bound counts it itself; a later read without it (the caches only move
  // forward: it was deleted) counts it no more, so a deleted pod does not keep its node full.
  const pod = a.find((x) => x.type === 'create')!.pod as Pod;
  const seen = emptyWorld([{ object: pod, createRevision: '2', modRevision: '2' } as Stored<Pod>]);
  assert.deepEqual(assumed.attach(seen, t0 + 1000).assumed, []);
  assert.deepEqual(assumed.attach(emptyWorld(), t0 + 2000).assumed ?? [], []);
  const c = reconcileDeployment(deployment('c'), assumed.attach(emptyWorld(), t0 + 2000), { now });
  assert.deepEqual(created(c), ['n1'], 'the port of the deleted pod is free at once');
});

test('an assumption no read confirms ends after 30 s', () => {
  const assumed = new AssumedPods();
  const t0 = Date.parse(now);
  assumed.record(reconcileDeployment(deployment('a'), emptyWorld(), { now }), t0);
  assert.equal(assumed.attach(emptyWorld(), t0 + 29_000).assumed?.length, 1);
  const later = reconcileDeployment(deployment('b'), assumed.attach(emptyWorld(), t0 + 30_000), { now });
  assert.deepEqual(created(later), ['n1']);
});

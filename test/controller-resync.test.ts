// Deleted means gone (issue 14, item 4): the kubecontroller's leader, in this process against a real
// etcd, with its resync forced into the worst interleaving: whatever the resync reads from etcd is held
// until a Deployment was deleted and the leader saw the delete, then let through. The deleted
// Deployment's actor (and its alive record) must not come back.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { createObjects, deleteObjects, newMeta } from '../agent/objects/store.ts';
import type { Deployment } from '../agent/objects/types.ts';
import { createEtcd } from '../agent/store/etcd.ts';
import { NO_GUARD } from '../agent/store/guard.ts';
import { Leader } from '../head/controllers/kubecontroller.ts';
import { eventually } from './harness/cluster.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';
import { gatedEtcd } from './harness/gated-etcd.ts';
import { leaderContext } from './harness/leader-context.ts';

const cluster = 'resync';
let server: TestEtcd;
let etcd: Etcd3;
before(async () => {
  server = await startTestEtcd();
  etcd = await createEtcd({ endpoints: [server.url], dialTimeoutMs: 5000 });
});
after(async () => {
  etcd?.close();
  await server?.stop();
});

const deployment = (name: string): Deployment =>
  newMeta({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: 'default',
      uid: '',
      resourceVersion: '',
      generation: 0,
      creationTimestamp: '',
    },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'x' }] } },
    },
  });

test('a Deployment deleted while a resync reads its lists: its actor is dropped and never comes back', async () => {
  const gated = gatedEtcd(etcd);
  const ctx = leaderContext(gated.client, cluster);
  await createObjects(etcd, cluster, [deployment('keep'), deployment('gone')]);
  const leader = new Leader(ctx, NO_GUARD);
  const actors = (leader as unknown as { actors: Map<string, unknown> }).actors;
  leader.start();
  try {
    await eventually(
      () => ctx.alive.has('default', 'deployment-gone') && ctx.alive.has('default', 'deployment-keep'),
      10_000,
      'both actors to run',
    );
    // The resync reads (and whatever it reads is held), then the delete lands and the leader sees it.
    gated.hold();
    const resync = (leader as unknown as { resync(): Promise<void> }).resync();
    await deleteObjects(etcd, cluster, [{ kind: 'Deployment', namespace: 'default', name: 'gone' }]);
    await eventually(() => !actors.has('Deployment/default/gone'), 10_000, 'the delete to drop the actor');
    gated.release();
    await resync;
    assert.ok(!actors.has('Deployment/default/gone'), 'the resync brought the deleted actor back');
    assert.ok(!ctx.alive.has('default', 'deployment-gone'), 'the deleted actor keeps an alive record');
    assert.ok(actors.has('Deployment/default/keep'), 'the other actor is kept');
  } finally {
    gated.release();
    leader.stop();
  }
});

test('an actor whose object is not found drops itself on its next reconcile', async () => {
  const ctx = leaderContext(etcd, cluster);
  const leader = new Leader(ctx, NO_GUARD);
  const actors = (leader as unknown as { actors: Map<string, { kick(): void }> }).actors;
  leader.start();
  try {
    await leader.resync();
    // An actor for an object etcd never had (as one made from a stale read would be).
    const ghost = deployment('ghost');
    (leader as unknown as { ensureActor(kind: string, o: Deployment): { kick(): void } })
      .ensureActor('Deployment', ghost)
      .kick();
    assert.ok(ctx.alive.has('default', 'deployment-ghost'));
    await eventually(() => !actors.has('Deployment/default/ghost'), 10_000, 'the actor to drop itself');
    assert.ok(!ctx.alive.has('default', 'deployment-ghost'), 'its alive record is gone with it');
  } finally {
    leader.stop();
  }
});

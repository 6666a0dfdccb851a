// The controllers' edge (head/controllers/actions.ts) against a real etcd: a scale-up's creates go out
// together in runs, every one lands exactly once, a name already taken counts as a lost race, and the
// order between a run and the other actions holds (a pod deleted, then one of the same name created).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { createLogger } from '../agent/log/logger.ts';
import { COMBINED_PREFIX, EventRecorder, type KubeEvent } from '../agent/objects/events.ts';
import { getObject, listObjects } from '../agent/objects/store.ts';
import type { Deployment } from '../agent/objects/types.ts';
import { connectEtcd } from '../agent/store/etcd.ts';
import { keys } from '../agent/store/keys.ts';
import { type Action, applyActions } from '../head/controllers/actions.ts';
import { podFromTemplate } from '../head/controllers/pod-template.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';

let server: TestEtcd;
let etcd: Etcd3;
const cluster = 'actions';
const owner = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name: 'd',
    namespace: 'default',
    uid: 'uid-d',
    resourceVersion: '1',
    generation: 1,
    creationTimestamp: '',
  },
  spec: {
    selector: { matchLabels: { app: 'd' } },
    template: {
      metadata: { labels: { app: 'd' } },
      spec: { containers: [{ name: 'main', image: 'busybox' }] },
    },
  },
} as Deployment;
const ownerRef = {
  ref: { kind: 'Deployment' as const, namespace: 'default', name: 'd', uid: 'uid-d' },
  createRevision: '1',
};
const create = (name: string): Action => ({ type: 'create', pod: podFromTemplate(owner, name, {}, 'n1') });

const recorderFor = (test: string) =>
  new EventRecorder(etcd, cluster, { component: 'test' }, createLogger({ test }, 'silent'));

before(async () => {
  server = await startTestEtcd();
  etcd = await connectEtcd({ endpoints: [server.url], dialTimeoutMs: 3000 });
});
after(async () => {
  etcd?.close();
  await server?.stop();
});

test('a scale-up of 1,200 pods (more than are in flight at once): every pod stored once, its events written or counted dropped; a taken name is a lost race', async () => {
  const recorder = recorderFor('actions');
  const edge = { etcd, cluster, recorder, guard: [] };
  const names = Array.from({ length: 1200 }, (_, i) => `d-${String(i).padStart(4, '0')}`);
  assert.equal(await applyActions(edge, ownerRef, names.map(create)), 0);
  const stored = await listObjects(etcd, cluster, 'Pod', 'default', false);
  assert.deepEqual(stored.map((s) => s.object.metadata.name).sort(), names);
  // Two events per pod: Scheduled on the pod, each written or dropped by the bounded queue, none lost
  // otherwise; SuccessfulCreate on the owner, nine of them alone, the rest in one combined event.
  await recorder.flush();
  const events = Object.values(await etcd.getAll().prefix(keys.eventsPrefix(cluster)).strings()).map(
    (v) => JSON.parse(v) as KubeEvent,
  );
  const scheduled = events.filter((e) => e.reason === 'Scheduled');
  assert.ok(scheduled.length + recorder.dropped >= names.length);
  assert.ok(scheduled.length >= names.length / 2, `${scheduled.length} Scheduled events written`);
  const created = events.filter((e) => e.reason === 'SuccessfulCreate');
  assert.equal(created.length, 10);
  const combined = created.filter((e) => e.message.startsWith(COMBINED_PREFIX));
  assert.equal(combined.length, 1);
  // Its count as last written: a write dropped from a full queue leaves the one before.
  assert.ok(
    combined[0]!.count <= names.length - 9 && combined[0]!.count >= names.length - 9 - recorder.dropped,
  );
  // Two of the same names again, between new ones: only those two lose.
  const again = [create('d-new-1'), create('d-0000'), create('d-new-2'), create('d-1199')];
  assert.equal(await applyActions(edge, ownerRef, again), 2);
  assert.equal((await listObjects(etcd, cluster, 'Pod', 'default', false)).length, 1202);

  // A delete, then a create of the same name: the create runs after the delete, so it lands.
  const old = (await getObject(etcd, cluster, { kind: 'Pod', namespace: 'default', name: 'd-0005' }, false))!;
  const replaced = create('d-0005');
  assert.equal(await applyActions(edge, ownerRef, [{ type: 'delete', pod: old, why: 'test' }, replaced]), 0);
  const now = (await getObject(etcd, cluster, { kind: 'Pod', namespace: 'default', name: 'd-0005' }, false))!;
  assert.notEqual(now.object.metadata.uid, old.object.metadata.uid);
  assert.equal(
    now.object.metadata.uid,
    (replaced as { pod: { metadata: { uid: string } } }).pod.metadata.uid,
  );
});

test('a fenced edge: writes land only while the fence holds; a lost-node verdict only while the node is absent, a taint eviction only while its record is as read', async () => {
  const recorder = recorderFor('f');
  const fenceKey = `/nokube/${cluster}/election/kubecontroller/test-lease`;
  await etcd.put(fenceKey).value('head-a');
  const kv = (await etcd.get(fenceKey).exec()).kvs[0]!;
  const guard = [{ key: fenceKey, target: 'Create' as const, op: '==' as const, value: kv.create_revision }];
  const edge = { etcd, cluster, recorder, guard };
  assert.equal(await applyActions(edge, ownerRef, [create('f-1')]), 0);
  const f1 = (await getObject(etcd, cluster, { kind: 'Pod', namespace: 'default', name: 'f-1' }, false))!;

  // Lost node: the verdict lands only while the node has no record.
  await etcd.put(`/nokube/${cluster}/nodes/n1`).value('{}');
  const verdict: Action = { type: 'delete', pod: f1, why: 'lost', whileNodeAbsent: 'n1' };
  assert.equal(await applyActions(edge, ownerRef, [verdict]), 1, 'the node is back: nothing deleted');
  assert.ok(await getObject(etcd, cluster, { kind: 'Pod', namespace: 'default', name: 'f-1' }, false));

  // A NoExecute eviction: only while the node's record is the one it read (its taint may be gone).
  const nodeRevision = async () =>
    (await etcd.get(`/nokube/${cluster}/nodes/n1`).exec()).kvs[0]!.mod_revision;
  const evictAt = (modRevision: string): Action => ({
    type: 'delete',
    pod: f1,
    why: 'taint',
    whileNodeAt: { node: 'n1', modRevision },
  });
  const f1Deletion = async () =>
    (await getObject(etcd, cluster, { kind: 'Pod', namespace: 'default', name: 'f-1' }, false))?.object
      .metadata.deletionTimestamp;
  const seen = await nodeRevision();
  await etcd.put(`/nokube/${cluster}/nodes/n1`).value('{"taints":[]}');
  assert.equal(await applyActions(edge, ownerRef, [evictAt(seen)]), 1, 'the record changed: nothing deleted');
  assert.equal(await f1Deletion(), undefined);
  assert.equal(
    await applyActions(edge, ownerRef, [evictAt(await nodeRevision())]),
    0,
    'as read: the eviction lands',
  );
  assert.ok(await f1Deletion(), 'Terminating');

  // Deposed (the election key gone and taken again by another campaign): every write is refused.
  await etcd.delete().key(fenceKey);
  await etcd.put(fenceKey).value('head-b');
  const lost = await applyActions(edge, ownerRef, [
    create('f-2'),
    { type: 'delete', pod: f1, why: 'test' },
    { type: 'podStatus', pod: f1, status: { phase: 'Unknown' } },
    { type: 'status', status: { replicas: 9 } },
  ]);
  assert.equal(lost, 4);
  const names = (await listObjects(etcd, cluster, 'Pod', 'default', false)).map(
    (s) => s.object.metadata.name,
  );
  assert.ok(names.includes('f-1') && !names.includes('f-2'));
  assert.equal(await etcd.get(`/nokube/${cluster}/status/pods/default/f-1`).string(), null);
});

test("a scale-down of 300 pods (more than are in flight at once): each marked Terminating once; the edge's word on a node's record is checked by the transaction", async () => {
  const recorder = recorderFor('down');
  // The leader's caches say n1 has a record and n2 none; etcd has both.
  const edge = { etcd, cluster, recorder, guard: [], nodeRegistered: (node: string) => node === 'n1' };
  await etcd.put(`/nokube/${cluster}/nodes/n1`).value('{}');
  await etcd.put(`/nokube/${cluster}/nodes/n2`).value('{}');
  const names = Array.from({ length: 300 }, (_, i) => `s-${String(i).padStart(3, '0')}`);
  const onN2: Action = { type: 'create', pod: podFromTemplate(owner, 's-on-n2', {}, 'n2') };
  assert.equal(await applyActions(edge, ownerRef, [...names.map(create), onN2]), 0);
  const ours = async () =>
    (await listObjects(etcd, cluster, 'Pod', 'default', false)).filter((s) =>
      s.object.metadata.name.startsWith('s-'),
    );
  const before = await ours();
  const down = before
    .filter((s) => s.object.spec.nodeName === 'n1')
    .map((pod): Action => ({ type: 'delete', pod, why: 'scaled to 0' }));
  assert.equal(down.length, 300);
  assert.equal(await applyActions(edge, ownerRef, down), 0);
  const after = await ours();
  assert.deepEqual(
    after.filter((s) => s.object.metadata.deletionTimestamp).map((s) => s.object.metadata.name),
    names,
  );
  // Marked, not removed: their agent finishes them. A second delete changes nothing.
  assert.equal(after.length, 301);
  const again = after
    .filter((s) => s.object.spec.nodeName === 'n1')
    .map((pod): Action => ({ type: 'delete', pod, why: 'scaled to 0' }));
  assert.equal(await applyActions(edge, ownerRef, again), 0);
  assert.deepEqual(
    (await ours()).map((s) => s.modRevision),
    after.map((s) => s.modRevision),
  );
  // Stale word on n2 (no record, says the edge): a removal at once is planned, and refused by etcd.
  const n2 = after.find((s) => s.object.metadata.name === 's-on-n2')!;
  assert.equal(await applyActions(edge, ownerRef, [{ type: 'delete', pod: n2, why: 'scaled to 0' }]), 1);
  const kept = (await getObject(
    etcd,
    cluster,
    { kind: 'Pod', namespace: 'default', name: 's-on-n2' },
    false,
  ))!;
  assert.equal(kept.modRevision, n2.modRevision);
});

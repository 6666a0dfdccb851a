// listObjectsAt (agent/objects/store.ts), what the API's list serves: objects and their statuses as of one
// revision, and that revision, so that a watch from revision + 1 sees exactly what changed after the list.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listObjectsAt, objectKey, statusKey } from '../agent/objects/store.ts';
import { keys } from '../agent/store/keys.ts';
import { suiteEtcd } from './harness/etcd.ts';

const suite = suiteEtcd();
const cluster = 'snapshot';

const ref = (name: string) => ({ kind: 'Pod' as const, namespace: 'default', name });
const pod = (name: string) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, generation: 1, creationTimestamp: '' },
    spec: { containers: [{ name: 'c', image: 'x' }] },
  });

test('objects with their statuses as of the revision returned; a watch from the next one sees only what came after', async () => {
  const etcd = suite.client;
  await etcd.put(objectKey(cluster, ref('a'))).value(pod('a'));
  await etcd.put(objectKey(cluster, ref('b'))).value(pod('b'));
  await etcd.put(statusKey(cluster, ref('a'))).value('{"phase":"Running"}');
  const last = await etcd.put(statusKey(cluster, ref('b'))).value('{"phase":"Pending"}');

  const listed = await listObjectsAt(etcd, cluster, 'Pod');
  assert.equal(listed.revision, last.header.revision);
  assert.deepEqual(
    listed.items.map((s) => [
      s.object.metadata.name,
      (s.object as { status?: { phase: string } }).status?.phase,
    ]),
    [
      ['a', 'Running'],
      ['b', 'Pending'],
    ],
  );
  assert.equal(listed.items[1]!.object.metadata.resourceVersion, listed.items[1]!.modRevision);

  // Without statuses: the objects alone, same revision rule.
  const bare = await listObjectsAt(etcd, cluster, 'Pod', 'default', false);
  assert.equal(bare.revision, last.header.revision);
  assert.equal((bare.items[0]!.object as { status?: unknown }).status, undefined);

  // What a client watching from revision + 1 sees: the change after the list, and nothing before it.
  const watcher = await etcd
    .watch()
    .prefix(keys.cluster(cluster))
    .startRevision(String(BigInt(listed.revision) + 1n))
    .create();
  const seen: string[] = [];
  const got = new Promise<void>((resolve) =>
    watcher.on('put', (kv) => {
      seen.push(kv.key.toString());
      resolve();
    }),
  );
  await etcd.put(statusKey(cluster, ref('a'))).value('{"phase":"Succeeded"}');
  await got;
  await watcher.cancel();
  assert.deepEqual(seen, [statusKey(cluster, ref('a'))]);
});

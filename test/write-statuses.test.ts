// writeStatuses (agent/objects/store.ts): an agent's statuses that wait together go to etcd in one
// transaction per STATUSES_PER_TXN, each under writeStatus' rule (only on the object its writer knows);
// against a real etcd.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import {
  createObjects,
  deleteObjects,
  getObject,
  newMeta,
  type refOf,
  STATUSES_PER_TXN,
  statusKey,
  writeStatuses,
} from '../agent/objects/store.ts';
import type { Pod } from '../agent/objects/types.ts';
import { connectEtcd } from '../agent/store/etcd.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';
import { objectMeta } from './harness/object-meta.ts';

let server: TestEtcd;
let etcd: Etcd3;
const cluster = `statuses-${process.pid}`;

before(async () => {
  server = await startTestEtcd();
  etcd = await connectEtcd({ endpoints: [server.url], dialTimeoutMs: 5000 });
});
after(async () => {
  etcd?.close();
  await server?.stop();
});

const pod = (name: string): Pod =>
  newMeta({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: objectMeta(name),
    spec: { containers: [{ name: 'main', image: 'busybox' }], nodeName: 'n1' },
  });

/** Pods created; each one's write item (its create revision as read back). */
async function created(names: string[]) {
  await createObjects(etcd, cluster, names.map(pod));
  return Promise.all(
    names.map(async (name) => {
      const ref = { kind: 'Pod' as const, namespace: 'default', name };
      const stored = (await getObject(etcd, cluster, ref))!;
      return { ref, createRevision: stored.createRevision, status: { phase: 'Running', name } };
    }),
  );
}

const statusOf = async (ref: ReturnType<typeof refOf>) => etcd.get(statusKey(cluster, ref)).json();

test('all in one transaction: one revision for the whole batch', async () => {
  const items = await created(['a1', 'a2', 'a3']);
  assert.deepEqual(await writeStatuses(etcd, cluster, items), [true, true, true]);
  const revisions = await Promise.all(
    items.map(async ({ ref }) => (await etcd.get(statusKey(cluster, ref)).exec()).kvs[0]!.mod_revision),
  );
  assert.equal(new Set(revisions).size, 1, `mod revisions ${revisions}`);
  for (const { ref } of items) assert.deepEqual(await statusOf(ref), { phase: 'Running', name: ref.name });
});

test('a pod deleted or created again meanwhile gets no status; the others do', async () => {
  const items = await created(['b1', 'b2', 'b3']);
  await deleteObjects(etcd, cluster, [{ ...items[0]!.ref, createRevision: items[0]!.createRevision }]);
  await deleteObjects(etcd, cluster, [{ ...items[2]!.ref, createRevision: items[2]!.createRevision }]);
  await createObjects(etcd, cluster, [pod('b3')]); // the same name again: another object
  assert.deepEqual(await writeStatuses(etcd, cluster, items), [false, true, false]);
  assert.equal(await statusOf(items[0]!.ref), null);
  assert.deepEqual(await statusOf(items[1]!.ref), { phase: 'Running', name: 'b2' });
  assert.equal(await statusOf(items[2]!.ref), null);
});

test(`more than ${STATUSES_PER_TXN}: one transaction per ${STATUSES_PER_TXN}, every status written`, async () => {
  const names = Array.from({ length: STATUSES_PER_TXN + 6 }, (_, i) => `c${i}`);
  const items = await created(names);
  assert.ok((await writeStatuses(etcd, cluster, items)).every(Boolean));
  const revisions = await Promise.all(
    items.map(async ({ ref }) => (await etcd.get(statusKey(cluster, ref)).exec()).kvs[0]!.mod_revision),
  );
  assert.equal(new Set(revisions).size, 2);
});

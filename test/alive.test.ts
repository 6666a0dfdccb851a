// Alive records against a real etcd: each agent deletes only the records it holds, and each actor only
// its own. A controller's stop (its path is a prefix of its pods' paths, on other nodes and on its own) and a
// deposed leader's stop (the next leader holds the same key now) leave other actors' records alone.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Etcd3, Lease } from 'etcd3';
import { createLogger } from '../agent/log/logger.ts';
import { AliveRecords } from '../agent/store/alive.ts';
import { connectEtcd } from '../agent/store/etcd.ts';
import { keys } from '../agent/store/keys.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';

let server: TestEtcd;
let etcd: Etcd3;
const cluster = 'alive';
const log = createLogger({ test: 'alive' }, 'silent');
const value = (node: string, actor: string) => ({ node, actor, since: '2026-01-01T00:00:00Z' });

const leases: Lease[] = [];

before(async () => {
  server = await startTestEtcd();
  etcd = await connectEtcd({ endpoints: [server.url], dialTimeoutMs: 3000 });
});
after(async () => {
  // A lease left alive keeps its keep-alive timer (and the test process) running.
  await Promise.all(leases.map((l) => l.revoke()));
  etcd?.close();
  await server?.stop();
});

async function agent(node: string): Promise<AliveRecords> {
  const records = new AliveRecords(etcd, cluster, node, log);
  const lease = etcd.lease(10);
  leases.push(lease);
  records.attach(lease);
  return records;
}

const stored = async () =>
  Object.keys(await etcd.getAll().prefix(keys.alivePrefix(cluster)).strings())
    .map((k) => k.slice(keys.alivePrefix(cluster).length))
    .sort();

test('a controller stop deletes its own record, never the pods below it, held by other agents or its own', async () => {
  const head = await agent('h1');
  const worker = await agent('w1');
  head.set('default', 'deployment-web', value('h1', 'deployment'));
  worker.set('default', 'deployment-web/pod-web-a', value('w1', 'pod'));
  worker.set('default', 'deployment-web/pod-web-a/container-web', value('w1', 'container'));
  head.set('default', 'deployment-web/pod-web-b', value('h1', 'pod'));
  await Promise.all([head.flush(), worker.flush()]);
  assert.equal((await stored()).length, 4);

  // The head's controller stops (its leadership lost, as in a partition): the pod on the head runs on.
  head.delete('default', 'deployment-web');
  await head.flush();
  assert.deepEqual(await stored(), [
    'default/deployment-web/pod-web-a',
    'default/deployment-web/pod-web-a/container-web',
    'default/deployment-web/pod-web-b',
  ]);
  assert.ok(head.has('default', 'deployment-web/pod-web-b'));
  worker.deleteTree('default', 'deployment-web/pod-web-a');
  head.deleteTree('default', 'deployment-web/pod-web-b');
  await Promise.all([head.flush(), worker.flush()]);
  assert.deepEqual(await stored(), []);
});

test("a deposed leader's stop leaves the next leader's record of the same key", async () => {
  const old = await agent('h1');
  const next = await agent('h2');
  old.set('_cluster', 'kubecontroller', value('h1', 'kubecontroller'));
  await old.flush();
  next.set('_cluster', 'kubecontroller', value('h2', 'kubecontroller'));
  await next.flush();
  old.delete('_cluster', 'kubecontroller');
  await old.flush();
  const v = await etcd.get(keys.alive(cluster, '_cluster', 'kubecontroller')).string();
  assert.equal(JSON.parse(v!).node, 'h2');
});

// The API's object watch (head/api/object-watch.ts, `get -w`) served from the shared informers, against a
// real etcd: a client that listed at revision R and connects later is told exactly what changed since R
// (nothing twice, nothing unchanged), then each change of an object or of its status as it happens.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { WebSocket, WebSocketServer } from 'ws';
import type { AgentContext } from '../agent/context.ts';
import { createLogger } from '../agent/log/logger.ts';
import {
  createObjects,
  deleteObjects,
  newMeta,
  objectKey,
  toStoredJson,
  writeStatus,
} from '../agent/objects/store.ts';
import type { ConfigMap, KubeObject, Pod } from '../agent/objects/types.ts';
import { createEtcd } from '../agent/store/etcd.ts';
import { serveWatch } from '../head/api/object-watch.ts';
import { eventually } from './harness/cluster.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';

const cluster = 'watch';
let server: TestEtcd;
let etcd: Etcd3;
let wss: WebSocketServer;
let port = 0;
before(async () => {
  server = await startTestEtcd();
  etcd = await createEtcd({ endpoints: [server.url], dialTimeoutMs: 5000 });
  const ctx = { cluster, etcd, log: createLogger({ node: 'h' }, 'silent') } as unknown as AgentContext;
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  wss.on('connection', (ws, req) => serveWatch(ctx, ws, new URL(req.url ?? '/', 'http://head')));
  await once(wss, 'listening');
  port = (wss.address() as { port: number }).port;
});
after(async () => {
  wss?.close();
  etcd?.close();
  await server?.stop();
});

const meta = (name: string) => ({
  name,
  namespace: 'default',
  uid: '',
  resourceVersion: '',
  generation: 0,
  creationTimestamp: '',
});
const cm = (name: string, v: string): ConfigMap =>
  newMeta({ apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(name), data: { v } });
const revision = async () => BigInt((await etcd.get('/none').exec()).header.revision);

function watch(resource: string, query: string) {
  const seen: string[] = [];
  const objects: KubeObject[] = [];
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/watch/${resource}?${query}`);
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString()) as { type: string; object: KubeObject };
    seen.push(`${msg.type} ${msg.object.metadata.name}`);
    objects.push(msg.object);
  });
  return { seen, objects, ws, opened: once(ws, 'open') };
}

test('a watch from the list revision: what changed since, once each, then every change as it happens', async () => {
  await createObjects(etcd, cluster, [cm('same', '1'), cm('edited', '1'), cm('deleted', '1')]);
  const listedAt = await revision();
  // Between the list and the watch.
  const edited = cm('edited', '2');
  await etcd
    .put(objectKey(cluster, { kind: 'ConfigMap', namespace: 'default', name: 'edited' }))
    .value(toStoredJson(edited));
  await deleteObjects(etcd, cluster, [{ kind: 'ConfigMap', namespace: 'default', name: 'deleted' }]);
  await createObjects(etcd, cluster, [cm('created', '1')]);
  const w = watch('configmaps', `namespace=default&resourceVersion=${listedAt}`);
  await w.opened;
  await eventually(() => w.seen.length >= 3, 10_000, 'the changes since the list');
  assert.deepEqual([...w.seen].sort(), ['ADDED created', 'DELETED deleted', 'MODIFIED edited']);
  assert.equal((w.objects.find((o) => o.metadata.name === 'edited') as ConfigMap).data?.v, '2');
  // Then live.
  await deleteObjects(etcd, cluster, [{ kind: 'ConfigMap', namespace: 'default', name: 'same' }]);
  await eventually(() => w.seen.length >= 4, 10_000, 'the live delete');
  assert.deepEqual(w.seen.slice(3), ['DELETED same']);
  w.ws.close();
});

test('a status change is a MODIFIED of its object, with the status in it', async () => {
  const pod = newMeta<Pod>({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: meta('p1'),
    spec: { containers: [{ name: 'c', image: 'x' }] },
  });
  await createObjects(etcd, cluster, [pod]);
  const listedAt = await revision();
  const created = (
    await etcd.get(objectKey(cluster, { kind: 'Pod', namespace: 'default', name: 'p1' })).exec()
  ).kvs[0]!;
  const w = watch('pods', `resourceVersion=${listedAt}`);
  await w.opened;
  await writeStatus(
    etcd,
    cluster,
    { kind: 'Pod', namespace: 'default', name: 'p1' },
    created.create_revision,
    {
      phase: 'Running',
    },
  );
  await eventually(() => w.seen.length >= 1, 10_000, 'the status change');
  assert.deepEqual(w.seen, ['MODIFIED p1']);
  assert.equal((w.objects[0] as Pod).status?.phase, 'Running');
  w.ws.close();
});

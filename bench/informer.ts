// bench/informer: what etcd serves to a settled cluster of many pods, by gRPC method, per minute.
//   node bench/informer.ts [--pods 1000] [--fake-nodes 10] [--window-seconds 60]
// One head agent (this machine, real etcd) leads the kubecontroller. The bench registers fake nodes
// (records under its own lease, label bench=fake), stores one Deployment of N replicas whose pods can
// only go to them, and plays their agents: every pod gets a Running, ready status. Once the Deployment
// reports N available, two windows are measured from etcd's own /metrics (grpc_server_handled_total for
// unary calls, messages received for streams):
//   quiet   nothing happens
//   nudged  a fake node's record is put again (unchanged) every 5 s: every controller reconciles, so
//           this shows what reconciles cost etcd (target with the informer: no Range at all)
// The bench itself sends nothing but those puts during the windows.
import { parseArgs } from 'node:util';
import type { Etcd3, Lease } from 'etcd3';
import {
  createObjects,
  getObject,
  listObjects,
  newMeta,
  refOf,
  writeStatus,
} from '../agent/objects/store.ts';
import type { Deployment, Pod, PodStatus } from '../agent/objects/types.ts';
import { connectEtcd } from '../agent/store/etcd.ts';
import { keys } from '../agent/store/keys.ts';
import { createTestCluster, type TestCluster } from '../test/harness/cluster.ts';
import { requireDocker } from '../test/harness/docker.ts';
import { cleanupOnSignals, stopClusterAndPods } from './cleanup.ts';
import { untilWithin } from './until.ts';

const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '1000' },
    'fake-nodes': { type: 'string', default: '10' },
    'window-seconds': { type: 'string', default: '60' },
    timeout: { type: 'string', default: '600' },
  },
});
const N = Number(values.pods);
const FAKE = Number(values['fake-nodes']);
const WINDOW_MS = Number(values['window-seconds']) * 1000;
const timeoutMs = Number(values.timeout) * 1000;
const NUDGE_MS = 5000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const docker = await requireDocker();
let cluster: TestCluster | undefined;
let etcd: Etcd3 | undefined;
let lease: Lease | undefined;
async function cleanup(): Promise<void> {
  await lease?.revoke().catch(() => undefined);
  etcd?.close();
  const c = cluster;
  cluster = undefined;
  await stopClusterAndPods(docker, c);
}
cleanupOnSignals(cleanup);

const until = untilWithin(timeoutMs, 500);

/** etcd's own counters: gRPC requests handled (unary) and stream messages received, by method. */
async function etcdCounters(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^grpc_server_(handled_total|msg_received_total)\{(.*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const method = /grpc_method="([^"]+)"/.exec(m[2]!)?.[1] ?? '?';
    const type = /grpc_type="([^"]+)"/.exec(m[2]!)?.[1] ?? '';
    if ((type === 'unary') !== (m[1] === 'handled_total')) continue;
    out.set(method, (out.get(method) ?? 0) + Number(m[3]));
  }
  const sent = /^etcd_network_client_grpc_sent_bytes_total (\S+)$/m.exec(text);
  out.set('(bytes sent to clients)', Number(sent?.[1] ?? 0));
  return out;
}

async function measure(what: string, during: () => Promise<void>): Promise<Map<string, number>> {
  const before = await etcdCounters(cluster!.etcd.url);
  await during();
  const after = await etcdCounters(cluster!.etcd.url);
  const perMinute = new Map<string, number>();
  for (const [m, v] of after) {
    const d = v - (before.get(m) ?? 0);
    if (d > 0) perMinute.set(m, (d * 60_000) / WINDOW_MS);
  }
  console.log(`  ${what}:`);
  for (const [m, r] of [...perMinute].sort()) console.log(`    ${m.padEnd(26)} ${r.toFixed(1)}/min`);
  return perMinute;
}

const running = (pod: Pod): PodStatus => {
  const now = new Date().toISOString();
  return {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }],
    containerStatuses: pod.spec.containers.map((c) => ({
      name: c.name,
      image: c.image,
      ready: true,
      restartCount: 0,
      state: { running: { startedAt: now } },
    })),
  };
};

try {
  const c = await createTestCluster({ nodes: 1, heads: 1, net: 200 + (process.pid % 50) });
  cluster = c;
  await c.startAgent('n1');
  etcd = await connectEtcd({ endpoints: [c.etcd.url], dialTimeoutMs: 3000 });
  const db = etcd;
  const head = await until('the head to register', async () => {
    const v = await db.get(keys.node(c.name, 'n1')).string();
    return v ? (JSON.parse(v) as Record<string, unknown>) : false;
  });
  await until(
    'the kubecontroller to lead',
    async () => (await db.get(keys.alive(c.name, '_cluster', 'kubecontroller')).string()) !== null,
  );
  lease = db.lease(30);
  const fakeRecord = (i: number) =>
    JSON.stringify({ ...head, name: `f${i}`, labels: { bench: 'fake' }, api: undefined, incarnation: 1 });
  for (let i = 1; i <= FAKE; i++) await lease.put(keys.node(c.name, `f${i}`)).value(fakeRecord(i));

  const d = newMeta<Deployment>({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'bench',
      namespace: 'default',
      uid: '',
      resourceVersion: '',
      generation: 0,
      creationTimestamp: '',
    },
    spec: {
      replicas: N,
      selector: { matchLabels: { app: 'bench' } },
      template: {
        metadata: { labels: { app: 'bench' } },
        spec: {
          nodeSelector: { bench: 'fake' },
          containers: [{ name: 'main', image: 'nokube.invalid/none:0' }],
        },
      },
    },
  });
  const t0 = Date.now();
  await createObjects(db, c.name, [d]);
  // Play the fake nodes' agents: each bound pod is Running and ready.
  await until(
    `${N} pods Running`,
    async () => {
      const pods = await listObjects(db, c.name, 'Pod', 'default');
      const todo = pods.filter((p) => p.object.spec.nodeName && p.object.status?.phase !== 'Running');
      for (let i = 0; i < todo.length; i += 50)
        await Promise.all(
          todo
            .slice(i, i + 50)
            .map((p) => writeStatus(db, c.name, refOf(p.object), p.createRevision, running(p.object))),
        );
      return pods.filter((p) => p.object.spec.nodeName).length === N && todo.length === 0;
    },
    2000,
  );
  await until('the Deployment to report all available', async () => {
    const s = await getObject(db, c.name, { kind: 'Deployment', namespace: 'default', name: 'bench' });
    return (s?.object.status as { availableReplicas?: number } | undefined)?.availableReplicas === N;
  });
  console.log(
    `${N} pods stored, bound and Running after ${((Date.now() - t0) / 1000).toFixed(1)} s; settling 10 s`,
  );
  await sleep(10_000);
  console.log(`etcd requests per minute (window ${WINDOW_MS / 1000} s):`);
  await measure('quiet', async () => {
    await sleep(WINDOW_MS);
  });
  await measure(`nudged (a node record put again every ${NUDGE_MS / 1000} s)`, async () => {
    const end = Date.now() + WINDOW_MS;
    while (Date.now() < end) {
      await lease!.put(keys.node(c.name, 'f1')).value(fakeRecord(1));
      await sleep(Math.min(NUDGE_MS, end - Date.now()));
    }
  });
} finally {
  await cleanup();
}

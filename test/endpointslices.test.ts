// The EndpointSlice controller: the kubecontroller's leader in this process against a real etcd (no
// agents: the test writes pod objects and statuses as agents would). Ready and unready pods, named ports
// resolved per pod, pods coming and going, readiness followed within a second, a foreign slice never
// touched, slices deleted with their Service, and a leader whose fence fails writes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { applyManifests, deleteObject } from '../agent/objects/apply.ts';
import {
  createObjects,
  deleteObjects,
  getObject,
  listObjects,
  newMeta,
  refOf,
  writeStatus,
} from '../agent/objects/store.ts';
import type { EndpointSlice, Pod, PodStatus, Service } from '../agent/objects/types.ts';
import { validateManifestText } from '../agent/objects/validate.ts';
import { connectEtcd } from '../agent/store/etcd.ts';
import type { Guard } from '../agent/store/guard.ts';
import { NO_GUARD } from '../agent/store/guard.ts';
import { keys } from '../agent/store/keys.ts';
import { desiredSlices, reconcileEndpointSlices } from '../head/controllers/endpointslices.ts';
import { Leader } from '../head/controllers/kubecontroller.ts';
import { eventually } from './harness/cluster.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';
import { leaderContext } from './harness/leader-context.ts';

let server: TestEtcd;
let etcd: Etcd3;
before(async () => {
  server = await startTestEtcd();
  etcd = await connectEtcd({ endpoints: [server.url], dialTimeoutMs: 3000 });
});
after(async () => {
  etcd?.close();
  await server?.stop();
});

const service = (extra = '') => `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}, {name: metrics, port: 9100}]
${extra}`;

const pod = (name: string, httpPort: number, labels: Record<string, string> = { app: 'web' }): Pod =>
  newMeta({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      uid: '',
      resourceVersion: '',
      generation: 0,
      creationTimestamp: '',
      labels,
    },
    spec: {
      nodeName: 'n1',
      containers: [
        { name: 'c', image: 'x', ports: [{ name: 'http', containerPort: httpPort, protocol: 'TCP' }] },
      ],
    },
  });

const status = (ip: string, ready: boolean): PodStatus => ({
  phase: 'Running',
  podIP: ip,
  conditions: [
    { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: new Date().toISOString() },
  ],
});

async function addPod(cluster: string, p: Pod, st?: PodStatus): Promise<void> {
  await createObjects(etcd, cluster, [p]);
  if (st) await setStatus(cluster, p.metadata.name, st);
}
async function setStatus(cluster: string, name: string, st: PodStatus): Promise<void> {
  const s = await getObject(etcd, cluster, { kind: 'Pod', namespace: 'default', name });
  assert.ok(await writeStatus(etcd, cluster, refOf(s!.object), s!.createRevision, st));
}

const slicesOf = async (cluster: string) =>
  (await listObjects(etcd, cluster, 'EndpointSlice', 'default')).map((s) => s.object as EndpointSlice);
/** `ip:port ready` per endpoint of our slices, sorted: what the slices say in one line each. */
const summary = async (cluster: string) =>
  (await slicesOf(cluster))
    .filter((s) => s.metadata.labels?.['endpointslice.kubernetes.io/managed-by'] === 'nokube')
    .flatMap((s) =>
      s.endpoints.map(
        (e) =>
          `${e.targetRef?.name} ${e.addresses[0]} ${s.ports.map((p) => `${p.name}=${p.port}`).join(',')} ${e.conditions.ready ? 'ready' : 'unready'}${e.conditions.terminating ? ' terminating' : ''}`,
      ),
    )
    .sort();

/** The pods' node has a record (else the leader's sweep would mark them lost, not ready). */
async function startLeader(cluster: string, guard: Guard = NO_GUARD, client = etcd): Promise<Leader> {
  const record = {
    name: 'n1',
    labels: {},
    capacity: { containerRuntime: { name: 'docker', version: '28', apiVersion: '1.41' } },
  };
  await etcd.put(keys.node(cluster, 'n1')).value(JSON.stringify(record));
  const leader = new Leader(leaderContext(client, cluster), guard);
  leader.start();
  return leader;
}

describe('EndpointSlice controller (real etcd)', () => {
  test('slices follow pods, readiness and named ports; a foreign slice is untouched; gone with the Service', async () => {
    const c = 'eps';
    await applyManifests(etcd, c, validateManifestText(service(), 'svc.yaml'), 'test');
    await addPod(c, pod('web-a', 8080), status('10.42.0.5', true));
    await addPod(c, pod('web-b', 8080), status('10.42.0.6', false));
    await addPod(c, pod('web-nostatus', 8080)); // no IP yet: no endpoint
    await addPod(c, pod('other', 8080, { app: 'other' }), status('10.42.0.9', true));
    const foreign: EndpointSlice = newMeta({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: 'web-by-hand',
        namespace: 'default',
        uid: '',
        resourceVersion: '',
        generation: 0,
        creationTimestamp: '',
        labels: {
          'kubernetes.io/service-name': 'web',
          'endpointslice.kubernetes.io/managed-by': 'someone-else',
        },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['192.0.2.1'], conditions: { ready: true } }],
      ports: [{ name: 'http', port: 1 }],
    });
    await createObjects(etcd, c, [foreign]);
    const foreignKey = keys.object(c, 'endpointslices', 'default', 'web-by-hand');
    const foreignRev = (await etcd.get(foreignKey).exec()).kvs[0]!.mod_revision;
    const leader = await startLeader(c);
    try {
      await eventually(
        async () =>
          (await summary(c)).join('\n') ===
          [
            'web-a 10.42.0.5 http=8080,metrics=9100 ready',
            'web-b 10.42.0.6 http=8080,metrics=9100 unready',
          ].join('\n'),
        10_000,
        'slices of web-a (ready) and web-b (unready)',
      );
      const [ours] = (await slicesOf(c)).filter((s) => s.metadata.name !== 'web-by-hand');
      assert.deepEqual(ours!.metadata.labels, {
        'kubernetes.io/service-name': 'web',
        'endpointslice.kubernetes.io/managed-by': 'nokube',
      });
      const svc = await getObject(etcd, c, { kind: 'Service', namespace: 'default', name: 'web' });
      assert.deepEqual(ours!.metadata.ownerReferences, [
        {
          apiVersion: 'v1',
          kind: 'Service',
          name: 'web',
          uid: svc!.object.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
      assert.equal(ours!.addressType, 'IPv4');
      assert.equal(ours!.endpoints[0]!.nodeName, 'n1');

      // Readiness: web-b turns ready, then web-a unready; each within a second.
      for (const [name, ip, ready, want] of [
        ['web-b', '10.42.0.6', true, 'web-b 10.42.0.6 http=8080,metrics=9100 ready'],
        ['web-a', '10.42.0.5', false, 'web-a 10.42.0.5 http=8080,metrics=9100 unready'],
      ] as const) {
        // Timed by a watch on the slices (the moment etcd tells of the write), not by polling.
        const watcher = await etcd.watch().prefix(keys.objectResourcePrefix(c, 'endpointslices')).create();
        const seen = new Promise<number>((resolve) =>
          watcher.on('put', (kv) => {
            const e = (JSON.parse(kv.value.toString()) as EndpointSlice).endpoints.find(
              (x) => x.targetRef?.name === name,
            );
            if (e?.conditions.ready === ready) resolve(Date.now());
          }),
        );
        const t0 = Date.now();
        await setStatus(c, name, status(ip, ready));
        const at = await Promise.race([
          seen,
          new Promise<number>((r) => setTimeout(() => r(Infinity), 5000)),
        ]);
        await watcher.cancel();
        assert.ok(at - t0 < 1000, `${name}: the slice followed readiness in ${at - t0} ms`);
        assert.ok((await summary(c)).includes(want), want);
      }

      // A pod of another revision names its http port 9090: it gets a slice of its own ports.
      await addPod(c, pod('web-c', 9090), status('10.42.1.7', true));
      await eventually(
        async () => (await summary(c)).includes('web-c 10.42.1.7 http=9090,metrics=9100 ready'),
        5000,
        'web-c with http=9090',
      );
      assert.equal((await slicesOf(c)).filter((s) => s.metadata.name !== 'web-by-hand').length, 2);

      // A pod being deleted is terminating (not ready); once gone, its endpoint is too.
      const a = await getObject(etcd, c, { kind: 'Pod', namespace: 'default', name: 'web-b' });
      const terminating = structuredClone(a!.object);
      terminating.metadata.deletionTimestamp = new Date().toISOString();
      await etcd.put(keys.object(c, 'pods', 'default', 'web-b')).value(JSON.stringify(terminating));
      await eventually(
        async () => (await summary(c)).includes('web-b 10.42.0.6 http=8080,metrics=9100 unready terminating'),
        5000,
        'web-b terminating',
      );
      await deleteObjects(etcd, c, [refOf(terminating)]);
      await eventually(
        async () => !(await summary(c)).some((l) => l.startsWith('web-b ')),
        5000,
        'web-b gone from the slices',
      );
      // One slice deleted by hand comes back.
      const gone = (await slicesOf(c)).find(
        (s) => s.metadata.labels?.['endpointslice.kubernetes.io/managed-by'] === 'nokube',
      )!;
      await deleteObjects(etcd, c, [refOf(gone)]);
      await eventually(
        async () => (await slicesOf(c)).some((s) => s.metadata.name === gone.metadata.name),
        5000,
        'the deleted slice put back',
      );

      // The Service deleted: our slices go, the foreign one stays as it was.
      await deleteObject(etcd, c, { kind: 'Service', namespace: 'default', name: 'web' });
      await eventually(
        async () => (await slicesOf(c)).map((s) => s.metadata.name).join() === 'web-by-hand',
        5000,
        'only the foreign slice left',
      );
      assert.equal((await etcd.get(foreignKey).exec()).kvs[0]!.mod_revision, foreignRev);
    } finally {
      leader.stop();
    }
  });

  test('a headless Service gets slices; 250 pods make 3 slices of at most 100', async () => {
    const c = 'eps-many';
    await applyManifests(
      etcd,
      c,
      validateManifestText(
        'apiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec: {clusterIP: None, selector: {app: db}}\n',
        'svc.yaml',
      ),
      'test',
    );
    const pods = Array.from({ length: 250 }, (_, i) =>
      pod(`db-${String(i).padStart(3, '0')}`, 5432, { app: 'db' }),
    );
    for (let i = 0; i < pods.length; i += 50) await createObjects(etcd, c, pods.slice(i, i + 50));
    await Promise.all(
      pods.map((p, i) => setStatus(c, p.metadata.name, status(`10.42.${i >> 8}.${i & 255}`, true))),
    );
    const leader = await startLeader(c);
    try {
      await eventually(
        async () => {
          const s = await slicesOf(c);
          return s.length === 3 && s.reduce((n, x) => n + x.endpoints.length, 0) === 250;
        },
        10_000,
        '250 endpoints in 3 slices',
      );
      const s = await slicesOf(c);
      assert.deepEqual(s.map((x) => x.endpoints.length).sort(), [100, 100, 50]);
      for (const x of s) {
        assert.equal(x.metadata.labels?.['service.kubernetes.io/headless'], '');
        assert.deepEqual(x.ports, []);
      }
    } finally {
      leader.stop();
    }
  });

  test('a leader whose fence fails writes no slice', async () => {
    const c = 'eps-fenced';
    let attempts = 0;
    const kv = Object.create(etcd.kv) as Etcd3['kv'];
    kv.txn = async (req, options) => {
      const res = await etcd.kv.txn(req, options);
      const slice = (req.success ?? []).some((op) =>
        op.request_put?.key?.toString().includes('/endpointslices/'),
      );
      if (slice && !res.succeeded) attempts++;
      return res;
    };
    const client = Object.create(etcd) as Etcd3;
    Object.defineProperty(client, 'kv', { value: kv });
    // The fence of a leadership that is over: its election key no longer has that create revision.
    const fence: Guard = [{ key: keys.election(c, 'kubecontroller'), target: 'Create', op: '==', value: 1 }];
    await applyManifests(etcd, c, validateManifestText(service(), 'svc.yaml'), 'test');
    await addPod(c, pod('web-a', 8080), status('10.42.0.5', true));
    const leader = await startLeader(c, fence, client);
    try {
      await eventually(() => attempts > 0, 10_000, 'the deposed leader to try a slice write');
      assert.deepEqual(await slicesOf(c), []);
    } finally {
      leader.stop();
    }
  });
});

test('a slice name another manager holds is never reused: ours takes the next one', () => {
  const svc = validateManifestText(service(), 'svc.yaml')[0]!.object as Service;
  svc.metadata = {
    ...svc.metadata,
    uid: 'svc-uid',
    resourceVersion: '1',
    generation: 1,
    creationTimestamp: '',
  };
  const p = pod('web-a', 8080);
  p.status = status('10.42.0.5', true);
  const [usual] = desiredSlices(svc, [p]);
  const foreign = {
    object: { ...usual!, metadata: { ...usual!.metadata, labels: { 'kubernetes.io/service-name': 'web' } } },
    modRevision: '5',
    createRevision: '5',
  };
  const actions = reconcileEndpointSlices('default', 'web', svc, [p], [foreign]);
  assert.deepEqual(
    actions.map((a) => `${a.type} ${a.type === 'putObject' ? a.object?.metadata.name : ''}`),
    [`putObject ${usual!.metadata.name}-1`],
  );
});

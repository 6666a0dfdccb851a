// The kubecontroller with real etcd and real agent processes: Deployment / DaemonSet / Job objects are
// put straight into etcd (agent/objects/store.ts), the controllers turn them into pods bound to nodes,
// and the test plays the agents' part where a pod must be Running / Succeeded / Failed (it writes the
// pod status). Pod images are absent with pull policy Never, so no agent ever runs a container here.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import type { Member } from '../agent/mesh/member-table.ts';
import { listEvents } from '../agent/objects/events.ts';
import {
  createObjects,
  deleteObjects,
  getObject,
  listObjects,
  newMeta,
  objectKey,
  refOf,
  type Stored,
  toStoredJson,
  writeStatus,
} from '../agent/objects/store.ts';
import type {
  DaemonSet,
  Deployment,
  Job,
  Kind,
  KubeObject,
  Pod,
  PodPhase,
  PodTemplateSpec,
} from '../agent/objects/types.ts';
import { storeConfig } from '../agent/store/config-store.ts';
import { connectEtcd } from '../agent/store/etcd.ts';
import { keys } from '../agent/store/keys.ts';
import { listNodes, NODE_LEASE_TTL_SECONDS } from '../agent/store/node-registry.ts';
import {
  createTestCluster,
  eventually,
  getJson,
  type TestCluster,
  type TestNode,
} from './harness/cluster.ts';

const template = (app: string, extra: Partial<PodTemplateSpec['spec']> = {}): PodTemplateSpec => ({
  metadata: { labels: { app } },
  spec: {
    containers: [{ name: 'main', image: 'nokube.invalid/absent:0', imagePullPolicy: 'Never' }],
    ...extra,
  },
});
const meta = (name: string) => ({
  name,
  namespace: 'default',
  uid: '',
  resourceVersion: '',
  generation: 0,
  creationTimestamp: '',
});

const deployment = (name: string, spec: Partial<Deployment['spec']> = {}): Deployment =>
  newMeta({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(name),
    spec: { selector: { matchLabels: { app: name } }, template: template(name), ...spec },
  });

function harness(getC: () => TestCluster, getEtcd: () => Etcd3) {
  /** The owner's pods as its controller counts them: Terminating ones left out (`all` keeps them). */
  const podsOf = async (owner: string, all = false) =>
    (await listObjects(getEtcd(), getC().name, 'Pod', 'default')).filter(
      (p) =>
        p.object.metadata.ownerReferences?.[0]?.name === owner &&
        (all || !p.object.metadata.deletionTimestamp),
    );
  const perNode = (pods: Array<Stored<Pod>>) => {
    const out: Record<string, number> = {};
    for (const p of pods) out[p.object.spec.nodeName ?? '-'] = (out[p.object.spec.nodeName ?? '-'] ?? 0) + 1;
    return out;
  };
  /** Change an object's spec as an apply would (generation + 1). */
  const update = async <K extends Kind>(kind: K, name: string, change: (o: KubeObject) => void) => {
    const etcd = getEtcd();
    const s = (await getObject(etcd, getC().name, { kind, namespace: 'default', name }, false))!;
    change(s.object);
    s.object.metadata.generation++;
    const key = objectKey(getC().name, refOf(s.object));
    const res = await etcd
      .if(key, 'Mod', '==', Number(s.modRevision))
      .then(etcd.put(key).value(toStoredJson(s.object)))
      .commit();
    assert.ok(res.succeeded);
  };
  /** Play the node's agent: once it has reported the pod (image absent), say the pod is in `phase`. */
  const setPhase = async (pod: Stored<Pod>, phase: PodPhase) => {
    const etcd = getEtcd();
    const ref = refOf(pod.object);
    const reported = await eventually(
      async () =>
        (await getObject(etcd, getC().name, { ...ref, kind: 'Pod' }))?.object.status?.containerStatuses,
      15_000,
      `the agent to report ${ref.name}`,
    );
    const exitCode = phase === 'Failed' ? 1 : 0;
    const containerStatuses = reported.map((cs) => ({
      ...cs,
      ready: phase === 'Running',
      state:
        phase === 'Running'
          ? { running: { startedAt: new Date().toISOString() } }
          : {
              terminated: {
                exitCode,
                reason: exitCode ? 'Error' : 'Completed',
                finishedAt: new Date().toISOString(),
              },
            },
    }));
    assert.ok(await writeStatus(etcd, getC().name, ref, pod.createRevision, { phase, containerStatuses }));
  };
  /** Every node's view (through the head on `observer`) has all `names` alive. */
  const meshSees = (observer: string, names: string[]) => {
    const n = getC().nodes.find((x) => x.name === observer)!;
    return eventually(
      async () => {
        const { items } = await getJson<{ items: Member[] }>(
          `http://${n.address}:${getC().headPort}/api/v1/members`,
        );
        // Alive and heard first-hand (a beat over a connection: seq >= 0). A member listed from its node
        // record alone (seq -1) has no connection yet whose loss would find it out when it is killed.
        return names.every((name) => {
          const m = items.find((x) => x.name === name);
          return m?.state === 'alive' && m.seq >= 0;
        });
      },
      30_000,
      `${observer} to see ${names.join(', ')} alive and hear them`,
    );
  };
  return { podsOf, perNode, update, setPhase, meshSees };
}

describe('kubecontroller: deployments, daemonsets, jobs over 3 agents', { timeout: 240_000 }, () => {
  let c: TestCluster;
  let etcd: Etcd3;
  const { podsOf, perNode, update, setPhase, meshSees } = harness(
    () => c,
    () => etcd,
  );
  const aliveKey = (ns: string, path: string) => keys.alive(c.name, ns, path);

  before(async () => {
    c = await createTestCluster({ nodes: 3, heads: 1, net: 44 });
    etcd = await connectEtcd({ endpoints: [c.etcd.url], dialTimeoutMs: 3000 });
    await Promise.all(c.nodes.map((n) => c.startAgent(n.name)));
    // A node whose engine answered late registers without a runtime and says so when it answers.
    await eventually(
      async () => {
        const nodes = await listNodes(etcd, c.name);
        return nodes.length === 3 && nodes.every((n) => n.capacity.containerRuntime);
      },
      60_000,
      '3 node records with a container engine (scripts/docker-engine.sh start)',
    );
    await eventually(
      async () => etcd.get(aliveKey('_cluster', 'kubecontroller')).string(),
      20_000,
      'a leader',
    );
    // The leader's own view: every node alive in its mesh (a node it still took for dead would get no pods).
    await meshSees('n1', ['n1', 'n2', 'n3']);
  });
  after(async () => {
    if (process.env.DUMP)
      for (const a of c.agents.values()) console.log(`==== ${a.name}\n${a.output().slice(-15000)}`);
    etcd?.close();
    await c?.stop();
  });

  test('Deployment of 6 over 3 nodes: 6 pods spread 2/2/2, named and labelled, status written', async () => {
    // Pods that must move fast say so: this one tolerates an unreachable node for 0 s (the default is 300 s).
    const d = deployment('web', { replicas: 6 });
    d.spec.template.spec.tolerations = [
      {
        key: 'node.kubernetes.io/unreachable',
        operator: 'Exists',
        effect: 'NoExecute',
        tolerationSeconds: 0,
      },
    ];
    await createObjects(etcd, c.name, [d]);
    let seen = '';
    const pods = await eventually(
      async () => {
        const p = await podsOf('web');
        seen = `${p.length} pods ${JSON.stringify(perNode(p))}`;
        return p.length === 6 && p;
      },
      15_000,
      '6 pods',
    ).catch((err) => assert.fail(`${err.message}; saw ${seen}`));
    const records = (await listNodes(etcd, c.name)).map((n) => [
      n.name,
      Boolean(n.capacity.containerRuntime),
    ]);
    assert.deepEqual(
      perNode(pods),
      { n1: 2, n2: 2, n3: 2 },
      `node records (name, runtime): ${JSON.stringify(records)}`,
    );
    for (const p of pods) {
      const hash = p.object.metadata.labels?.['pod-template-hash'];
      assert.match(p.object.metadata.name, new RegExp(`^web-${hash}-[a-z0-9]{5}$`));
      assert.equal(p.object.metadata.labels?.app, 'web');
      assert.equal(p.object.metadata.ownerReferences?.[0]?.uid, d.metadata.uid);
      assert.equal(p.object.metadata.ownerReferences?.[0]?.controller, true);
    }
    await eventually(
      async () => {
        const s = (await getObject(etcd, c.name, { kind: 'Deployment', namespace: 'default', name: 'web' }))!
          .object.status;
        return (
          s?.replicas === 6 && s.updatedReplicas === 6 && s.observedGeneration === 1 && s.readyReplicas === 0
        );
      },
      10_000,
      'deployment status',
    );
    assert.ok(
      await etcd.get(aliveKey('default', 'deployment-web')).string(),
      'the actor keeps an alive record',
    );
    await eventually(
      async () =>
        (await listEvents(etcd, c.name, { kind: 'Deployment', namespace: 'default', name: 'web' })).filter(
          (e) => e.reason === 'SuccessfulCreate',
        ).length === 6,
      5000,
      '6 SuccessfulCreate events',
    );
  });

  test('steady state: once settled, the controllers write nothing, even when all of them reconcile again', async () => {
    // The keys written while `during` runs and `ms` more, but for the agents' own pod statuses and pod
    // events (the pods here wait for an image that never comes; their agents may say so again).
    const writesDuring = async (ms: number, during: () => Promise<unknown> = async () => {}) => {
      const seen: string[] = [];
      const w = await etcd.watch().prefix(keys.cluster(c.name)).create();
      w.on('put', (kv) => seen.push(kv.key.toString('utf8')));
      w.on('delete', (kv) => seen.push(`deleted ${kv.key.toString('utf8')}`));
      await during();
      await new Promise((r) => setTimeout(r, ms));
      await w.cancel();
      return seen.filter((k) => !/\/(status\/pods|events\/default\/pods)\//.test(k));
    };
    await eventually(
      async () => (await writesDuring(1000)).length === 0,
      15_000,
      'the controllers to settle',
    );
    assert.deepEqual(await writesDuring(4000), [], 'written in a settled cluster');
    // An identical node record put kicks every actor and the node sweep: nothing but that put.
    const kv = (await etcd.get(keys.node(c.name, 'n1')).exec()).kvs[0]!;
    const writes = await writesDuring(2000, () => etcd.put(kv.key).value(kv.value).lease(kv.lease).exec());
    assert.deepEqual(writes, [keys.node(c.name, 'n1')], 'a full reconcile of a settled cluster wrote');
  });

  test('SIGKILLed agent: its node record goes well before the TTL, its pods are marked NodeLost and (tolerationSeconds 0) replaced on the others', async () => {
    await meshSees('n1', ['n2', 'n3']);
    const started = Date.now();
    await c.agents.get('n3')!.kill('SIGKILL');
    await eventually(
      async () => !(await listNodes(etcd, c.name)).some((n) => n.name === 'n3'),
      5000,
      'n3 record gone',
    );
    const gone = Date.now() - started;
    assert.ok(gone < (NODE_LEASE_TTL_SECONDS * 1000) / 2, `record gone after ${gone} ms`);
    const pods = await eventually(
      async () => {
        const p = await podsOf('web');
        return p.length === 6 && !p.some((x) => x.object.spec.nodeName === 'n3') && p;
      },
      10_000,
      '6 pods on n1/n2',
    );
    assert.deepEqual(perNode(pods), { n1: 3, n2: 3 });
  });

  test('scale to 2: pods deleted down to 2', async () => {
    await update('Deployment', 'web', (o) => {
      (o as Deployment).spec.replicas = 2;
    });
    const pods = await eventually(
      async () => {
        const p = await podsOf('web');
        return p.length === 2 && p;
      },
      10_000,
      '2 pods',
    );
    assert.deepEqual(perNode(pods), { n1: 1, n2: 1 }, 'scale-down takes from the most crowded node');
  });

  test('template change: replaced one at a time (new pod runs before an old one goes)', async () => {
    const oldPods = await podsOf('web');
    for (const p of oldPods) await setPhase(p, 'Running');
    await update('Deployment', 'web', (o) => {
      (o as Deployment).spec.template.metadata!.labels!.v = '2';
    });
    const oldNames = new Set(oldPods.map((p) => p.object.metadata.name));
    const first = await eventually(
      async () => {
        const p = await podsOf('web');
        const fresh = p.filter((x) => !oldNames.has(x.object.metadata.name));
        return fresh.length === 1 && p.length === 3 && fresh[0];
      },
      10_000,
      'one new pod beside the 2 old',
    );
    // The controller has seen the new pod (not running): the status it wrote then counts it.
    await eventually(
      async () => {
        const d = (await getObject(etcd, c.name, { kind: 'Deployment', namespace: 'default', name: 'web' }))!
          .object;
        const s = d.status;
        return s?.observedGeneration === d.metadata.generation && s.replicas === 3 && s.updatedReplicas === 1;
      },
      10_000,
      'the status to count 3 pods, 1 updated',
    );
    assert.equal((await podsOf('web')).length, 3, 'no old pod goes while the new one is not running');
    await setPhase(first, 'Running');
    const second = await eventually(
      async () => {
        const p = await podsOf('web');
        const fresh = p.filter((x) => !oldNames.has(x.object.metadata.name));
        return (
          fresh.length === 2 &&
          p.length === 3 &&
          fresh.find((x) => x.object.metadata.name !== first.object.metadata.name)
        );
      },
      10_000,
      'one old pod deleted, a second new pod created',
    );
    await setPhase(second, 'Running');
    await eventually(
      async () => {
        const p = await podsOf('web');
        return p.length === 2 && p.every((x) => !oldNames.has(x.object.metadata.name));
      },
      10_000,
      'only the 2 new pods',
    );
    await eventually(
      async () => {
        const s = (await getObject(etcd, c.name, { kind: 'Deployment', namespace: 'default', name: 'web' }))!
          .object.status;
        return (
          s?.observedGeneration === 3 &&
          s.updatedReplicas === 2 &&
          s.readyReplicas === 2 &&
          s.availableReplicas === 2
        );
      },
      10_000,
      'status after the rollout',
    );
  });

  test('Recreate: the old pods turn Terminating; new ones only once no old pod object is left', async () => {
    const d = deployment('rec', { replicas: 2, strategy: { type: 'Recreate' } });
    await createObjects(etcd, c.name, [d]);
    const old = await eventually(
      async () => {
        const p = await podsOf('rec');
        return p.length === 2 && p;
      },
      15_000,
      '2 rec pods',
    );
    const oldNames = new Set(old.map((p) => p.object.metadata.name));
    // Every change of a pod object from here on, in etcd's order (the agents finish a pod whose container
    // never ran at once, so the order of changes is what is judged, not a moment caught in between).
    const seen: Array<{ type: 'put' | 'delete'; name: string; grace?: number; rev: number }> = [];
    const podKey = objectKey(c.name, refOf(old[0]!.object));
    const w = await etcd
      .watch()
      .prefix(podKey.slice(0, podKey.lastIndexOf('/') + 1))
      .create();
    w.on('put', (kv) => {
      const pod = JSON.parse(kv.value.toString()) as Pod;
      seen.push({
        type: 'put',
        name: pod.metadata.name,
        ...(pod.metadata.deletionTimestamp ? { grace: pod.metadata.deletionGracePeriodSeconds ?? -1 } : {}),
        rev: Number(kv.mod_revision),
      });
    });
    w.on('delete', (kv) => {
      const key = kv.key.toString();
      seen.push({ type: 'delete', name: key.slice(key.lastIndexOf('/') + 1), rev: Number(kv.mod_revision) });
    });
    try {
      for (const p of old) await setPhase(p, 'Running');
      await update('Deployment', 'rec', (o) => {
        (o as Deployment).spec.template.metadata!.labels!.v = '2';
      });
      await eventually(
        async () => {
          const p = await podsOf('rec');
          return p.length === 2 && p.every((x) => !oldNames.has(x.object.metadata.name)) && p;
        },
        20_000,
        '2 new pods',
      );
    } finally {
      await w.cancel();
    }
    const at = (name: string, type: 'put' | 'delete', terminating: boolean) =>
      seen.findIndex((e) => e.name === name && e.type === type && (e.grace !== undefined) === terminating);
    for (const name of oldNames) {
      const marked = at(name, 'put', true);
      assert.ok(marked >= 0, `${name} was marked Terminating: ${JSON.stringify(seen)}`);
      assert.equal(seen[marked]!.grace, 30);
      assert.ok(
        at(name, 'delete', false) > marked,
        `${name} went after it was marked: ${JSON.stringify(seen)}`,
      );
    }
    const lastGone = Math.max(...[...oldNames].map((n) => at(n, 'delete', false)));
    const firstNew = seen.findIndex((e) => e.type === 'put' && !oldNames.has(e.name));
    assert.ok(
      firstNew > lastGone,
      `a new pod was created before the last old pod went: ${JSON.stringify(seen)}`,
    );
    await deleteObjects(etcd, c.name, [{ kind: 'Deployment', namespace: 'default', name: 'rec' }]);
  });

  test('DaemonSet follows a joining node and a label change', async () => {
    const mk = (name: string, nodeSelector?: Record<string, string>): DaemonSet =>
      newMeta({
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: meta(name),
        spec: {
          selector: { matchLabels: { app: name } },
          template: template(name, nodeSelector ? { nodeSelector } : {}),
        },
      });
    await createObjects(etcd, c.name, [mk('everywhere'), mk('edge', { edge: 'yes' })]);
    await eventually(
      async () =>
        (await podsOf('everywhere'))
          .map((p) => p.object.metadata.name)
          .sort()
          .join() === 'everywhere-n1,everywhere-n2',
      10_000,
      'pods on n1, n2',
    );
    await c.startAgent('n3');
    await eventually(
      async () =>
        (await podsOf('everywhere'))
          .map((p) => p.object.spec.nodeName)
          .sort()
          .join() === 'n1,n2,n3',
      30_000,
      'a pod on the joining n3',
    );
    assert.equal((await podsOf('edge')).length, 0);
    const labelled: TestNode[] = c.nodes.map((n) =>
      n.name === 'n2' ? { ...n, labels: { edge: 'yes' } } : n,
    );
    await storeConfig(etcd, c.configYaml(labelled), c.configFile, 'test', 'latest');
    const edge = await eventually(
      async () => {
        const p = await podsOf('edge');
        return p.length === 1 && p[0];
      },
      15_000,
      'edge pod on n2',
    );
    assert.equal(edge.object.spec.nodeName, 'n2');
    assert.equal(edge.object.metadata.name, 'edge-n2');
    await eventually(
      async () => {
        const s = (await getObject(etcd, c.name, {
          kind: 'DaemonSet',
          namespace: 'default',
          name: 'everywhere',
        }))!.object.status;
        return (
          s?.desiredNumberScheduled === 3 && s.currentNumberScheduled === 3 && s.numberMisscheduled === 0
        );
      },
      10_000,
      'daemonset status',
    );
    await storeConfig(etcd, c.configYaml(c.nodes), c.configFile, 'test', 'latest');
    await eventually(async () => (await podsOf('edge')).length === 0, 15_000, 'edge pod gone with the label');
  });

  test('nodeSelector with no match: Pending, Unschedulable with the scheduler message, bound once a node fits', async () => {
    const d = deployment('gpu', { template: template('gpu', { nodeSelector: { app: 'gpu' } }) });
    await createObjects(etcd, c.name, [d]);
    const pod = await eventually(async () => (await podsOf('gpu'))[0], 10_000, 'a gpu pod');
    assert.equal(pod.object.spec.nodeName, undefined);
    assert.equal(pod.object.status?.phase, 'Pending');
    const cond = pod.object.status?.conditions?.find((x) => x.type === 'PodScheduled');
    assert.equal(cond?.status, 'False');
    assert.equal(cond?.reason, 'Unschedulable');
    const message =
      "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector (nodeSelector app=gpu).";
    assert.equal(cond?.message, message);
    await eventually(
      async () =>
        (await listEvents(etcd, c.name, refOf(pod.object))).some(
          (e) => e.reason === 'FailedScheduling' && e.message === message,
        ),
      5000,
      'FailedScheduling event',
    );
    const labelled: TestNode[] = c.nodes.map((n) => (n.name === 'n1' ? { ...n, labels: { app: 'gpu' } } : n));
    await storeConfig(etcd, c.configYaml(labelled), c.configFile, 'test', 'latest');
    const bound = await eventually(
      async () => {
        const p = (await podsOf('gpu'))[0];
        return p?.object.spec.nodeName ? p : undefined;
      },
      15_000,
      'the gpu pod bound',
    );
    assert.equal(
      bound.object.metadata.name,
      pod.object.metadata.name,
      'the same pod is bound, not a new one',
    );
    assert.equal(bound.object.spec.nodeName, 'n1');
  });

  test('host ports: two Deployments of one containerPort (4 + 2 replicas) created at once over 3 nodes: one pod per node, the others Pending with the NodePorts reason', async () => {
    const ports = {
      containers: [
        {
          name: 'main',
          image: 'nokube.invalid/absent:0',
          imagePullPolicy: 'Never' as const,
          ports: [{ containerPort: 8080 }],
        },
      ],
    };
    const mk = (name: string, replicas: number) =>
      deployment(name, { replicas, template: { ...template(name), spec: ports } });
    // One transaction: both controllers reconcile at once, each from a read without the other's pods.
    await createObjects(etcd, c.name, [mk('ports', 4), mk('ports2', 2)]);
    const pods = await eventually(
      async () => {
        const list = [...(await podsOf('ports')), ...(await podsOf('ports2'))];
        return list.length === 6 ? list : undefined;
      },
      10_000,
      '6 pods',
    );
    assert.deepEqual(perNode(pods), { n1: 1, n2: 1, n3: 1, '-': 3 });
    const message = "0/3 nodes are available: 3 node(s) didn't have free ports for the requested pod ports.";
    for (const pending of pods.filter((p) => !p.object.spec.nodeName)) {
      const cond = pending.object.status?.conditions?.find((x) => x.type === 'PodScheduled');
      assert.deepEqual([cond?.status, cond?.reason, cond?.message], ['False', 'Unschedulable', message]);
    }
    const pending = pods.find((p) => !p.object.spec.nodeName)!;
    await eventually(
      async () =>
        (await listEvents(etcd, c.name, refOf(pending.object))).some(
          (e) => e.reason === 'FailedScheduling' && e.message === message,
        ),
      5000,
      'FailedScheduling event',
    );
    await deleteObjects(etcd, c.name, [
      { kind: 'Deployment', namespace: 'default', name: 'ports' },
      { kind: 'Deployment', namespace: 'default', name: 'ports2' },
    ]);
    await eventually(
      async () => (await podsOf('ports')).length + (await podsOf('ports2')).length === 0,
      20_000,
      'the pods gone',
    );
  });

  test('Job: completions with parallelism, then Complete; backoffLimit -> Failed', async () => {
    const mk = (name: string, spec: Partial<Job['spec']>): Job =>
      newMeta({
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: meta(name),
        spec: { template: template(name, { restartPolicy: 'Never' }), ...spec },
      });
    await createObjects(etcd, c.name, [mk('batch', { completions: 3, parallelism: 2 })]);
    const firstTwo = await eventually(
      async () => {
        const p = await podsOf('batch');
        return p.length === 2 && p;
      },
      10_000,
      '2 parallel pods',
    );
    for (const p of firstTwo) {
      assert.match(p.object.metadata.name, /^batch-[a-z0-9]{5}$/);
      assert.equal(p.object.metadata.labels?.['job-name'], 'batch');
      assert.ok(p.object.metadata.labels?.['controller-uid']);
    }
    // The controller has seen both pods: the status it wrote then counts 2 active.
    await eventually(
      async () =>
        (await getObject(etcd, c.name, { kind: 'Job', namespace: 'default', name: 'batch' }))!.object.status
          ?.active === 2,
      10_000,
      'the status to count 2 active',
    );
    assert.equal((await podsOf('batch')).length, 2, 'parallelism 2 holds');
    for (const p of firstTwo) await setPhase(p, 'Succeeded');
    const third = await eventually(
      async () => {
        const p = await podsOf('batch');
        return (
          p.length === 3 &&
          p.find((x) => !firstTwo.some((f) => f.object.metadata.name === x.object.metadata.name))
        );
      },
      10_000,
      'the third (last) pod',
    );
    await setPhase(third, 'Succeeded');
    const done = await eventually(
      async () => {
        const s = (await getObject(etcd, c.name, { kind: 'Job', namespace: 'default', name: 'batch' }))!
          .object.status;
        return s?.conditions?.some((x) => x.type === 'Complete' && x.status === 'True') && s;
      },
      10_000,
      'Complete',
    );
    assert.equal(done.succeeded, 3);
    assert.equal(done.active, 0);
    assert.ok(done.completionTime);
    assert.equal((await podsOf('batch')).length, 3, 'succeeded pods are kept and never re-created');

    await createObjects(etcd, c.name, [mk('flaky', { backoffLimit: 1 })]);
    const seen = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const p = await eventually(
        async () => (await podsOf('flaky')).find((x) => !seen.has(x.object.metadata.name)),
        20_000, // the second one after the 10 s back-off
        `flaky pod ${i + 1}`,
      );
      seen.add(p.object.metadata.name);
      await setPhase(p, 'Failed');
    }
    const failed = await eventually(
      async () => {
        const s = (await getObject(etcd, c.name, { kind: 'Job', namespace: 'default', name: 'flaky' }))!
          .object.status;
        return s?.conditions?.some((x) => x.type === 'Failed' && x.reason === 'BackoffLimitExceeded') && s;
      },
      10_000,
      'Failed (BackoffLimitExceeded)',
    );
    assert.equal(failed.failed, 2);
    // The reconcile that wrote Failed created nothing; a finished job is never reconciled into pods.
    assert.equal((await podsOf('flaky')).length, 2, 'no pod after the job failed');
  });

  test('Job activeDeadlineSeconds: Failed (DeadlineExceeded) at the deadline, with no other change', async () => {
    const j: Job = newMeta({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: meta('slow'),
      spec: { activeDeadlineSeconds: 2, template: template('slow', { restartPolicy: 'Never' }) },
    });
    await createObjects(etcd, c.name, [j]);
    await eventually(async () => (await podsOf('slow')).length === 1, 10_000, 'the slow pod');
    const started = Date.now();
    const status = await eventually(
      async () => {
        const s = (await getObject(etcd, c.name, { kind: 'Job', namespace: 'default', name: 'slow' }))!.object
          .status;
        return s?.conditions?.some((x) => x.type === 'Failed' && x.reason === 'DeadlineExceeded') && s;
      },
      10_000,
      'DeadlineExceeded',
    );
    assert.ok(Date.now() - started < 5000, 'woken at the deadline, not at the 30 s resync');
    assert.equal(status.active, 0);
    await eventually(async () => (await podsOf('slow')).length === 0, 5000, 'the active pod deleted');
    const [left] = await podsOf('slow', true);
    assert.ok(
      !left || left.object.metadata.deletionTimestamp,
      'gracefully: Terminating until its agent is done',
    );
  });

  test('deleting a Deployment stops its actor: alive record gone, no pod re-created', async () => {
    assert.ok(await etcd.get(aliveKey('default', 'deployment-web')).string());
    await deleteObjects(etcd, c.name, [{ kind: 'Deployment', namespace: 'default', name: 'web' }]);
    await eventually(
      async () => !(await etcd.get(aliveKey('default', 'deployment-web')).string()),
      5000,
      'alive record gone',
    );
    // The cascade (the leader's sweep, the agents) deletes the pods of a gone owner gracefully: each
    // is Terminating until its agent is done with it, and none is created again.
    await eventually(async () => (await podsOf('web')).length === 0, 15_000, 'web pods Terminating or gone');
    assert.ok(!(await etcd.get(aliveKey('default', 'deployment-web')).string()), 'no actor came back');
  });
});

describe('kubecontroller: leader fail-over between 2 heads', { timeout: 120_000 }, () => {
  let c: TestCluster;
  let etcd: Etcd3;
  const { podsOf, meshSees } = harness(
    () => c,
    () => etcd,
  );
  before(async () => {
    c = await createTestCluster({ nodes: 2, heads: 2, net: 45 });
    etcd = await connectEtcd({ endpoints: [c.etcd.url], dialTimeoutMs: 3000 });
    await Promise.all(c.nodes.map((n) => c.startAgent(n.name)));
  });
  after(async () => {
    etcd?.close();
    await c?.stop();
  });

  test('one leader; SIGKILL it and the other head leads within seconds and runs new deployments', async () => {
    const leaderKey = keys.alive(c.name, '_cluster', 'kubecontroller');
    const leader = await eventually(
      async () => {
        const v = await etcd.get(leaderKey).string();
        return v ? (JSON.parse(v) as { node: string }).node : undefined;
      },
      20_000,
      'a leader',
    );
    const other = leader === 'n1' ? 'n2' : 'n1';
    await eventually(async () => (await listNodes(etcd, c.name)).length === 2, 20_000, '2 node records');
    await meshSees(other, [leader]);
    const killedAt = Date.now();
    await c.agents.get(leader)!.kill('SIGKILL');
    await eventually(
      async () => {
        const v = await etcd.get(leaderKey).string();
        return v && (JSON.parse(v) as { node: string }).node === other;
      },
      8000,
      `${other} to lead`,
    );
    const took = Date.now() - killedAt;
    assert.ok(took < NODE_LEASE_TTL_SECONDS * 1000, `fail-over took ${took} ms`);
    const otherNode = c.nodes.find((n) => n.name === other)!;
    const api = await getJson<{ leader: string | null }>(
      `http://${otherNode.address}:${c.headPort}/api/v1/kubecontroller`,
    );
    assert.equal(api.leader, other, 'the head API names the leader');
    const d = deployment('after', { replicas: 2 });
    await createObjects(etcd, c.name, [d]);
    const pods = await eventually(
      async () => {
        const p = await podsOf('after');
        return p.length === 2 && p;
      },
      10_000,
      '2 pods from the new leader',
    );
    assert.ok(pods.every((p) => p.object.spec.nodeName === other));
  });
});

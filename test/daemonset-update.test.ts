// DaemonSet updates and image pre-pull (issue 16 items 4 and 5): the kubecontroller's leader in this
// process against a real etcd, its pods "run" by simulated agents (harness/fake-agents.ts) that also
// answer pre-pull requests in their node status, by themselves or when the test says. Every state the
// pods go through is checked (the watch sees each etcd revision), not samples. Plus the update numbers
// (k8s' DaemonSet rounding) and the validation of the new fields.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import type { ImagePullRequest } from '../agent/images/pull-requests.ts';
import { withDefaults } from '../agent/objects/defaults.ts';
import { listEvents } from '../agent/objects/events.ts';
import { deletePod } from '../agent/objects/pod-deletion.ts';
import {
  createObjects,
  deleteObjects,
  getObject,
  newMeta,
  objectKey,
  refOf,
  toStoredJson,
} from '../agent/objects/store.ts';
import type { DaemonSet, PodTemplateSpec } from '../agent/objects/types.ts';
import { validateManifestText } from '../agent/objects/validate.ts';
import type { Entry } from '../agent/store/informer/informer.ts';
import { keys } from '../agent/store/keys.ts';
import type { NodeRecord } from '../agent/store/node-registry.ts';
import { daemonSetParams } from '../head/controllers/daemonset-update.ts';
import { templateHash } from '../head/controllers/pod-template.ts';
import { prePullGate } from '../head/controllers/prepull.ts';
import { eventually } from './harness/cluster.ts';
import { type FakeAgents, type FakePod, isLive, isPodReady } from './harness/fake-agents.ts';
import { RolloutWorld, template, testDeployment } from './harness/rollout-world.ts';

const cluster = 'dsupdate';
const NODES = ['f1', 'f2', 'f3'];

const daemonSet = (name: string, spec: Partial<DaemonSet['spec']> = {}): DaemonSet =>
  newMeta({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: {
      name,
      namespace: 'default',
      uid: '',
      resourceVersion: '',
      generation: 0,
      creationTimestamp: '',
    },
    spec: { selector: { matchLabels: { app: name } }, template: template(name), ...spec },
  });

describe('DaemonSet updates and pre-pull: the leader against real etcd, simulated agents', {
  timeout: 120_000,
}, () => {
  const world = new RolloutWorld(cluster, NODES);
  let etcd: Etcd3;
  let agents: FakeAgents;
  before(async () => {
    await world.start({ prePull: true });
    ({ etcd, agents } = world);
  });
  after(() => world.stop());

  const ref = <K extends 'DaemonSet' | 'Deployment'>(kind: K, name: string) => ({
    kind,
    namespace: 'default',
    name,
  });
  const read = async (name: string) => (await getObject(etcd, cluster, ref('DaemonSet', name)))!.object;
  /** Change the spec as an apply would (generation + 1), only over what was read. */
  const update = async (
    kind: 'DaemonSet' | 'Deployment',
    name: string,
    change: (o: { spec: { template: PodTemplateSpec } }) => void,
  ) => {
    for (;;) {
      const s = (await getObject(etcd, cluster, ref(kind, name), false))!;
      change(s.object as DaemonSet);
      s.object.metadata.generation++;
      const key = objectKey(cluster, refOf(s.object));
      const res = await etcd
        .if(key, 'Mod', '==', Number(s.modRevision))
        .then(etcd.put(key).value(toStoredJson(s.object)))
        .commit();
      if (res.succeeded) return;
    }
  };
  const mine = (name: string, pods: FakePod[]) =>
    pods.filter((p) => p.object.metadata.ownerReferences?.[0]?.name === name);
  const hashOf = (p: FakePod) => p.object.metadata.labels?.['controller-revision-hash'];
  /** Every node runs one ready pod of the DaemonSet's current template; its status says so. */
  const rolledOut = (name: string, timeoutMs = 20_000) =>
    eventually(
      async () => {
        const ds = await read(name);
        const hash = templateHash(ds.spec.template);
        const pods = mine(name, [...agents.pods.values()]);
        const st = ds.status;
        return (
          st?.observedGeneration === ds.metadata.generation &&
          st.updatedNumberScheduled === NODES.length &&
          st.numberAvailable === NODES.length &&
          st.numberUnavailable === undefined &&
          pods.length === NODES.length &&
          pods.every((p) => isLive(p) && isPodReady(p) && hashOf(p) === hash) &&
          ds
        );
      },
      timeoutMs,
      `the rollout of ${name} to complete`,
    );
  /** Per observed state: nodes without a ready live pod, and the most pods one node has. */
  const watchNodes = (name: string) => {
    const seen = { worstUnready: 0, mostOnANode: 0, states: 0, deletedOrder: [] as string[] };
    const deleted = new Set<string>();
    agents.observer = (pods) => {
      const ds = mine(name, pods);
      const unready = NODES.filter(
        (n) => !ds.some((p) => p.object.spec.nodeName === n && isLive(p) && isPodReady(p)),
      ).length;
      seen.worstUnready = Math.max(seen.worstUnready, unready);
      for (const n of NODES)
        seen.mostOnANode = Math.max(seen.mostOnANode, ds.filter((p) => p.object.spec.nodeName === n).length);
      for (const p of ds)
        if (!isLive(p) && !deleted.has(p.object.metadata.uid)) {
          deleted.add(p.object.metadata.uid);
          seen.deletedOrder.push(p.object.spec.nodeName!);
        }
      seen.states++;
    };
    return seen;
  };

  test('RollingUpdate defaults (maxUnavailable 1): node by node in name order, at every etcd revision at most one node without a ready pod; k8s status fields', async () => {
    await createObjects(etcd, cluster, [daemonSet('roll', { minReadySeconds: 0 })]);
    await rolledOut('roll');
    const seen = watchNodes('roll');
    await update('DaemonSet', 'roll', (d) => {
      d.spec.template.spec.containers[0]!.image = 'app:v2';
    });
    const ds = await rolledOut('roll');
    agents.observer = undefined;
    assert.deepEqual(seen.deletedOrder, ['f1', 'f2', 'f3'], 'one node after the other, in name order');
    assert.equal(seen.worstUnready, 1, 'maxUnavailable 1: used, never passed');
    assert.equal(seen.mostOnANode, 1, 'no surge: the new pod only once the old one is gone');
    const pods = mine('roll', [...agents.pods.values()]);
    assert.deepEqual(pods.map((p) => p.object.metadata.name).sort(), ['roll-f1', 'roll-f2', 'roll-f3']);
    assert.deepEqual(
      {
        desired: ds.status?.desiredNumberScheduled,
        current: ds.status?.currentNumberScheduled,
        ready: ds.status?.numberReady,
        misscheduled: ds.status?.numberMisscheduled,
      },
      { desired: 3, current: 3, ready: 3, misscheduled: 0 },
    );
    // Every node was asked for app:v2 before its old pod stopped, and the requests are gone once done.
    for (const n of NODES) assert.ok(agents.requestedRevision(n, 'app:v2'), `a pre-pull request on ${n}`);
    await eventually(
      async () => (await etcd.getAll().prefix(keys.imagePullsPrefix(cluster)).keys()).length === 0,
      5000,
      'the requests removed once every node is updated',
    );
  });

  test('minReadySeconds 1: the next node only once the previous new pod has been Ready for a second', async () => {
    await createObjects(etcd, cluster, [daemonSet('slow', { minReadySeconds: 1 })]);
    await rolledOut('slow');
    const readyAt = new Map<string, number>();
    const deletedAt = new Map<string, number>();
    agents.observer = (pods) => {
      for (const p of mine('slow', pods)) {
        const node = p.object.spec.nodeName!;
        const ready = p.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
        if (ready && p.object.spec.containers[0]!.image === 'app:v2' && !readyAt.has(node))
          readyAt.set(node, Date.parse(ready.lastTransitionTime));
        const del = p.object.metadata.deletionTimestamp;
        if (del && p.object.spec.containers[0]!.image === 'app:v1' && !deletedAt.has(node))
          deletedAt.set(node, Date.now());
      }
    };
    await update('DaemonSet', 'slow', (d) => {
      d.spec.template.spec.containers[0]!.image = 'app:v2';
    });
    await rolledOut('slow');
    agents.observer = undefined;
    for (const [prev, next] of [
      ['f1', 'f2'],
      ['f2', 'f3'],
    ] as const) {
      const gap = deletedAt.get(next)! - readyAt.get(prev)!;
      assert.ok(gap >= 1000, `${next}'s old pod went ${gap} ms after ${prev}'s new pod was Ready`);
    }
  });

  test('maxUnavailable "50%" of 3 nodes (1.5, rounded up as k8s: 2): two nodes at a time, never three', async () => {
    const updateStrategy = { type: 'RollingUpdate' as const, rollingUpdate: { maxUnavailable: '50%' } };
    await createObjects(etcd, cluster, [daemonSet('wide', { updateStrategy })]);
    await rolledOut('wide');
    const seen = watchNodes('wide');
    await update('DaemonSet', 'wide', (d) => {
      d.spec.template.spec.containers[0]!.image = 'app:v2';
    });
    await rolledOut('wide');
    agents.observer = undefined;
    assert.equal(seen.worstUnready, 2);
    assert.deepEqual(seen.deletedOrder.slice(0, 2).sort(), ['f1', 'f2'], 'the first two nodes together');
  });

  test('maxSurge 1, maxUnavailable 0: the new pod starts beside the old one, which goes once the new one is ready; never a node without a ready pod', async () => {
    const updateStrategy = {
      type: 'RollingUpdate' as const,
      rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
    };
    await createObjects(etcd, cluster, [daemonSet('surge', { updateStrategy })]);
    await rolledOut('surge');
    const seen = watchNodes('surge');
    await update('DaemonSet', 'surge', (d) => {
      d.spec.template.spec.containers[0]!.image = 'app:v2';
    });
    const ds = await rolledOut('surge');
    agents.observer = undefined;
    assert.equal(seen.worstUnready, 0, 'every node keeps a ready pod throughout');
    assert.equal(seen.mostOnANode, 2, 'old and new side by side');
    assert.deepEqual(seen.deletedOrder, ['f1', 'f2', 'f3']);
    const hash = templateHash(ds.spec.template);
    assert.deepEqual(
      mine('surge', [...agents.pods.values()])
        .map((p) => p.object.metadata.name)
        .sort(),
      NODES.map((n) => `surge-${n}-${hash}`),
    );
  });

  test('OnDelete: a template change replaces nothing; a pod the user deletes comes back with the new template', async () => {
    await createObjects(etcd, cluster, [daemonSet('manual', { updateStrategy: { type: 'OnDelete' } })]);
    await rolledOut('manual');
    const oldHash = hashOf(mine('manual', [...agents.pods.values()])[0]!);
    await update('DaemonSet', 'manual', (d) => {
      d.spec.template.spec.containers[0]!.image = 'app:v2';
    });
    // The controller has seen the new template (its status says so) and deleted nothing.
    const ds = await eventually(
      async () => {
        const x = await read('manual');
        return x.status?.observedGeneration === x.metadata.generation && x;
      },
      5000,
      'the new generation observed',
    );
    assert.equal(ds.status?.updatedNumberScheduled, 0);
    assert.equal(ds.status?.numberAvailable, 3);
    const pods = mine('manual', [...agents.pods.values()]);
    assert.ok(pods.every((p) => isLive(p) && hashOf(p) === oldHash));
    const f2 = (await getObject(etcd, cluster, { kind: 'Pod', namespace: 'default', name: 'manual-f2' }))!;
    await deletePod(etcd, cluster, f2 as never);
    const newHash = templateHash(ds.spec.template);
    await eventually(
      async () => {
        const x = await read('manual');
        return x.status?.updatedNumberScheduled === 1 && x.status.numberAvailable === 3;
      },
      10_000,
      'f2 back with the new template',
    );
    const now = mine('manual', [...agents.pods.values()]).filter(isLive);
    assert.deepEqual(now.map((p) => [p.object.spec.nodeName, hashOf(p) === newHash]).sort(), [
      ['f1', false],
      ['f2', true],
      ['f3', false],
    ]);
  });

  test('pre-pull gate: no old pod stops before its node reports the new image; a failed pull keeps the old pod (FailedPrePull), a pull that then succeeds lets it go', async () => {
    await createObjects(etcd, cluster, [daemonSet('gated')]);
    await rolledOut('gated');
    agents.pullDelayMs = undefined; // pulls answered only below
    const pulled = new Set<string>();
    const early: string[] = [];
    agents.observer = (pods) => {
      for (const p of mine('gated', pods))
        if (
          !isLive(p) &&
          p.object.spec.containers[0]!.image === 'app:v1' &&
          !pulled.has(p.object.spec.nodeName!)
        )
          early.push(p.object.spec.nodeName!);
    };
    try {
      await update('DaemonSet', 'gated', (d) => {
        d.spec.template.spec.containers[0]!.image = 'app:v3';
      });
      // Requests reach every node at once (pulls run in parallel while the rollout goes node by node).
      await eventually(
        async () => {
          const ds = await read('gated');
          return (
            ds.status?.observedGeneration === ds.metadata.generation &&
            NODES.every((n) => agents.requestedRevision(n, 'app:v3'))
          );
        },
        5000,
        'requests on every node',
      );
      assert.ok(mine('gated', [...agents.pods.values()]).every(isLive), 'no old pod stopped yet');
      // f2 first: it is the only node that holds the image, whatever the name order.
      pulled.add('f2');
      await agents.answerPull('f2', 'app:v3', 'Pulled');
      await eventually(
        async () =>
          (await read('gated')).status?.updatedNumberScheduled === 1 &&
          (await read('gated')).status?.numberAvailable === 3,
        10_000,
        'f2 updated',
      );
      await agents.answerPull('f1', 'app:v3', 'Failed', 'manifest unknown');
      await eventually(
        async () =>
          (await listEvents(etcd, cluster, ref('DaemonSet', 'gated'))).find(
            (e) =>
              e.type === 'Warning' &&
              e.reason === 'FailedPrePull' &&
              e.message.includes('node f1') &&
              e.message.includes('manifest unknown'),
          ),
        5000,
        'a FailedPrePull Warning naming the node and the reason',
      );
      pulled.add('f3');
      await agents.answerPull('f3', 'app:v3', 'Pulled');
      await eventually(
        async () => (await read('gated')).status?.updatedNumberScheduled === 2,
        10_000,
        'f3 updated; f1 still old',
      );
      const f1 = mine('gated', [...agents.pods.values()]).filter((p) => p.object.spec.nodeName === 'f1');
      assert.deepEqual(
        f1.map((p) => [isLive(p), p.object.spec.containers[0]!.image]),
        [[true, 'app:v1']],
        'the failed pull kept the old pod',
      );
      // The report rewrote f1's request (a newer revision): the next answer to it lets f1 go.
      pulled.add('f1');
      await agents.answerPull('f1', 'app:v3', 'Pulled');
      await rolledOut('gated');
      assert.deepEqual(early, [], 'no old pod stopped on a node before it reported the image');
    } finally {
      agents.pullDelayMs = 50;
      agents.observer = undefined;
    }
  });

  test("a DaemonSet deleted while its nodes pull: the leader's sweep removes its requests", async () => {
    await createObjects(etcd, cluster, [daemonSet('gone')]);
    await rolledOut('gone');
    agents.pullDelayMs = undefined;
    const requests = async () =>
      (await etcd.getAll().prefix(keys.imagePullsPrefix(cluster)).keys()).filter((k) =>
        k.endsWith('/DaemonSet/default/gone'),
      );
    try {
      await update('DaemonSet', 'gone', (d) => {
        d.spec.template.spec.containers[0]!.image = 'app:v5';
      });
      await eventually(async () => (await requests()).length === 3, 5000, 'a request per node');
      await deleteObjects(etcd, cluster, [ref('DaemonSet', 'gone')]);
      await eventually(async () => (await requests()).length === 0, 10_000, 'the requests removed');
    } finally {
      agents.pullDelayMs = 50;
    }
  });

  test('Deployment rolling update: old pods stop only on nodes that report the new image', async () => {
    const d = testDeployment('dep', {
      replicas: 3,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
    });
    await createObjects(etcd, cluster, [d]);
    const podsOf = () => mine('dep', [...agents.pods.values()]);
    await eventually(() => podsOf().filter(isPodReady).length === 3, 10_000, '3 ready pods');
    const nodes = [...new Set(podsOf().map((p) => p.object.spec.nodeName!))];
    agents.pullDelayMs = undefined;
    try {
      await update('Deployment', 'dep', (x) => {
        x.spec.template.spec.containers[0]!.image = 'app:v4';
      });
      await eventually(() => nodes.every((n) => agents.requestedRevision(n, 'app:v4')), 5000, 'requests');
      assert.ok(podsOf().every(isLive), 'no old pod stopped before any node holds the image');
      const first = nodes[0]!;
      await agents.answerPull(first, 'app:v4', 'Pulled');
      const gone = await eventually(() => podsOf().find((p) => !isLive(p)), 10_000, 'an old pod stopped');
      assert.equal(gone.object.spec.nodeName, first, 'on the node that holds the image');
      for (const n of nodes.slice(1)) await agents.answerPull(n, 'app:v4', 'Pulled');
      await eventually(
        () =>
          podsOf().length === 3 &&
          podsOf().every((p) => isPodReady(p) && p.object.spec.containers[0]!.image === 'app:v4'),
        20_000,
        'every pod on app:v4',
      );
    } finally {
      agents.pullDelayMs = 50;
    }
  });
});

describe('DaemonSet update numbers and validation', () => {
  const params = (maxUnavailable?: number | string, maxSurge?: number | string, nodes = 10) =>
    daemonSetParams(
      daemonSet('x', {
        updateStrategy: {
          type: 'RollingUpdate',
          rollingUpdate: {
            ...(maxUnavailable === undefined ? {} : { maxUnavailable }),
            ...(maxSurge === undefined ? {} : { maxSurge }),
          },
        },
      }),
      nodes,
    );
  test('defaults maxUnavailable 1, maxSurge 0; percents rounded up (k8s DaemonSet); 0% of both means 1', () => {
    assert.deepEqual([params().maxUnavailable, params().maxSurge], [1, 0]);
    assert.deepEqual([params('25%').maxUnavailable, params(0, '15%').maxSurge], [3, 2]);
    assert.equal(params('0%', '0%', 3).maxUnavailable, 1);
    assert.equal(daemonSetParams(daemonSet('x'), 4).strategy, 'RollingUpdate');
  });

  test('pre-pull asks nothing for images with pull policy Never (nothing to pull), and gates the others', () => {
    // f3's agent has just started: its record says it pre-pulls, its first status is not there yet.
    const world = {
      nodes: [{ name: 'f3', labels: {}, prePull: true } as unknown as NodeRecord],
      pods: [],
      drained: new Set<string>(),
      nodeStatuses: new Map([['f1', { images: [], pulls: [] }]]),
    };
    const owner = daemonSet('x');
    const spec = (imagePullPolicy: 'Never' | 'IfNotPresent') => ({
      spec: { containers: [{ name: 'm', image: 'app:v9', imagePullPolicy }] },
    });
    const never = prePullGate(world, owner, spec('Never'), 'h', ['f1']);
    assert.deepEqual([never.allows('f1'), never.actions], [true, []]);
    const pulled = prePullGate(world, owner, spec('IfNotPresent'), 'h', ['f1', 'f2', 'f3']);
    assert.equal(pulled.allows('f1'), false, 'f1 reports a node status: it waits for the image');
    assert.equal(
      pulled.allows('f2'),
      true,
      'f2 reports none and its record does not say it pre-pulls (an older agent): not waited for',
    );
    assert.equal(pulled.allows('f3'), false, 'f3 says it pre-pulls: waited for before its first status');
    const images = [{ image: 'app:v9', policy: 'IfNotPresent' }];
    assert.deepEqual(
      pulled.actions.map((a) => (a.type === 'imagePull' ? [a.key, a.request?.images] : a.type)),
      [
        ['f1/DaemonSet/default/x', images],
        ['f3/DaemonSet/default/x', images],
      ],
    );
    // The template's imagePullSecrets go with the request; a request without them is written again.
    const withSecret = {
      spec: { ...spec('IfNotPresent').spec, imagePullSecrets: [{ name: 'regcred' }] },
    };
    const asked = new Map(
      pulled.actions.flatMap((a) =>
        a.type === 'imagePull' && a.request
          ? [[a.key, { value: a.request, modRevision: '5' } as Entry<ImagePullRequest>]]
          : [],
      ),
    );
    const again = prePullGate({ ...world, imagePulls: asked }, owner, withSecret, 'h', ['f1', 'f3']);
    assert.deepEqual(
      again.actions.map((a) =>
        a.type === 'imagePull' ? [a.key, a.request?.pullSecrets, a.prevRevision] : a.type,
      ),
      [
        ['f1/DaemonSet/default/x', [{ namespace: 'default', name: 'regcred' }], '5'],
        ['f3/DaemonSet/default/x', [{ namespace: 'default', name: 'regcred' }], '5'],
      ],
    );
  });

  const manifest = (spec: string, ports = '') => `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: main, image: app${ports}}]}
${spec}`;
  test('validation: both 0 refused, over 100% refused, rollingUpdate only with RollingUpdate, maxSurge refused with host ports; defaults stored', () => {
    const ok = validateManifestText(
      manifest(
        '  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxSurge: "50%", maxUnavailable: 0}}\n  minReadySeconds: 5\n',
      ),
      'ds.yaml',
    );
    assert.equal((ok[0]!.object as DaemonSet).spec.updateStrategy?.rollingUpdate?.maxSurge, '50%');
    const stored = withDefaults(validateManifestText(manifest(''), 'ds.yaml')[0]!.object as DaemonSet);
    assert.deepEqual(
      [stored.spec.updateStrategy, stored.spec.minReadySeconds],
      [{ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }, 0],
    );
    const onDelete = withDefaults(
      validateManifestText(manifest('  updateStrategy: {type: OnDelete}\n'), 'ds.yaml')[0]!
        .object as DaemonSet,
    );
    assert.deepEqual(onDelete.spec.updateStrategy, { type: 'OnDelete' });
    const refused = (text: string, re: RegExp) =>
      assert.throws(() => validateManifestText(text, 'ds.yaml'), re);
    refused(
      manifest(
        '  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 0, maxUnavailable: "0%"}}\n',
      ),
      /maxUnavailable: may not be 0 when `maxSurge` is 0/,
    );
    refused(
      manifest('  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxSurge: "101%"}}\n'),
      /must not be greater than 100%/,
    );
    refused(
      manifest('  updateStrategy: {type: OnDelete, rollingUpdate: {maxUnavailable: 1}}\n'),
      /may not be specified when strategy `type` is 'OnDelete'/,
    );
    refused(
      manifest(
        '  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1}}\n',
        ', ports: [{containerPort: 8080}]',
      ),
      /maxSurge: must be 0 when the template takes host ports \(8080\/TCP/,
    );
    refused(manifest('  updateStrategy: {type: Sometimes}\n'), /updateStrategy/);
  });
});

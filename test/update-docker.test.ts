// Safe updates on the real engine (issue 16): three agents (one head) share one Docker engine and a real
// etcd. A 6-replica Deployment with a readiness probe rolls to a new template, sampled every 100 ms (pods
// in etcd with their Ready condition, containers in Docker): a checker over the samples finds no moment
// with fewer than replicas - maxUnavailable serving or more than replicas + maxSurge pods. `rollout undo
// --to-revision` brings back the older template exactly. A container that fails on its first node is
// rescheduled (nokube.io/reschedule-after-restarts) to another one, with the event and the penalty.
//
// The readiness probe is an exec of an HTTP GET in the container (harness/http-replica.ts): pods use the
// node's network, so a fixed httpGet port admits one replica per node (the scheduler reserves it), and
// these six replicas share three nodes.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { listEvents } from '../agent/objects/events.ts';
import { getObject, listObjects } from '../agent/objects/store.ts';
import type { Deployment, Pod } from '../agent/objects/types.ts';
import { deploymentSample, judge, startSampler } from './harness/availability.ts';
import {
  clusterCli,
  createTestCluster,
  eventually,
  startAgentsReady,
  type TestCluster,
} from './harness/cluster.ts';
import { type Docker, ensureBusyboxImage, requireDocker } from './harness/docker.ts';
import { HTTP_CHECK, SERVE } from './harness/http-replica.ts';

describe('rolling updates and reschedule on Docker, three agents', { timeout: 300_000 }, () => {
  let c: TestCluster;
  let docker: Docker;
  let image: string;

  const { ok } = clusterCli(() => c);
  const deployment = (name: string) =>
    c.withEtcd(
      async (etcd) =>
        (await getObject(etcd, c.name, { kind: 'Deployment', namespace: 'default', name }))!
          .object as Deployment,
    );
  const rolled = (name: string) => ok(['rollout', 'status', `deployment/${name}`, '--timeout', '120s']);

  before(async () => {
    docker = await requireDocker();
    image = await ensureBusyboxImage();
    c = await createTestCluster({ nodes: 3, net: 49 });
    await startAgentsReady(c);
  });
  after(async () => {
    await c?.stop();
  });

  const web = (version: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: {kubernetes.io/change-cause: "version ${version}"}
spec:
  replicas: 6
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 2, maxUnavailable: 1}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: web
          image: ${image}
          env: [{name: VERSION, value: "${version}"}]
          command: [sh, -c, '${SERVE}']
          readinessProbe:
            exec: {command: [sh, -c, '${HTTP_CHECK}']}
            periodSeconds: 1
            # An exec goes through the engine: slow on a busy machine, and a slow answer is not a failure here.
            timeoutSeconds: 10
`;

  test('6 replicas, maxSurge 2 / maxUnavailable 1, sampled every 100 ms: never fewer than 5 serving nor more than 8 pods; undo --to-revision 1 restores the template exactly', async () => {
    await ok(['apply', '-f', '-'], web('1'));
    await rolled('web');
    const v1 = structuredClone((await deployment('web')).spec.template);

    const samples = await c.withEtcd(async (client) => {
      const sampler = startSampler(() => deploymentSample(client, c.name, 'web', docker));
      try {
        await ok(['apply', '-f', '-'], web('2'));
        await rolled('web');
      } finally {
        await sampler.stop();
      }
      return sampler.samples;
    });
    assert.ok(samples.length > 10, `sampled through the rollout (${samples.length} samples)`);
    assert.deepEqual(judge(samples, { floor: 5, ceiling: 8 }), []);
    assert.ok(
      samples.some((s) => s.pods > 6),
      'the rollout surged (a new pod beside the old ones)',
    );
    const pods = await c.withEtcd((e) => listObjects(e, c.name, 'Pod', 'default'));
    const env = pods
      .map((s) => s.object as Pod)
      .filter((p) => p.metadata.ownerReferences?.[0]?.name === 'web' && !p.metadata.deletionTimestamp)
      .map((p) => p.spec.containers[0]!.env?.[0]?.value);
    assert.deepEqual(env, ['2', '2', '2', '2', '2', '2']);

    assert.equal(
      await ok(['rollout', 'undo', 'deployment/web', '--to-revision', '1']),
      'deployment.apps/web rolled back\n',
    );
    await rolled('web');
    assert.deepEqual((await deployment('web')).spec.template, v1, 'the template of revision 1, exactly');
  });

  test('a container failing on its first node: after 1 restart there, replaced on another node, that node penalised, a Rescheduled event', async () => {
    // The pod fails on whichever node it runs first (that node is written to a host directory all the
    // agents share), and serves anywhere else.
    const state = join(c.dir, 'flaky');
    await ok(
      ['apply', '-f', '-'],
      `apiVersion: apps/v1
kind: Deployment
metadata:
  name: flaky
  annotations:
    nokube.io/reschedule-after-restarts: "1"
    nokube.io/reschedule-penalty: 10m
spec:
  replicas: 1
  selector:
    matchLabels: {app: flaky}
  template:
    metadata:
      labels: {app: flaky}
    spec:
      terminationGracePeriodSeconds: 1
      volumes: [{name: state, hostPath: {path: ${state}, type: DirectoryOrCreate}}]
      containers:
        - name: main
          image: ${image}
          env: [{name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}]
          volumeMounts: [{name: state, mountPath: /state}]
          command: [sh, -c, '[ -e /state/first ] || echo $NODE > /state/first; [ "$(cat /state/first)" = "$NODE" ] && exit 1; ${SERVE}']
`,
    );
    const flaky = () =>
      c.withEtcd(async (e) =>
        (await listObjects(e, c.name, 'Pod', 'default'))
          .map((s) => s.object as Pod)
          .filter((p) => p.metadata.ownerReferences?.[0]?.name === 'flaky' && !p.metadata.deletionTimestamp),
      );
    const first = await eventually(
      async () => (await flaky())[0]?.spec.nodeName,
      30_000,
      'the first pod bound',
    );
    const moved = await eventually(
      async () => {
        const p = (await flaky())[0];
        return p && p.spec.nodeName !== first && p.status?.phase === 'Running' && p;
      },
      90_000,
      'the pod replaced on another node and running there',
    );
    assert.notEqual(moved.spec.nodeName, first);
    const d = await deployment('flaky');
    assert.deepEqual(
      d.status?.reschedulePenalties?.map((p) => p.node),
      [first],
    );
    const said = await c.withEtcd((e) =>
      listEvents(e, c.name, { kind: 'Deployment', namespace: 'default', name: 'flaky' }),
    );
    const event = said.find((e) => e.reason === 'Rescheduled');
    assert.equal(event?.type, 'Warning');
    assert.match(
      event?.message ?? '',
      new RegExp(
        `restarted 1 times on node ${first} \\(1 allowed\\): replaced on another node; ${first} penalised`,
      ),
    );
  });
});

// End to end: three agents on one machine (distinct node names, addresses and workspaces) share one real
// Docker engine and a real etcd. Manifests go in with `nokube apply`, pods come out as containers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createObjects, deleteObjects, listObjects, newMeta } from '../agent/objects/store.ts';
import type { Pod } from '../agent/objects/types.ts';
import {
  createTestCluster,
  eventually,
  runCli,
  startAgentsReady,
  type TestCluster,
} from './harness/cluster.ts';
import { type Docker, ensureBusyboxImage, requireDocker } from './harness/docker.ts';

describe('workloads on Docker, three agents', { timeout: 600_000 }, () => {
  let c: TestCluster;
  let docker: Docker;
  let image: string;

  const apply = async (yaml: string) => {
    const r = await runCli(['apply', '-f', '-'], c.env, yaml);
    assert.equal(r.code, 0, `apply failed: ${r.stderr}`);
    return r.stdout;
  };
  /** Running containers of this cluster, by node. */
  const running = async (pod?: RegExp) => {
    const list = await docker.listContainers({ filters: { label: [`nokube.cluster=${c.name}`] } });
    return list.filter((ct) => !pod || pod.test(ct.Labels['nokube.pod'] ?? ''));
  };
  const perNode = (list: Awaited<ReturnType<typeof running>>) => {
    const counts: Record<string, number> = {};
    for (const ct of list) counts[ct.Labels['nokube.node']!] = (counts[ct.Labels['nokube.node']!] ?? 0) + 1;
    return counts;
  };
  const pods = () => c.withEtcd((etcd) => listObjects(etcd, c.name, 'Pod'));
  const deployment = (replicas: number, extra = '') => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      # Moves at once when its node is lost (the default toleration is 300 s): the SIGKILL test below.
      tolerations:
        - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 0}
      containers:
        - name: web
          image: ${image}
          command: [sh, -c, 'trap "exit 0" TERM; while true; do sleep 1; done']${extra}
`;

  before(async () => {
    docker = await requireDocker();
    image = await ensureBusyboxImage();
    c = await createTestCluster({ nodes: 3, net: 42 });
    await startAgentsReady(c);
  });
  after(async () => {
    await c?.stop();
  });

  test('a Deployment of 6 runs 6 containers spread 2/2/2', async () => {
    assert.match(await apply(deployment(6)), /deployment.apps\/web created/);
    const list = await eventually(
      async () => {
        const l = await running(/^web-/);
        return l.length === 6 && l;
      },
      120_000,
      '6 web containers running',
    );
    assert.deepEqual(Object.values(perNode(list)).sort(), [2, 2, 2]);
    const stored = await eventually(
      async () => {
        const p = (await pods()).filter((s) => s.object.metadata.name.startsWith('web-'));
        return p.every((s) => (s.object as Pod).status?.phase === 'Running') && p.length === 6 && p;
      },
      30_000,
      'six pods Running in etcd',
    );
    for (const s of stored) {
      const pod = s.object as Pod;
      const node = c.nodes.find((n) => n.name === pod.spec.nodeName)!;
      assert.equal(pod.status?.podIP, node.address, 'podIP is the node address (host network)');
    }
  });

  test('restarting an agent restarts no container', async () => {
    const before = await running(/^web-/);
    const onN3 = before.filter((ct) => ct.Labels['nokube.node'] === 'n3');
    assert.ok(onN3.length > 0);
    const startedAt = async (id: string) => (await docker.getContainer(id).inspect()).State.StartedAt;
    const times = await Promise.all(onN3.map((ct) => startedAt(ct.Id)));
    assert.equal(await c.agents.get('n3')!.kill('SIGTERM'), 0);
    await c.startAgent('n3');
    // The restarted agent at work: it runs a pod bound to it after its start (its actors for the web
    // pods started from its cache before it read etcd), and removes it again.
    const probe = newMeta({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'probe', namespace: 'default' },
      spec: {
        nodeName: 'n3',
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'm', image, command: ['sleep', '3600'] }],
      },
    } as Pod);
    await c.withEtcd((etcd) => createObjects(etcd, c.name, [probe]));
    await eventually(
      async () => (await running(/^probe$/)).length === 1,
      30_000,
      'the probe pod running on n3',
    );
    await c.withEtcd((etcd) =>
      deleteObjects(etcd, c.name, [{ kind: 'Pod', namespace: 'default', name: 'probe' }]),
    );
    await eventually(async () => (await running(/^probe$/)).length === 0, 30_000, 'the probe pod gone');
    const after = await running(/^web-/);
    assert.equal(after.length, 6);
    for (const [i, ct] of onN3.entries()) {
      assert.ok(
        after.some((a) => a.Id === ct.Id),
        `container ${ct.Names[0]} survived the agent restart`,
      );
      assert.equal(await startedAt(ct.Id), times[i], 'and was not restarted');
    }
  });

  test('scale to 2: four containers removed', async () => {
    assert.match(await apply(deployment(2)), /deployment.apps\/web configured/);
    await eventually(async () => (await running(/^web-/)).length === 2, 60_000, '2 web containers');
    await eventually(
      async () => (await pods()).filter((s) => s.object.metadata.name.startsWith('web-')).length === 2,
      30_000,
      '2 web pods in etcd',
    );
  });

  test('SIGKILL an agent: its pods come back on the others', async () => {
    assert.match(await apply(deployment(6)), /configured/);
    await eventually(async () => (await running(/^web-/)).length === 6, 120_000, '6 again');
    await c.agents.get('n2')!.kill('SIGKILL');
    const killedAt = Date.now();
    await eventually(
      async () => {
        const p = (await pods()).filter((s) => s.object.metadata.name.startsWith('web-'));
        const live = p.filter(
          (s) => s.object.spec.nodeName !== 'n2' && (s.object as Pod).status?.phase === 'Running',
        );
        return p.length === 6 && live.length === 6;
      },
      60_000,
      'six web pods Running on n1 and n3',
    );
    const took = Date.now() - killedAt;
    assert.ok(took < 30_000, `replaced in ${took} ms`);
    // The dead agent's containers are still on the (shared) engine; a restarted n2 removes them.
    await c.startAgent('n2');
    await eventually(
      async () => (await running(/^web-/)).filter((ct) => ct.Labels['nokube.node'] === 'n2').length === 0,
      60_000,
      'the restarted n2 to remove the containers of pods that moved away',
    );
  });

  test('a ConfigMap file and a Secret env reach the container', async () => {
    await apply(`apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data:
  greeting.txt: hello from a configmap
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData:
  password: s3cret
---
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: ${image}
      command: [sh, -c, 'cat /etc/settings/greeting.txt; echo; echo "pw=$PASSWORD"; sleep 3600']
      env:
        - name: PASSWORD
          valueFrom: {secretKeyRef: {name: creds, key: password}}
      volumeMounts:
        - {name: settings, mountPath: /etc/settings}
  volumes:
    - name: settings
      configMap: {name: settings}
`);
    const out = await eventually(
      async () => {
        const r = await runCli(['logs', 'reader'], c.env);
        return r.code === 0 && r.stdout.includes('pw=') && r.stdout;
      },
      60_000,
      'reader logs',
    );
    assert.match(out, /hello from a configmap/);
    assert.match(out, /pw=s3cret/);
    const ex = await runCli(['exec', 'reader', '--', 'sh', '-c', 'echo $PASSWORD; exit 3'], c.env);
    assert.equal(ex.code, 3);
    assert.equal(ex.stdout, 's3cret\n');
  });

  test('a crashing container backs off (CrashLoopBackOff, restart count grows)', async () => {
    await apply(`apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  containers:
    - name: main
      image: ${image}
      command: [sh, -c, 'echo boom; exit 3']
`);
    const status = await eventually(
      async () => {
        const p = (await pods()).find((s) => s.object.metadata.name === 'crasher')?.object as Pod | undefined;
        const cs = p?.status?.containerStatuses?.[0];
        return cs && cs.restartCount >= 1 && cs.state.waiting?.reason === 'CrashLoopBackOff' && cs;
      },
      90_000,
      'crasher in CrashLoopBackOff',
    );
    assert.equal(status.lastState?.terminated?.exitCode, 3);
  });

  test('a Job runs to completion', async () => {
    await apply(`apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  completions: 2
  parallelism: 1
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: main
          image: ${image}
          command: [sh, -c, 'echo done']
`);
    await eventually(
      async () => {
        const r = await runCli(['get', 'job', 'once', '-o', 'json'], c.env);
        const job = JSON.parse(r.stdout) as {
          status?: { succeeded?: number; conditions?: Array<{ type: string }> };
        };
        return job.status?.succeeded === 2 && job.status.conditions?.some((x) => x.type === 'Complete');
      },
      120_000,
      'job once Complete with 2 succeeded',
    );
  });

  test('delete the Deployment: its containers and etcd keys are gone', async () => {
    const r = await runCli(['delete', 'deployment', 'web'], c.env);
    assert.equal(r.code, 0, r.stderr);
    await eventually(async () => (await running(/^web-/)).length === 0, 60_000, 'no web containers');
    await eventually(
      () =>
        c.withEtcd(async (etcd) => {
          const all = await etcd.getAll().prefix(`/nokube/${c.name}/`).keys();
          // Events stay their hour, as in k8s; everything else of the deployment must be gone.
          const left = all.filter(
            (k) =>
              !k.includes('/events/') &&
              (/\/(deployments\/|pods\/default\/web-)/.test(k) || k.includes('/deployment-web')),
          );
          if (left.length > 0) throw new Error(`left: ${left.join(', ')}`);
          return true;
        }),
      60_000,
      'no etcd keys of the deployment or its pods (objects, status, alive)',
    );
  });

  test('a bad manifest is refused with its message and changes nothing', async () => {
    const r = await runCli(
      ['apply', '-f', '-'],
      c.env,
      `apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  containers:
    - name: main
      image: ${image}
      livenessProbe: {periodSeconds: 5}
`,
    );
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /spec\.containers\[0\]\.livenessProbe: exactly one of exec, httpGet, tcpSocket, grpc is required/,
    );
    assert.equal(
      (await pods()).some((s) => s.object.metadata.name === 'bad'),
      false,
    );
  });
});

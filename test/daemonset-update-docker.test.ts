// A DaemonSet rolling update on real Docker (issue 16 items 4 and 5): three agents on one machine share one
// Docker engine and a real etcd; the images come from a registry on loopback. The new template's image
// has pull policy Always, so each node's agent pulls it itself when asked. Sampled every 100 ms:
// containers (Docker) and pod readiness and node statuses (etcd), checked afterwards: never more than
// maxUnavailable (1) nodes without a ready pod, old containers stopped node after node, and each node
// reported the new image pulled before its old container stopped.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { NodeStatus } from '../agent/images/pull-requests.ts';
import { listObjects } from '../agent/objects/store.ts';
import type { DaemonSet, Pod } from '../agent/objects/types.ts';
import { keys } from '../agent/store/keys.ts';
import {
  createTestCluster,
  eventually,
  runCli,
  startAgentsReady,
  type TestCluster,
} from './harness/cluster.ts';
import {
  type Docker,
  ensureBusyboxImage,
  pushImage,
  requireDocker,
  startRegistry,
  type TestRegistry,
} from './harness/docker.ts';

const SAMPLE_MS = 100;

interface Sample {
  at: number;
  /** Per node: images of the running containers of the DaemonSet. */
  containers: Record<string, string[]>;
  /** Per node: a live (not Terminating) pod of the DaemonSet is Ready. */
  ready: Record<string, boolean>;
  /** Per node: its status reports the new image pulled. */
  pulled: Record<string, boolean>;
}

describe('DaemonSet rolling update on Docker, three agents', { timeout: 300_000 }, () => {
  let c: TestCluster;
  let docker: Docker;
  let registry: TestRegistry;
  let v1: string;
  let v2: string;

  before(async () => {
    docker = await requireDocker();
    const local = await ensureBusyboxImage();
    registry = await startRegistry();
    v1 = await pushImage(docker, local, registry.host, 'nokube-ds:v1');
    v2 = await pushImage(docker, local, registry.host, 'nokube-ds:v2');
    // Only the registry holds v2 now: the agents have to pull it.
    await docker.getImage(v2).remove();
    c = await createTestCluster({ nodes: 3, net: 55 });
    await startAgentsReady(c);
  });
  after(async () => {
    await c?.stop();
    await docker
      ?.getImage(v2)
      .remove()
      .catch(() => undefined);
    await registry?.stop();
  });

  const manifest = (image: string, policy: string) => `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agentd}
spec:
  selector: {matchLabels: {app: agentd}}
  minReadySeconds: 1
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}
  template:
    metadata: {labels: {app: agentd}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: ${image}
          imagePullPolicy: ${policy}
          command: [sh, -c, 'trap "exit 0" TERM; touch /tmp/ready; while true; do sleep 1; done']
          # timeoutSeconds 5: an exec through a loaded engine can take more than the default 1 s, and a
          # probe that times out would make a pod unready that the rollout rightly counted on.
          readinessProbe: {exec: {command: [cat, /tmp/ready]}, periodSeconds: 1, timeoutSeconds: 5}
`;
  const apply = async (yaml: string) => {
    const r = await runCli(['apply', '-f', '-'], c.env, yaml);
    assert.equal(r.code, 0, `apply failed: ${r.stderr}`);
  };

  test('one node at a time behind a readiness probe; each node pulls the new image before its old container stops', async () => {
    const nodes = c.nodes.map((n) => n.name).sort();
    await apply(manifest(v1, 'IfNotPresent'));
    const dsReady = (etcd: Parameters<Parameters<TestCluster['withEtcd']>[0]>[0], image: string) =>
      eventually(
        async () => {
          const ds = (await listObjects(etcd, c.name, 'DaemonSet')).find(
            (d) => d.object.metadata.name === 'agentd',
          )?.object as DaemonSet | undefined;
          return (
            ds?.status?.observedGeneration === ds?.metadata.generation &&
            ds?.status?.numberAvailable === 3 &&
            ds.status.updatedNumberScheduled === 3 &&
            ds.spec.template.spec.containers[0]!.image === image &&
            ds
          );
        },
        90_000,
        `the DaemonSet on ${image} everywhere`,
      );
    await c.withEtcd((etcd) => dsReady(etcd, v1));
    const samples: Sample[] = [];
    const pulledAt: Record<string, number> = {};
    const t0 = Date.now();
    await c.withEtcd(async (etcd) => {
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const at = Date.now() - t0;
          const [list, pods, statuses] = await Promise.all([
            docker.listContainers({ filters: { label: [`nokube.cluster=${c.name}`] } }),
            listObjects(etcd, c.name, 'Pod', 'default'),
            Promise.all(
              nodes.map(async (n) => {
                const text = await etcd.get(keys.nodeStatus(c.name, n)).string();
                return text ? (JSON.parse(text) as NodeStatus) : undefined;
              }),
            ),
          ]);
          const s: Sample = { at, containers: {}, ready: {}, pulled: {} };
          for (const [i, n] of nodes.entries()) {
            s.containers[n] = list
              .filter(
                (ct) => ct.Labels['nokube.node'] === n && /^agentd-/.test(ct.Labels['nokube.pod'] ?? ''),
              )
              .map((ct) => ct.Image);
            s.ready[n] = pods.some((p) => {
              const pod = p.object as Pod;
              return (
                pod.spec.nodeName === n &&
                pod.metadata.name.startsWith('agentd-') &&
                !pod.metadata.deletionTimestamp &&
                pod.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') === true
              );
            });
            s.pulled[n] = statuses[i]?.pulls.some((p) => p.image === v2 && p.state === 'Pulled') === true;
          }
          samples.push(s);
          await new Promise((r) => setTimeout(r, SAMPLE_MS));
        }
      })();
      // Each node's report of v2 pulled, from a watch: it lives only while that node's request exists
      // (until its old pod is gone), shorter than a poll under load may take.
      const watchers = await Promise.all(
        nodes.map(async (n) => {
          const w = await etcd.watch().key(keys.nodeStatus(c.name, n)).create();
          w.on('put', (kv) => {
            const st = JSON.parse(kv.value.toString()) as NodeStatus;
            if (st.pulls.some((p) => p.image === v2 && p.state === 'Pulled')) pulledAt[n] ??= Date.now() - t0;
          });
          return w;
        }),
      );
      await apply(manifest(v2, 'Always'));
      await dsReady(etcd, v2);
      sampling = false;
      await sampler;
      await Promise.all(watchers.map((w) => w.cancel()));
    });
    const took = Date.now() - t0;

    // Availability: never more than maxUnavailable nodes without a ready pod.
    const unready = (s: Sample) => nodes.filter((n) => !s.ready[n]);
    const worst = samples.reduce((w, s) => (unready(s).length > unready(w).length ? s : w), samples[0]!);
    assert.ok(samples.length > 20, `samples: ${samples.length} over ${took} ms`);
    assert.equal(
      unready(worst).length,
      1,
      `at most one node without a ready pod (and the rollout used it); worst at ${worst.at} ms: ${JSON.stringify(worst)}`,
    );
    // When each node's old container stopped (first sample without a v1 container there), and when it
    // reported v2 pulled.
    const firstAt = (pred: (s: Sample) => boolean) => samples.find(pred)?.at ?? Number.POSITIVE_INFINITY;
    const stopped = nodes.map((n) => firstAt((s) => !s.containers[n]!.includes(v1)));
    const pulled = nodes.map((n) =>
      Math.min(
        pulledAt[n] ?? Number.POSITIVE_INFINITY,
        firstAt((s) => s.pulled[n]!),
      ),
    );
    const newRunning = nodes.map((n) => firstAt((s) => s.containers[n]!.includes(v2)));
    for (const [i, n] of nodes.entries()) {
      assert.ok(
        pulled[i]! <= stopped[i]!,
        `${n}: v2 pulled (${pulled[i]} ms) before v1 stopped (${stopped[i]} ms)`,
      );
      assert.ok(Number.isFinite(newRunning[i]!), `${n}: runs v2`);
    }
    // Node after node (in name order among the nodes that hold the new image: one whose pull finished
    // first may go first): the next old container stops only after the previous node's new one runs.
    const order = nodes.map((_, i) => i).sort((a, b) => stopped[a]! - stopped[b]!);
    for (let k = 1; k < order.length; k++) {
      const [prev, next] = [order[k - 1]!, order[k]!];
      assert.ok(
        newRunning[prev]! <= stopped[next]!,
        `${nodes[next]} (v1 stopped at ${stopped[next]} ms) waited for ${nodes[prev]}'s new pod (running at ${newRunning[prev]} ms)`,
      );
    }
    console.log(
      `rollout ${took} ms, ${samples.length} samples; v1 stopped at ${stopped.join('/')} ms, v2 pulled at ${pulled.join('/')} ms`,
    );
  });

  test("rollout status and restart of a DaemonSet: kubectl's lines; restart rolls every node again", async () => {
    const done = await runCli(['rollout', 'status', 'daemonset/agentd'], c.env);
    assert.equal(done.code, 0, done.stderr);
    assert.equal(done.stdout, 'daemon set "agentd" successfully rolled out\n');
    const restart = await runCli(['rollout', 'restart', 'ds/agentd'], c.env);
    assert.equal(restart.code, 0, restart.stderr);
    assert.equal(restart.stdout, 'daemonset.apps/agentd restarted\n');
    const st = await runCli(['rollout', 'status', 'daemonset/agentd', '--timeout', '120s'], c.env);
    assert.equal(st.code, 0, st.stderr);
    const lines = st.stdout.trim().split('\n');
    assert.equal(lines.at(-1), 'daemon set "agentd" successfully rolled out');
    assert.ok(
      lines.slice(0, -1).every((l) => l.startsWith('Waiting for daemon set')) && lines.length > 1,
      `it waited: ${st.stdout}`,
    );
    const pods = await c.withEtcd((etcd) => listObjects(etcd, c.name, 'Pod', 'default'));
    const mine = pods.map((p) => p.object as Pod).filter((p) => p.metadata.name.startsWith('agentd-'));
    assert.equal(mine.length, 3);
    assert.ok(mine.every((p) => p.metadata.annotations?.['kubectl.kubernetes.io/restartedAt']));
    const refused = await runCli(['rollout', 'history', 'daemonset/agentd'], c.env);
    assert.equal(refused.code, 2, 'a usage error');
    assert.match(refused.stderr, /supports this for Deployments only/);
  });
});

// bench/update: a rolling update of R replicas gated by an HTTP health check, nokube against Docker
// Swarm on the same engine, in one run.
//   node bench/update.ts [--replicas 20] [--period 1] [--max-surge 1] [--max-unavailable 0]
//                        [--probe httpGet|exec] [--no-swarm] [--bin dist/nokube]
// A busybox httpd per replica, checked every `--period` seconds (timeout 10 s, 3 failures) by an HTTP GET
// of /healthz (test/harness/http-replica.ts). Pods and tasks share the host network:
//   nokube  --probe httpGet (default): a readinessProbe httpGet the agent makes itself; the httpd listens
//           on the pod IP (its node's address) and a declared containerPort, so one replica per node:
//           R + maxSurge agents on this machine's loopback addresses. --probe exec: 3 agents, each httpd on
//           a free port of its own and the same GET run in the container through the engine, as Swarm's;
//           a Deployment, RollingUpdate maxSurge/maxUnavailable as given, minReadySeconds 0; timed from
//           `nokube apply` of a new template to the Deployment's Progressing NewReplicaSetAvailable (the
//           controller's own verdict: every replica new and ready, no old one)
//   swarm   `docker service update --update-order start-first --update-parallelism 1 --update-delay 0s`
//           of a new env, timed until the service's UpdateStatus is `completed`
// Availability sampled every 100 ms on both sides: nokube pods Ready in etcd with their container
// running; Swarm tasks whose container runs and is healthy. Floor: replicas - maxUnavailable.
//   target: nokube <= 0.5 x Swarm's time, zero samples below the floor on either side.
// Every cluster, service and container it makes is removed at the end, also on error or Ctrl-C; the
// engine leaves the swarm again if this bench made it join one.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import type { Etcd3 } from 'etcd3';
import { getObject } from '../agent/objects/store.ts';
import type { Deployment } from '../agent/objects/types.ts';
import { connectEtcd } from '../agent/store/etcd.ts';
import { keys } from '../agent/store/keys.ts';
import { deploymentSample, judge, type Sample, startSampler } from '../test/harness/availability.ts';
import { createTestCluster, runCli, type TestCluster } from '../test/harness/cluster.ts';
import { ensureBusyboxImage, requireDocker } from '../test/harness/docker.ts';
import { HTTP_CHECK, SERVE, serveAtPodIp } from '../test/harness/http-replica.ts';
import { cleanupOnSignals, stopClusterAndPods } from './cleanup.ts';
import { untilWithin } from './until.ts';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    replicas: { type: 'string', default: '20' },
    period: { type: 'string', default: '1' },
    'max-surge': { type: 'string', default: '1' },
    'max-unavailable': { type: 'string', default: '0' },
    probe: { type: 'string', default: 'httpGet' },
    'no-swarm': { type: 'boolean', default: false },
    bin: { type: 'string' },
    timeout: { type: 'string', default: '600' },
  },
});
if (values.bin) process.env.NOKUBE_BIN = resolve(values.bin);
const R = Number(values.replicas);
const period = Number(values.period);
const maxSurge = Number(values['max-surge']);
const maxUnavailable = Number(values['max-unavailable']);
const floor = R - maxUnavailable;
const timeoutMs = Number(values.timeout) * 1000;
const probe = values.probe;
if (probe !== 'httpGet' && probe !== 'exec') throw new Error(`--probe ${probe}: httpGet or exec`);
const PORT = 18080;
const TARGET_RATIO = 0.5;
const SAMPLE_MS = 100;
const CHECK_TIMEOUT_S = 10;

const docker = await requireDocker();
const image = await ensureBusyboxImage();
let cluster: TestCluster | undefined;
let swarmService: string | undefined;
let weInitSwarm = false;

async function cleanup(): Promise<void> {
  if (swarmService) await run('docker', ['service', 'rm', swarmService]).catch(() => undefined);
  swarmService = undefined;
  if (weInitSwarm) await run('docker', ['swarm', 'leave', '--force']).catch(() => undefined);
  weInitSwarm = false;
  const c = cluster;
  cluster = undefined;
  await stopClusterAndPods(docker, c);
}
cleanupOnSignals(cleanup);

const until = untilWithin(timeoutMs, 100);

const httpGetContainer = `          command: [sh, -c, '${serveAtPodIp(PORT)}']
          ports: [{name: http, containerPort: ${PORT}}]`;
const execContainer = `          command: [sh, -c, '${SERVE}']`;
const deploymentYaml = (version: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: upd}
spec:
  replicas: ${R}
  minReadySeconds: 0
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: ${maxSurge}, maxUnavailable: ${maxUnavailable}}
  selector: {matchLabels: {app: upd}}
  template:
    metadata: {labels: {app: upd}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: web
          image: ${image}
${probe === 'httpGet' ? httpGetContainer : execContainer}
          env:
            - {name: VERSION, value: "${version}"}
            - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
          readinessProbe:
${probe === 'httpGet' ? `            httpGet: {path: /healthz, port: http}` : `            exec: {command: [sh, -c, '${HTTP_CHECK}']}`}
            periodSeconds: ${period}
            timeoutSeconds: ${CHECK_TIMEOUT_S}
            failureThreshold: 3
`;

/** The rollout of the Deployment's current template is complete, by the controller's own status. */
async function complete(etcd: Etcd3, c: TestCluster): Promise<boolean> {
  const d = (await getObject(etcd, c.name, { kind: 'Deployment', namespace: 'default', name: 'upd' }))
    ?.object as Deployment | undefined;
  const st = d?.status;
  return (
    !!d &&
    st?.observedGeneration === d.metadata.generation &&
    st.updatedReplicas === R &&
    st.availableReplicas === R &&
    st.replicas === R &&
    st.conditions?.some((x) => x.type === 'Progressing' && x.reason === 'NewReplicaSetAvailable') === true
  );
}

interface Side {
  ms: number;
  samples: Sample[];
  below: string[];
  over: string[];
}

async function benchNokube(): Promise<Side> {
  const nodes = probe === 'httpGet' ? R + maxSurge : 3;
  cluster = await createTestCluster({ nodes, net: 153 });
  const c = cluster;
  // One agent at a time, each registered before the next starts: twenty first starts at once swamp
  // etcd on a small machine.
  const etcd = await connectEtcd({ endpoints: [c.etcd.url], dialTimeoutMs: 3000 });
  try {
    for (const [i, n] of c.nodes.entries()) {
      await c.startAgent(n.name);
      await until(`${n.name} registered`, async () => {
        const count = await etcd.getAll().prefix(keys.nodesPrefix(c.name)).count();
        return count > i || false;
      });
    }
    await until(`${nodes} nodes Ready and the API answering`, async () => {
      const r = await runCli(['get', 'nodes', '-o', 'json'], c.env);
      if (r.code !== 0) return false;
      const items = (JSON.parse(r.stdout) as { items: Array<{ status: { phase: string } }> }).items;
      return items.filter((n) => n.status.phase === 'Ready').length === nodes;
    });
    const apply = async (v: string) => {
      const r = await runCli(['apply', '-f', '-'], c.env, deploymentYaml(v));
      if (r.code !== 0) throw new Error(`apply failed: ${r.stderr}`);
    };
    await apply('1');
    await until(`${R} replicas ready`, async () => (await complete(etcd, c)) || false, 250);
    return await timedUpdate(
      () => deploymentSample(etcd, c.name, 'upd', docker),
      R + maxSurge,
      async () => {
        await apply('2');
        // The status still shows the old rollout complete until the controller has seen the new template.
        await until('the rollout complete', async () => (await complete(etcd, c)) || false, 50);
      },
    );
  } finally {
    etcd.close();
    await cleanup();
  }
}

/** Swarm's replicas: tasks meant to run; those serving: containers of the service running and healthy. */
async function swarmSample(service: string): Promise<Omit<Sample, 'at'>> {
  const containers = await docker.listContainers({
    filters: { label: [`com.docker.swarm.service.name=${service}`] },
  });
  const tasks = await docker.listTasks({ filters: { service: [service], 'desired-state': ['running'] } });
  return { pods: tasks.length, ready: containers.filter((x) => x.Status.includes('(healthy)')).length };
}

async function benchSwarm(): Promise<Side> {
  const state = (await run('docker', ['info', '--format', '{{.Swarm.LocalNodeState}}'])).stdout.trim();
  if (state !== 'inactive')
    throw new Error(
      `the engine is in a swarm already (${state}): this bench only uses an engine it may join and leave`,
    );
  try {
    await run('docker', ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
  } catch (err) {
    throw new Error(`docker swarm init failed: ${(err as { stderr?: string }).stderr ?? err}`);
  }
  weInitSwarm = true;
  try {
    const service = `nokube-bench-update-${process.pid}`;
    swarmService = service;
    await run('docker', [
      'service',
      'create',
      '--detach',
      '--no-resolve-image',
      '--name',
      service,
      '--replicas',
      String(R),
      '--network',
      'host',
      '--stop-grace-period',
      '2s',
      '--env',
      'VERSION=1',
      '--health-cmd',
      HTTP_CHECK,
      '--health-interval',
      `${period}s`,
      '--health-timeout',
      `${CHECK_TIMEOUT_S}s`,
      '--health-retries',
      '3',
      '--update-order',
      'start-first',
      '--update-parallelism',
      '1',
      '--update-delay',
      '0s',
      image,
      'sh',
      '-c',
      SERVE,
    ]);
    await until(`${R} swarm tasks healthy`, async () => {
      const s = await swarmSample(service);
      return (s.ready === R && s.pods === R) || false;
    });
    return await timedUpdate(
      () => swarmSample(service),
      R + 1,
      async () => {
        await run('docker', [
          'service',
          'update',
          '--detach',
          '--no-resolve-image',
          '--env-add',
          'VERSION=2',
          service,
        ]);
        const end = await until(
          'the swarm update completed',
          async () => {
            const info = await docker.getService(service).inspect();
            const st = info.UpdateStatus?.State as string | undefined;
            return st === 'completed' || st === 'paused' || st?.startsWith('rollback')
              ? info.UpdateStatus
              : false;
          },
          50,
        );
        if (end.State !== 'completed') throw new Error(`swarm update ${end.State}: ${end.Message}`);
      },
    );
  } finally {
    await cleanup();
  }
}

/** Times `update` while sampling the replicas; the samples judged against the floor and `ceiling`. */
async function timedUpdate(
  sample: () => Promise<Omit<Sample, 'at'>>,
  ceiling: number,
  update: () => Promise<void>,
): Promise<Side> {
  const sampler = startSampler(sample, SAMPLE_MS);
  const t0 = performance.now();
  let ms: number;
  try {
    await update();
    ms = performance.now() - t0;
  } finally {
    await sampler.stop();
  }
  const samples = sampler.samples;
  return { ms, samples, below: judge(samples, { floor }), over: judge(samples, { floor: 0, ceiling }) };
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const report = (name: string, s: Side) => {
  const minReady = Math.min(...s.samples.map((x) => x.ready));
  const maxPods = Math.max(...s.samples.map((x) => x.pods));
  process.stdout.write(
    `  ${name}: update ${fmt(s.ms)}; ${s.samples.length} samples, ${s.below.length} below the floor ${floor} (min ready ${minReady}), most replicas ${maxPods}\n`,
  );
  for (const line of s.below.slice(0, 5)) process.stdout.write(`    ${line}\n`);
};

try {
  process.stdout.write(
    `bench/update: ${R} replicas, check every ${period} s (nokube: ${probe}), maxSurge ${maxSurge} / maxUnavailable ${maxUnavailable} (nokube ${process.env.NOKUBE_BIN ? 'binary' : 'node + .ts'}), image ${image}\n`,
  );
  const nokube = await benchNokube();
  report('nokube', nokube);
  let swarm: Side | undefined;
  if (!values['no-swarm']) {
    swarm = await benchSwarm();
    report('swarm ', swarm);
    const ratio = nokube.ms / swarm.ms;
    const met = ratio <= TARGET_RATIO && nokube.below.length === 0 && swarm.below.length === 0;
    process.stdout.write(
      `  nokube / swarm = ${ratio.toFixed(2)} (target <= ${TARGET_RATIO}, no sample below the floor on either side): ${met ? 'MET' : 'MISS'}\n`,
    );
  }
  const brief = (s: Side | undefined) =>
    s && { ms: Math.round(s.ms), samples: s.samples.length, below: s.below.length, over: s.over.length };
  process.stdout.write(
    `JSON ${JSON.stringify({ bench: 'update', date: new Date().toISOString(), replicas: R, period, probe, maxSurge, maxUnavailable, nokube: brief(nokube), swarm: brief(swarm) })}\n`,
  );
} finally {
  await cleanup();
}

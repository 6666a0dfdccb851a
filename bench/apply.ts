// bench/apply: how fast nokube turns `apply` into running containers, compared with Docker Swarm on the
// same engine; how fast a killed agent's pods run elsewhere; what etcd sees in steady state.
//   node bench/apply.ts [--sizes 10,50] [--steady-seconds 30] [--no-swarm] [--bin dist/nokube]
// Prints, per size N (busybox `sleep`, host network, 3 agents on this machine, one Docker engine):
//   nokube   apply -> all N pods Running (status in etcd)         target: <= 0.5 x Swarm
//   swarm    `docker service create --replicas N` -> N tasks Running
//   engine   N containers created and started at once straight through the Docker API: the floor any
//            orchestrator on this engine pays (nokube - engine = what nokube adds)
//   failover SIGKILL of an agent -> its pods Running on the others (N = first size)   target: <= 5 s
//   etcd     requests/s by gRPC method over a steady window with the largest N      target: keepalives only
// Every cluster, service and container it makes is removed at the end, also on error or Ctrl-C.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import type { Etcd3 } from 'etcd3';
import { listObjects } from '../agent/objects/store.ts';
import type { Pod } from '../agent/objects/types.ts';
import { connectEtcd } from '../agent/store/etcd.ts';
import { aliveMembers } from '../head/cli/deploy/deploy.ts';
import { createTestCluster, runCli, type TestCluster } from '../test/harness/cluster.ts';
import { ensureBusyboxImage, requireDocker } from '../test/harness/docker.ts';
import { cleanupOnSignals, stopClusterAndPods } from './cleanup.ts';
import { untilWithin } from './until.ts';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10,50' },
    'steady-seconds': { type: 'string', default: '30' },
    'no-swarm': { type: 'boolean', default: false },
    bin: { type: 'string' },
    timeout: { type: 'string', default: '300' },
  },
});
if (values.bin) process.env.NOKUBE_BIN = resolve(values.bin);
const sizes = values.sizes.split(',').map(Number);
const steadySeconds = Number(values['steady-seconds']);
const timeoutMs = Number(values.timeout) * 1000;
const TARGETS = { swarmRatio: 0.5, failoverMs: 5000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const docker = await requireDocker();
const image = await ensureBusyboxImage();
let cluster: TestCluster | undefined;
let swarmService: string | undefined;
let weInitSwarm = false;

async function cleanup(): Promise<void> {
  if (swarmService) await run('docker', ['service', 'rm', swarmService]).catch(() => undefined);
  if (weInitSwarm) await run('docker', ['swarm', 'leave', '--force']).catch(() => undefined);
  const c = cluster;
  cluster = undefined;
  await stopClusterAndPods(docker, c);
}
cleanupOnSignals(cleanup);

const until = untilWithin(timeoutMs, 100);

const deploymentYaml = (name: string, replicas: number) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: ${image}
          command: [sleep, '3600']
`;

/** Both sides are polled this often, through a connection opened once (a poll must not cost more than
 * what it measures). */
const POLL_MS = 20;

async function runningPods(etcd: Etcd3, c: TestCluster, prefix: string, notOn?: string): Promise<number> {
  const pods = await listObjects(etcd, c.name, 'Pod');
  return pods.filter(
    (s) =>
      s.object.metadata.name.startsWith(prefix) &&
      (s.object as Pod).status?.phase === 'Running' &&
      s.object.spec.nodeName !== notOn,
  ).length;
}

async function timeNokube(etcd: Etcd3, c: TestCluster, n: number): Promise<number> {
  const name = `b${n}`;
  const t0 = performance.now();
  const r = await runCli(['apply', '-f', '-'], c.env, deploymentYaml(name, n));
  if (r.code !== 0) throw new Error(`apply failed: ${r.stderr}`);
  await until(
    `${n} pods Running`,
    async () => (await runningPods(etcd, c, `${name}-`)) === n || false,
    POLL_MS,
  );
  return performance.now() - t0;
}

/** Every agent's own mesh view holds all nodes: the cluster is settled before anything is timed. */
async function meshSettled(c: TestCluster): Promise<boolean> {
  for (const n of c.nodes) {
    const text = await (await fetch(`${c.agentUrl(n.name)}/metrics`)).text();
    if (aliveMembers(text) !== c.nodes.length) return false;
  }
  return true;
}

async function timeSwarm(n: number): Promise<number> {
  const info = (await run('docker', ['info', '--format', '{{.Swarm.LocalNodeState}}'])).stdout.trim();
  if (info !== 'active') {
    await run('docker', ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    weInitSwarm = true;
  }
  swarmService = `nokube-bench-${process.pid}-${n}`;
  const t0 = performance.now();
  await run('docker', [
    'service',
    'create',
    '--detach',
    '--name',
    swarmService,
    '--replicas',
    String(n),
    '--network',
    'host',
    '--stop-grace-period',
    '1s',
    image,
    'sleep',
    '3600',
  ]);
  await until(
    `${n} swarm tasks Running`,
    async () => {
      const tasks = await docker.listTasks({
        filters: { service: [swarmService!], 'desired-state': ['running'] },
      });
      return tasks.filter((t) => t.Status?.State === 'running').length === n || false;
    },
    POLL_MS,
  );
  const ms = performance.now() - t0;
  await run('docker', ['service', 'rm', swarmService]);
  swarmService = undefined;
  // Let Swarm's containers go before the next measurement.
  await until('swarm containers gone', async () => {
    const left = await docker.listContainers({ filters: { label: ['com.docker.swarm.service.name'] } });
    return left.length === 0 || false;
  });
  return ms;
}

/** The engine alone: N containers created and started concurrently through the API, no orchestrator. */
async function timeEngine(n: number): Promise<number> {
  const names = Array.from({ length: n }, (_, i) => `nokube-bench-engine-${process.pid}-${i}`);
  const t0 = performance.now();
  try {
    await Promise.all(
      names.map(async (name) => {
        const ct = await docker.createContainer({
          name,
          Image: image,
          Cmd: ['sleep', '3600'],
          HostConfig: { NetworkMode: 'host' },
        });
        await ct.start();
      }),
    );
    return performance.now() - t0;
  } finally {
    await Promise.all(
      names.map((name) =>
        docker
          .getContainer(name)
          .remove({ force: true })
          .catch(() => undefined),
      ),
    );
  }
}

/** etcd's own counters: gRPC requests handled (unary) and stream messages received, by method. */
async function etcdCounters(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^grpc_server_(handled_total|msg_received_total)\{(.*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const method = /grpc_method="([^"]+)"/.exec(m[2]!)?.[1] ?? '?';
    const type = /grpc_type="([^"]+)"/.exec(m[2]!)?.[1] ?? '';
    // Unary calls: count handled; streams (watch, keepalive): count messages received.
    if ((type === 'unary') !== (m[1] === 'handled_total')) continue;
    out.set(method, (out.get(method) ?? 0) + Number(m[3]));
  }
  return out;
}

const results: Array<Record<string, unknown>> = [];
let etcd: Etcd3 | undefined;
try {
  cluster = await createTestCluster({ nodes: 3, net: 70 });
  const c = cluster;
  for (const n of c.nodes) await c.startAgent(n.name);
  await until('3 nodes registered', async () => {
    const r = await runCli(['get', 'nodes', '-o', 'json'], c.env);
    return r.code === 0 && (JSON.parse(r.stdout) as { items: unknown[] }).items.length === 3;
  });
  await until('every agent sees the other two in the mesh', () => meshSettled(c));
  // The CLI's first command against a cluster looks its heads up in etcd and remembers them; a user's
  // apply comes after that (as Swarm's `docker swarm init` comes before its timing).
  const warm = await runCli(['get', 'pods'], c.env);
  if (warm.code !== 0) throw new Error(`get pods failed: ${warm.stderr}`);
  etcd = await connectEtcd({ endpoints: [c.etcd.url], dialTimeoutMs: 3000 });
  const db = etcd;
  process.stdout.write(
    `bench/apply: 3 agents (${process.env.NOKUBE_BIN ? 'binary' : 'node + .ts'}), image ${image}\n`,
  );

  for (const n of sizes) {
    const nokubeMs = await timeNokube(db, c, n);
    process.stdout.write(`  N=${n}: nokube apply -> all Running ${(nokubeMs / 1000).toFixed(2)} s\n`);
    let swarmMs: number | null = null;
    if (!values['no-swarm']) {
      swarmMs = await timeSwarm(n);
      process.stdout.write(
        `  N=${n}: swarm service create -> all Running ${(swarmMs / 1000).toFixed(2)} s\n`,
      );
    }
    const engineMs = await timeEngine(n);
    process.stdout.write(
      `  N=${n}: engine alone (API create + start, concurrent) ${(engineMs / 1000).toFixed(2)} s\n`,
    );
    results.push({ n, nokubeMs, swarmMs, engineMs, ratio: swarmMs ? nokubeMs / swarmMs : null });
  }

  // Steady state with the largest deployment still running: etcd requests by method.
  const before = await etcdCounters(c.etcd.url);
  await sleep(steadySeconds * 1000);
  const afterCounters = await etcdCounters(c.etcd.url);
  const rates: Record<string, number> = {};
  for (const [method, v] of afterCounters) {
    const d = v - (before.get(method) ?? 0);
    if (d > 0) rates[method] = d / steadySeconds;
  }

  // Failover: SIGKILL the agent with the most pods of the first deployment.
  const first = sizes[0]!;
  const pods = await listObjects(db, c.name, 'Pod');
  const count: Record<string, number> = {};
  for (const p of pods)
    if (p.object.metadata.name.startsWith(`b${first}-`))
      count[p.object.spec.nodeName ?? ''] = (count[p.object.spec.nodeName ?? ''] ?? 0) + 1;
  const victim = Object.entries(count)
    .filter(([node]) => node !== 'n1')
    .sort((a, b) => b[1] - a[1])[0]![0];
  const t0 = performance.now();
  await c.agents.get(victim)!.kill('SIGKILL');
  await until(
    'pods Running elsewhere',
    async () => (await runningPods(db, c, `b${first}-`, victim)) === first || false,
    POLL_MS,
  );
  const failoverMs = performance.now() - t0;

  process.stdout.write(
    `\nbench/apply — 3 agents on one machine, one Docker engine, busybox sleep, host network\n`,
  );
  process.stdout.write('N     nokube s   swarm s   nokube/swarm   engine s   nokube - engine s\n');
  for (const r of results) {
    const ratio = r.ratio === null ? '-' : (r.ratio as number).toFixed(2);
    const swarm = r.swarmMs === null ? '-' : ((r.swarmMs as number) / 1000).toFixed(2);
    process.stdout.write(
      `${String(r.n).padEnd(6)}${((r.nokubeMs as number) / 1000).toFixed(2).padStart(9)}${swarm.padStart(10)}${ratio.padStart(15)}${((r.engineMs as number) / 1000).toFixed(2).padStart(11)}${(((r.nokubeMs as number) - (r.engineMs as number)) / 1000).toFixed(2).padStart(20)}\n`,
    );
  }
  process.stdout.write(
    `failover (N=${first}, SIGKILL ${victim} -> its ${count[victim]} pods Running elsewhere): ${(failoverMs / 1000).toFixed(2)} s\n`,
  );
  process.stdout.write(
    `etcd requests/s in steady state (${sizes.at(-1)} + pods, ${steadySeconds} s window):\n`,
  );
  for (const [m, r] of Object.entries(rates).sort((a, b) => b[1] - a[1]))
    process.stdout.write(`  ${m.padEnd(20)} ${r.toFixed(2)}\n`);
  const nonKeepalive = Object.entries(rates).filter(([m]) => m !== 'LeaseKeepAlive');
  process.stdout.write('targets:\n');
  for (const r of results)
    if (r.ratio !== null)
      process.stdout.write(
        `  N=${r.n} nokube <= ${TARGETS.swarmRatio} x swarm: ${(r.ratio as number) <= TARGETS.swarmRatio ? 'MET' : 'MISS'} (${(r.ratio as number).toFixed(2)})\n`,
      );
  process.stdout.write(
    `  failover <= ${TARGETS.failoverMs / 1000} s: ${failoverMs <= TARGETS.failoverMs ? 'MET' : 'MISS'} (${(failoverMs / 1000).toFixed(2)} s)\n`,
  );
  process.stdout.write(
    `  steady etcd traffic keepalives only: ${nonKeepalive.length === 0 ? 'MET' : `MISS (${nonKeepalive.map(([m, r]) => `${m} ${r.toFixed(2)}/s`).join(', ')})`}\n`,
  );
  process.stdout.write(
    `JSON ${JSON.stringify({ bench: 'apply', date: new Date().toISOString(), results, failoverMs, etcdRates: rates })}\n`,
  );
} finally {
  etcd?.close();
  await cleanup();
}

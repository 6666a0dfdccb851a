// bench/fleet: the control plane at fleet scale on this machine. A real etcd, a real head (an agent
// process with the head role only: it runs no pods), and N simulated agents in this process
// (bench/fleet/sim-agents.ts: node records under their own leases kept alive once per TTL/3, pods
// reported Running without Docker). Then:
//   1. a Deployment of P replicas (100m, 128Mi each) applied through the CLI: the time until every pod is
//      bound (created on a node) and until every one is reported Running;
//   2. steady state over --steady seconds: etcd requests per second by method (etcd's own
//      grpc_server_msg_received_total: unary calls and each message on a stream, keepalives included), what the simulated agents sent (keepalives), the head's CPU, and the
//      latency of `GET /api/v1/objects/pods` (all P pods, through the head).
//   node bench/fleet.ts [--nodes 1000] [--pods 10000] [--steady 30] [--profile-head FILE]
// --profile-head: a CPU profile of the head from the apply until all bound (bench/fleet/head-profile.ts).
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { connectEtcd } from '../agent/store/etcd.ts';
import { agentsReady, createTestCluster, eventually, runCli } from '../test/harness/cluster.ts';
import { HeadProfiler } from './fleet/head-profile.ts';
import { SimFleet } from './fleet/sim-agents.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    pods: { type: 'string', default: '10000' },
    steady: { type: 'string', default: '30' },
    'profile-head': { type: 'string' },
  },
});
const N = Number(values.nodes);
const P = Number(values.pods);
const STEADY_S = Number(values.steady);
const profiler = values['profile-head'] ? new HeadProfiler(9339) : undefined;

const cpuSeconds = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 1/100 s
};
async function etcdCounts(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^grpc_server_msg_received_total\{.*grpc_method="([^"]+)".*\} (\S+)$/.exec(line);
    if (m) out.set(m[1]!, (out.get(m[1]!) ?? 0) + Number(m[2]));
  }
  return out;
}

const c = await createTestCluster({
  nodes: [{ name: 'head-1', address: '127.77.0.2', roles: ['head'] }],
  namePrefix: 'fleet',
});
const etcd = await connectEtcd({ endpoints: [c.etcd.url], dialTimeoutMs: 5000 });
const fleet = new SimFleet(etcd, c.name, {
  count: N,
  ttlSeconds: 10,
  cpus: 8,
  memoryBytes: 16 * 2 ** 30,
  concurrency: 64,
});
try {
  // The head alone gets the inspector flag (the CLI runs of the bench inherit this process's environment).
  const options = process.env.NODE_OPTIONS;
  if (profiler) process.env.NODE_OPTIONS = profiler.nodeOptions;
  await c.startAgent('head-1');
  if (options === undefined) delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = options;
  await agentsReady(c);
  await profiler?.connect();
  let t = Date.now();
  await fleet.start();
  console.log(`bench/fleet: ${N} simulated agents registered in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  const manifest = `apiVersion: apps/v1
kind: Deployment
metadata: {name: big}
spec:
  replicas: ${P}
  selector: {matchLabels: {app: big}}
  template:
    metadata: {labels: {app: big}}
    spec:
      containers:
        - {name: c, image: sim/none:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}
`;
  const headPid = c.agents.get('head-1')!.process.pid!;
  const cpu0 = { head: cpuSeconds(headPid), etcd: cpuSeconds(c.etcd.process.pid!), sims: process.cpuUsage() };
  // This process is the simulated agents: a pod counts as bound when its watch event is handled here, so
  // a busy loop here delays the figure. Its lag is printed with it.
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  await profiler?.start();
  t = Date.now();
  const applied = await runCli(['apply', '-f', '-'], c.env, manifest);
  if (applied.code !== 0) throw new Error(applied.stderr);
  const appliedMs = Date.now() - t;
  await eventually(() => fleet.boundAt.size >= P, 600_000, `${P} pods bound`);
  const bound = Math.max(...fleet.boundAt.values()) - t;
  lag.disable();
  const cpuBound = {
    head: cpuSeconds(headPid) - cpu0.head,
    etcd: cpuSeconds(c.etcd.process.pid!) - cpu0.etcd,
    sims: (({ user, system }) => (user + system) / 1e6)(process.cpuUsage(cpu0.sims)),
  };
  await profiler?.stop(values['profile-head']!);
  await eventually(() => fleet.runningAt.size >= P, 600_000, `${P} pods Running`);
  const running = Math.max(...fleet.runningAt.values()) - t;
  const firstBound = Math.min(...fleet.boundAt.values()) - t;
  console.log(
    `apply of ${P} replicas (the CLI returned after ${(appliedMs / 1000).toFixed(2)} s, the first pod bound at ${(firstBound / 1000).toFixed(2)} s) -> all bound ${(bound / 1000).toFixed(2)} s, all reported Running ${(running / 1000).toFixed(2)} s` +
      `\n  CPU from the apply until all bound: head ${cpuBound.head.toFixed(2)} s, etcd ${cpuBound.etcd.toFixed(2)} s, this process (the simulated agents) ${cpuBound.sims.toFixed(2)} s` +
      `\n  event-loop lag of the simulated agents until all bound: p99 ${(lag.percentile(99) / 1e6).toFixed(0)} ms, max ${(lag.max / 1e6).toFixed(0)} ms`,
  );
  await new Promise((r) => setTimeout(r, 5000));

  const before = await etcdCounts(c.etcd.url);
  const sentBefore = { ...fleet.sent };
  const cpuBefore = cpuSeconds(headPid);
  await new Promise((r) => setTimeout(r, STEADY_S * 1000));
  const after = await etcdCounts(c.etcd.url);
  const cpu = (cpuSeconds(headPid) - cpuBefore) / STEADY_S;
  const rates = [...after]
    .map(([m, v]) => [m, (v - (before.get(m) ?? 0)) / STEADY_S] as const)
    .filter(([, r]) => r > 0)
    .sort((a, b) => b[1] - a[1]);
  console.log(`steady state over ${STEADY_S} s (${N} nodes, ${P} pods):`);
  for (const [m, r] of rates) console.log(`  etcd ${m}: ${r.toFixed(1)}/s`);
  if (rates.length === 0) console.log('  etcd: no request at all');
  console.log(
    `  simulated agents sent: keepalives ${((fleet.sent.keepalives - sentBefore.keepalives) / STEADY_S).toFixed(1)}/s (one per node per ${10 / 3} s = ${(N / (10 / 3)).toFixed(1)}/s), statuses ${((fleet.sent.statuses - sentBefore.statuses) / STEADY_S).toFixed(1)}/s`,
  );
  console.log(`  head CPU: ${(cpu * 100).toFixed(1)} % of a core`);
  const latencies: number[] = [];
  for (let i = 0; i < 5; i++) {
    const s = performance.now();
    const res = await fetch(`${c.headUrl()}/api/v1/objects/pods`);
    const body = (await res.json()) as { items?: unknown[]; error?: string };
    if (!body.items) throw new Error(`get pods: HTTP ${res.status} ${body.error}`);
    latencies.push(performance.now() - s);
    if (body.items.length < P) throw new Error(`get pods listed ${body.items.length}`);
  }
  latencies.sort((a, b) => a - b);
  console.log(
    `  GET /api/v1/objects/pods (${P} pods): median ${latencies[2]!.toFixed(0)} ms (min ${latencies[0]!.toFixed(0)}, max ${latencies[4]!.toFixed(0)})`,
  );
} finally {
  await fleet.stop().catch(() => undefined);
  etcd.close();
  await c.stop();
}

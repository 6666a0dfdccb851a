// bench/fleet: the control plane at fleet scale on this machine. A real etcd, a real head (an agent
// process with the head role only: it runs no pods), and N simulated agents in a child process
// (bench/fleet/sim-process.ts running sim-agents.ts: node records under their own leases kept alive once
// per TTL/3, pods reported Running without Docker). Then:
//   1. a Deployment of P replicas (100m, 128Mi each) applied through the CLI: the time until every pod is
//      bound (created on a node: seen by this process's own watch, binding-watch.ts) and until every one
//      is reported Running; the CPU each process used and the etcd requests meanwhile;
//   2. steady state over --steady seconds: etcd requests per second by method (etcd's own
//      grpc_server_msg_received_total: unary calls and each message on a stream, keepalives included),
//      what the simulated agents sent (keepalives), the head's CPU, and the latency of
//      `GET /api/v1/objects/pods` (all P pods, through the head).
//   3. with --rounds R > 1, the Deployment is deleted (the time until its P pods are gone) and another
//      applied, R times in all (binding and Running times of each round, then their median, least and
//      most: this machine's timings vary by a second from run to run; the steady state follows the last).
//   node bench/fleet.ts [--nodes 1000] [--pods 10000] [--steady 30] [--rounds 1] [--profile-head FILE] [--pin]
//     [--sims-nice N]
// --profile-head: a CPU profile of the head from the first apply until all bound (bench/fleet/head-profile.ts).
// --pin: the head alone on CPU 0; etcd, this process, the CLI and the simulated agents on CPU 1. The
// simulated agents stand for 1,000 other hosts: pinned, their CPU (gRPC and JSON for 10,000 statuses,
// seconds of it) is never the head's, as on a real fleet, though it is still etcd's core's.
// --sims-nice: the simulated agents' nice value (0; 19: they write when etcd's core has nothing else to do).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connectEtcd } from '../agent/store/etcd.ts';
import { agentsReady, createTestCluster, eventually, runCli } from '../test/harness/cluster.ts';
import { BindingWatch } from './fleet/binding-watch.ts';
import { HeadProfiler } from './fleet/head-profile.ts';
import type { SimMessage, SimProcessArgs } from './fleet/sim-process.ts';
import { median } from './stats.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    pods: { type: 'string', default: '10000' },
    steady: { type: 'string', default: '30' },
    rounds: { type: 'string', default: '1' },
    'profile-head': { type: 'string' },
    pin: { type: 'boolean', default: false },
    'sims-nice': { type: 'string', default: '0' },
  },
});
const N = Number(values.nodes);
const P = Number(values.pods);
const STEADY_S = Number(values.steady);
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1)
  throw new Error(`--rounds: a whole number from 1 (got ${values.rounds})`);
const PIN = values.pin;
if (PIN && cpus().length < 2) throw new Error(`--pin needs 2 CPUs (this machine has ${cpus().length})`);
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
const binding = new BindingWatch(etcd, c.name);
const simArgs: SimProcessArgs = {
  etcd: c.etcd.url,
  cluster: c.name,
  count: N,
  ttlSeconds: 10,
  cpus: 8,
  memoryBytes: 16 * 2 ** 30,
  concurrency: 64,
};
let sims: ChildProcess | undefined;
let progress: Extract<SimMessage, { type: 'progress' }> | undefined;
try {
  // The head alone gets the inspector flag (the CLI runs of the bench inherit this process's environment).
  const options = process.env.NODE_OPTIONS;
  if (profiler) process.env.NODE_OPTIONS = profiler.nodeOptions;
  await c.startAgent('head-1');
  if (options === undefined) delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = options;
  await agentsReady(c);
  await profiler?.connect();
  const headPid = c.agents.get('head-1')!.process.pid!;
  if (PIN) {
    execFileSync('taskset', ['-a', '-p', '-c', '0', String(headPid)], { stdio: 'ignore' });
    execFileSync('taskset', ['-a', '-p', '-c', '1', String(c.etcd.process.pid!)], { stdio: 'ignore' });
    execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  }
  const simEntry = fileURLToPath(new URL('./fleet/sim-process.ts', import.meta.url));
  const simCmd = [process.execPath, simEntry, JSON.stringify(simArgs)];
  const simPrefix = [...(PIN ? ['taskset', '-c', '1'] : []), 'nice', '-n', values['sims-nice']];
  sims = spawn(simPrefix[0]!, [...simPrefix.slice(1), ...simCmd], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const registered = new Promise<number>((resolve, reject) => {
    sims!.once('exit', (code) => reject(new Error(`the simulated agents exited (${code})`)));
    sims!.on('message', (m: SimMessage) => {
      if (m.type === 'registered') resolve(m.ms);
      else progress = m;
    });
  });
  console.log(`bench/fleet: ${N} simulated agents registered in ${((await registered) / 1000).toFixed(1)} s`);
  await binding.start();
  const manifest = (name: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: ${P}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers:
        - {name: c, image: sim/none:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}
`;
  await eventually(() => progress !== undefined, 10_000, 'the simulated agents report');
  const figures: Array<{ bound: number; running: number }> = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const name = `big-${round}`;
    if (round > 1) {
      // The previous round's pods go first: deleted gracefully, removed by their (simulated) agents.
      const gone = binding.deleted + P;
      const t = Date.now();
      const deleted = await runCli(['delete', 'deployment', `big-${round - 1}`], c.env);
      if (deleted.code !== 0) throw new Error(deleted.stderr);
      await eventually(() => binding.deleted >= gone, 600_000, `${P} pods of big-${round - 1} gone`);
      console.log(
        `delete of the Deployment -> its ${P} pods gone ${((binding.lastDeleteAt - t) / 1000).toFixed(2)} s`,
      );
      binding.reset();
    }
    figures.push(await applyRound(name, round === 1 ? profiler : undefined));
  }
  if (ROUNDS > 1) {
    const summary = (pick: (f: { bound: number; running: number }) => number) => {
      const v = figures.map(pick);
      return `median ${(median(v) / 1000).toFixed(2)} s (least ${(Math.min(...v) / 1000).toFixed(2)}, most ${(Math.max(...v) / 1000).toFixed(2)})`;
    };
    console.log(
      `${ROUNDS} rounds: all bound ${summary((f) => f.bound)}; all reported Running ${summary((f) => f.running)}`,
    );
  }

  /** One Deployment of P replicas applied: the times and CPU until all bound, then until all Running. */
  async function applyRound(name: string, profile: HeadProfiler | undefined) {
    const runningBefore = progress!.running;
    const cpu0 = {
      head: cpuSeconds(headPid),
      etcd: cpuSeconds(c.etcd.process.pid!),
      sims: progress!.cpuSeconds,
    };
    await profile?.start();
    const etcdBefore = await etcdCounts(c.etcd.url);
    const t = Date.now();
    const applied = await runCli(['apply', '-f', '-'], c.env, manifest(name));
    if (applied.code !== 0) throw new Error(applied.stderr);
    const appliedMs = Date.now() - t;
    await eventually(() => binding.boundAt.size >= P, 600_000, `${P} pods bound`);
    const bound = binding.last - t;
    const cpuBound = {
      head: cpuSeconds(headPid) - cpu0.head,
      etcd: cpuSeconds(c.etcd.process.pid!) - cpu0.etcd,
      sims: progress!.cpuSeconds - cpu0.sims,
    };
    const runningWhenBound = progress!.running - runningBefore;
    const etcdBound = await etcdCounts(c.etcd.url);
    await profile?.stop(values['profile-head']!);
    await eventually(() => progress!.running - runningBefore >= P, 600_000, `${P} pods Running`);
    const running = progress!.lastRunningAt - t;
    console.log(
      `apply of ${P} replicas (the CLI returned after ${(appliedMs / 1000).toFixed(2)} s, the first pod bound at ${((binding.first - t) / 1000).toFixed(2)} s) -> all bound ${(bound / 1000).toFixed(2)} s (${runningWhenBound} reported Running by then), all reported Running ${(running / 1000).toFixed(2)} s` +
        `\n  CPU from the apply until all bound (the simulated agents' within 0.2 s): head ${cpuBound.head.toFixed(2)} s, etcd ${cpuBound.etcd.toFixed(2)} s, the simulated agents ${cpuBound.sims.toFixed(2)} s` +
        `\n  etcd requests from the apply until all bound (every client): ${[...etcdBound]
          .map(([m, v]) => [m, v - (etcdBefore.get(m) ?? 0)] as const)
          .filter(([, v]) => v > 0)
          .sort((a, b) => b[1] - a[1])
          .map(([m, v]) => `${m} ${v}`)
          .join(', ')}`,
    );
    return { bound, running };
  }
  await new Promise((r) => setTimeout(r, 5000));

  const before = await etcdCounts(c.etcd.url);
  const sentBefore = { ...progress!.sent };
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
    `  simulated agents sent: keepalives ${((progress!.sent.keepalives - sentBefore.keepalives) / STEADY_S).toFixed(1)}/s (one per node per ${10 / 3} s = ${(N / (10 / 3)).toFixed(1)}/s), statuses ${((progress!.sent.statuses - sentBefore.statuses) / STEADY_S).toFixed(1)}/s`,
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
  if (sims?.connected) {
    const exited = new Promise((r) => sims!.once('exit', r));
    sims.send({ type: 'stop' });
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  }
  sims?.kill('SIGKILL');
  await binding.stop().catch(() => undefined);
  etcd.close();
  await c.stop();
}

// bench/telemetry: what monitoring costs an agent, and how many log lines it ships.
//   node bench/telemetry.ts [--seconds 30] [--pods 20] [--burst 300000] [--bin dist/nokube]
// One agent (real etcd, the local Docker engine) runs 20 busybox pods; a receiver on loopback plays
// GreptimeDB (204 to remote write, counts OTLP log records without decoding them whole). Prints:
//   metrics  agent CPU (% of one core) and RSS over --seconds: no monitoring, metrics every 5 s, every 1 s
//            target: <= 2 % of a core at 5 s
//   burst    one container prints --burst lines at once: lines/s from the first record received to the last,
//            lines lost, the agent's peak RSS                                  target: >= 20k lines/s
//   10k/s    a container printing about 10k lines/s for --seconds: lines/s received, agent CPU and RSS
//            (start, peak, end: bounded means it stops growing), event-loop lag p99 from /metrics
// Every cluster and container it makes is removed at the end, also on error or Ctrl-C.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { storeConfig } from '../agent/store/config-store.ts';
import { createTestCluster, runCli, type TestCluster } from '../test/harness/cluster.ts';
import { ensureBusyboxImage, requireDocker } from '../test/harness/docker.ts';
import { freePort } from '../test/harness/ports.ts';
import { cleanupOnSignals, stopClusterAndPods } from './cleanup.ts';
import { startGreptimeStandIn } from './greptime-stand-in.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    pods: { type: 'string', default: '20' },
    burst: { type: 'string', default: '300000' },
    bin: { type: 'string' },
  },
});
if (values.bin) process.env.NOKUBE_BIN = resolve(values.bin);
const seconds = Number(values.seconds);
const podCount = Number(values.pods);
const burstLines = Number(values.burst);
const TARGETS = { cpuAt5s: 2, linesPerSecond: 20_000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TICK_HZ = 100; // USER_HZ on Linux: /proc/<pid>/stat counts CPU in 1/100 s

const docker = await requireDocker();
const image = await ensureBusyboxImage();
let cluster: TestCluster | undefined;

async function cleanup(): Promise<void> {
  const c = cluster;
  cluster = undefined;
  await stopClusterAndPods(docker, c);
}
cleanupOnSignals(cleanup);

// ---- the receiver ----

/** Log records in an ExportLogsServiceRequest, counted by walking the protobuf (fields 1 > 2 > 2). */
function countLogRecords(buf: Uint8Array): number {
  const walk = (from: number, to: number, depth: number): number => {
    let n = 0;
    let at = from;
    while (at < to) {
      let key = 0;
      let shift = 0;
      let b: number;
      do {
        b = buf[at++]!;
        key += (b & 0x7f) * 2 ** shift;
        shift += 7;
      } while (b & 0x80);
      const field = Math.floor(key / 8);
      const wire = key & 7;
      if (wire === 0) while (buf[at++]! & 0x80);
      else if (wire === 1) at += 8;
      else if (wire === 5) at += 4;
      else if (wire === 2) {
        let len = 0;
        shift = 0;
        do {
          b = buf[at++]!;
          len += (b & 0x7f) * 2 ** shift;
          shift += 7;
        } while (b & 0x80);
        const want = depth === 0 ? 1 : 2;
        if (field === want) n += depth === 2 ? 1 : walk(at, at + len, depth + 1);
        at += len;
      } else throw new Error(`wire type ${wire}`);
    }
    return n;
  };
  return walk(0, buf.length, 0);
}

const rx = { records: 0, first: 0, last: 0 };
function onLogs(body: Buffer): void {
  const now = Date.now();
  rx.records += countLogRecords(body);
  rx.first ||= now;
  rx.last = now;
}

// ---- the agent process ----

interface ProcSample {
  cpuTicks: number;
  rssKB: number;
}
function procStat(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const rssKB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return { cpuTicks: Number(f[11]) + Number(f[12]), rssKB };
}

/** CPU % of one core and RSS (MB: mean, peak, last) of `pid` over `ms`, sampled every 250 ms. */
async function measure(pid: number, ms: number, during?: () => void) {
  const start = procStat(pid);
  const t0 = performance.now();
  let peak = start.rssKB;
  let sum = 0;
  let n = 0;
  let last = start;
  while (performance.now() - t0 < ms) {
    await sleep(250);
    last = procStat(pid);
    peak = Math.max(peak, last.rssKB);
    sum += last.rssKB;
    n++;
    during?.();
  }
  const secs = (performance.now() - t0) / 1000;
  return {
    cpuPercent: ((last.cpuTicks - start.cpuTicks) / TICK_HZ / secs) * 100,
    rssMB: { start: start.rssKB / 1024, mean: sum / n / 1024, peak: peak / 1024, end: last.rssKB / 1024 },
  };
}

/** Event-loop lag p99 since the previous call (the agent's /metrics resets its histogram). */
async function loopLagP99(c: TestCluster): Promise<string> {
  try {
    const res = await fetch(`${c.agentUrl('n1')}/metrics`, { signal: AbortSignal.timeout(2000) });
    const m = /nokube_event_loop_lag_seconds\{[^}]*quantile="0\.99"[^}]*\}\s+([\d.e+-]+)/.exec(
      await res.text(),
    );
    return m ? `${(Number(m[1]) * 1000).toFixed(1)} ms` : 'not in /metrics';
  } catch (err) {
    return `no /metrics (${(err as Error).message})`;
  }
}

const mb = (x: number) => `${x.toFixed(0)} MB`;

async function main(): Promise<void> {
  const receiverPort = await freePort();
  const standIn = await startGreptimeStandIn(receiverPort, onLogs);
  const c = await createTestCluster({ nodes: 1, net: 77 });
  cluster = c;
  const monitoring = standIn.monitoring;
  const putConfig = (text: string) =>
    c.withEtcd((etcd) => storeConfig(etcd, text, c.configFile, 'bench', 'latest'));
  const apply = async (yaml: string) => {
    for (let i = 0; ; i++) {
      const r = await runCli(['apply', '-f', '-'], c.env, yaml);
      if (r.code === 0) return;
      // Right after start the head's record may not be in etcd yet.
      if (i > 60 || !/no head/.test(r.stderr)) throw new Error(`apply failed: ${r.stderr}`);
      await sleep(500);
    }
  };
  let pid = (await c.startAgent('n1')).process.pid!;
  await apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: idle}
spec:
  replicas: ${podCount}
  selector: {matchLabels: {app: idle}}
  template:
    metadata: {labels: {app: idle}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: ${image}
          command: [sh, -c, 'trap "exit 0" TERM; while true; do sleep 1; done']
`);
  for (;;) {
    const list = await docker.listContainers({ filters: { label: [`nokube.cluster=${c.name}`] } });
    if (list.length >= podCount) break;
    await sleep(500);
  }
  console.log(`agent pid ${pid}, ${podCount} pods running; ${seconds} s per figure`);

  // 1. Metrics cost: a fresh agent per setting (the config read at start), measured after a warm-up.
  for (const interval of [0, 1, 5]) {
    await putConfig(interval ? c.configYaml(undefined, monitoring(interval)) : c.configYaml());
    await c.agents.get('n1')!.kill('SIGTERM');
    pid = (await c.startAgent('n1')).process.pid!;
    await sleep(15_000);
    const bodies = standIn.received.metricBodies;
    await loopLagP99(c);
    const m = await measure(pid, seconds * 1000);
    const lag = await loopLagP99(c);
    const label = interval ? `metrics every ${interval} s` : 'no monitoring';
    const target = interval === 5 ? `  (target <= ${TARGETS.cpuAt5s} %)` : '';
    console.log(
      `metrics  ${label.padEnd(18)} cpu ${m.cpuPercent.toFixed(2)} % of a core${target}, rss mean ${mb(m.rssMB.mean)} peak ${mb(m.rssMB.peak)}, ${standIn.received.metricBodies - bodies} remote-write bodies, loop lag p99 ${lag}`,
    );
  }

  // 2. Burst throughput (the last agent: metrics at 5 s).
  const before = rx.records;
  rx.first = 0;
  await apply(`apiVersion: v1
kind: Pod
metadata: {name: burst}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: ${image}
      command: [sh, -c, 'seq 1 ${burstLines}; sleep 3600']
`);
  let peak = 0;
  const deadline = Date.now() + 120_000;
  let stable = 0;
  let seen = rx.records;
  while (Date.now() < deadline) {
    await sleep(250);
    peak = Math.max(peak, procStat(pid).rssKB);
    if (rx.records - before >= burstLines) break;
    stable = rx.records === seen ? stable + 1 : 0;
    seen = rx.records;
    if (stable > 40 && rx.records > before) break; // 10 s without a record: the rest is lost
  }
  // The count includes the agent's own few log records of that window.
  const got = rx.records - before;
  const secs = Math.max(0.001, (rx.last - rx.first) / 1000);
  console.log(
    `burst    ${got}/${burstLines} lines in ${secs.toFixed(2)} s = ${Math.round(got / secs)} lines/s (target >= ${TARGETS.linesPerSecond}), lost ${Math.max(0, burstLines - got)}, agent peak rss ${mb(peak / 1024)}`,
  );
  await runCli(['delete', 'pod', 'burst'], c.env);

  // 3. A container printing ~10k lines/s.
  await apply(`apiVersion: v1
kind: Pod
metadata: {name: loud}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: ${image}
      command: [sh, -c, 'while true; do seq 1 1000; usleep 100000; done']
`);
  await sleep(5000);
  const r0 = rx.records;
  const t0 = Date.now();
  await loopLagP99(c);
  const m = await measure(pid, seconds * 1000);
  const rate = (rx.records - r0) / ((Date.now() - t0) / 1000);
  console.log(
    `10k/s    received ${Math.round(rate)} lines/s; agent cpu ${m.cpuPercent.toFixed(1)} % of a core, rss start ${mb(m.rssMB.start)} peak ${mb(m.rssMB.peak)} end ${mb(m.rssMB.end)}; loop lag p99 ${await loopLagP99(c)}`,
  );
  await standIn.close();
}

try {
  await main();
} finally {
  await cleanup();
}
process.exit(0);

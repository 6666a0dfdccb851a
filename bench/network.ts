// bench/network: pod to pod across hosts, as a ratio to host to host over the same link, per backend.
//   node bench/network.ts [--seconds 5] [--rounds 3] [--backends host-gw,vxlan]
// For each backend: two netns hosts on one link (a veth each to one bridge), real agents keeping the
// routes (test/harness/route-world.ts), a stand-in pod on each node's pod bridge (a network namespace on a
// veth, as a sandbox is; vxlan: MTU 1450 as the agent gives pods). Throughput: iperf3, one TCP stream for
// --seconds, host h0 -> host h1, then pod on h0 -> pod on h1. Connection rate: a Node client (a child
// process in the namespace) opening and closing TCP connections, 8 at a time, for --seconds, against a
// Node server that ends each at once; the same two pairs. Host and pod figures are taken in turns,
// --rounds times, and the medians compared. Then the same from the pod on h0 through a ClusterIP whose one
// endpoint is the pod on h1 (a Service and its EndpointSlice written to etcd as the head would; the agent
// on h0 loads its nftables table from them). Targets: host-gw >= 0.9, vxlan >= 0.7.
// Every namespace, agent and etcd it makes is removed at the end, also on error or Ctrl-C.
import { type ChildProcess, spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { createObjects } from '../agent/objects/store.ts';
import type { EndpointSlice, Service } from '../agent/objects/types.ts';
import { eventually } from '../test/harness/cluster.ts';
import { objectMeta } from '../test/harness/object-meta.ts';
import {
  POD_PORT,
  type RouteWorld,
  type StandInPod,
  sh,
  startRouteWorld,
} from '../test/harness/route-world.ts';
import { cleanupOnSignals } from './cleanup.ts';
import { median } from './stats.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    backends: { type: 'string', default: 'host-gw,vxlan' },
    rounds: { type: 'string', default: '3' },
  },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const gbit = (bps: number) => (bps / 1e9).toFixed(2);
const BACKENDS = values.backends.split(',') as Array<'host-gw' | 'vxlan'>;
const TARGET = { 'host-gw': 0.9, vxlan: 0.7 } as const;
const IPERF_PORT = 5201;
const CONN_PORT = 7100;
const IP = '/usr/sbin/ip';
/** The bench Service's address (of the default serviceCidr 10.43.0.0/16). */
const CLUSTER_IP = '10.43.0.10';

let world: RouteWorld | undefined;
const children: ChildProcess[] = [];
const cleanup = async () => {
  for (const c of children) c.kill('SIGKILL');
  await world?.stop().catch(() => undefined);
};
cleanupOnSignals(cleanup);

const inNs = (netns: string, cmd: string, args: string[]) => sh(IP, ['netns', 'exec', netns, cmd, ...args]);

function serve(netns: string, cmd: string, args: string[]): ChildProcess {
  const child = spawn(IP, ['netns', 'exec', netns, cmd, ...args], { stdio: 'ignore' });
  children.push(child);
  return child;
}

/** Where a path's client connects, and where its server listens (the same, or the endpoint behind a
 * ClusterIP: there on a port of its own, since the receiver's TIME_WAIT of one path's connections would
 * refuse the other path's reuse of a client port, timestamps differing by destination — PAWS). */
interface Target {
  at: string;
  bind: string;
  /** Added to the base ports, at the server only. */
  shift: number;
}

/** Bits per second of one TCP stream, `from` namespace to `t` (iperf3 server in `toNs`). */
async function throughput(fromNs: string, toNs: string, t: Target): Promise<number> {
  const to = t.at;
  const server = serve(toNs, 'iperf3', ['-s', '-1', '-B', t.bind, '-p', String(IPERF_PORT + t.shift)]);
  try {
    // Until the server listens (a client refused says so in its JSON).
    return await eventually(
      async () => {
        const text = await inNs(fromNs, 'iperf3', [
          '-c',
          to,
          '-p',
          String(IPERF_PORT),
          '-t',
          String(SECONDS),
          '-J',
        ]).catch((err: { stdout?: string }) => err.stdout ?? '{}');
        const r = JSON.parse(text) as {
          error?: string;
          end?: { sum_received?: { bits_per_second: number } };
        };
        if (r.error || !r.end?.sum_received) throw new Error(r.error ?? 'no result');
        return r.end.sum_received.bits_per_second;
      },
      10_000 + SECONDS * 2000,
      `iperf3 to ${to}`,
    );
  } finally {
    server.kill('SIGKILL');
  }
}

const CONN_SERVER = (ip: string, port: number) =>
  `require('node:net').createServer((s) => s.end()).listen(${port}, '${ip}')`;
const CONN_CLIENT = (ip: string) => `const net = require('node:net');
const until = Date.now() + ${SECONDS * 1000}; let done = 0; let live = 8;
const one = () => { if (Date.now() > until) { if (--live === 0) { console.log(done); } return; }
  const s = net.connect(${CONN_PORT}, '${ip}'); s.on('error', () => {}); s.resume();
  s.on('close', () => { done++; one(); }); };
for (let i = 0; i < 8; i++) one();`;

/** TCP connections opened and closed per second, `from` namespace to `t`. */
async function connRate(fromNs: string, toNs: string, t: Target): Promise<number> {
  const to = t.at;
  const server = serve(toNs, process.execPath, ['-e', CONN_SERVER(t.bind, CONN_PORT + t.shift)]);
  try {
    await eventually(
      async () =>
        await inNs(fromNs, process.execPath, [
          '-e',
          `require('node:net').connect(${CONN_PORT}, '${to}').on('connect', () => process.exit(0)).on('error', () => process.exit(1))`,
        ]).then(
          () => true,
          () => false,
        ),
      10_000,
      `connection server at ${to}`,
    );
    const out = await inNs(fromNs, process.execPath, ['-e', CONN_CLIENT(to)]);
    return Number(out.trim()) / SECONDS;
  } finally {
    server.kill('SIGKILL');
  }
}

/** A Service at CLUSTER_IP with `pod` as its one ready endpoint, written to etcd as the head writes them. */
async function serviceTo(w: RouteWorld, pod: StandInPod): Promise<void> {
  const ports = [
    { name: 'call', port: POD_PORT, targetPort: POD_PORT },
    { name: 'iperf', port: IPERF_PORT, targetPort: IPERF_PORT + 1 },
    { name: 'conn', port: CONN_PORT, targetPort: CONN_PORT + 1 },
  ];
  const service: Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta('bench'),
    spec: {
      clusterIP: CLUSTER_IP,
      ports: ports.map((p) => ({ ...p, protocol: 'TCP' })),
    },
  };
  const slice: EndpointSlice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: objectMeta('bench-abcde', { labels: { 'kubernetes.io/service-name': 'bench' } }),
    addressType: 'IPv4',
    endpoints: [{ addresses: [pod.ip], conditions: { ready: true, serving: true, terminating: false } }],
    ports: ports.map((p) => ({ name: p.name, port: p.targetPort, protocol: 'TCP' })),
  };
  await w.c.withEtcd((etcd) => createObjects(etcd, w.c.name, [service, slice]));
}

const rows: string[] = [];
try {
  for (const backend of BACKENDS) {
    world = await startRouteWorld({ agents: 2, recordOnly: 0, far: [] });
    await world.config(backend);
    await world.startAgents();
    const mtu = backend === 'vxlan' ? 1450 : undefined;
    const [a, b] = [await world.pod('h0', mtu), await world.pod('h1', mtu)] as [StandInPod, StandInPod];
    const w = world;
    await eventually(async () => (await w.call(a, b)) === a.ip, 30_000, `${backend}: pod to pod`);
    await serviceTo(w, b);
    await eventually(
      async () => (await w.call(a, { ...b, ip: CLUSTER_IP })) === a.ip,
      30_000,
      `${backend}: pod to ClusterIP`,
    );
    const [h0, h1] = [w.host('h0'), w.host('h1')];
    // The paths' figures taken in turns, --rounds times each: the medians (a busy machine moves all).
    const paths = {
      host: { from: h0.netns, to: h1.netns, t: { at: h1.address, bind: h1.address, shift: 0 } },
      pod: { from: a.netns, to: b.netns, t: { at: b.ip, bind: b.ip, shift: 0 } },
      ClusterIP: { from: a.netns, to: b.netns, t: { at: CLUSTER_IP, bind: b.ip, shift: 1 } },
    };
    const m = new Map(Object.keys(paths).map((k) => [k, { bps: [] as number[], cps: [] as number[] }]));
    for (let i = 0; i < ROUNDS; i++) {
      for (const [name, p] of Object.entries(paths)) {
        m.get(name)!.bps.push(await throughput(p.from, p.to, p.t));
        m.get(name)!.cps.push(await connRate(p.from, p.to, p.t));
      }
      const round = Object.keys(paths).map(
        (name) => `${name} ${gbit(m.get(name)!.bps[i]!)} Gbit/s ${m.get(name)!.cps[i]!.toFixed(0)} conn/s`,
      );
      process.stderr.write(`${backend} round ${i + 1}: ${round.join(', ')}\n`);
    }
    // Each path's ratio to host -> host within a round (the same moment's load), the median of the
    // rounds' ratios; the figures themselves are medians too.
    for (const name of Object.keys(paths)) {
      const { bps, cps } = m.get(name)!;
      const host = m.get('host')!;
      const tr = median(bps.map((x, i) => x / host.bps[i]!));
      const cr = median(cps.map((x, i) => x / host.cps[i]!));
      const verdict =
        name === 'host'
          ? ''
          : `≥ ${TARGET[backend]}: ${tr >= TARGET[backend] && cr >= TARGET[backend] ? 'met' : 'NOT met'}`;
      rows.push(
        `| ${backend} | ${name === 'host' ? 'host → host' : `pod → ${name === 'pod' ? 'pod' : 'ClusterIP → pod'}`} | ${gbit(median(bps))} | ${tr.toFixed(2)} | ${median(cps).toFixed(0)} | ${cr.toFixed(2)} | ${verdict} |`,
      );
      process.stderr.write(`${rows.at(-1)}\n`);
    }
    await world.stop();
    world = undefined;
  }
  console.log(
    `bench/network: ${SECONDS} s per figure, ${ROUNDS} rounds (figures: medians; ratios: the median of each round's ratio to host -> host); one iperf3 TCP stream; connections: 8 at a time, open and close\n`,
  );
  console.log('| backend | path | Gbit/s | ratio to host | conn/s | ratio to host | target |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(r);
} finally {
  await cleanup();
}

// Routes between nodes' pod subnets, on the real kernel (test/routes-*-netns.test.ts): netns test hosts
// (test/harness/hosts.ts, no sshd) on one link, real agents in them (`ip netns exec`: each agent's pod
// network, routes and VXLAN device are in its host's namespace; pods' Docker is the machine's engine,
// unused: no pod is scheduled), and stand-in pods: a network namespace per node wired to it as a sandbox
// would be (a routed veth; the subnet's gateway on the node's gateway device, made by the agent's pod
// network) at an address of its subnet. Pod to pod is
// proved with TCP: a server in one stand-in pod answers with the address it sees the caller at (no NAT:
// the caller's own).
import { execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Etcd3 } from 'etcd3';
import { addressAt } from '../../agent/net/cidr.ts';
import { bridgeName } from '../../agent/podnet/names.ts';
import { claimSubnet, type SubnetRecord } from '../../agent/podnet/subnet.ts';
import { storeConfig } from '../../agent/store/config-store.ts';
import { keys } from '../../agent/store/keys.ts';
import { createTestCluster, eventually, type TestCluster, type TestNode } from './cluster.ts';
import { startTestHosts, type TestHost, type TestHosts } from './hosts.ts';

const IP = '/usr/sbin/ip';
const exec = promisify(execFile);
export const POD_CIDR = '10.42.0.0/16';
export const POD_PORT = 7000;

export const sh = async (file: string, args: string[]) =>
  (await exec(file, args, { timeout: 10_000, maxBuffer: 1 << 22 })).stdout;
/** `ip -j <args>` in a host's namespace. */
export const ipIn = async <T>(host: TestHost, args: string[]): Promise<T> => {
  const out = await sh(IP, ['-n', host.netns, '-j', ...args]);
  return (out.trim() ? JSON.parse(out) : []) as T;
};
export const bridgeIn = async <T>(host: TestHost, args: string[]): Promise<T> => {
  const out = await sh(IP, ['netns', 'exec', host.netns, 'bridge', '-j', ...args]);
  return (out.trim() ? JSON.parse(out) : []) as T;
};

export interface StandInPod {
  netns: string;
  ip: string;
}

export interface RouteWorld {
  hosts: TestHosts;
  c: TestCluster;
  host(node: string): TestHost;
  /** Nodes with an agent (the others are records only). */
  agentNodes: string[];
  config(backend: 'host-gw' | 'vxlan'): Promise<void>;
  startAgents(nodes?: string[]): Promise<void>;
  stopAgent(node: string): Promise<void>;
  subnetOf(node: string): Promise<string>;
  /** A node without an agent given a subnet record (and a VTEP record) as its agent would write them. */
  fakeNode(node: string, vtepMac?: string): Promise<string>;
  /** A node's records gone, as the leader frees them. */
  removeNodeRecords(node: string): Promise<void>;
  /** `mtu`: as the agent gives pods (vxlan: the link's less 50). */
  pod(node: string, mtu?: number): Promise<StandInPod>;
  /** The caller's address as the server pod saw it, or the failure. */
  call(from: StandInPod, to: StandInPod): Promise<string>;
  /** A TCP connection held open from one pod to the other's echo server: `echo(text)` sends a line and
   * resolves with the line that comes back (rejects after 3 s). */
  hold(from: StandInPod, to: StandInPod): Promise<{ echo(text: string): Promise<string>; close(): void }>;
  stop(): Promise<void>;
}

/** `agents` hosts with agents, then one host per name in `recordOnly` (no agent), and `far` nodes at
 * addresses beyond a router (no host at all). */
export async function startRouteWorld(opts: {
  agents: number;
  recordOnly: number;
  far: string[];
  /** Each host runs a Docker engine of its own, the node's nodes[].dockerSocket (real pods). */
  docker?: boolean;
  /** More lines of the `network` section (two spaces in), after podCidr and backend. */
  network?: string;
}): Promise<RouteWorld> {
  const count = opts.agents + opts.recordOnly;
  const hosts = await startTestHosts(count, { sshd: false, docker: opts.docker ?? false });
  const hostOf = new Map(hosts.hosts.map((h) => [h.name, h]));
  const servers: Array<ReturnType<typeof spawn>> = [];
  const pods: string[] = [];
  let c: TestCluster | undefined;
  const net = hosts.gateway.split('.')[2];
  const nodes: TestNode[] = [
    // h0 the head (a config needs one).
    ...hosts.hosts.map((h, i) => ({
      name: h.name,
      address: h.address,
      roles:
        i === 0 ? (['head', 'worker'] as Array<'head' | 'worker'>) : (['worker'] as Array<'head' | 'worker'>),
      ...(h.dockerSocket ? { dockerSocket: h.dockerSocket } : {}),
    })),
    ...opts.far.map((name, i) => ({ name, address: `10.79.${net}.${10 + i}`, roles: ['worker' as const] })),
  ];
  const sections = (backend: string) =>
    `network:\n  podCidr: ${POD_CIDR}\n  backend: ${backend}\n${opts.network ?? ''}`;
  const stop = async () => {
    for (const s of servers) s.kill('SIGKILL');
    await c?.stop();
    for (const p of pods) await sh(IP, ['netns', 'del', p]).catch(() => undefined);
    await hosts.stop();
  };
  try {
    c = await createTestCluster({
      nodes,
      etcdHost: hosts.gateway,
      wrap: (node) => [IP, 'netns', 'exec', hostOf.get(node)!.netns],
      namePrefix: 'rt',
      sections: sections('host-gw'),
    });
  } catch (err) {
    await stop();
    throw err;
  }
  const cluster = c;
  const agentNodes = hosts.hosts.slice(0, opts.agents).map((h) => h.name);
  const etcdDo = <T>(fn: (etcd: Etcd3) => Promise<T>) => cluster.withEtcd(fn);
  const world: RouteWorld = {
    hosts,
    c: cluster,
    agentNodes,
    host: (node) => hostOf.get(node)!,
    async config(backend) {
      const text = cluster.configYaml(nodes, sections(backend));
      await writeFile(cluster.configFile, text);
      await etcdDo((etcd) => storeConfig(etcd, text, cluster.configFile, 'test', 'latest'));
    },
    async startAgents(list = agentNodes) {
      await Promise.all(list.map((n) => cluster.startAgent(n)));
    },
    async stopAgent(node) {
      await cluster.agents.get(node)?.kill('SIGTERM');
    },
    subnetOf: (node) =>
      eventually(
        () =>
          etcdDo(async (etcd) => {
            const v = await etcd.get(keys.networkSubnet(cluster.name, node)).string();
            return v ? (JSON.parse(v) as SubnetRecord).cidr : undefined;
          }),
        20_000,
        `${node}'s pod subnet in etcd`,
      ),
    fakeNode: (node, vtepMac) =>
      etcdDo(async (etcd) => {
        const cidr = await claimSubnet(etcd, cluster.name, node, { podCidr: POD_CIDR, nodeMaskSize: 24 });
        if (vtepMac)
          await etcd
            .put(keys.networkVtep(cluster.name, node))
            .value(JSON.stringify({ mac: vtepMac }))
            .exec();
        return cidr;
      }),
    removeNodeRecords: (node) =>
      etcdDo(async (etcd) => {
        const v = await etcd.get(keys.networkSubnet(cluster.name, node)).string();
        if (!v) return;
        const { cidr } = JSON.parse(v) as SubnetRecord;
        await etcd
          .if(keys.networkSubnet(cluster.name, node), 'Create', '>', 0)
          .then(
            etcd.delete().key(keys.networkSubnet(cluster.name, node)),
            etcd.delete().key(keys.networkSubnetOwner(cluster.name, cidr)),
            etcd.delete().key(keys.networkVtep(cluster.name, node)),
          )
          .commit();
      }),
    async pod(node, mtu) {
      const host = hostOf.get(node)!;
      const subnet = await world.subnetOf(node);
      const bridge = bridgeName(cluster.name, node);
      const gw = addressAt(subnet, 1);
      await eventually(
        () =>
          ipIn<Array<{ addr_info?: Array<{ local: string }> }>>(host, ['-4', 'addr', 'show', 'dev', bridge])
            .then((l) => l[0]?.addr_info?.some((a) => a.local === gw))
            .catch(() => false),
        20_000,
        `${node}'s pod gateway address`,
      );
      const netns = `${host.netns}p`;
      const ip = addressAt(subnet, 200);
      await sh(IP, ['netns', 'add', netns]);
      pods.push(netns);
      const inHost = (args: string[]) => sh(IP, ['-n', host.netns, ...args]);
      const inPod = (args: string[]) => sh(IP, ['-n', netns, ...args]);
      const m = mtu ? ['mtu', String(mtu)] : [];
      await inHost([
        'link',
        'add',
        'standin',
        ...m,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        ...m,
        'netns',
        netns,
      ]);
      // As agent/podnet wires a sandbox: a routed veth that answers the pod's ARP.
      await inHost(['link', 'set', 'standin', 'up']);
      await inHost(['route', 'add', `${ip}/32`, 'dev', 'standin', 'src', gw]);
      await sh(IP, [
        'netns',
        'exec',
        host.netns,
        'sh',
        '-c',
        'echo 1 > /proc/sys/net/ipv4/conf/standin/proxy_arp && echo 0 > /proc/sys/net/ipv4/neigh/standin/proxy_delay',
      ]);
      await inPod(['link', 'set', 'lo', 'up']);
      await inPod(['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
      await inPod(['link', 'set', 'eth0', 'up']);
      await inPod(['route', 'add', 'default', 'via', addressAt(subnet, 1)]);
      const serveInPod = (code: string) =>
        servers.push(spawn(IP, ['netns', 'exec', netns, process.execPath, '-e', code], { stdio: 'ignore' }));
      // Who calls, as this pod sees it; and an echo.
      serveInPod(
        `require('node:net').createServer((s) => s.end(s.remoteAddress + '\\n')).listen(${POD_PORT}, '${ip}')`,
      );
      serveInPod(`require('node:net').createServer((s) => s.pipe(s)).listen(${POD_PORT + 1}, '${ip}')`);
      return { netns, ip };
    },
    async call(from, to) {
      const script = `const s = require('node:net').connect(${POD_PORT}, '${to.ip}');
let d = ''; s.setTimeout(1500, () => { console.log('timeout'); process.exit(0); });
s.on('data', (x) => { d += x; }); s.on('end', () => console.log(d.trim()));
s.on('error', (e) => console.log(e.code));`;
      return (await sh(IP, ['netns', 'exec', from.netns, process.execPath, '-e', script])).trim();
    },
    async hold(from, to) {
      const script = `const s = require('node:net').connect(${POD_PORT + 1}, '${to.ip}');
s.on('connect', () => console.log('connected')); s.on('error', (e) => console.log('error ' + e.code));
s.on('close', () => console.log('closed')); s.pipe(process.stdout); process.stdin.pipe(s);`;
      const child = spawn(IP, ['netns', 'exec', from.netns, process.execPath, '-e', script], {
        stdio: ['pipe', 'pipe', 'ignore'],
      });
      servers.push(child);
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
      });
      await eventually(() => out.includes('connected') || out.includes('error'), 10_000, 'a held connection');
      if (!out.includes('connected')) throw new Error(`held connection: ${out.trim()}`);
      return {
        async echo(text) {
          const from = out.length;
          child.stdin!.write(`${text}\n`);
          return eventually(
            () => {
              const got = out.slice(from);
              if (got.includes('closed') || got.includes('error'))
                throw new Error(`connection: ${got.trim()}`);
              return got.includes(text) ? got.trim() : undefined;
            },
            3000,
            `echo of ${text}`,
          );
        },
        close: () => child.kill('SIGKILL'),
      };
    },
    stop,
  };
  return world;
}

/** Wait for an agent's log line `routes reconciled` from `source` after `from` characters of its output. */
export function reconciled(w: RouteWorld, node: string, source: 'cache' | 'etcd', from = 0): Promise<string> {
  return eventually(
    () => {
      const out = w.c.agents.get(node)!.output().slice(from);
      const line = out
        .split('\n')
        .find((l) => l.includes('"msg":"routes reconciled"') && l.includes(`"source":"${source}"`));
      return line;
    },
    30_000,
    `${node}: routes reconciled from ${source}`,
  );
}

/** Our routes (protocol 78) in a host's main table: destination -> next hop (and device for vxlan). */
export async function ourRoutes(host: TestHost): Promise<Record<string, string>> {
  const routes = await ipIn<Array<{ dst: string; gateway?: string; dev: string; flags?: string[] }>>(host, [
    'route',
    'show',
    'proto',
    '78',
  ]);
  return Object.fromEntries(
    routes.map((r) => [r.dst, `${r.gateway} ${r.dev}${r.flags?.includes('onlink') ? ' onlink' : ''}`]),
  );
}

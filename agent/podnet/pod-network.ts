// Each pod its own network namespace and IP (k8s' model): a sandbox container (network.sandboxImage,
// NetworkMode none) holds the namespace; a veth pair joins it to the node, routed (as Calico does, no
// bridge on a packet's path): the end inside is eth0 with the pod's IP in the node subnet and a default
// route via the subnet's first address, the gateway (its MAC, the host's end's, a permanent neighbour
// entry); the host's end has a /32 route to the pod and answers the pod's ARP for every other address
// with its own MAC (proxy ARP), so every packet a pod sends, to a pod of the same node too, passes the
// node's IP layer once: forwarded, conntracked (Services' NAT both ways) and never bridged (no
// br_netfilter, no bridge hooks). The gateway address is on the node's
// gateway device, a bridge without ports (this kernel has no dummy device; the cluster resolver listens
// there), which also holds the subnet's route: an address of the subnet no pod has is unreachable at once.
// The pod's containers join with NetworkMode container:<sandbox>. The node's nftables table (ruleset.ts)
// masquerades the pods' outbound traffic and maps host ports.
//
// Every step reads before it writes: an agent restart finds the device, the veths, the addresses and the
// table as it left them and changes nothing (no container restarted, connections kept). Nothing here is
// on a packet's path: the kernel forwards.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { NetworkConfig } from '../config/schema.ts';
import type { Logger } from '../log/logger.ts';
import { addressAt, parseCidr } from '../net/cidr.ts';
import type { Pod } from '../objects/types.ts';
import { imagePresent, pullImage } from '../runtime/images.ts';
import { containerName, LABEL } from '../runtime/labels.ts';
import { ipBatch, ipJson, ipJsonIn, nftApply, nftText } from './kernel.ts';
import { bridgeName, tableName, vethMac, vethName, vethPeerName, vxlanName } from './names.ts';
import { BUILTIN_SANDBOX_IMAGE, importBuiltinSandbox } from './pause/image.ts';
import { PodIps } from './pod-ips.ts';
import { type HostPortRule, type Ruleset, rulesetDigest, rulesetFile } from './ruleset.ts';
import type { NodeSubnet } from './subnet.ts';
import { subnetClash } from './subnet-clash.ts';

/** What a pod's containers need of its sandbox. */
export interface PodSandbox {
  sandboxId: string;
  ip: string;
  /** The pod's /etc/hosts (its own IP under its name), bind-mounted into each container. */
  hostsFile: string;
}

/** Not ready (the node subnet unknown yet, the sandbox image not pulled...): the kubelet's reason. */
export interface SandboxWaiting {
  reason: string;
  message: string;
}

export interface PodNetworkDeps {
  docker: Docker;
  cluster: string;
  node: string;
  workspace: string;
  network: NetworkConfig;
  subnet: NodeSubnet;
  log: Logger;
  /** The pods' MTU (vxlan: the node link's less the overlay's headers, agent/routes/vxlan.ts); absent:
   * the kernel's. */
  mtu?: number;
  /** The VXLAN overlay's UDP port (backend vxlan): untracked in the node's table (ruleset.ts). */
  overlayPort?: number;
}

/** The pod's container that holds its network namespace (no k8s container name has capitals). */
export const sandboxName = (cluster: string, pod: Pod) =>
  containerName(cluster, pod.metadata.namespace ?? 'default', pod.metadata.name, 'POD');

/** The pod is on the pod network (else on the node's). */
export const onPodNetwork = (pod: Pod) => pod.spec.hostNetwork !== true;

interface Link {
  ifname: string;
  address?: string;
  flags?: string[];
  master?: string;
}
interface KernelNeighbour {
  dst: string;
  lladdr?: string;
  state?: string[];
}
interface KernelRoute {
  dst: string;
  prefsrc?: string;
}
interface AddrInfo {
  ifname: string;
  addr_info?: Array<{ family: string; local: string; prefixlen: number }>;
}

export class PodNetwork {
  private readonly deps: PodNetworkDeps;
  readonly bridge: string;
  readonly table: string;
  private ips: PodIps | undefined;
  private ready: Promise<void> | undefined;
  private rules: Promise<void> = Promise.resolve();
  private appliedDigest: string | undefined;
  /** Per pod uid, the sandbox (`<id>/<pid>/<ip>`) last found wired: a reconcile of a wired pod costs one
   * engine inspect, no process. */
  private readonly wired = new Map<string, { key: string; sandbox: PodSandbox }>();
  /** The sandbox image's last failed pull: not tried again (by any pod) before SANDBOX_PULL_RETRY_MS. */
  private pullFailed: { at: number; message: string } | undefined;

  constructor(deps: PodNetworkDeps) {
    this.deps = deps;
    this.bridge = bridgeName(deps.cluster, deps.node);
    this.table = tableName(deps.cluster, deps.node);
  }

  /** Once the node subnet is known (from the workspace at once, else from etcd): the addresses in use,
   * the bridge and the table, as they were (each changed only where it differs). */
  start(): Promise<void> {
    this.ready ??= this.deps.subnet.ready().then(async (subnet) => {
      const ips = new PodIps(this.deps.workspace, subnet);
      await ips.load();
      this.ips = ips;
      await this.ensureBridge(subnet);
      await this.applyRules();
      this.deps.log.info({ subnet, bridge: this.bridge, table: this.table }, 'pod network ready');
    });
    // A failure (the kernel refused) is tried again by the next pod that needs it.
    this.ready.catch(() => {
      this.ready = undefined;
    });
    return this.ready;
  }

  /** The pod's IP, once it has one. */
  ipOf(pod: Pod): string | undefined {
    return this.ips?.get(pod.metadata.uid)?.ip;
  }

  /** The pod's sandbox, made and wired where it is not (an existing one is adopted as it is). */
  async ensure(pod: Pod): Promise<PodSandbox | SandboxWaiting> {
    const subnet = this.deps.subnet.get();
    if (!subnet) return { reason: 'ContainerCreating', message: "waiting for the node's pod subnet (etcd)" };
    await this.start();
    const ips = this.ips!;
    const uid = pod.metadata.uid;
    const before = ips.get(uid);
    const addr = await ips.allocate(uid, podId(pod), (ip) => hostPortRules(pod, ip));
    if (JSON.stringify(before?.hostPorts ?? []) !== JSON.stringify(addr.hostPorts)) await this.applyRules();
    const { docker } = this.deps;
    const name = sandboxName(this.deps.cluster, pod);
    let info = await inspectOrNull(docker.getContainer(name));
    if (info && info.Config.Labels[LABEL.podUid] !== uid)
      return { reason: 'ContainerCreating', message: "waiting for the previous pod's sandbox to be removed" };
    if (info && !info.State.Running) {
      // Its namespace is gone with it: a new sandbox, and the containers join that one (pod-actor.ts).
      await docker.getContainer(info.Id).remove({ force: true });
      info = null;
    }
    if (!info) {
      const made = await this.createSandbox(pod, name);
      if ('reason' in made) return made;
      info = made;
    }
    const key = `${info.Id}/${info.State.Pid}/${addr.ip}`;
    const known = this.wired.get(uid);
    if (known?.key === key) return known.sandbox;
    await this.wire(info.State.Pid, uid, addr.ip, subnet);
    const sandbox = { sandboxId: info.Id, ip: addr.ip, hostsFile: await this.writeHosts(pod, addr.ip) };
    this.wired.set(uid, { key, sandbox });
    return sandbox;
  }

  /** The pod is gone: its sandbox (and with it its namespace and the veth pair), address, files, host
   * ports. */
  async release(pod: Pod): Promise<void> {
    const info = await inspectOrNull(this.deps.docker.getContainer(sandboxName(this.deps.cluster, pod)));
    if (info && info.Config.Labels[LABEL.podUid] === pod.metadata.uid)
      await this.deps.docker
        .getContainer(info.Id)
        .remove({ force: true })
        .catch((err: { statusCode?: number }) => {
          if (err.statusCode !== 404) throw err;
        });
    await this.releaseUid(pod.metadata.uid);
  }

  /** Addresses of pods not in `uids` (gone while this agent was away; their sandboxes are removed with
   * the other stray containers). */
  async collect(uids: ReadonlySet<string>): Promise<void> {
    if (!this.ips) return;
    for (const [uid] of this.ips.entries()) if (!uids.has(uid)) await this.releaseUid(uid);
  }

  private async releaseUid(uid: string): Promise<void> {
    this.wired.delete(uid);
    const veth = vethName(uid);
    if (await ipJson<Link[]>(['link', 'show', 'dev', veth]))
      await ipBatch([`link del ${veth}`]).catch(() => undefined);
    await rm(this.podDir(uid), { recursive: true, force: true });
    const had = await this.ips?.release(uid);
    if (had && had.hostPorts.length > 0) await this.applyRules();
  }

  // ---- the node: gateway device, forwarding, table ----

  private async ensureBridge(subnet: string): Promise<void> {
    const { prefix } = parseCidr(subnet);
    const gw = addressAt(subnet, 1);
    const br = this.bridge;
    const ours = [br, vxlanName(this.deps.cluster, this.deps.node)];
    const clash = subnetClash((await ipJson<AddrInfo[]>(['-4', 'addr', 'show'])) ?? [], subnet, ours);
    if (clash)
      throw new Error(
        `this node's pod subnet ${subnet} is in use on this host already (${clash}): its pods could not be reached; remove that address or give the cluster another network.podCidr`,
      );
    if (!(await ipJson<Link[]>(['link', 'show', 'dev', br]))) await ipBatch([`link add ${br} type bridge`]);
    const addrs = await ipJson<AddrInfo[]>(['-4', 'addr', 'show', 'dev', br]);
    if (!addrs?.[0]?.addr_info?.some((a) => a.local === gw && a.prefixlen === prefix))
      await ipBatch([`addr add ${gw}/${prefix} dev ${br}`]);
    const link = await ipJson<Link[]>(['link', 'show', 'dev', br]);
    if (!link?.[0]?.flags?.includes('UP')) await ipBatch([`link set ${br} up`]);
    // The kernel forwards the pods' packets.
    await setSysctl('/proc/sys/net/ipv4/ip_forward', '1');
  }

  /** The table as the addresses' host ports want it; left alone when its digest says it is already so. */
  private applyRules(): Promise<void> {
    const run = async () => {
      const subnet = this.deps.subnet.get();
      if (!subnet || !this.ips) return;
      const wanted: Ruleset = {
        table: this.table,
        subnet,
        podCidr: this.deps.network.podCidr,
        hostPorts: this.ips.entries().flatMap(([, a]) => a.hostPorts),
        ...(this.deps.overlayPort === undefined ? {} : { untrackedUdpPort: this.deps.overlayPort }),
      };
      const digest = rulesetDigest(wanted);
      if (digest === this.appliedDigest) return;
      if ((await this.tableComment())?.endsWith(digest)) {
        this.appliedDigest = digest;
        return;
      }
      await nftApply(rulesetFile(wanted));
      this.appliedDigest = digest;
    };
    this.rules = this.rules.then(run, run);
    return this.rules;
  }

  private async tableComment(): Promise<string | undefined> {
    const text = await nftText(['list', 'table', 'ip', this.table]);
    return text ? /^\s*comment "([^"]*)"/m.exec(text)?.[1] : undefined;
  }

  // ---- one pod ----

  private async createSandbox(pod: Pod, name: string): Promise<Docker.ContainerInspectInfo | SandboxWaiting> {
    const { docker, network, cluster, node } = this.deps;
    const image = network.sandboxImage;
    if (!(await imagePresent(docker, image))) {
      const failed = this.pullFailed;
      if (failed && Date.now() - failed.at < SANDBOX_PULL_RETRY_MS)
        return { reason: 'ContainerCreating', message: failed.message };
      const builtin = image === BUILTIN_SANDBOX_IMAGE;
      try {
        // The built-in one is made here from what the agent carries; any other comes from its registry.
        await (builtin ? importBuiltinSandbox(docker) : pullImage(docker, image));
        this.pullFailed = undefined;
      } catch (err) {
        const message = `pod sandbox image "${image}" cannot be ${builtin ? 'made' : 'pulled'} (tried again every ${SANDBOX_PULL_RETRY_MS / 1000} s): ${(err as Error).message}`;
        this.pullFailed = { at: Date.now(), message };
        return { reason: 'ContainerCreating', message };
      }
    }
    const ct = await docker.createContainer({
      name,
      Image: image,
      Hostname: podHostname(pod),
      Labels: {
        [LABEL.cluster]: cluster,
        [LABEL.node]: node,
        [LABEL.namespace]: pod.metadata.namespace ?? 'default',
        [LABEL.pod]: pod.metadata.name,
        [LABEL.podUid]: pod.metadata.uid,
        [LABEL.sandbox]: 'true',
      },
      HostConfig: { NetworkMode: 'none', RestartPolicy: { Name: 'no' } },
    });
    await ct.start();
    return ct.inspect();
  }

  /** The pod's end of a veth pair in the sandbox's namespace as eth0 with its IP and a default route; the
   * host's end routed to it (the header's comment). Nothing is done when all is so already; a pod an agent
   * of before routed veths put on the bridge is moved off it in place (its connections kept: the pod
   * forgets the neighbours it knew, asks again and gets the host's answer). */
  private async wire(pid: number, uid: string, ip: string, subnet: string): Promise<void> {
    const { prefix } = parseCidr(subnet);
    const gw = addressAt(subnet, 1);
    const veth = vethName(uid);
    const route = `route replace ${ip}/32 dev ${veth} src ${gw}`;
    // The pod knows its gateway's MAC (the host's end) without asking: a host whose arp_ignore is 1 or 2
    // (IPVS setups, hardening guides) answers ARP for a local address only on the device that holds it,
    // and the gateway's is on the gateway device, not on this veth. Every other address the pod asks for
    // is answered by proxy ARP, which arp_ignore does not gate.
    const gwNeighbour = (mac: string) => `neigh replace ${gw} lladdr ${mac} dev eth0 nud permanent`;
    const inside = await ipJsonIn<AddrInfo[]>(pid, ['-4', 'addr', 'show', 'dev', 'eth0']);
    const host = await ipJson<Link[]>(['link', 'show', 'dev', veth]);
    if (host?.[0] && inside?.[0]?.addr_info?.some((a) => a.local === ip)) {
      const bridged = host[0].master !== undefined;
      if (bridged) await ipBatch([`link set ${veth} nomaster`, `link set ${veth} up`, route]);
      else {
        const routes = await ipJson<KernelRoute[]>(['-4', 'route', 'show', 'dev', veth]);
        if (!routes?.some((r) => r.dst === ip && r.prefsrc === gw)) await ipBatch([route]);
      }
      await hostEndSysctls(veth);
      const mac = host[0].address ?? '';
      const known = await ipJsonIn<KernelNeighbour[]>(pid, ['-4', 'neigh', 'show', 'dev', 'eth0']);
      const gwKnown = known?.some((n) => n.dst === gw && n.lladdr === mac && n.state?.includes('PERMANENT'));
      // A pod moved off the bridge forgets the neighbours it knew (other pods' own MACs; not the gateway's
      // permanent entry), asks again and gets the host's answer.
      const inPod = [...(bridged ? ['neigh flush dev eth0'] : []), ...(gwKnown ? [] : [gwNeighbour(mac)])];
      if (inPod.length > 0) await ipBatch(inPod, pid);
      return;
    }
    // Half made (an agent stopped between steps): made again from the start.
    if (host) await ipBatch([`link del ${veth}`]);
    if (inside?.length) await ipBatch(['link del eth0'], pid);
    const peer = vethPeerName(uid);
    const mac = vethMac(uid);
    await ipBatch([
      `link add ${veth} address ${mac}${this.mtuArg()} type veth peer name ${peer}${this.mtuArg()}`,
      `link set ${peer} netns ${pid}`,
      `link set ${veth} up`,
      route,
    ]);
    await hostEndSysctls(veth);
    await ipBatch(
      [
        `link set ${peer} name eth0`,
        `addr add ${ip}/${prefix} dev eth0`,
        'link set eth0 up',
        'link set lo up',
        gwNeighbour(mac),
        `route add default via ${gw}`,
      ],
      pid,
    );
  }

  private mtuArg(): string {
    return this.deps.mtu ? ` mtu ${this.deps.mtu}` : '';
  }

  private podDir(uid: string): string {
    return join(this.deps.workspace, 'agent', 'pod-net', uid);
  }

  private async writeHosts(pod: Pod, ip: string): Promise<string> {
    const dir = this.podDir(pod.metadata.uid);
    const file = join(dir, 'hosts');
    const text = [
      '# Kubernetes-managed hosts file (nokube).',
      '127.0.0.1\tlocalhost',
      '::1\tlocalhost ip6-localhost ip6-loopback',
      pod.spec.subdomain
        ? `${ip}\t${podHostname(pod)}.${pod.spec.subdomain}.${pod.metadata.namespace ?? 'default'}.svc.${this.deps.network.clusterDomain}\t${podHostname(pod)}`
        : `${ip}\t${podHostname(pod)}`,
      '',
    ].join('\n');
    const have = await readFile(file, 'utf8').catch(() => undefined);
    if (have !== text) {
      await mkdir(dir, { recursive: true });
      await writeFile(file, text);
    }
    return file;
  }
}

/** A pod's veth on the host: it answers the pod's ARP for every address its route leaves by another
 * device (the gateway's and the other pods' of the subnet) at once (the default proxy_delay holds each
 * answer up to 0.8 s), and a host port reached on a loopback address is routed to it (kube-proxy sets
 * route_localnet the same way, here on the pods' veths only). */
async function hostEndSysctls(veth: string): Promise<void> {
  await setSysctl(`/proc/sys/net/ipv4/conf/${veth}/proxy_arp`, '1');
  await setSysctl(`/proc/sys/net/ipv4/neigh/${veth}/proxy_delay`, '0');
  await setSysctl(`/proc/sys/net/ipv4/conf/${veth}/route_localnet`, '1');
}

/** A sandbox image that cannot be pulled is tried again this often (one pull for every waiting pod). */
const SANDBOX_PULL_RETRY_MS = 30_000;

/** The pod's hostPorts as DNAT rules to its IP. */
export function hostPortRules(pod: Pod, ip: string): HostPortRule[] {
  const out: HostPortRule[] = [];
  for (const c of pod.spec.containers)
    for (const p of c.ports ?? [])
      if (p.hostPort)
        out.push({
          protocol: p.protocol ?? 'TCP',
          port: p.hostPort,
          hostIP: (p as { hostIP?: string }).hostIP || '0.0.0.0',
          podIP: ip,
          podPort: p.containerPort,
        });
  return out;
}

/** k8s: the pod's `hostname`, else its name (at most 63 characters, no trailing '-' or '.'). */
export const podHostname = (pod: Pod) =>
  pod.spec.hostname ?? pod.metadata.name.slice(0, 63).replace(/[-.]+$/, '');

const podId = (pod: Pod) => `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name}`;

async function inspectOrNull(ct: Docker.Container): Promise<Docker.ContainerInspectInfo | null> {
  return ct.inspect().catch((err: { statusCode?: number }) => {
    if (err.statusCode === 404) return null;
    throw err;
  });
}

async function setSysctl(file: string, value: string): Promise<void> {
  const have = (await readFile(file, 'utf8')).trim();
  if (have !== value) await writeFile(file, value);
}

// One reconcile of this node's routes to the other nodes' pod subnets: how each peer is reached (`ip route
// get`), the plan (plan.ts), the VXLAN device where the backend needs one (vxlan.ts), and the difference
// to the kernel applied (kernel.ts). Level-triggered: the same inputs give the same kernel, and a kernel
// already so is left alone (an agent restart changes nothing).
import { vxlanName } from '../podnet/names.ts';
import { applyCommands, diffCommands, reachOf, readKernel } from './kernel.ts';
import { type Backend, diffEntries, type PeerSubnet, planRoutes, vtepMac } from './plan.ts';
import { deviceExists, ensureVxlan, removeVxlan, VXLAN_PORT } from './vxlan.ts';

export interface RouteInputs {
  backend: Backend;
  podCidr: string;
  /** This node's address (nodes[].address). */
  address: string;
  /** This node's pod subnet, when known (vxlan: its device's address). */
  subnet: string | undefined;
  /** The nodes' subnets and addresses (this node's own left out of the plan). */
  peers: readonly PeerSubnet[];
}

export interface Outcome {
  /** Kernel changes made (lines run). */
  changes: number;
  /** Peers whose pods this node cannot route to, and why (NoRouteToPods). */
  unreachable: Array<{ node: string; address: string; why: string }>;
  /** Nothing done yet, and why (vxlan: this node's subnet not known yet). */
  waiting?: string;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

export class RouteApplier {
  readonly cluster: string;
  readonly node: string;
  readonly vxlanDev: string;

  constructor(cluster: string, node: string) {
    this.cluster = cluster;
    this.node = node;
    this.vxlanDev = vxlanName(cluster, node);
  }

  async reconcile(inp: RouteInputs): Promise<Outcome> {
    const out: Outcome = { changes: 0, unreachable: [] };
    const others = inp.peers.filter((p) => p.node !== this.node && p.subnet && p.address);
    for (const p of others)
      if (!IPV4.test(p.address))
        out.unreachable.push({ node: p.node, address: p.address, why: 'its address is not an IPv4 address' });
    const reach = await reachOf([...new Set(others.map((p) => p.address).filter((a) => IPV4.test(a)))]);
    const eligible: PeerSubnet[] = [];
    for (const p of others) {
      const how = reach.get(p.address);
      // A peer whose address is this host's own shares this kernel (test clusters): nothing to route.
      if (!IPV4.test(p.address) || how === 'local') continue;
      if (how === undefined)
        out.unreachable.push({ node: p.node, address: p.address, why: 'no route to it' });
      else if (inp.backend === 'vxlan') {
        // A peer that has not published its VTEP runs no VXLAN device yet.
        if (p.vtepMac) eligible.push(p);
      } else if (how === 'gateway')
        out.unreachable.push({
          node: p.node,
          address: p.address,
          why: 'it is behind a router (host-gw needs the nodes on one link: use network.backend vxlan)',
        });
      else eligible.push(p);
    }
    let hasDevice = await deviceExists(this.vxlanDev);
    if (inp.backend === 'vxlan') {
      if (!inp.subnet) return { ...out, waiting: "this node's pod subnet is not known yet" };
      if (eligible.length > 0 || hasDevice) {
        out.changes += await ensureVxlan({
          name: this.vxlanDev,
          mac: vtepMac(this.cluster, this.node),
          local: inp.address,
          port: VXLAN_PORT,
          subnet: inp.subnet,
        });
        hasDevice = true;
      }
    } else if (hasDevice) {
      // The backend changed to host-gw: the device goes, and what was on it.
      await removeVxlan(this.vxlanDev);
      out.changes++;
      hasDevice = false;
    }
    const want = planRoutes(this.cluster, this.node, inp.backend, eligible, this.vxlanDev);
    const have = await readKernel(inp.podCidr, this.vxlanDev, hasDevice);
    const cmds = diffCommands({
      routes: diffEntries(want.routes, have.routes),
      neighbours: diffEntries(want.neighbours, have.neighbours),
      fdb: diffEntries(want.fdb, have.fdb),
    });
    out.changes += cmds.ip.length + cmds.bridge.length;
    await applyCommands(cmds);
    return out;
  }
}

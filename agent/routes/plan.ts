// Routes between nodes' pod subnets, planned (pure): from the node records' addresses and the recorded
// subnets to the routes, neighbours and forwarding entries this node wants, and the difference to what
// the kernel has. The agent applies it (agent/routes/applier.ts).
//
//   host-gw (flannel's): each peer's pod subnet via the peer's address (nodes on one link).
//   vxlan (flannel's vxlan backend): a VXLAN device per node whose address is its subnet's network
//   address (/32); each peer's subnet via the peer's VTEP address, on-link over that device; a neighbour
//   entry gives that address the peer's VTEP MAC, a forwarding-database entry sends that MAC to the
//   peer's node address. A node's VTEP MAC is derived from cluster and node names (locally administered);
//   each node publishes its own (`network/vteps/<node>`) once its device is made, and a peer's published
//   one is used when given.
import { createHash } from 'node:crypto';
import { addressAt } from '../net/cidr.ts';

export type Backend = 'host-gw' | 'vxlan';

export interface PeerSubnet {
  node: string;
  /** The node's address (nodes[].address): where its packets go. */
  address: string;
  /** Its pod subnet (network/subnets/<node>). */
  subnet: string;
  /** vxlan: the VTEP MAC it published (network/vteps/<node>); derived from cluster and node when absent. */
  vtepMac?: string;
}

export interface Route {
  dst: string;
  via: string;
  /** Only for vxlan: on-link over the VXLAN device. */
  dev?: string;
}
export interface Neighbour {
  ip: string;
  mac: string;
  dev: string;
}
export interface FdbEntry {
  mac: string;
  dst: string;
  dev: string;
}

export interface RoutePlan {
  routes: Route[];
  neighbours: Neighbour[];
  fdb: FdbEntry[];
}

/** A node's VTEP MAC: locally administered, unicast, from sha256(cluster/node). */
export function vtepMac(cluster: string, node: string): string {
  const h = createHash('sha256').update(`${cluster}/${node}`).digest();
  const bytes = [(h[0]! & 0xfc) | 0x02, h[1]!, h[2]!, h[3]!, h[4]!, h[5]!];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** What this node wants for its peers (itself and peers without a subnet or address left out). */
export function planRoutes(
  cluster: string,
  self: string,
  backend: Backend,
  peers: readonly PeerSubnet[],
  vxlanDev: string,
): RoutePlan {
  const plan: RoutePlan = { routes: [], neighbours: [], fdb: [] };
  const others = peers
    .filter((p) => p.node !== self && p.address && p.subnet)
    .sort((a, b) => a.node.localeCompare(b.node));
  for (const p of others) {
    if (backend === 'host-gw') {
      plan.routes.push({ dst: p.subnet, via: p.address });
      continue;
    }
    const vtep = addressAt(p.subnet, 0);
    const mac = p.vtepMac ?? vtepMac(cluster, p.node);
    plan.routes.push({ dst: p.subnet, via: vtep, dev: vxlanDev });
    plan.neighbours.push({ ip: vtep, mac, dev: vxlanDev });
    plan.fdb.push({ mac, dst: p.address, dev: vxlanDev });
  }
  return plan;
}

export interface PlanDiff<T> {
  add: T[];
  remove: T[];
}

/** What to add and remove so `have` becomes `want` (entries compared whole; a changed one is removed
 * and added). Entries in both are left alone: an agent restart that wants the same changes nothing. */
export function diffEntries<T>(want: readonly T[], have: readonly T[]): PlanDiff<T> {
  const key = (e: T) => JSON.stringify(e, Object.keys(e as object).sort());
  const wantKeys = new Set(want.map(key));
  const haveKeys = new Set(have.map(key));
  return {
    add: want.filter((e) => !haveKeys.has(key(e))),
    remove: have.filter((e) => !wantKeys.has(key(e))),
  };
}

// The node's VXLAN device (network.backend vxlan): `nkx<8 hex>` (agent/podnet/names.ts), VNI 1, the
// node's address as its local end on the link that holds it, UDP port 8472 (Linux's and flannel's), no learning
// (peers' MACs come from fdb entries the agent writes), MTU of that link less 50 (VXLAN's outer
// headers), its MAC derived from cluster and node, its address the node subnet's first (network)
// address as a /32 (flannel's layout). Read before written: a device as wanted is left alone; one whose
// VNI, port or local address differ is made again (the kernel cannot change those in place).
import { addressAt } from '../net/cidr.ts';
import { ipBatch, ipJson } from '../podnet/kernel.ts';

export const VXLAN_VNI = 1;
/** The VXLAN UDP port on every node (Linux's default, flannel's): open between nodes. */
export const VXLAN_PORT = 8472;
/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) headers. */
export const VXLAN_OVERHEAD = 50;

export interface VxlanDevice {
  name: string;
  mac: string;
  /** This node's address (nodes[].address): the tunnel's local end. */
  local: string;
  port: number;
  /** This node's pod subnet: the device's address is its first address. */
  subnet: string;
}

interface LinkDetails {
  ifname: string;
  mtu: number;
  address?: string;
  flags?: string[];
  linkinfo?: {
    info_kind?: string;
    info_data?: { id?: number; local?: string; port?: number; learning?: boolean };
  };
}
interface AddrInfo {
  ifname: string;
  mtu?: number;
  addr_info?: Array<{ family: string; local: string; prefixlen: number }>;
}

export const deviceExists = async (name: string) =>
  (await ipJson<unknown[]>(['link', 'show', 'dev', name])) !== null;

/** The link that holds `address`, and its MTU. */
export async function underlayOf(address: string): Promise<{ ifname: string; mtu: number } | undefined> {
  const all = (await ipJson<AddrInfo[]>(['-4', 'addr', 'show'])) ?? [];
  const link = all.find((l) => l.addr_info?.some((a) => a.local === address));
  return link ? { ifname: link.ifname, mtu: link.mtu ?? 1500 } : undefined;
}

/** The pods' MTU with vxlan: the MTU of the link that holds the node's address, less the overlay's
 * headers; undefined when the address is on none of the node's links (a test cluster on loopback). */
export async function podMtu(address: string): Promise<number | undefined> {
  const under = await underlayOf(address);
  return under ? under.mtu - VXLAN_OVERHEAD : undefined;
}

/** The device as wanted; returns the number of changes made (0: it was). Throws when this node's
 * address is on none of its links. */
export async function ensureVxlan(want: VxlanDevice): Promise<number> {
  const under = await underlayOf(want.local);
  if (!under)
    throw new Error(
      `vxlan: this node's address ${want.local} is on none of its links (nodes[].address must be one of the host's own)`,
    );
  const mtu = under.mtu - VXLAN_OVERHEAD;
  const vtep = addressAt(want.subnet, 0);
  const lines: string[] = [];
  let link = (await ipJson<LinkDetails[]>(['-d', 'link', 'show', 'dev', want.name]))?.[0];
  const info = link?.linkinfo?.info_data;
  if (
    link &&
    (link.linkinfo?.info_kind !== 'vxlan' ||
      info?.id !== VXLAN_VNI ||
      info.local !== want.local ||
      info.port !== want.port ||
      info.learning !== false)
  ) {
    lines.push(`link del ${want.name}`);
    link = undefined;
  }
  if (!link)
    lines.push(
      `link add ${want.name} address ${want.mac} mtu ${mtu} type vxlan id ${VXLAN_VNI} local ${want.local} dev ${under.ifname} dstport ${want.port} nolearning`,
    );
  else {
    if (link.address !== want.mac) lines.push(`link set ${want.name} address ${want.mac}`);
    if (link.mtu !== mtu) lines.push(`link set ${want.name} mtu ${mtu}`);
  }
  const addrs = link
    ? ((await ipJson<AddrInfo[]>(['-4', 'addr', 'show', 'dev', want.name]))?.[0]?.addr_info ?? [])
    : [];
  if (!addrs.some((a) => a.local === vtep && a.prefixlen === 32))
    lines.push(`addr add ${vtep}/32 dev ${want.name}`);
  for (const a of addrs)
    if (a.local !== vtep || a.prefixlen !== 32)
      lines.push(`addr del ${a.local}/${a.prefixlen} dev ${want.name}`);
  if (!link?.flags?.includes('UP')) lines.push(`link set ${want.name} up`);
  if (lines.length > 0) await ipBatch(lines);
  return lines.length;
}

/** The device gone (with the routes, neighbours and fdb entries on it); nothing when it is not there. */
export async function removeVxlan(name: string): Promise<boolean> {
  if (!(await deviceExists(name))) return false;
  await ipBatch([`link del ${name}`]);
  return true;
}

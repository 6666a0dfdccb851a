// A pod subnet another interface of this host already uses: a bridge left by another cluster on the same
// range (or a LAN numbered inside it) takes the pods' packets by its own route, and the pods on this
// node cannot be reached, with nothing said. The agent refuses to wire pods there and says why.
import { cidrContains } from '../net/cidr.ts';

/** What `ip -4 -j addr show` lists per interface. */
export interface InterfaceAddresses {
  ifname: string;
  addr_info?: Array<{ local: string; prefixlen: number }>;
}

/** `<address>/<prefix> on <interface>` of the first address inside `subnet` on an interface that is not
 * one of `ours` (the node's gateway device, and its VXLAN device, which holds the subnet's first address
 * as its VTEP); undefined when none is. */
export function subnetClash(
  interfaces: readonly InterfaceAddresses[],
  subnet: string,
  ours: readonly string[],
): string | undefined {
  for (const i of interfaces) {
    if (ours.includes(i.ifname)) continue;
    for (const a of i.addr_info ?? [])
      if (cidrContains(subnet, a.local)) return `${a.local}/${a.prefixlen} on ${i.ifname}`;
  }
  return undefined;
}

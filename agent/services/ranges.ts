// The ranges Services take their addresses and ports from: network.serviceCidr and network.nodePortRange
// of the cluster config stored in etcd (the documented defaults when the config leaves them out, or when no
// config is stored, as in tests that apply objects alone).
import type { Etcd3 } from 'etcd3';
import { DOCUMENTED_DEFAULTS } from '../config/defaults.ts';
import { validateConfigText } from '../config/validate.ts';
import { type Cidr, cidrSize, parseCidr } from '../net/cidr.ts';
import { readConfig } from '../store/config-store.ts';
import { keys } from '../store/keys.ts';

export interface ServiceRanges {
  serviceCidr: Cidr;
  /** As written in the config, for messages. */
  serviceCidrText: string;
  nodePorts: { first: number; last: number };
  nodePortRangeText: string;
}

export function serviceRanges(serviceCidr: string, nodePortRange: string): ServiceRanges {
  const [first, last] = nodePortRange.split('-').map(Number) as [number, number];
  return {
    serviceCidr: parseCidr(serviceCidr),
    serviceCidrText: serviceCidr,
    nodePorts: { first, last },
    nodePortRangeText: nodePortRange,
  };
}

export const DEFAULT_SERVICE_RANGES = serviceRanges(
  DOCUMENTED_DEFAULTS['network.serviceCidr'],
  DOCUMENTED_DEFAULTS['network.nodePortRange'],
);

/** The ranges of the stored config, and the config key's mod revision (0: none stored) so a transaction
 * can hold only while the config is the one read. */
export async function readServiceRanges(
  etcd: Etcd3,
  cluster: string,
): Promise<{ ranges: ServiceRanges; read: { key: string; mod: number } }> {
  const stored = await readConfig(etcd, cluster);
  const read = { key: keys.config(cluster), mod: stored ? Number(stored.modRevision) : 0 };
  const net = stored ? validateConfigText(stored.text, 'stored config').config.network : undefined;
  const ranges = net ? serviceRanges(net.serviceCidr, net.nodePortRange) : DEFAULT_SERVICE_RANGES;
  return { ranges, read };
}

/** Addresses a Service may get: the CIDR without its network and broadcast addresses (as k8s' allocator;
 * a /31 or /32 has none to spare). */
export function usableIndexes(c: Cidr): { first: number; count: number } {
  const size = cidrSize(c);
  return size <= 2 ? { first: 0, count: size } : { first: 1, count: size - 2 };
}

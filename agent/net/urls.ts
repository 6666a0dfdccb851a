// URLs to this cluster's hosts and services, from the addresses in the cluster config.
import type { ClusterConfig, NodeConfig } from '../config/schema.ts';

/** An address as the host of a URL: IPv6 in brackets. */
export function hostForUrl(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** The head API of a node with the head role (undefined for any other node): HTTPS when the config has
 * `tls` (the head serves only that then). */
export function headApiUrl(config: ClusterConfig, node: NodeConfig): string | undefined {
  const scheme = config.tls ? 'https' : 'http';
  return node.roles.includes('head')
    ? `${scheme}://${hostForUrl(node.address)}:${config.head.port}`
    : undefined;
}

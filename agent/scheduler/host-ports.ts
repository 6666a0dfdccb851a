// Feasibility: the pod's host ports are free on the node (Kubernetes' NodePorts filter). A host port is
// (hostIP, protocol, port): protocol TCP and hostIP 0.0.0.0 unless said; 0.0.0.0 overlaps every address,
// any other address overlaps itself and 0.0.0.0.
//
// Which ports are host ports: those of a pod on the node's network (every containerPort, as k8s takes
// hostPort = containerPort for `hostNetwork: true`), else only the `hostPort`s. Without a pod network
// (no `network` section in the cluster config) every pod is on the node's network.
import type { ContainerPort } from '../objects/types.ts';
import type { Checker } from './types.ts';

export const PORTS_REASON = "node(s) didn't have free ports for the requested pod ports";

const ANY_IP = '0.0.0.0';

export interface HostPort {
  hostIP: string;
  protocol: 'TCP' | 'UDP';
  port: number;
}

/** The parts of a pod spec that hold ports (with the k8s fields nokube does not accept yet). */
export interface PortsSpec {
  hostNetwork?: boolean;
  containers?: ReadonlyArray<{ ports?: ReadonlyArray<ContainerPort & { hostIP?: string }> }>;
}

/** The host ports a pod takes, in container and port order. `podNetwork`: the cluster has a pod network
 * (pods without hostNetwork have their own network namespace). */
export function hostPortsOf(spec: PortsSpec, podNetwork = false): HostPort[] {
  const onHostNetwork = !podNetwork || spec.hostNetwork === true;
  const out: HostPort[] = [];
  for (const c of spec.containers ?? [])
    for (const p of c.ports ?? []) {
      const port = onHostNetwork ? p.containerPort : p.hostPort;
      if (port) out.push({ hostIP: p.hostIP || ANY_IP, protocol: p.protocol ?? 'TCP', port });
    }
  return out;
}

export const describeHostPort = (p: HostPort) =>
  `${p.hostIP === ANY_IP ? '' : `${p.hostIP}:`}${p.port}/${p.protocol}`;

/** The host ports taken on one node: per `port/protocol`, the addresses holding it. */
export class HostPortSet {
  private readonly held = new Map<string, Set<string>>();

  add(p: HostPort): void {
    const key = `${p.port}/${p.protocol}`;
    const ips = this.held.get(key) ?? new Set<string>();
    this.held.set(key, ips);
    ips.add(p.hostIP);
  }

  overlaps(p: HostPort): boolean {
    const ips = this.held.get(`${p.port}/${p.protocol}`);
    if (!ips) return false;
    return p.hostIP === ANY_IP ? ips.size > 0 : ips.has(ANY_IP) || ips.has(p.hostIP);
  }
}

export const hasFreePorts: Checker = (node, pod, load) => {
  const held = load.ports.get(node.name);
  if (!held) return null;
  return hostPortsOf(pod.spec, load.podNetwork).some((p) => held.overlaps(p)) ? PORTS_REASON : null;
};

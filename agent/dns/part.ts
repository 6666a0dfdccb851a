// DNS wired into the pods part (agent/pods/part.ts) on a node with a pod network: the node resolver on the
// node's pod gateway once its device is up, and the pods' resolv.conf files.
import { podNetworkOf } from '../config/schema.ts';
import type { AgentContext } from '../context.ts';
import { addressAt } from '../net/cidr.ts';
import type { PodNetwork } from '../podnet/pod-network.ts';
import type { NodeSubnet } from '../podnet/subnet.ts';
import { NodeDns } from './node-dns.ts';

export type { NodeDns } from './node-dns.ts';

export function nodeDns(ctx: AgentContext, podNetwork: PodNetwork, subnet: NodeSubnet): NodeDns {
  const network = podNetworkOf(ctx.config())!;
  return new NodeDns({
    etcd: ctx.etcd,
    cluster: ctx.cluster,
    workspace: ctx.self().workspace,
    network,
    recorder: ctx.recorder,
    metrics: ctx.metrics,
    log: ctx.log.child({ part: 'dns' }),
    gateway: () => {
      const cidr = subnet.get();
      return cidr ? addressAt(cidr, 1) : undefined;
    },
    bridgeUp: () => podNetwork.start(),
  });
}

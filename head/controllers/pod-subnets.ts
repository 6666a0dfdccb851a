// The leader frees the pod subnets (agent/podnet/subnet.ts) of nodes gone for good: not in the config's
// nodes[] any more and without a node record. Each delete is one transaction under the leader's fence,
// only while the subnet key is as read and the node record absent; the block's owner key and the node's
// VTEP record (agent/routes) go with it.
import type { ClusterConfig } from '../../agent/config/schema.ts';
import type { Logger } from '../../agent/log/logger.ts';
import type { SubnetRecord } from '../../agent/podnet/subnet.ts';
import { absent, guardedTxn } from '../../agent/store/guard.ts';
import { keyLeaf, keys } from '../../agent/store/keys.ts';
import type { Edge } from './actions.ts';

/** Returns the nodes whose subnets were freed. */
export async function freeRemovedSubnets(
  edge: Pick<Edge, 'etcd' | 'cluster' | 'guard'>,
  config: ClusterConfig,
  log: Logger,
): Promise<string[]> {
  const { etcd, cluster, guard } = edge;
  const listed = new Set(config.nodes.map((n) => n.name));
  const { kvs } = await etcd.getAll().prefix(keys.networkSubnetsPrefix(cluster)).exec();
  const freed: string[] = [];
  for (const kv of kvs) {
    const key = kv.key.toString('utf8');
    const node = keyLeaf(key);
    if (listed.has(node)) continue;
    const { cidr } = JSON.parse(kv.value.toString('utf8')) as SubnetRecord;
    const res = await guardedTxn(etcd, [...guard, absent(keys.node(cluster, node))], {
      key,
      target: 'Mod',
      op: '==',
      value: kv.mod_revision,
    })
      .then(
        etcd.delete().key(key),
        etcd.delete().key(keys.networkSubnetOwner(cluster, cidr)),
        etcd.delete().key(keys.networkVtep(cluster, node)),
      )
      .commit();
    if (res.succeeded) {
      freed.push(node);
      log.info({ node, cidr }, 'node removed from the config: its pod subnet is freed');
    }
  }
  return freed;
}

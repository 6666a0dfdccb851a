// What the pod network left in the host's kernel for one node, removed: its gateway device and its nftables
// table (the pods' veths went with their sandboxes), its Services table (agent/services/proxy), its
// VXLAN device and, given podCidr, its routes to the peers' subnets (agent/routes). For `nokube down`,
// test clusters and a node that `new-or-update` removes (the `network-teardown` op on that host); an
// agent never removes them itself (a restart must change nothing).

import { removeNodeRoutes } from '../routes/teardown.ts';
import { tableName as servicesTable } from '../services/nft/plan.ts';
import { removeTable } from '../services/proxy/nft.ts';
import { ipBatch, ipJson, nftApply, nftText } from './kernel.ts';
import { bridgeName, tableName } from './names.ts';

export async function removeNodeNetwork(cluster: string, node: string, podCidr?: string): Promise<void> {
  const bridge = bridgeName(cluster, node);
  const table = tableName(cluster, node);
  if (await ipJson(['link', 'show', 'dev', bridge])) await ipBatch([`link del ${bridge}`]);
  if (await nftText(['list', 'table', 'ip', table])) await nftApply(`delete table ip ${table}\n`);
  await removeTable(servicesTable(cluster, node));
  await removeNodeRoutes(cluster, node, podCidr);
}

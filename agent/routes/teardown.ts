// What the routes part left in the host's kernel for one node, removed: its VXLAN device (with the
// routes, neighbours and fdb entries on it) and, given the pod CIDR, its host-gw routes (protocol
// ROUTE_PROTO inside it). For `nokube down` and test clusters (agent/podnet/teardown.ts); an agent never
// removes them itself (a restart must change nothing).
import { vxlanName } from '../podnet/names.ts';
import { applyCommands, diffCommands, readKernel } from './kernel.ts';
import { removeVxlan } from './vxlan.ts';

export async function removeNodeRoutes(cluster: string, node: string, podCidr?: string): Promise<void> {
  const dev = vxlanName(cluster, node);
  await removeVxlan(dev);
  if (!podCidr) return;
  const have = await readKernel(podCidr, dev, false);
  const none = { add: [], remove: [] };
  await applyCommands(
    diffCommands({ routes: { add: [], remove: have.routes }, neighbours: none, fdb: none }),
  );
}

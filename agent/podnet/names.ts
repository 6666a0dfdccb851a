// Names of what the pod network puts in the host's kernel, unique per cluster and node (test clusters
// share one network namespace): interface names fit IFNAMSIZ (15 characters).
import { createHash } from 'node:crypto';

const short = (text: string, n: number) => createHash('sha256').update(text).digest('hex').slice(0, n);

/** The node's pod gateway device (a bridge without ports: agent/podnet/pod-network.ts): `nkb` + 8 hex
 * of cluster/node. */
export const bridgeName = (cluster: string, node: string) => `nkb${short(`${cluster}/${node}`, 8)}`;

/** The node's VXLAN device (network.backend vxlan, agent/routes): `nkx` + 8 hex of cluster/node. */
export const vxlanName = (cluster: string, node: string) => `nkx${short(`${cluster}/${node}`, 8)}`;

/** The node's nftables table (family ip): masquerade of pods' outbound traffic and host ports. */
export const tableName = (cluster: string, node: string) => `nokube_pods_${short(`${cluster}/${node}`, 8)}`;

/** A pod's veth on the host (`nkv` + 11 hex of its uid), and its peer's name until it is moved into the
 * pod's namespace and renamed eth0. */
export const vethName = (podUid: string) => `nkv${short(podUid, 11)}`;
export const vethPeerName = (podUid: string) => `nkp${short(podUid, 11)}`;

/** The MAC of a pod's veth on the host (locally administered, from its uid): the pod's neighbour entry
 * for its gateway names it (agent/podnet/pod-network.ts) before the link exists. */
export const vethMac = (podUid: string) => `02:${short(`mac/${podUid}`, 10).match(/../g)!.join(':')}`;

// Draining a node before its agent is stopped for good (a node removed from the config): the drain key
// makes the kubecontroller treat it as gone for placement (its controllers' pods are replaced on other
// nodes, DaemonSet pods removed); bare pods bound to it are deleted here, gracefully (`kubectl drain --force`). Done
// when no pod object is bound to it and its agent runs no pod actor any more (alive records), i.e. its
// containers are stopped. Then, after the agent is stopped, its lease is revoked (the record goes at once,
// not after the TTL) and the drain key deleted, so a node of that name may join again later.
import type { Etcd3 } from 'etcd3';
import { deletePod } from '../../../agent/objects/pod-deletion.ts';
import { getObject, listObjects, refOf, type Stored } from '../../../agent/objects/store.ts';
import type { Pod } from '../../../agent/objects/types.ts';
import type { AliveValue } from '../../../agent/store/alive.ts';
import { keys } from '../../../agent/store/keys.ts';
import type { NodeRecord } from '../../../agent/store/node-registry.ts';

export interface DrainProgress {
  pods: number;
  actors: number;
}

async function left(etcd: Etcd3, cluster: string, node: string): Promise<DrainProgress> {
  const [pods, alive] = await Promise.all([
    listObjects(etcd, cluster, 'Pod'),
    etcd.getAll().prefix(keys.alivePrefix(cluster)).strings(),
  ]);
  const bound = pods.filter((p) => p.object.spec.nodeName === node);
  const actors = Object.entries(alive).filter(([key, v]) => {
    // Cluster-level actors (the kubecontroller of a leading head) move by election, not by drain.
    if (key.startsWith(`${keys.alivePrefix(cluster)}_cluster/`)) return false;
    return (JSON.parse(v) as AliveValue).node === node;
  });
  return { pods: bound.length, actors: actors.length };
}

export async function drainNode(
  etcd: Etcd3,
  cluster: string,
  node: string,
  by: string,
  timeoutMs: number,
): Promise<void> {
  await etcd.put(keys.drain(cluster, node)).value(JSON.stringify({ since: new Date().toISOString(), by }));
  const bare = (await listObjects(etcd, cluster, 'Pod')).filter(
    (p) => p.object.spec.nodeName === node && !p.object.metadata.ownerReferences?.some((o) => o.controller),
  );
  // Gracefully (Terminating until the node's agent has stopped them), as `kubectl drain` evicts; a pod
  // changed meanwhile is read again.
  for (const p of bare) {
    let pod: Stored<Pod> | null = p;
    for (let i = 0; pod && i < 3; i++) {
      if ((await deletePod(etcd, cluster, pod)) !== 'conflict') break;
      pod = await getObject(etcd, cluster, { ...refOf(pod.object), kind: 'Pod' });
    }
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await left(etcd, cluster, node);
    if (now.pods === 0 && now.actors === 0) return;
    if (Date.now() > deadline)
      throw new Error(
        `${now.pods} pods still bound to it and ${now.actors} pod actors still alive after ${timeoutMs} ms`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** After its agent stopped: its lease revoked (record and alive records gone now), the drain key deleted.
 * Only the record read goes: one an agent of that name wrote meanwhile (started again) is its own. */
export async function forgetNode(etcd: Etcd3, cluster: string, node: string): Promise<void> {
  const key = keys.node(cluster, node);
  const kv = (await etcd.get(key).exec()).kvs[0];
  if (kv) {
    const { lease } = JSON.parse(kv.value.toString('utf8')) as NodeRecord;
    if (lease) await etcd.leaseClient.leaseRevoke({ ID: lease }).catch(() => undefined);
    await etcd.if(key, 'Mod', '==', kv.mod_revision).then(etcd.delete().key(key)).commit();
  }
  await etcd.delete().key(keys.drain(cluster, node));
}

// (g) The cluster has converged: every node registered, every pod Running on its node with exactly its
// containers running there, no other running container of the cluster, every Deployment at its replicas.
// Judged on the last etcd and Docker samples taken after `since`.
import { type History, okDocker, okEtcd, ownedBy } from '../history.ts';
import type { Violation } from './violation.ts';

export function converged(h: History, since = h.start): Violation[] {
  const etcd = okEtcd(h).at(-1);
  const docker = okDocker(h).at(-1);
  if (!etcd || !docker || etcd.t < since || docker.t < since)
    return [{ check: 'converged', t: h.end, what: 'no fresh sample of etcd and Docker' }];
  const out: string[] = [];
  for (const n of h.nodes) if (etcd.nodes[n] === undefined) out.push(`node ${n} has no record`);
  const running = docker.containers.filter((c) => c.running);
  const pods = new Map(etcd.pods.map((p) => [p.uid, p]));
  for (const p of etcd.pods) {
    const id = `pod ${p.namespace}/${p.name}`;
    if (p.phase !== 'Running')
      out.push(`${id} is ${p.phase ?? 'without status'}${p.reason ? ` (${p.reason})` : ''}`);
    for (const name of p.containers) {
      const n = running.filter((c) => c.podUid === p.uid && c.container === name && c.node === p.node).length;
      if (n !== 1) out.push(`${id}: ${n} running containers ${name} on ${p.node ?? 'no node'}`);
    }
  }
  for (const c of running) {
    const p = pods.get(c.podUid);
    if (!p) out.push(`container ${c.namespace}/${c.pod}/${c.container} on ${c.node} runs without its pod`);
    else if (p.node !== c.node)
      out.push(`container ${c.namespace}/${c.pod}/${c.container} runs on ${c.node}, its pod is on ${p.node}`);
  }
  for (const d of etcd.deployments) {
    const n = etcd.pods.filter((p) => ownedBy(p, d)).length;
    if (n !== d.replicas) out.push(`deployment ${d.namespace}/${d.name} has ${n} pods, wants ${d.replicas}`);
  }
  return out.map((what) => ({ check: 'converged', t: Math.max(etcd.t, docker.t), what }));
}

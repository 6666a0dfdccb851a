// (f) Alive records: every running pod container has its records (alive/<ns>/<owner path> for the
// container and for its pod, agent/pods/pod-actor.ts), and the controllers theirs.
import { at, type History, okDocker, okEtcd } from '../history.ts';
import type { Violation } from './violation.ts';

/** The alive keys (below alive/) a running container implies: its own and its pod's. */
const recordsOf = (c: { namespace: string; ownerPath: string }) => [
  `${c.namespace}/${c.ownerPath}`,
  `${c.namespace}/${c.ownerPath.slice(0, c.ownerPath.lastIndexOf('/container-'))}`,
];

/** In the last samples: each running container of a pod in etcd, each Deployment, the kubecontroller. */
export function aliveAtEnd(h: History): Violation[] {
  const etcd = okEtcd(h).at(-1);
  const docker = okDocker(h).at(-1);
  if (!etcd || !docker) return [{ check: 'alive-at-end', t: h.end, what: 'no sample of etcd and Docker' }];
  const have = new Set(etcd.alive);
  const uids = new Set(etcd.pods.map((p) => p.uid));
  const want = new Set(['_cluster/kubecontroller']);
  for (const d of etcd.deployments) want.add(`${d.namespace}/deployment-${d.name}`);
  for (const c of docker.containers)
    if (c.running && uids.has(c.podUid)) for (const k of recordsOf(c)) want.add(k);
  return [...want]
    .filter((k) => !have.has(k))
    .map((k) => ({ check: 'alive-at-end', t: etcd.t, what: `alive/${k} missing` }));
}

/** The containers on `nodes` that run in every Docker sample keep their records in every etcd sample. */
export function aliveThroughout(h: History, nodes: string[]): Violation[] {
  const samples = okDocker(h);
  const first = samples[0];
  if (!first) return [];
  let steady = first.containers.filter((c) => c.running && nodes.includes(c.node));
  for (const s of samples) {
    const ids = new Set(s.containers.filter((c) => c.running).map((c) => c.id));
    steady = steady.filter((c) => ids.has(c.id));
  }
  const out: Violation[] = [];
  const reported = new Set<string>();
  for (const s of okEtcd(h)) {
    const have = new Set(s.alive);
    for (const c of steady)
      for (const k of recordsOf(c))
        if (!have.has(k) && !reported.has(k)) {
          reported.add(k);
          out.push({ check: 'alive-throughout', t: s.t, what: `alive/${k} (running on ${c.node}) missing` });
        }
  }
  return out;
}

/** From `after + withinMs` on (a node back from a fault), every etcd sample has the records of the
 * containers running on `node` in the Docker sample before it. */
export function aliveAgainAfter(h: History, node: string, after: number, withinMs: number): Violation[] {
  const docker = okDocker(h);
  for (const s of okEtcd(h)) {
    if (s.t <= after + withinMs) continue;
    const running = docker.findLast((d) => d.t <= s.t)?.containers ?? [];
    const uids = new Set(s.pods.map((p) => p.uid));
    const have = new Set(s.alive);
    for (const c of running)
      if (c.running && c.node === node && uids.has(c.podUid))
        for (const k of recordsOf(c))
          if (!have.has(k))
            return [
              {
                check: 'alive-again',
                t: s.t,
                what: `alive/${k} (running on ${node}) still missing ${((s.t - after) / 1000).toFixed(1)} s after ${at(h, after)} (bound ${withinMs / 1000} s)`,
              },
            ];
  }
  return [];
}

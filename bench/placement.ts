// bench/placement: the scheduler alone (agent/scheduler), as the leader runs it: P pods placed one after
// another on N nodes, each counted before the next (a Deployment's reconcile). The fleet: a quarter of the
// nodes big (8 cores, 16 GiB), the rest small (2 cores, 4 GiB), in 7 zones, one node in 10 a `special`
// pool (tainted NoSchedule). The pods: 5 Deployments of P/5 replicas with requests (100m-500m, 128Mi-
// 512Mi: about 60 % of the fleet's CPU), one of them tolerating the pool, one with a
// topologySpreadConstraint over zones (maxSkew 1, DoNotSchedule: its domains are counted over every node
// for each pod), one binpacked.
//   node bench/placement.ts [--nodes 1000] [--pods 10000] [--rounds 3]
// Prints per round the placements per second (all pods, and without the spread Deployment), pods left
// Pending, and the medians. Anchors (the issue's): Nomad C1M ~3,750 placements/s for a whole cluster;
// kube-scheduler ~300 pods/s at 30,000 KWOK nodes.
import { parseArgs } from 'node:util';
import { addLoad, emptyLoad, schedule } from '../agent/scheduler/stack.ts';
import type { Algorithm, PodToPlace, SchedNode } from '../agent/scheduler/types.ts';
import { median } from './stats.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    pods: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
  },
});
const N = Number(values.nodes);
const P = Number(values.pods);
const ROUNDS = Number(values.rounds);
const Gi = 2 ** 30;

const nodes: SchedNode[] = Array.from({ length: N }, (_, i) => {
  const big = i % 4 === 0;
  const special = i % 10 === 5;
  return {
    name: `node-${String(i).padStart(5, '0')}`,
    labels: {
      zone: `z${i % 7}`,
      'kubernetes.io/hostname': `node-${i}`,
      ...(special ? { pool: 'special' } : {}),
    },
    capacity: { containerRuntime: { name: 'docker', version: '28', apiVersion: '1.41' } },
    allocatable: { cpuMilli: big ? 8000 : 2000, memoryBytes: (big ? 16 : 4) * Gi, pods: 110 },
    ...(special ? { taints: [{ key: 'pool', value: 'special', effect: 'NoSchedule' as const }] } : {}),
  };
});

const deployment = (
  i: number,
  cpu: string,
  memory: string,
  extra: Partial<PodToPlace['spec']> = {},
  algorithm: Algorithm = 'spread',
): PodToPlace => ({
  spec: {
    containers: [{ name: 'c', image: 'x', resources: { requests: { cpu, memory } } }],
    ...extra,
  } as PodToPlace['spec'],
  ownerUid: `d${i}`,
  namespace: 'default',
  labels: { app: `d${i}` },
  algorithm,
});
const kinds: PodToPlace[] = [
  deployment(0, '100m', '128Mi'),
  deployment(1, '250m', '256Mi', { tolerations: [{ key: 'pool', operator: 'Exists' }] }),
  deployment(2, '500m', '512Mi', {}, 'binpack'),
  deployment(3, '100m', '256Mi'),
  deployment(4, '100m', '128Mi', {
    topologySpreadConstraints: [
      {
        maxSkew: 1,
        topologyKey: 'zone',
        whenUnsatisfiable: 'DoNotSchedule',
        labelSelector: { matchLabels: { app: 'd4' } },
      },
    ],
  }),
];

function round(skipSpread: boolean): { perSecond: number; pending: number; placed: number } {
  const load = emptyLoad();
  let pending = 0;
  let placed = 0;
  const each = Math.floor(P / kinds.length);
  const started = performance.now();
  for (const pod of skipSpread ? kinds.slice(0, 4) : kinds)
    for (let i = 0; i < each; i++) {
      const r = schedule(pod, nodes, load);
      if (r.node === null) pending++;
      else {
        addLoad(load, r.node, pod);
        placed++;
      }
    }
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: (placed + pending) / seconds, pending, placed };
}

const all: number[] = [];
const noSpread: number[] = [];
console.log(`bench/placement: ${P} pods (5 Deployments) on ${N} nodes, ${ROUNDS} rounds`);
for (let r = 1; r <= ROUNDS; r++) {
  const a = round(false);
  const b = round(true);
  all.push(a.perSecond);
  noSpread.push(b.perSecond);
  console.log(
    `round ${r}: ${Math.round(a.perSecond)} placements/s (${a.placed} placed, ${a.pending} pending); without the spread Deployment ${Math.round(b.perSecond)}/s`,
  );
}
console.log(
  `median: ${Math.round(median(all))} placements/s; without topology spread ${Math.round(median(noSpread))}/s`,
);

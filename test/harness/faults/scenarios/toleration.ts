// A Deployment whose pods say they must move fast: tolerating `node.kubernetes.io/unreachable` for 3 s
// only (Kubernetes' taint-based eviction). With f3 frozen 25 s its pods on f3 are replaced elsewhere once
// f3's etcd lease (10 s) has expired and the 3 s have passed; `web` (default toleration) stays. When f3
// resumes it stops its copies of the replaced pods and keeps the rest running, same container ids
// (Nomad's disconnect.reconcile).
import { eventually } from '../../cluster.ts';
import { deploymentManifest } from '../../manifests.ts';
import { notUnknownAfter } from '../check/pods.ts';
import type { Violation } from '../check/violation.ts';
import { type History, noteAt, okEtcd, ownedBy } from '../history.ts';
import type { Scenario } from '../run.ts';
import { LOOP, SOLO, WORKER } from '../workload.ts';
import { nothingMoved } from './common.ts';
import { UNKNOWN_BOUND_MS } from './freeze.ts';

const FAST = { namespace: 'default', name: 'fast', replicas: 3 };
const TOLERATION_SECONDS = 3;

const fastManifest = (image: string) =>
  deploymentManifest(FAST.name, image, LOOP, FAST.replicas, [
    'tolerations:',
    `  - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: ${TOLERATION_SECONDS}}`,
  ]);

/** While f3 was frozen, some sample shows `fast` at its replicas, all Running, none on f3. */
function replacedWhileFrozen(h: History): Violation[] {
  const from = noteAt(h, 'freeze', WORKER)!;
  const to = noteAt(h, 'thaw', WORKER)!;
  const ok = okEtcd(h).some((s) => {
    if (s.t < from || s.t > to) return false;
    const pods = s.pods.filter((p) => ownedBy(p, FAST));
    return pods.length === FAST.replicas && pods.every((p) => p.phase === 'Running' && p.node !== WORKER);
  });
  return ok
    ? []
    : [
        {
          check: 'replaced',
          t: to,
          what: `fast's pods on ${WORKER} were not replaced elsewhere while ${WORKER} was frozen`,
        },
      ];
}

export const tolerationScenario: Scenario = {
  name: 'worker f3 frozen 25 s, a Deployment tolerating unreachable for 3 s moves, the other stays',
  objects: [`deployments/${FAST.namespace}/${FAST.name}`],
  async prepare(fc) {
    await fc.cli(['apply', '-f', '-'], fastManifest(fc.image));
  },
  async cleanup(fc) {
    await fc.cli(['delete', 'deployment', FAST.name, '--ignore-not-found']);
    await eventually(
      async () =>
        (
          await fc.docker.listContainers({
            all: true,
            filters: { label: [`nokube.cluster=${fc.c.name}`, `nokube.pod`] },
          })
        ).filter((c) => c.Labels['nokube.owner-path']?.startsWith(`deployment-${FAST.name}/`)).length === 0,
      30_000,
      `the containers of ${FAST.name} removed`,
    );
  },
  async run(ctx) {
    await ctx.faults.freeze(WORKER);
    await ctx.lasting(25_000);
    ctx.faults.thaw(WORKER);
  },
  check(h) {
    const fastOnWorker = (p: { owner?: string; node?: string }) =>
      p.owner === `Deployment/${FAST.name}` && p.node === WORKER;
    return [
      ...nothingMoved(h, {
        deleted: fastOnWorker,
        created: (p) => p.owner === `Deployment/${FAST.name}` && p.node !== WORKER,
        containers: (c) => c.node === WORKER && c.ownerPath.startsWith(`deployment-${FAST.name}/`),
      }),
      ...replacedWhileFrozen(h),
      ...notUnknownAfter(h, SOLO, noteAt(h, 'thaw', WORKER)!, UNKNOWN_BOUND_MS),
    ];
  },
};

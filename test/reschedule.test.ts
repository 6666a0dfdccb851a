// Reschedule on repeated failure (issue 16 item 6): the Deployment's reconcile replaces a pod whose
// container restarted `nokube.io/reschedule-after-restarts` times on its node, on another node, and
// penalises the node (status.reschedulePenalties, honoured by the scheduler's ranking); a pod with no
// other node to go to stays, and the Deployment's condition says why. Pure reconciles on a small world,
// then the leader against a real etcd with simulated agents, its penalty kept across a leader change.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { listEvents } from '../agent/objects/events.ts';
import {
  RESCHEDULE_AFTER_RESTARTS,
  RESCHEDULE_PENALTY,
  RESCHEDULE_PENALTY_DEFAULT,
} from '../agent/objects/reschedule-policy.ts';
import {
  createObjects,
  getObject,
  newMeta,
  objectKey,
  refOf,
  type Stored,
  toStoredJson,
  writeStatus,
} from '../agent/objects/store.ts';
import type { Deployment, Pod, PodStatus } from '../agent/objects/types.ts';
import { type ManifestError, validateManifestText } from '../agent/objects/validate.ts';
import { addLoad, emptyLoad, schedule } from '../agent/scheduler/stack.ts';
import { NO_GUARD } from '../agent/store/guard.ts';
import type { NodeRecord } from '../agent/store/node-registry.ts';
import type { Action } from '../head/controllers/actions.ts';
import { reconcileDeployment } from '../head/controllers/deployment.ts';
import { Leader } from '../head/controllers/kubecontroller.ts';
import { podFromTemplate, templateHash } from '../head/controllers/pod-template.ts';
import { eventually, REPO } from './harness/cluster.ts';
import { type FakeAgents, isLive } from './harness/fake-agents.ts';
import { leaderContext } from './harness/leader-context.ts';
import { RolloutWorld } from './harness/rollout-world.ts';

const docker = { name: 'docker' as const, version: '28', apiVersion: '1.41' };
const node = (name: string, labels: Record<string, string> = {}): NodeRecord =>
  ({ name, labels, capacity: { containerRuntime: docker } }) as unknown as NodeRecord;
const NOW = '2026-01-01T00:10:00.000Z';
const HOUR_LATER = '2026-01-01T01:10:00.000Z';

const annotated = (
  annotations: Record<string, string>,
  spec: Partial<Deployment['spec']> = {},
): Deployment => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name: 'web',
    namespace: 'default',
    uid: 'uid-web',
    resourceVersion: '1',
    generation: 1,
    creationTimestamp: '2026-01-01T00:00:00Z',
    annotations,
  },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: { containers: [{ name: 'main', image: 'busybox' }] },
    },
    ...spec,
  },
});

const running = (restartCount: number): PodStatus => ({
  phase: 'Running',
  conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' }],
  containerStatuses: [
    { name: 'main', image: 'busybox', ready: true, restartCount, state: { running: { startedAt: NOW } } },
  ],
});

/** The Deployment's pods, one per node given, with the restart counts given. */
function world(d: Deployment, nodes: NodeRecord[], placed: Array<[string, number]>) {
  const hash = templateHash(d.spec.template);
  const pods: Array<Stored<Pod>> = placed.map(([n, restarts], i) => ({
    object: {
      ...podFromTemplate(d, `web-${hash}-p${i}`, { 'pod-template-hash': hash }, n),
      status: running(restarts),
    },
    createRevision: String(10 + i),
    modRevision: String(10 + i),
  }));
  return { nodes, pods, drained: new Set<string>() };
}
const reconcile = (d: Deployment, w: ReturnType<typeof world>, now = NOW): Action[] =>
  reconcileDeployment({ object: d, createRevision: '1', modRevision: '1' }, w, {
    now,
    suffix: () => 'new01',
  });
const creates = (actions: Action[]) =>
  actions.flatMap((a) => (a.type === 'create' ? [a.pod.spec.nodeName ?? '-'] : []));
const deletes = (actions: Action[]) =>
  actions.flatMap((a) => (a.type === 'delete' ? [`${a.pod.object.spec.nodeName}: ${a.why}`] : []));
const events = (actions: Action[]) =>
  actions.flatMap((a) => (a.type === 'event' ? [`${a.reason}: ${a.message}`] : []));
const statusOf = (actions: Action[]) =>
  actions.find((a): a is Extract<Action, { type: 'status' }> => a.type === 'status')?.status as
    | Deployment['status']
    | undefined;

const POLICY = { 'nokube.io/reschedule-after-restarts': '2' };
const NODES = [node('n1'), node('n2'), node('n3')];

describe('reschedule: the pure reconcile', () => {
  test('2 restarts on n1 (allowed 2): the status stores the penalty first, the pod goes, its replacement lands elsewhere, a Rescheduled event names node and count', () => {
    const d = annotated(POLICY);
    const actions = reconcile(
      d,
      world(d, NODES, [
        ['n1', 2],
        ['n2', 0],
        ['n3', 1],
      ]),
    );
    assert.equal(actions[0]?.type, 'status', 'the penalty is written before the pod goes');
    assert.deepEqual(statusOf(actions)?.reschedulePenalties, [{ node: 'n1', until: HOUR_LATER }]);
    assert.deepEqual(deletes(actions), [
      'n1: pod web-' + templateHash(d.spec.template) + '-p0 restarted 2 times on node n1: rescheduled',
    ]);
    const placed = creates(actions);
    assert.equal(placed.length, 1);
    assert.notEqual(placed[0], 'n1', 'n1 has the fewest pods left, yet is penalised');
    const said = events(actions).filter((e) => e.startsWith('Rescheduled'));
    assert.equal(said.length, 1);
    assert.match(
      said[0]!,
      /restarted 2 times on node n1 \(2 allowed\): replaced on another node; n1 penalised for this Deployment until 2026-01-01T01:10:00.000Z/,
    );
    assert.ok(
      actions.some((a) => a.type === 'wake' && a.at === Date.parse(HOUR_LATER)),
      'woken when it ends',
    );
  });

  test('fewer restarts than allowed, or no annotation: nothing moves', () => {
    const d = annotated(POLICY);
    const settled = reconcile(
      d,
      world(d, NODES, [
        ['n1', 1],
        ['n2', 0],
        ['n3', 1],
      ]),
    );
    assert.deepEqual(deletes(settled), []);
    const plain = annotated({});
    assert.deepEqual(
      deletes(
        reconcile(
          plain,
          world(plain, NODES, [
            ['n1', 50],
            ['n2', 0],
            ['n3', 0],
          ]),
        ),
      ),
      [],
    );
  });

  test('a penalty of 90s from nokube.io/reschedule-penalty; the pod of a 1-replica Deployment moves too', () => {
    const d = annotated({ ...POLICY, 'nokube.io/reschedule-penalty': '1m30s' }, { replicas: 1 });
    const actions = reconcile(d, world(d, NODES, [['n2', 3]]));
    assert.deepEqual(statusOf(actions)?.reschedulePenalties, [
      { node: 'n2', until: '2026-01-01T00:11:30.000Z' },
    ]);
    assert.deepEqual(creates(actions), ['n1']);
  });

  test('no other node fits (nodeSelector): the pod stays, Rescheduling=False NoOtherNodeFits says why, once', () => {
    const nodes = [node('n1', { disk: 'ssd' }), node('n2')];
    const d = annotated(POLICY, { replicas: 1 });
    d.spec.template.spec.nodeSelector = { disk: 'ssd' };
    const w = world(d, nodes, [['n1', 4]]);
    const actions = reconcile(d, w);
    assert.deepEqual(deletes(actions), []);
    assert.deepEqual(creates(actions), []);
    const cond = statusOf(actions)?.conditions?.find((c) => c.type === 'Rescheduling');
    assert.equal(cond?.status, 'False');
    assert.equal(cond?.reason, 'NoOtherNodeFits');
    const why = `pod ${w.pods[0]!.object.metadata.name} restarted 4 times on node n1; it stays, no other node fits: of the other nodes, 0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector (nodeSelector disk=ssd)`;
    assert.equal(cond?.message, why);
    assert.deepEqual(
      events(actions).filter((e) => e.includes('Reschedul')),
      [`FailedReschedule: ${why}`],
    );
    // Settled: the same reason again writes no status and says nothing (the revision record aside: this
    // world has none).
    d.status = statusOf(actions);
    const again = reconcile(d, w);
    assert.equal(statusOf(again), undefined);
    assert.deepEqual(
      events(again).filter((e) => e.includes('Reschedul')),
      [],
    );
    // The pod stops failing (a new restart count is a new reason; 1 is below the limit): the condition goes.
    w.pods[0]!.object.status = running(1);
    const cleared = statusOf(reconcile(d, w));
    assert.equal(
      cleared?.conditions?.find((c) => c.type === 'Rescheduling'),
      undefined,
    );
  });

  test('every other node penalised: the pod stays and the message names them', () => {
    const d = annotated(POLICY, { replicas: 1 });
    d.status = { reschedulePenalties: [{ node: 'n2', until: HOUR_LATER }] };
    const w = world(d, [node('n1'), node('n2')], [['n1', 2]]);
    const actions = reconcile(d, w);
    assert.deepEqual(deletes(actions), []);
    assert.match(
      statusOf(actions)?.conditions?.find((c) => c.type === 'Rescheduling')?.message ?? '',
      /no other node fits: no other node that is not penalised \(n2\)$/,
    );
  });

  test('a running penalty steers new pods away (a scale-up spreads over the others); once it has ended, it is dropped and the node used again', () => {
    const d = annotated(POLICY, { replicas: 5 });
    d.status = { reschedulePenalties: [{ node: 'n1', until: HOUR_LATER }] };
    const w = world(d, NODES, [
      ['n2', 0],
      ['n3', 0],
    ]);
    assert.deepEqual(creates(reconcile(d, w)).sort(), ['n2', 'n2', 'n3']);
    const later = reconcile(d, w, '2026-01-01T01:10:00.001Z');
    assert.equal(statusOf(later)?.reschedulePenalties, undefined);
    assert.ok(creates(later).includes('n1'));
  });

  test('the penalty ranks, it does not filter: a node penalised is still used when no other fits', () => {
    const d = annotated(POLICY, { replicas: 2 });
    d.status = { reschedulePenalties: [{ node: 'n1', until: HOUR_LATER }] };
    assert.deepEqual(creates(reconcile(d, world(d, [node('n1')], []))), ['n1', 'n1']);
  });

  test('scheduler: a penalised node ranks after every other that fits, whatever their load', () => {
    const load = emptyLoad();
    addLoad(load, 'n2', { spec: {}, ownerUid: 'web' }, 5);
    addLoad(load, 'n3', { spec: {}, ownerUid: 'web' }, 3);
    assert.deepEqual(schedule({ spec: {}, ownerUid: 'web', avoid: new Set(['n1']) }, NODES, load), {
      node: 'n3',
    });
    assert.deepEqual(schedule({ spec: {}, ownerUid: 'web', avoid: new Set(['n1', 'n3']) }, NODES, load), {
      node: 'n2',
    });
    assert.deepEqual(schedule({ spec: {}, ownerUid: 'web' }, NODES, load), { node: 'n1' });
  });

  test('the annotations are checked on apply: one clear error per problem', () => {
    const manifest = (annotations: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
${annotations}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: main, image: busybox}]}
`;
    const problems = (a: string) => {
      try {
        validateManifestText(manifest(a), 'web.yaml');
        return [];
      } catch (err) {
        return (err as ManifestError).problems.map((p) => p.replace(/^web\.yaml:\d+: /, ''));
      }
    };
    assert.deepEqual(
      problems('    nokube.io/reschedule-after-restarts: "3"\n    nokube.io/reschedule-penalty: 10m'),
      [],
    );
    assert.deepEqual(problems('    nokube.io/reschedule-after-restarts: "0"'), [
      'document 1 (Deployment web): metadata.annotations.nokube.io/reschedule-after-restarts: "0": expected a whole number of restarts, 1 or more',
    ]);
    assert.deepEqual(problems('    nokube.io/reschedule-penalty: soon'), [
      'document 1 (Deployment web): metadata.annotations.nokube.io/reschedule-penalty: needs nokube.io/reschedule-after-restarts (nothing is rescheduled without it)',
      'document 1 (Deployment web): metadata.annotations.nokube.io/reschedule-penalty: "soon": expected a duration above 0 such as 30s, 10m, 1h',
    ]);
  });
});

test('the README documents the annotations and the default penalty the code uses', async () => {
  const readme = await readFile(join(REPO, 'README.md'), 'utf8');
  for (const name of [RESCHEDULE_AFTER_RESTARTS, RESCHEDULE_PENALTY]) assert.ok(readme.includes(name), name);
  assert.ok(readme.includes(`**default \`${RESCHEDULE_PENALTY_DEFAULT}\`**`), 'the default penalty');
});

describe('reschedule: the leader against real etcd, simulated agents', { timeout: 60_000 }, () => {
  const cluster = 'resched';
  const FAKE = ['f1', 'f2', 'f3'];
  const world = new RolloutWorld(cluster, FAKE);
  let etcd: Etcd3;
  let leader: Leader;
  let agents: FakeAgents;
  before(async () => {
    await world.start();
    ({ etcd, leader, agents } = world);
  });
  after(() => world.stop());

  const ref = { kind: 'Deployment' as const, namespace: 'default', name: 'web' };
  const read = async () => (await getObject(etcd, cluster, ref))!.object as Deployment;
  const mine = () =>
    [...agents.pods.values()].filter(
      (p) => p.object.metadata.ownerReferences?.[0]?.name === 'web' && isLive(p),
    );
  const byNode = () =>
    mine()
      .map((p) => p.object.spec.nodeName)
      .sort()
      .join(',');

  test('a pod restarted twice on its node is replaced on another, the node penalised in the status; a new leader keeps avoiding it', async () => {
    const d = annotated({ ...POLICY, 'nokube.io/reschedule-penalty': '10m' });
    await createObjects(etcd, cluster, [newMeta({ ...d, metadata: { ...d.metadata, uid: '' } })]);
    await eventually(
      () => mine().length === 3 && mine().every((p) => p.status?.phase === 'Running'),
      10_000,
      '3 pods running',
    );
    assert.equal(byNode(), 'f1,f2,f3');
    const failing = mine().find((p) => p.object.spec.nodeName === 'f1')!;
    // The agent of f1 reports the container's second restart.
    await writeStatus(etcd, cluster, refOf(failing.object), failing.createRevision, running(2));
    await eventually(
      () =>
        !agents.pods.has(`default/${failing.object.metadata.name}`) &&
        mine().length === 3 &&
        byNode() !== 'f1,f2,f3' &&
        byNode(),
      10_000,
      'the failing pod replaced',
    );
    assert.ok(!byNode().includes('f1'), `nothing left on f1: ${byNode()}`);
    const penalties = (await read()).status?.reschedulePenalties;
    assert.deepEqual(
      penalties?.map((p) => p.node),
      ['f1'],
    );
    const until = Date.parse(penalties![0]!.until);
    assert.ok(Math.abs(until - Date.now() - 600_000) < 30_000, 'ten minutes');
    const said = (await listEvents(etcd, cluster, ref)).map((e) => `${e.type} ${e.reason}: ${e.message}`);
    assert.ok(
      said.some((e) =>
        e.startsWith(`Warning Rescheduled: Pod ${failing.object.metadata.name} restarted 2 times on node f1`),
      ),
      said.join('\n'),
    );

    // Another leader (the penalty is read from etcd, not kept in memory): a scale-up keeps off f1.
    leader.stop();
    leader = new Leader(leaderContext(etcd, cluster, 'h2'), NO_GUARD);
    world.leader = leader; // stopped with the world
    leader.start();
    const s = (await getObject(etcd, cluster, ref, false))!;
    s.object.spec.replicas = 6;
    s.object.metadata.generation++;
    const key = objectKey(cluster, refOf(s.object));
    await etcd
      .if(key, 'Mod', '==', Number(s.modRevision))
      .then(etcd.put(key).value(toStoredJson(s.object)))
      .commit();
    await eventually(() => mine().length === 6, 10_000, '6 pods');
    assert.equal(byNode(), 'f2,f2,f2,f3,f3,f3');
  });
});

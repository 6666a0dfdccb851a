// Placement by resources, taints and ranking, table-driven: requests and allocatable, the resource
// filter's reasons, taints and tolerations (k8s' matching rules), a cordon, binpack vs spread, preferred
// node affinity, the bounded sample, NoExecute eviction and what a drain evicts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { preempts, priorityOf } from '../agent/objects/priority-classes.ts';
import type { Stored } from '../agent/objects/store.ts';
import type {
  Container,
  Pod,
  PodDisruptionBudget,
  PriorityClass,
  Toleration,
} from '../agent/objects/types.ts';
import { allocatableOf, podResources } from '../agent/scheduler/resources.ts';
import { addLoad, emptyLoad, feasibleNodes, sampleLimit, schedule } from '../agent/scheduler/stack.ts';
import { type Taint, tolerates } from '../agent/scheduler/taints.ts';
import type { Algorithm, PodToPlace, SchedNode } from '../agent/scheduler/types.ts';
import { planDrain } from '../head/cli/commands/node-cordon.ts';
import { planPreemption } from '../head/controllers/preemption.ts';
import { planTaintEviction, taintKey } from '../head/controllers/taint-eviction.ts';
import type { World } from '../head/controllers/world.ts';

const docker = { name: 'docker' as const, version: '28', apiVersion: '1.41' };
const Gi = 2 ** 30;
const Mi = 2 ** 20;
const node = (name: string, cpu: number, memGi: number, extra: Partial<SchedNode> = {}): SchedNode => ({
  name,
  labels: {},
  capacity: { containerRuntime: docker },
  allocatable: { cpuMilli: cpu * 1000, memoryBytes: memGi * Gi, pods: 110 },
  ...extra,
});
const container = (requests?: Record<string, string>, limits?: Record<string, string>): Container => ({
  name: 'c',
  image: 'x',
  resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) },
});
const pod = (cpu?: string, memory?: string, extra: Partial<PodToPlace> = {}): PodToPlace => ({
  spec: {
    containers: [
      container(cpu || memory ? { ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}) } : undefined),
    ],
  },
  ...extra,
});

describe('scheduler: requests and allocatable', () => {
  test('a pod requests the sum of its containers; a limit stands in for a missing request', () => {
    const r = podResources({
      containers: [
        container({ cpu: '250m' }, { cpu: '1', memory: '256Mi' }),
        container(undefined, { cpu: '500m' }),
      ],
    });
    assert.deepEqual(r.requests, { cpuMilli: 750, memoryBytes: 256 * Mi });
    assert.deepEqual(r.limits, { cpuMilli: 1500, memoryBytes: 256 * Mi });
    // Ranking's non-zero defaults only where nothing is asked: the second container's memory.
    assert.deepEqual(r.nonzero, { cpuMilli: 750, memoryBytes: 456 * Mi });
  });

  test('no requests at all: 0 to fit, 100m and 200Mi per container to rank', () => {
    const r = podResources({ containers: [container(), container()] });
    assert.deepEqual(r.requests, { cpuMilli: 0, memoryBytes: 0 });
    assert.deepEqual(r.nonzero, { cpuMilli: 200, memoryBytes: 400 * Mi });
  });

  test('allocatable is capacity less what is reserved', () => {
    assert.deepEqual(allocatableOf({ cpus: 4, memoryBytes: 8 * Gi }, { cpu: '500m', memory: '1Gi' }, 110), {
      cpuMilli: 3500,
      memoryBytes: 7 * Gi,
      pods: 110,
    });
    assert.deepEqual(allocatableOf({ cpus: 1, memoryBytes: Gi }, { cpu: '2' }, 20), {
      cpuMilli: 0,
      memoryBytes: Gi,
      pods: 20,
    });
  });

  const fits: Array<{
    what: string;
    pod: PodToPlace;
    load?: Array<[PodToPlace, number]>;
    n?: SchedNode;
    want: string | null;
  }> = [
    { what: 'fits an empty node', pod: pod('1', '1Gi'), want: null },
    { what: 'exactly what is left fits', pod: pod('2', '4Gi'), load: [[pod('2', '4Gi'), 1]], want: null },
    { what: 'cpu over', pod: pod('2500m'), load: [[pod('2', '1Gi'), 1]], want: 'Insufficient cpu' },
    {
      what: 'memory over',
      pod: pod('100m', '5Gi'),
      load: [[pod('1', '4Gi'), 1]],
      want: 'Insufficient memory',
    },
    { what: 'both over: cpu is said', pod: pod('5', '9Gi'), want: 'Insufficient cpu' },
    {
      what: 'pods over',
      pod: pod(),
      load: [[pod(), 3]],
      n: node('n1', 4, 8, { allocatable: { cpuMilli: 4000, memoryBytes: 8 * Gi, pods: 3 } }),
      want: 'Too many pods',
    },
    { what: 'no requests fits a full node', pod: pod(), load: [[pod('4', '8Gi'), 1]], want: null },
    {
      what: 'a node without allocatable (old agent) is not checked',
      pod: pod('64'),
      n: { name: 'n1', labels: {} },
      want: null,
    },
  ];
  for (const row of fits)
    test(`resources: ${row.what}`, () => {
      const n = row.n ?? node('n1', 4, 8);
      const load = emptyLoad();
      for (const [p, count] of row.load ?? []) addLoad(load, n.name, p, count);
      const placed = schedule(row.pod, [n], load);
      assert.equal(
        placed.node === null ? placed.message.replace(/^0\/1 nodes are available: 1 (.*)\.$/, '$1') : null,
        row.want,
      );
    });
});

describe('scheduler: taints and tolerations', () => {
  const t = (key: string, effect: Taint['effect'], value?: string): Taint => ({
    key,
    effect,
    ...(value === undefined ? {} : { value }),
  });
  const rows: Array<{ toleration: Toleration; taint: Taint; want: boolean }> = [
    {
      toleration: { key: 'pool', value: 'batch', effect: 'NoSchedule' },
      taint: t('pool', 'NoSchedule', 'batch'),
      want: true,
    },
    {
      toleration: { key: 'pool', operator: 'Equal', value: 'batch' },
      taint: t('pool', 'NoExecute', 'batch'),
      want: true,
    },
    { toleration: { key: 'pool', value: 'warm' }, taint: t('pool', 'NoSchedule', 'batch'), want: false },
    { toleration: { key: 'pool', operator: 'Exists' }, taint: t('pool', 'NoSchedule', 'batch'), want: true },
    {
      toleration: { key: 'pool', operator: 'Exists', effect: 'NoExecute' },
      taint: t('pool', 'NoSchedule', 'x'),
      want: false,
    },
    { toleration: { operator: 'Exists' }, taint: t('anything', 'NoExecute', 'x'), want: true },
    { toleration: { key: 'gpu' }, taint: t('gpu', 'NoSchedule'), want: true },
    { toleration: { key: 'gpu' }, taint: t('pool', 'NoSchedule'), want: false },
  ];
  for (const r of rows)
    test(`${JSON.stringify(r.toleration)} ${r.want ? 'tolerates' : 'does not tolerate'} ${JSON.stringify(r.taint)}`, () =>
      assert.equal(tolerates(r.toleration, r.taint), r.want));

  const special = node('s1', 4, 8, { taints: [t('pool', 'NoSchedule', 'special')] });
  const prefer = node('p1', 4, 8, { taints: [t('pool', 'PreferNoSchedule', 'batch')] });
  const plain = node('w1', 4, 8);

  test('NoSchedule keeps off pods that do not tolerate it, in k8s words', () => {
    assert.deepEqual(schedule(pod(), [special], emptyLoad()), {
      node: null,
      message: '0/1 nodes are available: 1 node(s) had untolerated taint {pool: special}.',
    });
    const tolerant = pod(undefined, undefined, {
      spec: { containers: [container()], tolerations: [{ key: 'pool', operator: 'Exists' }] },
    });
    assert.equal(schedule(tolerant, [special], emptyLoad()).node, 's1');
  });

  test('PreferNoSchedule: placed elsewhere when it can, there when it must', () => {
    assert.equal(schedule(pod(), [prefer, plain], emptyLoad()).node, 'w1');
    assert.equal(schedule(pod(), [prefer, special], emptyLoad()).node, 'p1');
  });

  test('a cordoned node takes no new pod unless the pod tolerates node.kubernetes.io/unschedulable', () => {
    const cordoned = node('c1', 4, 8, { unschedulable: true });
    assert.deepEqual(schedule(pod(), [cordoned], emptyLoad()), {
      node: null,
      message: '0/1 nodes are available: 1 node(s) were unschedulable.',
    });
    const tolerant = {
      spec: {
        containers: [container()],
        tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists' as const }],
      },
    };
    assert.equal(schedule(tolerant, [cordoned], emptyLoad()).node, 'c1');
    // A DaemonSet's eligibility ignores a cordon, not a taint.
    assert.deepEqual(
      feasibleNodes(pod(), [cordoned, special]).map((n) => n.name),
      ['c1'],
    );
  });

  test("the message counts one reason per node, most first, in the issue's example", () => {
    const nodes: SchedNode[] = [];
    for (let i = 0; i < 600; i++) nodes.push(node(`m${i}`, 4, 1));
    for (let i = 0; i < 390; i++)
      nodes.push(node(`s${i}`, 4, 64, { taints: [t('pool', 'NoSchedule', 'special')] }));
    for (let i = 0; i < 10; i++) nodes.push(node(`l${i}`, 4, 64, { labels: { disk: 'hdd' } }));
    const big = { spec: { containers: [container({ memory: '2Gi' })], nodeSelector: { disk: 'hdd' } } };
    // The 600 small nodes have disk=hdd too: they fail on memory.
    for (const n of nodes.slice(0, 600)) n.labels = { disk: 'hdd' };
    for (const n of nodes.slice(990)) n.labels = { disk: 'ssd' };
    assert.deepEqual(schedule(big, nodes, emptyLoad()), {
      node: null,
      message:
        "0/1000 nodes are available: 600 Insufficient memory, 390 node(s) had untolerated taint {pool: special}, 10 node(s) didn't match Pod's node affinity/selector (nodeSelector disk=hdd).",
    });
  });
});

describe('scheduler: ranking', () => {
  // Three uneven nodes: 8, 4 and 2 cores (16, 8, 4 GiB). Six pods of 1 core / 2 GiB each, placed in turn.
  const uneven = [node('big', 8, 16), node('mid', 4, 8), node('small', 2, 4)];
  const placeSix = (algorithm: Algorithm) => {
    const load = emptyLoad();
    const out: string[] = [];
    for (let i = 0; i < 6; i++) {
      const p = pod('1', '2Gi', { ownerUid: 'web', algorithm });
      const placed = schedule(p, uneven, load);
      assert.ok(placed.node, placed.message);
      addLoad(load, placed.node, p);
      out.push(placed.node);
    }
    return out;
  };

  test('binpack fills the node that is fullest after the pod: the small one first, the big one kept whole', () => {
    assert.deepEqual(placeSix('binpack'), ['small', 'small', 'mid', 'mid', 'mid', 'mid']);
  });

  test('spread puts each pod where the most stays free, and keeps the replicas apart', () => {
    const placed = placeSix('spread');
    const count = (n: string) => placed.filter((p) => p === n).length;
    assert.deepEqual([count('big'), count('mid'), count('small')], [3, 2, 1]);
    assert.equal(placed[0], 'big');
  });

  test('preferred node affinity: the heavier preference wins over free resources', () => {
    const nodes = [
      node('a', 8, 16, { labels: { zone: 'a' } }),
      node('b', 2, 4, { labels: { zone: 'b', ssd: 'yes' } }),
    ];
    const p = (weights: [number, number]): PodToPlace => ({
      spec: {
        containers: [container()],
        affinity: {
          nodeAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              {
                weight: weights[0],
                preference: { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] },
              },
              { weight: weights[1], preference: { matchExpressions: [{ key: 'ssd', operator: 'Exists' }] } },
            ],
          },
        },
      },
    });
    assert.equal(schedule(p([1, 100]), nodes, emptyLoad()).node, 'b');
    assert.equal(schedule(p([100, 1]), nodes, emptyLoad()).node, 'a');
  });

  test('a node penalised for the controller comes after every other that fits', () => {
    const nodes = [node('a', 8, 16), node('b', 2, 4)];
    assert.equal(
      schedule(pod(undefined, undefined, { avoid: new Set(['a']) }), nodes, emptyLoad()).node,
      'b',
    );
    assert.equal(
      schedule(pod(undefined, undefined, { avoid: new Set(['a']) }), [nodes[0]!], emptyLoad()).node,
      'a',
    );
  });
});

describe('scheduler: the bounded sample', () => {
  const fleet = (n: number) =>
    Array.from({ length: n }, (_, i) => node(`n${String(i).padStart(4, '0')}`, 4, 8));

  test('limit: max(8, ceil(log2 n)); every node with a preferred affinity', () => {
    assert.equal(sampleLimit(pod(), 3), 8);
    assert.equal(sampleLimit(pod(), 1000), 10);
    assert.equal(sampleLimit(pod(), 100_000), 17);
    const preferring = {
      spec: {
        affinity: {
          nodeAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              { weight: 1, preference: { matchExpressions: [{ key: 'x', operator: 'Exists' as const }] } },
            ],
          },
        },
      },
    };
    assert.equal(sampleLimit(preferring, 1000), 1000);
  });

  test('spread: each placement looks at about 10 of 1,000 nodes, and the rotation walks them all', () => {
    const nodes = fleet(1000);
    const load = emptyLoad();
    const used = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const before = load.rotation.next;
      const p = pod('100m', '64Mi', { ownerUid: 'web' });
      const placed = schedule(p, nodes, load);
      assert.equal(
        (load.rotation.next - before + 1000) % 1000,
        10,
        'visited exactly the sample: every node fits',
      );
      addLoad(load, placed.node!, p);
      used.add(placed.node!);
    }
    assert.ok(used.size >= 900, `1,000 replicas on ${used.size} of 1,000 nodes`);
  });

  test('binpack: first fit, best of the sample: the first nodes fill before the next are used', () => {
    const nodes = fleet(1000);
    const load = emptyLoad();
    for (let i = 0; i < 40; i++) {
      const p = pod('1', '1Gi', { algorithm: 'binpack' });
      addLoad(load, schedule(p, nodes, load).node!, p);
    }
    // 4 cores each: 40 pods of 1 core fill exactly the first 10 nodes.
    assert.deepEqual(
      [...load.total.keys()].sort(),
      nodes.slice(0, 10).map((n) => n.name),
    );
  });

  test('nothing fits: every node was visited and counted', () => {
    const nodes = fleet(1000);
    const placed = schedule(pod('5'), nodes, emptyLoad());
    assert.equal(placed.message, '0/1000 nodes are available: 1000 Insufficient cpu.');
  });
});

describe('NoExecute taints evict', () => {
  const now = Date.parse('2026-01-01T00:10:00Z');
  const noExec: Taint = { key: 'maintenance', effect: 'NoExecute' };
  const stored = (
    name: string,
    tolerations?: Toleration[],
    extra: Partial<Pod['metadata']> = {},
  ): Stored<Pod> =>
    ({
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: 'default', uid: name, ...extra },
        spec: { containers: [container()], nodeName: 'n1', ...(tolerations ? { tolerations } : {}) },
        status: { phase: 'Running' },
      },
      modRevision: '1',
      createRevision: '1',
    }) as unknown as Stored<Pod>;
  const world = (pods: Array<Stored<Pod>>, seenAt: number): World => ({
    nodes: [{ ...node('n1', 4, 8), taints: [noExec] }] as unknown as World['nodes'],
    pods,
    drained: new Set(),
    taintsSince: new Map([[taintKey('n1', noExec), seenAt]]),
  });
  const summary = (w: World) =>
    planTaintEviction(w, now).map((a) =>
      a.type === 'delete'
        ? `delete ${a.pod.object.metadata.name}`
        : a.type === 'wake'
          ? `wake +${(a.at - now) / 1000}s`
          : a.type,
    );

  test('an untolerated NoExecute taint: evicted at once, with the event', () => {
    assert.deepEqual(summary(world([stored('a')], now)), ['delete a', 'event']);
  });
  test('tolerated for 60 s: a wake-up while it lasts, evicted after', () => {
    const tol = [
      {
        key: 'maintenance',
        operator: 'Exists' as const,
        effect: 'NoExecute' as const,
        tolerationSeconds: 60,
      },
    ];
    assert.deepEqual(summary(world([stored('a', tol)], now - 20_000)), ['wake +40s']);
    assert.deepEqual(summary(world([stored('a', tol)], now - 60_000)), ['delete a', 'event']);
  });
  test('tolerated without seconds: stays for ever; Terminating or finished pods are left alone', () => {
    const forever = [{ key: 'maintenance', operator: 'Exists' as const }];
    const terminating = stored('t', undefined, { deletionTimestamp: '2026-01-01T00:09:00Z' });
    const done = stored('d');
    done.object.status = { phase: 'Succeeded' };
    assert.deepEqual(summary(world([stored('a', forever), terminating, done], now)), []);
  });
});

describe('drain', () => {
  const p = (name: string, owner?: string, node = 'n1'): Pod =>
    ({
      metadata: {
        name,
        namespace: 'default',
        ...(owner
          ? {
              ownerReferences: [
                { kind: owner, name: 'x', uid: 'u', apiVersion: 'apps/v1', controller: true },
              ],
            }
          : {}),
      },
      spec: { containers: [], nodeName: node },
    }) as unknown as Pod;
  const pods = [
    p('web-1', 'ReplicaSet'),
    p('agent-n1', 'DaemonSet'),
    p('bare'),
    p('elsewhere', 'ReplicaSet', 'n2'),
  ];
  const names = (ps: Pod[]) => ps.map((x) => x.metadata.name);

  test('DaemonSet and bare pods are refusals without their flags; nothing evicted then', () => {
    const plan = planDrain(pods, 'n1', { ignoreDaemonsets: false, force: false });
    assert.deepEqual(plan.refusals, [
      'cannot delete Pods that declare no controller (use --force to override): default/bare',
      'cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): default/agent-n1',
    ]);
  });
  test('a pod with an emptyDir is a refusal without --delete-emptydir-data (its data goes); a finished one is not', () => {
    const scratch = p('cache-1', 'ReplicaSet');
    scratch.spec.volumes = [{ name: 'tmp', emptyDir: {} }];
    const done = p('job-1', 'Job');
    done.spec.volumes = [{ name: 'tmp', emptyDir: {} }];
    done.status = { phase: 'Succeeded' } as Pod['status'];
    const plan = planDrain([scratch, done], 'n1', { ignoreDaemonsets: false, force: false });
    assert.deepEqual(plan.refusals, [
      'cannot delete Pods with local storage (use --delete-emptydir-data to override): default/cache-1',
    ]);
    const ok = planDrain([scratch, done], 'n1', {
      ignoreDaemonsets: false,
      force: false,
      deleteEmptydirData: true,
    });
    assert.deepEqual([names(ok.evict), ok.refusals], [['cache-1', 'job-1'], []]);
  });
  test('with --ignore-daemonsets --force: the controller pod and the bare pod go, the DaemonSet pod stays', () => {
    const plan = planDrain(pods, 'n1', { ignoreDaemonsets: true, force: true });
    assert.deepEqual(
      [names(plan.evict), names(plan.ignored), plan.refusals],
      [['web-1', 'bare'], ['agent-n1'], []],
    );
  });
});

describe('scheduler: pod affinity and topology spread', () => {
  const zoned = [
    node('a1', 4, 8, { labels: { zone: 'a', 'kubernetes.io/hostname': 'a1' } }),
    node('a2', 4, 8, { labels: { zone: 'a', 'kubernetes.io/hostname': 'a2' } }),
    node('b1', 4, 8, { labels: { zone: 'b', 'kubernetes.io/hostname': 'b1' } }),
  ];
  const web = (spec: Partial<PodToPlace['spec']> = {}, labels = { app: 'web' }): PodToPlace => ({
    spec: { containers: [container()], ...spec },
    namespace: 'default',
    labels,
    ownerUid: 'web',
  });
  const place = (p: PodToPlace, count: number, load = emptyLoad()) => {
    const out: Array<string | null> = [];
    for (let i = 0; i < count; i++) {
      const placed = schedule(p, zoned, load);
      if (placed.node) addLoad(load, placed.node, p);
      out.push(placed.node ?? placed.message);
    }
    return out;
  };
  const term = (topologyKey: string, app = 'web') => ({
    labelSelector: { matchLabels: { app } },
    topologyKey,
  });

  test('required anti-affinity by hostname: one replica per node, the fourth Pending', () => {
    const p = web({
      affinity: {
        podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('kubernetes.io/hostname')] },
      },
    });
    const placed = place(p, 4);
    assert.deepEqual(new Set(placed.slice(0, 3)), new Set(['a1', 'a2', 'b1']));
    assert.equal(placed[3], "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.");
  });

  test("required affinity: next to a db's zone; none anywhere: Pending, unless the pod is the group's first", () => {
    const load = emptyLoad();
    const p = web({
      affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('zone', 'db')] } },
    });
    assert.equal(place(p, 1, load)[0], "0/3 nodes are available: 3 node(s) didn't match pod affinity rules.");
    addLoad(load, 'b1', web({}, { app: 'db' }));
    assert.deepEqual(place(p, 2, load), ['b1', 'b1']);
    const first = web({
      affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('zone')] } },
    });
    const group = place(first, 3);
    assert.equal(
      new Set(group.map((n) => zoned.find((z) => z.name === n)!.labels.zone)).size,
      1,
      group.join(),
    );
  });

  test("an existing pod's anti-affinity keeps matching pods out of its domain", () => {
    const load = emptyLoad();
    const guard = web(
      { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('zone')] } } },
      { app: 'guard' },
    );
    addLoad(load, 'a1', guard);
    assert.deepEqual(place(web(), 2, load), ['b1', 'b1']);
  });

  test('topologySpreadConstraints DoNotSchedule: zones kept within maxSkew 1; missing label is out', () => {
    const spread = web({
      topologySpreadConstraints: [
        {
          maxSkew: 1,
          topologyKey: 'zone',
          whenUnsatisfiable: 'DoNotSchedule',
          labelSelector: { matchLabels: { app: 'web' } },
        },
      ],
    });
    const placed = place(spread, 6);
    const perZone = (z: string) =>
      placed.filter((n) => zoned.find((x) => x.name === n)?.labels.zone === z).length;
    assert.deepEqual([perZone('a'), perZone('b')], [3, 3]);
    const load = emptyLoad();
    addLoad(load, 'b1', spread, 2);
    const onlyB = { ...spread, spec: { ...spread.spec, nodeSelector: { zone: 'b' } } };
    // Eligible domains follow the pod's own selector: only b, so b's 2 pods are the minimum: fits.
    assert.equal(schedule(onlyB, zoned, load).node, 'b1');
    const noLabel = [node('x', 4, 8)];
    assert.equal(
      schedule(spread, noLabel, emptyLoad()).message,
      "0/1 nodes are available: 1 node(s) didn't match pod topology spread constraints (missing required label).",
    );
  });

  test('ScheduleAnyway and preferred anti-affinity rank the emptier domain first', () => {
    const load = emptyLoad();
    addLoad(load, 'a1', web());
    const soft = web({
      topologySpreadConstraints: [
        {
          maxSkew: 1,
          topologyKey: 'zone',
          whenUnsatisfiable: 'ScheduleAnyway',
          labelSelector: { matchLabels: { app: 'web' } },
        },
      ],
    });
    assert.equal(schedule({ ...soft, ownerUid: undefined }, zoned, load).node, 'b1');
    const prefer = web({
      affinity: {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term('zone') }],
        },
      },
    });
    assert.equal(schedule({ ...prefer, ownerUid: undefined }, zoned, load).node, 'b1');
  });
});

describe('preemption', () => {
  const classes = [
    { kind: 'PriorityClass', metadata: { name: 'low' }, value: 10 },
    { kind: 'PriorityClass', metadata: { name: 'mid' }, value: 100 },
    { kind: 'PriorityClass', metadata: { name: 'high' }, value: 1000 },
    { kind: 'PriorityClass', metadata: { name: 'polite' }, value: 1000, preemptionPolicy: 'Never' },
  ] as unknown as PriorityClass[];
  const bound = (name: string, node: string, cls: string, cpu: string): Stored<Pod> =>
    ({
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: 'default', uid: name },
        spec: { containers: [container({ cpu })], nodeName: node, priorityClassName: cls },
        status: { phase: 'Running' },
      },
      modRevision: '1',
      createRevision: '1',
    }) as unknown as Stored<Pod>;
  const nodes = [node('n1', 2, 8), node('n2', 2, 8)];
  const want = (cls: string, cpu: string): PodToPlace => ({
    spec: { containers: [container({ cpu })], priorityClassName: cls },
  });
  const victims = (p: ReturnType<typeof planPreemption>) =>
    p && { node: p.node, victims: p.victims.map((v) => v.object.metadata.name).sort() };

  test('the node needing the fewest victims; pods put back highest priority first', () => {
    const pods = [
      bound('a1', 'n1', 'low', '500m'),
      bound('a2', 'n1', 'low', '500m'),
      bound('a3', 'n1', 'mid', '1'),
      bound('b1', 'n2', 'low', '1'),
      bound('b2', 'n2', 'low', '1'),
    ];
    // 1 core wanted: n1 frees it by a1 + a2 (two victims) or a3 (one, mid); n2 by one low pod (b1, put
    // back first as equals keep their order, stays: b2 goes).
    assert.deepEqual(victims(planPreemption(want('high', '1'), 1000, nodes, pods, classes, false)), {
      node: 'n2',
      victims: ['b2'],
    });
  });

  test('disruption budgets steer the victims: a pod whose budget has no disruption left is kept where another will do', () => {
    const guarded = (o: Stored<Pod>) => {
      o.object.metadata.labels = { app: 'guarded' };
      return o;
    };
    const budget = (allowed: number) =>
      ({
        kind: 'PodDisruptionBudget',
        metadata: { name: 'g', namespace: 'default' },
        spec: { minAvailable: 1, selector: { matchLabels: { app: 'guarded' } } },
        status: { disruptionsAllowed: allowed },
      }) as unknown as PodDisruptionBudget;
    /** The victims of a core wanted at priority 1000 among `pods` on `on`, with `budgets`. */
    const core = (on: SchedNode[], pods: Array<Stored<Pod>>, budgets?: PodDisruptionBudget[]) =>
      victims(planPreemption(want('high', '1'), 1000, on, pods, classes, false, budgets));
    // On one node: o1 and g1 (guarded), equal priority; either frees the core wanted. Equals keep their
    // order: without a budget o1 is put back first and g1 goes; a budget with no disruption left puts its
    // pod back first.
    const one = nodes.slice(0, 1);
    const both = () => [bound('o1', 'n1', 'low', '1'), guarded(bound('g1', 'n1', 'low', '1'))];
    assert.deepEqual(core(one, both()), { node: 'n1', victims: ['g1'] });
    assert.deepEqual(core(one, both(), [budget(0)]), { node: 'n1', victims: ['o1'] });
    // Across nodes: n1's only way is a guarded pod, n2's a plain one of higher priority: n2 wins.
    const across = [guarded(bound('g2', 'n1', 'low', '2')), bound('m2', 'n2', 'mid', '2')];
    assert.deepEqual(core(nodes, across, [budget(0)]), { node: 'n2', victims: ['m2'] });
    // With a disruption left, the guarded pod is no violation: the lower priority goes.
    assert.deepEqual(core(nodes, across, [budget(1)]), { node: 'n1', victims: ['g2'] });
    // Budgets steer, they do not forbid: the only room there is, taken.
    assert.deepEqual(core(one, [guarded(bound('g3', 'n1', 'low', '2'))], [budget(0)]), {
      node: 'n1',
      victims: ['g3'],
    });
  });

  test('never a pod of equal or higher priority; Terminating pods are not counted again', () => {
    const pods = [bound('h1', 'n1', 'high', '2'), bound('m1', 'n2', 'mid', '2')];
    assert.equal(planPreemption(want('mid', '1'), 100, nodes, pods, classes, false), undefined);
    const going = bound('l1', 'n2', 'low', '2');
    going.object.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    assert.equal(planPreemption(want('mid', '1'), 100, nodes.slice(1), [going], classes, false), undefined);
  });

  test('a pod too big even for an empty node preempts nothing', () => {
    const pods = [bound('l1', 'n1', 'low', '1'), bound('l2', 'n2', 'low', '1')];
    assert.equal(planPreemption(want('high', '3'), 1000, nodes, pods, classes, false), undefined);
  });

  test("a nominated pod's room is held against lower priority, not against itself or its betters", () => {
    const load = emptyLoad();
    addLoad(load, 'n1', want('low', '1500m'));
    load.nominated.set('n1', [
      { uid: 'urgent', priority: 1000, requests: { cpuMilli: 500, memoryBytes: 0 } },
    ]);
    const one = nodes.slice(0, 1);
    assert.equal(
      schedule({ ...want('mid', '500m'), priority: 100 }, one, load).message,
      '0/1 nodes are available: 1 Insufficient cpu.',
    );
    assert.equal(schedule({ ...want('high', '500m'), priority: 1000, uid: 'urgent' }, one, load).node, 'n1');
    assert.equal(schedule({ ...want('high', '500m'), priority: 2000 }, one, load).node, 'n1');
  });

  test('priorities from classes: the named one, else the global default, else 0; Never does not preempt', () => {
    const withDefault = [
      ...classes,
      { kind: 'PriorityClass', metadata: { name: 'd' }, value: 7, globalDefault: true },
    ] as unknown as PriorityClass[];
    assert.equal(priorityOf({ priorityClassName: 'mid' }, classes), 100);
    assert.equal(priorityOf({}, classes), 0);
    assert.equal(priorityOf({}, withDefault), 7);
    assert.equal(priorityOf({ priorityClassName: 'system-node-critical' }, classes), 2_000_001_000);
    assert.equal(preempts({ priorityClassName: 'polite' }, classes), false);
    assert.equal(preempts({ priorityClassName: 'high' }, classes), true);
  });
});

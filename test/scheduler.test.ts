// The placement pipeline, table-driven: feasibility rules, ranking order, the unschedulable message.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Stored } from '../agent/objects/store.ts';
import type { Affinity, Container, NodeSelectorRequirement, Pod } from '../agent/objects/types.ts';
import { matchesExpression } from '../agent/scheduler/node-affinity.ts';
import { addLoad, emptyLoad, feasibleNodes, schedule } from '../agent/scheduler/stack.ts';
import type { PodToPlace, SchedNode } from '../agent/scheduler/types.ts';
import { planSweep } from '../head/controllers/node-lifecycle.ts';
import { loadOf, type World } from '../head/controllers/world.ts';

const docker = { name: 'docker' as const, version: '28', apiVersion: '1.41' };
const node = (name: string, labels: Record<string, string> = {}, runtime: unknown = docker): SchedNode => ({
  name,
  labels,
  capacity: runtime === undefined ? {} : { containerRuntime: runtime as typeof docker | null },
});
const affinity = (...terms: NodeSelectorRequirement[][]): Affinity => ({
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: terms.map((matchExpressions) => ({ matchExpressions })),
    },
  },
});

describe('scheduler', () => {
  const nodes = [
    node('n1', { zone: 'a', app: 'web' }),
    node('n2', { zone: 'b', gpu: 'yes' }),
    node('n3', { zone: 'c' }),
  ];

  const feasibility: Array<{ what: string; pod: PodToPlace; nodes?: SchedNode[]; fit: string[] }> = [
    { what: 'no constraints', pod: { spec: {} }, fit: ['n1', 'n2', 'n3'] },
    { what: 'nodeSelector', pod: { spec: { nodeSelector: { zone: 'b' } } }, fit: ['n2'] },
    { what: 'nodeSelector, two labels', pod: { spec: { nodeSelector: { zone: 'b', gpu: 'no' } } }, fit: [] },
    {
      what: 'affinity In',
      pod: { spec: { affinity: affinity([{ key: 'zone', operator: 'In', values: ['a', 'c'] }]) } },
      fit: ['n1', 'n3'],
    },
    {
      what: 'affinity NotIn (absent label matches)',
      pod: { spec: { affinity: affinity([{ key: 'app', operator: 'NotIn', values: ['web'] }]) } },
      fit: ['n2', 'n3'],
    },
    {
      what: 'affinity Exists',
      pod: { spec: { affinity: affinity([{ key: 'gpu', operator: 'Exists' }]) } },
      fit: ['n2'],
    },
    {
      what: 'affinity DoesNotExist',
      pod: { spec: { affinity: affinity([{ key: 'gpu', operator: 'DoesNotExist' }]) } },
      fit: ['n1', 'n3'],
    },
    {
      what: 'expressions of a term are ANDed',
      pod: {
        spec: {
          affinity: affinity([
            { key: 'zone', operator: 'In', values: ['a', 'b'] },
            { key: 'gpu', operator: 'DoesNotExist' },
          ]),
        },
      },
      fit: ['n1'],
    },
    {
      what: 'terms are ORed',
      pod: {
        spec: {
          affinity: affinity(
            [{ key: 'gpu', operator: 'Exists' }],
            [{ key: 'zone', operator: 'In', values: ['c'] }],
          ),
        },
      },
      fit: ['n2', 'n3'],
    },
    {
      what: 'a term without expressions matches nothing',
      pod: { spec: { affinity: affinity([]) } },
      fit: [],
    },
    {
      what: 'affinity Gt / Lt compare integers; a label that is not one never matches',
      pod: {
        spec: {
          affinity: affinity([
            { key: 'cores', operator: 'Gt', values: ['4'] },
            { key: 'cores', operator: 'Lt', values: ['64'] },
          ]),
        },
      },
      nodes: [
        node('a', { cores: '4' }),
        node('b', { cores: '8' }),
        node('c', { cores: '128' }),
        node('d', { cores: 'many' }),
        node('e'),
      ],
      fit: ['b'],
    },
    {
      what: 'affinity Gt with negative and large integers',
      pod: { spec: { affinity: affinity([{ key: 'n', operator: 'Gt', values: ['-1'] }]) } },
      nodes: [node('a', { n: '-2' }), node('b', { n: '0' }), node('c', { n: '90071992547409930' })],
      fit: ['b', 'c'],
    },
    {
      what: 'selector and affinity both apply',
      pod: {
        spec: { nodeSelector: { zone: 'a' }, affinity: affinity([{ key: 'gpu', operator: 'Exists' }]) },
      },
      fit: [],
    },
    {
      what: 'no container runtime (null) is not feasible; undefined (older record) is',
      pod: { spec: {} },
      nodes: [node('a', {}, null), node('b', {}, undefined), node('c')],
      fit: ['b', 'c'],
    },
  ];
  for (const row of feasibility) {
    test(`feasibility: ${row.what}`, () => {
      const list = row.nodes ?? nodes;
      assert.deepEqual(
        feasibleNodes(row.pod, list).map((n) => n.name),
        row.fit,
      );
      const placed = schedule(row.pod, list, emptyLoad());
      assert.equal(placed.node, row.fit[0] ?? null);
    });
  }

  test('matchesExpression: In with an absent label is false, NotIn with values missing is true', () => {
    assert.equal(matchesExpression({}, { key: 'x', operator: 'In', values: ['1'] }), false);
    assert.equal(matchesExpression({ x: '1' }, { key: 'x', operator: 'NotIn' }), true);
  });

  const ranking: Array<{
    what: string;
    load: Array<[string, string | undefined, number]>;
    owner?: string;
    want: string;
  }> = [
    { what: 'empty cluster: by name', load: [], want: 'n1' },
    {
      what: 'fewest pods total',
      load: [
        ['n1', 'x', 2],
        ['n2', 'x', 1],
        ['n3', 'x', 2],
      ],
      want: 'n2',
    },
    {
      what: 'spread of the owner beats total',
      owner: 'web',
      load: [
        ['n1', 'web', 1],
        ['n2', 'web', 1],
        ['n3', 'other', 5],
      ],
      want: 'n3',
    },
    {
      what: 'owner tie -> fewest total',
      owner: 'web',
      load: [
        ['n1', 'web', 1],
        ['n2', 'web', 1],
        ['n3', 'web', 1],
        ['n1', 'other', 1],
        ['n3', 'other', 1],
      ],
      want: 'n2',
    },
    {
      what: 'all tied -> name',
      owner: 'web',
      load: [
        ['n2', 'web', 1],
        ['n1', 'web', 1],
        ['n3', 'web', 1],
      ],
      want: 'n1',
    },
  ];
  for (const row of ranking) {
    test(`ranking: ${row.what}`, () => {
      const load = emptyLoad();
      for (const [n, owner, count] of row.load)
        addLoad(load, n, owner ? { spec: {}, ownerUid: owner } : { spec: {} }, count);
      const pod: PodToPlace = row.owner ? { spec: {}, ownerUid: row.owner } : { spec: {} };
      assert.deepEqual(schedule(pod, nodes, load), { node: row.want });
    });
  }

  test('six replicas placed one after another spread 2/2/2', () => {
    const load = emptyLoad();
    addLoad(load, 'n1', { spec: {}, ownerUid: 'other' }, 3);
    const counts = new Map<string, number>();
    for (let i = 0; i < 6; i++) {
      const placed = schedule({ spec: {}, ownerUid: 'web' }, nodes, load);
      assert.ok(placed.node);
      addLoad(load, placed.node, { spec: {}, ownerUid: 'web' });
      counts.set(placed.node, (counts.get(placed.node) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(counts), { n1: 2, n2: 2, n3: 2 });
  });

  const messages: Array<{ what: string; pod: PodToPlace; nodes: SchedNode[]; want: string }> = [
    {
      what: 'nodeSelector',
      pod: { spec: { nodeSelector: { app: 'gpu' } } },
      nodes,
      want: "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector (nodeSelector app=gpu).",
    },
    {
      what: 'affinity',
      pod: {
        spec: {
          affinity: affinity(
            [{ key: 'zone', operator: 'In', values: ['x', 'y'] }],
            [{ key: 'ssd', operator: 'Exists' }],
          ),
        },
      },
      nodes,
      want: "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector (nodeAffinity zone In [x,y] or ssd Exists).",
    },
    {
      what: 'affinity Gt',
      pod: { spec: { affinity: affinity([{ key: 'cores', operator: 'Gt', values: ['16'] }]) } },
      nodes,
      want: "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector (nodeAffinity cores Gt 16).",
    },
    {
      what: 'mixed reasons, grouped',
      pod: { spec: { nodeSelector: { zone: 'q' } } },
      nodes: [node('a', {}, null), ...nodes],
      want: "0/4 nodes are available: 3 node(s) didn't match Pod's node affinity/selector, 1 node(s) had no container runtime (nodeSelector zone=q).",
    },
    {
      what: 'no nodes',
      pod: { spec: {} },
      nodes: [],
      want: '0/0 nodes are available: no nodes are registered.',
    },
  ];
  for (const row of messages) {
    test(`unschedulable message: ${row.what}`, () => {
      assert.deepEqual(schedule(row.pod, row.nodes, emptyLoad()), { node: null, message: row.want });
    });
  }
});

describe('scheduler: host ports (NodePorts)', () => {
  const nodes = [node('n1'), node('n2'), node('n3')];
  type Port = NonNullable<Container['ports']>[number] & { hostIP?: string };
  const withPorts = (...ports: Port[][]): PodToPlace => ({
    spec: { containers: ports.map((p, i) => ({ name: `c${i}`, image: 'x', ports: p })) },
  });
  const bound = (node: string, pod: PodToPlace, extra: Partial<Pod['metadata']> = {}): Stored<Pod> =>
    ({
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `p-${node}`, namespace: 'default', ...extra },
        spec: { ...pod.spec, nodeName: node },
        status: { phase: 'Running' },
      },
    }) as unknown as Stored<Pod>;
  const world = (pods: Array<Stored<Pod>>): World => ({
    nodes: nodes as World['nodes'],
    pods,
    drained: new Set(),
  });

  const rows: Array<{ what: string; held: Port[]; want: Port[]; free: boolean }> = [
    {
      what: 'same port, protocol defaults to TCP',
      held: [{ containerPort: 80 }],
      want: [{ containerPort: 80, protocol: 'TCP' }],
      free: false,
    },
    {
      what: 'same port, other protocol',
      held: [{ containerPort: 53 }],
      want: [{ containerPort: 53, protocol: 'UDP' }],
      free: true,
    },
    { what: 'other port', held: [{ containerPort: 80 }], want: [{ containerPort: 81 }], free: true },
    {
      what: 'hostPort does not matter on the host network: containerPort is what is taken',
      held: [{ containerPort: 80, hostPort: 80 }],
      want: [{ containerPort: 80 }],
      free: false,
    },
    {
      what: '0.0.0.0 overlaps a given address',
      held: [{ containerPort: 80, hostIP: '10.0.0.1' }],
      want: [{ containerPort: 80 }],
      free: false,
    },
    {
      what: 'a given address overlaps 0.0.0.0',
      held: [{ containerPort: 80 }],
      want: [{ containerPort: 80, hostIP: '10.0.0.1' }],
      free: false,
    },
    {
      what: 'two other addresses do not overlap',
      held: [{ containerPort: 80, hostIP: '10.0.0.1' }],
      want: [{ containerPort: 80, hostIP: '10.0.0.2' }],
      free: true,
    },
    {
      what: 'the same address overlaps',
      held: [{ containerPort: 80, hostIP: '10.0.0.2' }],
      want: [{ containerPort: 80, hostIP: '10.0.0.2' }],
      free: false,
    },
  ];
  for (const row of rows)
    test(`${row.free ? 'free' : 'taken'}: ${row.what}`, () => {
      const load = emptyLoad();
      addLoad(load, 'n1', withPorts(row.held));
      const placed = schedule(withPorts(row.want), [node('n1')], load);
      assert.deepEqual(placed.node, row.free ? 'n1' : null);
    });

  test('a pod without ports fits anywhere; the ports of any container of a pod count', () => {
    const load = loadOf(world([bound('n1', withPorts([], [{ containerPort: 8080 }]))]));
    assert.deepEqual(
      feasibleNodes(withPorts(), nodes).map((n) => n.name),
      ['n1', 'n2', 'n3'],
    );
    assert.equal(schedule(withPorts([{ containerPort: 8080 }]), [node('n1')], load).node, null);
    assert.equal(schedule(withPorts(), [node('n1')], load).node, 'n1');
  });

  test('three pods holding the port on the three nodes: none fits, said with k8s wording', () => {
    const port = withPorts([{ containerPort: 80 }]);
    const load = loadOf(world(nodes.map((n) => bound(n.name, port))));
    assert.deepEqual(schedule(port, nodes, load), {
      node: null,
      message: "0/3 nodes are available: 3 node(s) didn't have free ports for the requested pod ports.",
    });
  });

  test('a terminating pod (deletionTimestamp) holds its ports until gone; a terminated one does not', () => {
    const port = withPorts([{ containerPort: 80 }]);
    const terminating = bound('n1', port, { deletionTimestamp: '2026-01-01T00:00:30Z' });
    const done = bound('n2', port);
    done.object.status = { phase: 'Succeeded' };
    const load = loadOf(world([terminating, done]));
    assert.equal(schedule(port, [node('n1')], load).node, null);
    assert.equal(schedule(port, [node('n2')], load).node, 'n2');
  });

  test('replicas placed one after another never share a port: 3 nodes, 4 replicas, the 4th pending', () => {
    const port = withPorts([{ containerPort: 80 }]);
    const load = emptyLoad();
    const placed = [];
    for (let i = 0; i < 4; i++) {
      const p = schedule({ ...port, ownerUid: 'web' }, nodes, load);
      if (p.node) addLoad(load, p.node, { ...port, ownerUid: 'web' });
      placed.push(p.node);
    }
    assert.deepEqual(placed, ['n1', 'n2', 'n3', null]);
  });

  test('DaemonSet eligibility does not look at ports (as k8s)', () => {
    assert.deepEqual(
      feasibleNodes(withPorts([{ containerPort: 80 }]), nodes).map((n) => n.name),
      ['n1', 'n2', 'n3'],
    );
  });
});

test('bare pods placed in one sweep count each other: two with one port, one node -> one bound, one pending', () => {
  const bare = (name: string): Stored<Pod> =>
    ({
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: 'default', uid: `uid-${name}` },
        spec: { containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 80 }] }] },
      },
      modRevision: '1',
      createRevision: '1',
    }) as unknown as Stored<Pod>;
  const world: World = {
    nodes: [node('n1')] as World['nodes'],
    pods: [bare('a'), bare('b')],
    drained: new Set(),
  };
  const actions = planSweep(world, new Set(), '2026-01-01T00:00:00Z');
  assert.deepEqual(
    actions.map(
      (a) =>
        `${a.type} ${a.type === 'event' ? (a.on as { name: string }).name : 'pod' in a && 'object' in a.pod ? a.pod.object.metadata.name : ''}`,
    ),
    ['bind a', 'podStatus b', 'event b'],
  );
});

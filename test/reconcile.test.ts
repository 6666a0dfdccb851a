// The controllers' pure reconciles (`(object, world) -> actions`), without etcd: a small in-memory world
// carries the actions out (create/bind/delete/status as etcd would after a successful transaction) and
// the test plays the agents by setting pod phases. Checks convergence, the order of rolling steps, and
// the quiet steady state (a settled world yields no action at all).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { planPodDeletion } from '../agent/objects/pod-deletion.ts';
import type { Stored } from '../agent/objects/store.ts';
import type {
  Container,
  DaemonSet,
  Deployment,
  Job,
  KubeObject,
  Pod,
  PodPhase,
  PodTemplateSpec,
  ReplicaSet,
} from '../agent/objects/types.ts';
import type { NodeRecord } from '../agent/store/node-registry.ts';
import type { Action } from '../head/controllers/actions.ts';
import { reconcileDaemonSet } from '../head/controllers/daemonset.ts';
import { deletionOrder, reconcileDeployment } from '../head/controllers/deployment.ts';
import { reconcileJob } from '../head/controllers/job.ts';
import { planSweep } from '../head/controllers/node-lifecycle.ts';
import type { Controller } from '../head/controllers/pod-template.ts';
import type { World } from '../head/controllers/world.ts';

const docker = { name: 'docker' as const, version: '28', apiVersion: '1.41' };
const node = (name: string, labels: Record<string, string> = {}): NodeRecord =>
  ({ name, labels, capacity: { containerRuntime: docker } }) as unknown as NodeRecord;
const template = (extra: Partial<PodTemplateSpec['spec']> = {}, v = '1'): PodTemplateSpec => ({
  metadata: { labels: { app: 'x', v } },
  spec: { containers: [{ name: 'main', image: 'busybox' }], ...extra },
});
const meta = (name: string) => ({
  name,
  namespace: 'default',
  uid: `uid-${name}`,
  resourceVersion: '1',
  generation: 1,
  creationTimestamp: '2026-01-01T00:00:00Z',
});
const deployment = (spec: Partial<Deployment['spec']> = {}): Deployment => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: meta('web'),
  spec: { selector: { matchLabels: { app: 'x' } }, template: template(), ...spec },
});
const daemonSet = (spec: Partial<DaemonSet['spec']> = {}): DaemonSet => ({
  apiVersion: 'apps/v1',
  kind: 'DaemonSet',
  metadata: meta('agent'),
  spec: { selector: { matchLabels: { app: 'x' } }, template: template(), ...spec },
});
const job = (spec: Partial<Job['spec']> = {}): Job => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: meta('batch'),
  spec: { template: template({ restartPolicy: 'Never' }), ...spec },
});

/** etcd in miniature: what a successful transaction of each action leaves behind. */
class Sim {
  rev = 10;
  nodes: NodeRecord[];
  pods: Array<Stored<Pod>> = [];
  owner: Stored<Controller>;
  events: string[] = [];
  drained = new Set<string>();
  n = 0;
  /** Deletes as etcd does them now (pod-deletion.ts): a running pod on a live node is marked Terminating
   * and stays until `finish` (its agent stopped it); off, a delete removes it at once (an instant agent). */
  graceful = false;
  constructor(owner: Controller, nodes: NodeRecord[]) {
    this.owner = { object: owner, createRevision: '1', modRevision: '1' };
    this.nodes = nodes;
  }
  /** A Deployment's revision records (ReplicaSets), as etcd keeps them. */
  replicaSets: Array<Stored<ReplicaSet>> = [];
  get world(): World {
    return { nodes: this.nodes, pods: this.pods, drained: this.drained, replicaSets: this.replicaSets };
  }
  reconcile(now = '2026-01-01T00:01:00Z'): Action[] {
    const env = { now, suffix: () => `s${String(++this.n).padStart(4, '0')}` };
    const o = this.owner as Stored<never>;
    const kind = this.owner.object.kind;
    return kind === 'Deployment'
      ? reconcileDeployment(o, this.world, env)
      : kind === 'DaemonSet'
        ? reconcileDaemonSet(o, this.world, env)
        : reconcileJob(o, this.world, env);
  }
  apply(actions: Action[]): void {
    for (const a of actions) {
      const rev = String(++this.rev);
      switch (a.type) {
        case 'create':
          assert.ok(!this.pods.some((p) => p.object.metadata.name === a.pod.metadata.name), 'name taken');
          this.pods.push({
            object: { ...structuredClone(a.pod), ...(a.status ? { status: a.status } : {}) },
            createRevision: rev,
            modRevision: rev,
          });
          break;
        case 'bind':
          a.pod.object.spec.nodeName = a.node;
          a.pod.object.status = { phase: 'Pending' };
          a.pod.modRevision = rev;
          break;
        case 'delete': {
          const node = a.pod.object.spec.nodeName;
          const plan =
            this.graceful && !a.whileNodeAbsent
              ? planPodDeletion(
                  a.pod.object,
                  // A drained node is left out of the world's nodes but keeps its record (and its agent).
                  this.nodes.some((n) => n.name === node) || this.drained.has(node ?? ''),
                  Date.now(),
                )
              : { type: 'remove' as const };
          if (plan.type === 'mark') {
            a.pod.object.metadata.deletionTimestamp = plan.deletionTimestamp;
            a.pod.object.metadata.deletionGracePeriodSeconds = plan.deletionGracePeriodSeconds;
            a.pod.modRevision = rev;
          } else if (plan.type === 'remove') this.pods = this.pods.filter((p) => p !== a.pod);
          else this.redeletes++;
          break;
        }
        case 'podStatus':
          a.pod.object.status = a.status;
          break;
        case 'status':
          (this.owner.object as KubeObject & { status?: unknown }).status = structuredClone(a.status);
          break;
        case 'putObject': {
          const have = a.prev && this.replicaSets.find((r) => r.createRevision === a.prev!.createRevision);
          const object = structuredClone((a.object ?? have?.object) as ReplicaSet);
          if (a.status !== undefined) object.status = structuredClone(a.status) as ReplicaSet['status'];
          else if (have) object.status = have.object.status;
          if (!have) {
            assert.ok(!a.prev, 'a record replaced after it was deleted');
            this.replicaSets.push({ object, createRevision: rev, modRevision: rev });
          } else {
            have.object = object;
            if (a.object) have.modRevision = rev;
          }
          break;
        }
        case 'deleteObject':
          this.replicaSets = this.replicaSets.filter((r) => r.createRevision !== a.target.createRevision);
          break;
        case 'event':
          this.events.push(a.reason);
          break;
      }
    }
  }
  /** Deletes of a pod already Terminating (nothing to write: a reconcile that asks for them is not settled). */
  redeletes = 0;
  /** The agents finish: every Terminating pod (or those given) is gone. */
  finish(pods = this.pods.filter((p) => p.object.metadata.deletionTimestamp)): void {
    this.pods = this.pods.filter((p) => !pods.includes(p));
  }
  /** Settle, every pod runs, settle again. */
  settleRunning(): void {
    this.settle();
    this.runAll();
    this.settle();
  }
  terminating = () => this.pods.filter((p) => p.object.metadata.deletionTimestamp);
  /** Reconcile and apply until nothing is left to do but wait (at most `max` rounds). */
  settle(now?: string, max = 10): void {
    for (let i = 0; i < max; i++) {
      const actions = this.reconcile(now).filter((a) => a.type !== 'wake');
      if (actions.length === 0) return;
      this.apply(actions);
    }
    assert.fail(`not settled after ${max} reconciles: ${JSON.stringify(this.reconcile(now))}`);
  }
  setPhase(pod: Stored<Pod>, phase: PodPhase, restartCount = 0): void {
    pod.object.status = {
      phase,
      containerStatuses: [
        { name: 'main', image: 'busybox', ready: phase === 'Running', restartCount, state: {} },
      ],
    };
  }
  runAll(): void {
    for (const p of this.pods)
      if (p.object.spec.nodeName && !p.object.status?.containerStatuses) this.setPhase(p, 'Running');
  }
  perNode(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const p of this.pods) {
      const n = p.object.spec.nodeName ?? '-';
      out[n] = (out[n] ?? 0) + 1;
    }
    return out;
  }
  types = (actions: Action[]) => actions.map((a) => a.type).join(',');
}

/** As a user's `nokube delete pod` leaves it: Terminating with 30 s of grace. */
const markTerminating = (p: Stored<Pod>): Stored<Pod> => {
  p.object.metadata.deletionTimestamp = '2026-01-01T00:01:30Z';
  p.object.metadata.deletionGracePeriodSeconds = 30;
  return p;
};

const three = () => [node('n1'), node('n2'), node('n3')];

describe('reconcileDeployment', () => {
  test('6 replicas over 3 nodes: 2/2/2, names with the template hash, then quiet', () => {
    const s = new Sim(deployment({ replicas: 6 }), three());
    s.settle();
    assert.deepEqual(s.perNode(), { n1: 2, n2: 2, n3: 2 });
    for (const p of s.pods) {
      const hash = p.object.metadata.labels?.['pod-template-hash'];
      assert.match(p.object.metadata.name, new RegExp(`^web-${hash}-s\\d{4}$`));
      assert.equal(p.object.metadata.labels?.app, 'x');
      assert.deepEqual(p.object.metadata.ownerReferences?.[0]?.uid, 'uid-web');
    }
    s.runAll();
    s.settle();
    assert.deepEqual(s.reconcile(), [], 'a settled deployment asks for nothing (no status rewrite)');
    const st = (s.owner.object as Deployment).status!;
    assert.equal(st.readyReplicas, 6);
    assert.equal(st.conditions?.find((c) => c.type === 'Available')?.status, 'True');
  });

  test('replicas defaults to 1', () => {
    const s = new Sim(deployment(), three());
    s.settle();
    assert.equal(s.pods.length, 1);
  });

  test('scale down counts crowding again after each pick: 3 + 3 to 2 leaves 1 + 1, whatever came last', () => {
    // n1's pods are all newer than n2's: a ranking fixed up front would take n1's three first.
    const pod = (name: string, nodeName: string, rev: number): Stored<Pod> => ({
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: meta(name),
        spec: { nodeName, containers: [{ name: 'main', image: 'busybox' }] },
        status: { phase: 'Running' },
      },
      modRevision: String(rev),
      createRevision: String(rev),
    });
    const pods = [
      pod('a', 'n2', 1),
      pod('b', 'n2', 2),
      pod('c', 'n2', 3),
      pod('d', 'n1', 4),
      pod('e', 'n1', 5),
      pod('f', 'n1', 6),
    ];
    const gone = deletionOrder(pods, 4);
    const left = pods.filter((p) => !gone.includes(p)).map((p) => p.object.spec.nodeName);
    assert.deepEqual(left.sort(), ['n1', 'n2']);
    assert.deepEqual(
      gone.map((p) => p.object.metadata.name),
      ['f', 'c', 'e', 'b'],
      'newest of the most crowded node each time',
    );
    assert.equal(deletionOrder(pods).length, 6);
  });

  test('scale down: not running first, then the most crowded node, then the newest', () => {
    const s = new Sim(deployment({ replicas: 5 }), three());
    s.settle();
    s.runAll();
    // n1: 2, n2: 2, n3: 1. One of n2's pods is not running.
    const n2 = s.pods.filter((p) => p.object.spec.nodeName === 'n2');
    s.setPhase(n2[1]!, 'Pending');
    (s.owner.object as Deployment).spec.replicas = 3;
    const actions = s.reconcile().filter((a) => a.type === 'delete');
    assert.equal(actions.length, 2);
    const [first, second] = actions.map((a) => (a.type === 'delete' ? a.pod : undefined));
    assert.equal(first, n2[1], 'the not-running pod first');
    assert.equal(second?.object.spec.nodeName, 'n1');
    assert.deepEqual(
      deletionOrder(s.pods.filter((p) => p.object.spec.nodeName === 'n1')).map((p) => p.createRevision),
      s.pods
        .filter((p) => p.object.spec.nodeName === 'n1')
        .map((p) => p.createRevision)
        .sort((a, b) => Number(b) - Number(a)),
      'newest first among equals',
    );
  });

  test('pods on an unreachable node: kept until marked lost and past their toleration, then replaced', () => {
    const s = new Sim(deployment({ replicas: 6 }), three());
    s.settle();
    s.runAll();
    s.settle();
    s.nodes = s.nodes.filter((n) => n.name !== 'n3');
    assert.deepEqual(s.reconcile(), [], 'not marked yet: nothing moves');
    // The leader's sweep marks them lost at 00:01:00; that starts the default toleration (300 s).
    s.apply(planSweep(s.world, new Set(['uid-web']), '2026-01-01T00:01:00Z'));
    const marked = s.pods.filter((p) => p.object.spec.nodeName === 'n3');
    assert.deepEqual(
      marked.map((p) => [p.object.status?.phase, p.object.status?.reason]),
      [
        ['Unknown', 'NodeLost'],
        ['Unknown', 'NodeLost'],
      ],
    );
    const waiting = s.reconcile('2026-01-01T00:05:59Z');
    assert.deepEqual(
      waiting.filter((a) => a.type === 'delete' || a.type === 'create'),
      [],
      'a 5-minute outage moves nothing',
    );
    assert.ok(waiting.some((a) => a.type === 'wake' && a.at === Date.parse('2026-01-01T00:06:00Z')));
    const actions = s.reconcile('2026-01-01T00:06:00Z');
    const deletes = actions.filter((a) => a.type === 'delete');
    assert.equal(deletes.length, 2);
    assert.ok(deletes.every((a) => a.type === 'delete' && a.whileNodeAbsent === 'n3'));
    assert.equal(actions.filter((a) => a.type === 'create').length, 2);
    s.apply(actions);
    assert.deepEqual(s.perNode(), { n1: 3, n2: 3 });
  });

  test("a pod's own toleration: tolerationSeconds 0 moves it at once once marked; none with Exists keeps it", () => {
    const fast = [
      {
        key: 'node.kubernetes.io/unreachable',
        operator: 'Exists' as const,
        effect: 'NoExecute' as const,
        tolerationSeconds: 0,
      },
    ];
    const s = new Sim(deployment({ replicas: 3, template: template({ tolerations: fast }) }), three());
    s.settle();
    s.runAll();
    s.settle();
    s.nodes = s.nodes.filter((n) => n.name !== 'n3');
    s.apply(planSweep(s.world, new Set(['uid-web']), '2026-01-01T00:01:00Z'));
    s.apply(s.reconcile('2026-01-01T00:01:00Z'));
    assert.deepEqual(s.perNode(), { n1: 2, n2: 1 });

    const forever = [{ operator: 'Exists' as const }];
    const k = new Sim(deployment({ replicas: 3, template: template({ tolerations: forever }) }), three());
    k.settle();
    k.runAll();
    k.settle();
    k.nodes = k.nodes.filter((n) => n.name !== 'n3');
    k.apply(planSweep(k.world, new Set(['uid-web']), '2026-01-01T00:01:00Z'));
    assert.deepEqual(
      k.reconcile('2027-01-01T00:00:00Z').filter((a) => a.type === 'delete' || a.type === 'create'),
      [],
    );
  });

  test('pods on a drained node are replaced at once', () => {
    const s = new Sim(deployment({ replicas: 6 }), three());
    s.settle();
    s.runAll();
    s.settle();
    s.nodes = s.nodes.filter((n) => n.name !== 'n3');
    s.drained.add('n3');
    const actions = s.reconcile();
    assert.equal(actions.filter((a) => a.type === 'delete').length, 2);
    assert.equal(actions.filter((a) => a.type === 'create').length, 2);
    s.apply(actions);
    assert.deepEqual(s.perNode(), { n1: 3, n2: 3 });
  });

  test('template change: one new pod at a time, an old one goes only once the new one runs', () => {
    const s = new Sim(deployment({ replicas: 3 }), three());
    s.settle();
    s.runAll();
    s.settle();
    const oldNames = new Set(s.pods.map((p) => p.object.metadata.name));
    (s.owner.object as Deployment).spec.template = template({}, '2');
    (s.owner.object as Deployment).metadata.generation = 2;
    const check = (when: string) => {
      const running = s.pods.filter((p) => p.object.status?.phase === 'Running').length;
      assert.ok(running >= 3, `${when}: ${running} running, fewer than 3`);
      assert.ok(s.pods.length <= 4, `${when}: ${s.pods.length} pods, more than one surge pod`);
    };
    for (let step = 0; step < 20 && s.pods.some((p) => oldNames.has(p.object.metadata.name)); step++) {
      s.apply(s.reconcile());
      check(`step ${step}`);
      // Kicked again before the new pod runs: still no old pod goes, no second surge pod.
      s.apply(s.reconcile());
      check(`step ${step}, again`);
      s.runAll();
    }
    assert.equal(s.pods.length, 3);
    assert.ok(
      s.pods.every((p) => !oldNames.has(p.object.metadata.name)),
      'all replaced',
    );
    s.settle();
    assert.deepEqual(s.reconcile(), []);
    assert.equal((s.owner.object as Deployment).status?.observedGeneration, 2);
  });

  test('minReadySeconds: available (and an old pod goes) only once ready that long; woken then', () => {
    const s = new Sim(deployment({ replicas: 1, minReadySeconds: 30 }), three());
    const t0 = '2026-01-01T00:01:00Z';
    const readyAt = (p: Stored<Pod>, at: string) => {
      s.setPhase(p, 'Running');
      p.object.status!.conditions = [{ type: 'Ready', status: 'True', lastTransitionTime: at }];
    };
    s.settle(t0);
    readyAt(s.pods[0]!, t0);
    s.settle(t0);
    const st = () => (s.owner.object as Deployment).status!;
    assert.equal(st().readyReplicas, 1);
    assert.equal(st().availableReplicas, 0, 'ready, not yet for 30 s');
    assert.deepEqual(s.reconcile(t0), [{ type: 'wake', at: Date.parse(t0) + 30_000 }]);
    s.settle('2026-01-01T00:01:30Z');
    assert.equal(st().availableReplicas, 1);
    assert.deepEqual(s.reconcile('2026-01-01T00:01:31Z'), []);

    (s.owner.object as Deployment).spec.template = template({}, '2');
    s.settle('2026-01-01T00:02:00Z');
    assert.equal(s.pods.length, 2, 'the surge pod');
    readyAt(s.pods[1]!, '2026-01-01T00:02:00Z');
    s.settle('2026-01-01T00:02:10Z');
    assert.equal(s.pods.length, 2, 'the old pod stays while the new one is not available');
    s.settle('2026-01-01T00:02:30Z');
    assert.equal(s.pods.length, 1, 'the old pod goes once the new one is available');
  });

  test('Recreate: every old pod goes first, then the new ones come', () => {
    const s = new Sim(deployment({ replicas: 2, strategy: { type: 'Recreate' } }), three());
    s.settle();
    s.runAll();
    (s.owner.object as Deployment).spec.template = template({}, '2');
    const first = s.reconcile();
    assert.equal(first.filter((a) => a.type === 'delete').length, 2);
    assert.equal(first.filter((a) => a.type === 'create').length, 0);
    s.apply(first);
    s.settle();
    assert.equal(s.pods.length, 2);
  });

  test('Recreate with graceful deletion: no new pod while any old pod object exists (Terminating ones too)', () => {
    const s = new Sim(deployment({ replicas: 2, strategy: { type: 'Recreate' } }), three());
    s.graceful = true;
    s.settleRunning();
    (s.owner.object as Deployment).spec.template = template({}, '2');
    const first = s.reconcile();
    assert.equal(first.filter((a) => a.type === 'delete').length, 2);
    s.apply(first);
    assert.equal(s.terminating().length, 2, 'the old pods are Terminating, not gone');
    const waiting = s.reconcile().filter((a) => a.type === 'delete' || a.type === 'create');
    assert.deepEqual(waiting, [], 'nothing while the old pods terminate (no new pod, no second delete)');
    s.finish([s.pods[0]!]);
    assert.deepEqual(
      s.reconcile().filter((a) => a.type === 'create'),
      [],
      'one old pod object is left: still no new pod',
    );
    s.finish();
    s.settle();
    assert.equal(s.pods.length, 2);
    assert.ok(s.pods.every((p) => p.object.metadata.labels?.v === '2'));
    assert.equal(s.redeletes, 0);
  });

  test('a Terminating pod is not counted: its replacement is created at once, no second delete', () => {
    const s = new Sim(deployment({ replicas: 3 }), three());
    s.graceful = true;
    s.settleRunning();
    markTerminating(s.pods[0]!);
    const actions = s.reconcile();
    assert.equal(actions.filter((a) => a.type === 'create').length, 1, 'a replacement');
    assert.equal(actions.filter((a) => a.type === 'delete').length, 0);
    s.apply(actions);
    s.runAll();
    s.settle();
    assert.equal(s.pods.length, 4, 'three live pods and the Terminating one');
    const st = (s.owner.object as Deployment).status!;
    assert.equal(st.replicas, 3, 'status counts the live pods only');
    assert.equal(st.readyReplicas, 3);
    assert.deepEqual(s.reconcile(), [], 'settled with a pod still terminating');
  });

  test('scale down and rollout with graceful deletion: old pods deleted once, the rollout goes on', () => {
    const s = new Sim(deployment({ replicas: 3 }), three());
    s.graceful = true;
    s.settleRunning();
    (s.owner.object as Deployment).spec.replicas = 2;
    s.settle();
    assert.equal(s.terminating().length, 1);
    assert.equal(s.pods.length, 3);
    (s.owner.object as Deployment).spec.template = template({}, '2');
    for (let step = 0; step < 10; step++) {
      s.apply(s.reconcile());
      s.runAll();
    }
    const live = s.pods.filter((p) => !p.object.metadata.deletionTimestamp);
    assert.equal(live.length, 2);
    assert.ok(live.every((p) => p.object.metadata.labels?.v === '2'));
    assert.equal(s.redeletes, 0, 'a Terminating pod is never deleted again');
    s.finish();
    s.settle();
    assert.deepEqual(s.reconcile(), []);
  });

  test('no node fits: Pending/Unschedulable with the message once; bound (same pod) when a node fits', () => {
    const s = new Sim(deployment({ template: template({ nodeSelector: { app: 'gpu' } }) }), three());
    s.settle();
    assert.equal(s.pods.length, 1);
    const pod = s.pods[0]!;
    assert.equal(pod.object.spec.nodeName, undefined);
    const cond = pod.object.status?.conditions?.[0];
    assert.equal(cond?.reason, 'Unschedulable');
    assert.equal(
      cond?.message,
      "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector (nodeSelector app=gpu).",
    );
    assert.deepEqual(
      s.reconcile().filter((a) => a.type !== 'wake'),
      [],
      'the same reason is not written again (only the progress deadline to wake for)',
    );
    s.nodes = [node('n1'), node('n2', { app: 'gpu' }), node('n3')];
    const actions = s.reconcile().filter((a) => a.type !== 'wake');
    assert.equal(s.types(actions), 'bind');
    const [bind] = actions;
    assert.equal(bind?.type === 'bind' && bind.node, 'n2');
  });
});

describe('reconcileDaemonSet', () => {
  test('one pod per eligible node, named <ds>-<node>; join, label change, leave; then quiet', () => {
    const s = new Sim(daemonSet({ template: template({ nodeSelector: { edge: 'yes' } }) }), [
      node('n1', { edge: 'yes' }),
      node('n2'),
    ]);
    s.settle();
    assert.deepEqual(
      s.pods.map((p) => p.object.metadata.name),
      ['agent-n1'],
    );
    s.nodes.push(node('n3', { edge: 'yes' }));
    s.settle();
    assert.deepEqual(s.pods.map((p) => p.object.metadata.name).sort(), ['agent-n1', 'agent-n3']);
    s.nodes[0] = node('n1'); // labels changed: no longer eligible
    const actions = s.reconcile();
    assert.equal(actions.filter((a) => a.type === 'delete').length, 1);
    assert.equal(
      (actions.find((a) => a.type === 'status') as { status: { numberMisscheduled: number } }).status
        .numberMisscheduled,
      1,
    );
    s.apply(actions);
    // n3 unreachable: its pod stays (DaemonSet pods tolerate it for ever), nothing is made elsewhere.
    s.nodes = s.nodes.filter((n) => n.name !== 'n3');
    s.settle();
    assert.deepEqual(
      s.pods.map((p) => p.object.metadata.name),
      ['agent-n3'],
    );
    s.drained.add('n3'); // drained: its pod goes
    s.settle();
    assert.equal(s.pods.length, 0);
    assert.deepEqual(s.reconcile(), []);
  });

  test('template change: node by node, the next only once the replacement runs', () => {
    const s = new Sim(daemonSet(), three());
    s.settle();
    s.runAll();
    s.settle();
    (s.owner.object as DaemonSet).spec.template = template({}, '2');
    const hashOf = (p: Stored<Pod>) => p.object.metadata.labels?.['controller-revision-hash'];
    const newHash = () => s.pods.filter((p) => hashOf(p) !== hashOf(s.pods[0]!));
    const deleted: string[] = [];
    for (let step = 0; step < 12; step++) {
      const actions = s.reconcile();
      const dels = actions.filter((a) => a.type === 'delete');
      assert.ok(dels.length <= 1, 'one node at a time');
      for (const d of dels) if (d.type === 'delete') deleted.push(d.pod.object.spec.nodeName!);
      s.apply(actions);
      assert.ok(s.pods.length >= 2, 'at most one node without its pod');
      assert.equal(
        s.reconcile().filter((a) => a.type === 'delete').length,
        0,
        'waits for the new pod to run',
      );
      s.runAll();
    }
    assert.deepEqual(deleted, ['n1', 'n2', 'n3']);
    assert.equal(s.pods.length, 3);
    assert.ok(newHash().length === 0 || newHash().length === 3);
    s.settle();
    assert.deepEqual(s.reconcile(), []);
  });

  test('template change: old pods that do not run are replaced at once (a fix for a broken template rolls out)', () => {
    const s = new Sim(daemonSet(), three());
    s.settle();
    s.setPhase(s.pods[0]!, 'Pending'); // n1: image cannot be pulled
    s.setPhase(s.pods[1]!, 'Running');
    s.setPhase(s.pods[2]!, 'Running');
    (s.owner.object as DaemonSet).spec.template = template({}, '2');
    const first = s.reconcile().filter((a) => a.type === 'delete');
    assert.deepEqual(
      first.map((a) => (a.type === 'delete' ? a.pod.object.spec.nodeName : '')),
      ['n1'],
      'only the broken one: the running ones wait',
    );
    for (const p of s.pods) s.setPhase(p, 'Pending');
    const all = s.reconcile().filter((a) => a.type === 'delete');
    assert.equal(all.length, 3, 'none runs: all replaced at once');
  });
});

describe('reconcileDaemonSet: host ports and resources', () => {
  /** Another pod, Running on `node` with one container. */
  const runningOn = (node: string, name: string, container: Container): Stored<Pod> => ({
    object: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { ...meta(name), uid: `uid-${name}` },
      spec: { nodeName: node, containers: [container] },
      status: { phase: 'Running' },
    },
    createRevision: '2',
    modRevision: '2',
  });

  test('a node where another pod holds the port: its pod Pending (FailedScheduling) until the port is free, then bound there', () => {
    const ports = { containers: [{ name: 'main', image: 'busybox', ports: [{ containerPort: 8080 }] }] };
    const s = new Sim(daemonSet({ template: template(ports) }), three());
    const other = runningOn('n2', 'web-1', {
      name: 'w',
      image: 'busybox',
      ports: [{ containerPort: 8080 }],
    });
    s.pods.push(other);
    const first = s.reconcile();
    s.apply(first);
    const pending = s.pods.find((p) => p.object.metadata.name === 'agent-n2')!;
    assert.equal(pending.object.spec.nodeName, undefined, 'not bound where the port is taken');
    assert.equal(
      pending.object.status?.conditions?.[0]?.message,
      "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
    );
    assert.deepEqual(
      s.pods
        .filter((p) => p.object.metadata.name.startsWith('agent-'))
        .map((p) => p.object.spec.nodeName ?? '-')
        .sort(),
      ['-', 'n1', 'n3'],
    );
    s.settle();
    assert.deepEqual(
      s.reconcile().filter((a) => a.type !== 'status'),
      [],
      'waits quietly, no churn',
    );
    assert.equal((s.owner.object as DaemonSet).status?.currentNumberScheduled, 2);
    // The other pod goes: the waiting pod is bound to n2 (same object, no delete and create).
    s.pods = s.pods.filter((p) => p !== other);
    const next = s.reconcile();
    assert.equal(s.types(next.filter((a) => a.type !== 'status')), 'bind');
    s.apply(next);
    assert.equal(pending.object.spec.nodeName, 'n2');
    s.settle();
    assert.deepEqual(s.reconcile(), []);
  });

  test('a node without room for its requests: its pod Pending (Insufficient cpu) until room is freed, then bound there', () => {
    const asks = {
      containers: [{ name: 'main', image: 'busybox', resources: { requests: { cpu: '200m' } } }],
    };
    const nodes = three();
    const small = { cpuMilli: 1000, memoryBytes: 2 ** 30, pods: 110 };
    for (const n of nodes) (n as { allocatable?: typeof small }).allocatable = small;
    const s = new Sim(daemonSet({ template: template(asks) }), nodes);
    const big = runningOn('n2', 'big-1', {
      name: 'b',
      image: 'busybox',
      resources: { requests: { cpu: '900m' } },
    });
    s.pods.push(big);
    s.apply(s.reconcile());
    const pending = s.pods.find((p) => p.object.metadata.name === 'agent-n2')!;
    assert.equal(pending.object.spec.nodeName, undefined, 'not bound where it does not fit');
    assert.equal(
      pending.object.status?.conditions?.[0]?.message,
      '0/1 nodes are available: 1 Insufficient cpu.',
    );
    s.settle();
    assert.deepEqual(
      s.reconcile().filter((a) => a.type !== 'status'),
      [],
      'waits quietly, no churn',
    );
    s.pods = s.pods.filter((p) => p !== big);
    const next = s.reconcile();
    assert.equal(s.types(next.filter((a) => a.type !== 'status')), 'bind');
    s.apply(next);
    assert.equal(pending.object.spec.nodeName, 'n2');
  });

  test('its own pod on a node does not block its replacement (template change keeps the port)', () => {
    const ports = { containers: [{ name: 'main', image: 'busybox', ports: [{ containerPort: 8080 }] }] };
    const s = new Sim(daemonSet({ template: template(ports) }), three());
    s.graceful = true;
    s.settleRunning();
    (s.owner.object as DaemonSet).spec.template = template(ports, '2');
    for (let step = 0; step < 12; step++) {
      s.finish();
      s.apply(s.reconcile());
      s.runAll();
    }
    assert.ok(s.pods.every((p) => p.object.spec.nodeName && p.object.metadata.labels?.v === '2'));
  });
});

describe('reconcileDaemonSet with graceful deletion', () => {
  test('template change: the replacement (same name) comes once the Terminating pod is gone; never deleted twice', () => {
    const s = new Sim(daemonSet(), three());
    s.graceful = true;
    s.settleRunning();
    (s.owner.object as DaemonSet).spec.template = template({}, '2');
    s.apply(s.reconcile());
    assert.deepEqual(
      s.terminating().map((p) => p.object.metadata.name),
      ['agent-n1'],
    );
    const waiting = s.reconcile().filter((a) => a.type === 'delete' || a.type === 'create');
    assert.deepEqual(
      waiting,
      [],
      'n1 keeps its Terminating pod: no second delete, no create of a taken name',
    );
    for (let step = 0; step < 12; step++) {
      s.finish();
      s.apply(s.reconcile());
      s.runAll();
    }
    assert.equal(s.pods.length, 3);
    assert.ok(s.pods.every((p) => p.object.metadata.labels?.v === '2'));
    assert.equal(s.redeletes, 0);
    s.settle();
    assert.deepEqual(s.reconcile(), []);
  });

  test('a drained node: its pod is deleted once and left to terminate', () => {
    const s = new Sim(daemonSet(), three());
    s.graceful = true;
    s.settleRunning();
    s.nodes = s.nodes.filter((n) => n.name !== 'n3');
    s.drained.add('n3');
    s.apply(s.reconcile());
    assert.equal(s.terminating().length, 1);
    s.settle();
    assert.equal(s.redeletes, 0);
    assert.equal((s.owner.object as DaemonSet).status?.currentNumberScheduled, 2);
  });
});

describe('reconcileJob', () => {
  test('completions 3, parallelism 2: two at a time, succeeded pods kept and never re-created, Complete', () => {
    const s = new Sim(job({ completions: 3, parallelism: 2 }), three());
    s.settle();
    assert.equal(s.pods.length, 2);
    for (const p of s.pods) {
      assert.equal(p.object.metadata.labels?.['job-name'], 'batch');
      assert.equal(p.object.metadata.labels?.['controller-uid'], 'uid-batch');
    }
    s.setPhase(s.pods[0]!, 'Succeeded');
    s.settle();
    assert.equal(s.pods.length, 3, 'one more: 2 remaining, 1 active');
    s.setPhase(s.pods[1]!, 'Succeeded');
    s.settle();
    assert.equal(s.pods.length, 3, 'one remaining, one active: nothing new');
    s.setPhase(s.pods[2]!, 'Succeeded');
    s.settle();
    const st = (s.owner.object as Job).status!;
    assert.equal(st.succeeded, 3);
    assert.equal(st.active, 0);
    assert.ok(st.completionTime);
    assert.equal(st.conditions?.find((c) => c.type === 'Complete')?.status, 'True');
    assert.deepEqual(s.events, ['Completed']);
    assert.deepEqual(s.reconcile(), [], 'a complete job stays quiet');
  });

  test('backoffLimit: failures beyond it fail the job and delete its active pods', () => {
    const s = new Sim(job({ backoffLimit: 1, parallelism: 2, completions: 4 }), three());
    s.settle();
    s.setPhase(s.pods[0]!, 'Failed');
    s.settle();
    assert.equal(s.pods.length, 3, 'a failed pod is kept and replaced');
    s.setPhase(s.pods[2]!, 'Failed');
    s.settle();
    const st = (s.owner.object as Job).status!;
    assert.equal(st.failed, 2);
    assert.equal(st.conditions?.find((c) => c.type === 'Failed')?.reason, 'BackoffLimitExceeded');
    assert.equal(s.pods.length, 2, 'the active pod is deleted, the failed ones kept');
    assert.deepEqual(s.reconcile(), []);
  });

  test('a failed pod is replaced after the back-off: 10 s, then 20 s (k8s); the actor is woken then', () => {
    const s = new Sim(job(), three());
    const fail = (p: Stored<Pod>, at: string) => {
      s.setPhase(p, 'Failed');
      p.object.status!.containerStatuses![0]!.state = {
        terminated: { exitCode: 1, reason: 'Error', finishedAt: at },
      };
    };
    s.settle('2026-01-01T00:01:00Z');
    fail(s.pods[0]!, '2026-01-01T00:01:00Z');
    s.settle('2026-01-01T00:01:05Z');
    assert.equal(s.pods.length, 1, 'no replacement within 10 s');
    assert.deepEqual(s.reconcile('2026-01-01T00:01:05Z'), [
      { type: 'wake', at: Date.parse('2026-01-01T00:01:10Z') },
    ]);
    assert.equal((s.owner.object as Job).status?.active, 0);
    s.settle('2026-01-01T00:01:10Z');
    assert.equal(s.pods.length, 2);
    fail(s.pods[1]!, '2026-01-01T00:01:12Z');
    s.settle('2026-01-01T00:01:31Z');
    assert.equal(s.pods.length, 2, 'the second wait is 20 s');
    s.settle('2026-01-01T00:01:32Z');
    assert.equal(s.pods.length, 3);
  });

  test('restartPolicy OnFailure: container restarts count toward backoffLimit', () => {
    const s = new Sim(job({ backoffLimit: 2, template: template({ restartPolicy: 'OnFailure' }) }), three());
    s.settle();
    s.setPhase(s.pods[0]!, 'Running', 2);
    s.settle();
    assert.equal((s.owner.object as Job).status?.failed, 2);
    assert.ok(!(s.owner.object as Job).status?.conditions);
    s.setPhase(s.pods[0]!, 'Running', 3);
    s.settle();
    assert.equal((s.owner.object as Job).status?.conditions?.[0]?.type, 'Failed');
  });

  test('activeDeadlineSeconds: woken at the deadline, then Failed (DeadlineExceeded), active pods deleted', () => {
    const s = new Sim(job({ activeDeadlineSeconds: 60 }), three());
    const t0 = '2026-01-01T00:01:00Z';
    s.settle(t0);
    s.setPhase(s.pods[0]!, 'Running');
    assert.deepEqual(s.reconcile('2026-01-01T00:01:30Z'), [{ type: 'wake', at: Date.parse(t0) + 60_000 }]);
    s.settle('2026-01-01T00:02:00Z');
    const st = (s.owner.object as Job).status!;
    assert.equal(st.conditions?.find((c) => c.type === 'Failed')?.reason, 'DeadlineExceeded');
    assert.equal(s.pods.length, 0);
    assert.deepEqual(s.events, ['DeadlineExceeded']);
    assert.deepEqual(s.reconcile('2026-01-01T00:05:00Z'), [], 'a failed job stays quiet');
  });

  test('a pod on a lost node is marked Failed (NodeLost) after its toleration and replaced', () => {
    const s = new Sim(job(), three());
    s.settle();
    const lostOn = s.pods[0]!.object.spec.nodeName!;
    s.nodes = s.nodes.filter((n) => n.name !== lostOn);
    s.apply(planSweep(s.world, new Set(['uid-batch']), '2026-01-01T00:01:00Z'));
    assert.equal(s.pods[0]!.object.status?.phase, 'Unknown');
    s.settle('2026-01-01T00:05:00Z');
    assert.equal(s.pods.length, 1, 'within the toleration: still the one pod');
    s.settle('2026-01-01T00:06:00Z');
    assert.equal(s.pods.length, 2);
    assert.equal(s.pods[0]!.object.status?.reason, 'NodeLost');
    assert.equal(s.pods[0]!.object.status?.phase, 'Failed');
    assert.notEqual(s.pods[1]!.object.spec.nodeName, lostOn);
    assert.equal((s.owner.object as Job).status?.failed, 1);
  });
});

describe('reconcileJob with graceful deletion', () => {
  test('a Terminating pod is not active: replaced at once, never deleted again', () => {
    const s = new Sim(job({ completions: 4, parallelism: 2 }), three());
    s.graceful = true;
    s.settleRunning();
    markTerminating(s.pods[0]!);
    const actions = s.reconcile();
    assert.equal(actions.filter((a) => a.type === 'create').length, 1);
    s.apply(actions);
    s.settle();
    assert.equal((s.owner.object as Job).status?.active, 2);
    assert.equal(s.pods.length, 3);
    assert.equal(s.redeletes, 0);
  });

  test('backoffLimit exceeded: the active pods are deleted gracefully, once; status active 0', () => {
    const s = new Sim(job({ backoffLimit: 0, parallelism: 2, completions: 2 }), three());
    s.graceful = true;
    s.settle();
    s.runAll();
    s.setPhase(s.pods[0]!, 'Failed');
    s.settle();
    const st = (s.owner.object as Job).status!;
    assert.equal(st.conditions?.find((c) => c.type === 'Failed')?.reason, 'BackoffLimitExceeded');
    assert.equal(st.active, 0);
    assert.equal(st.failed, 1);
    assert.equal(s.terminating().length, 1, 'the running pod is Terminating');
    assert.equal(s.redeletes, 0);
    assert.deepEqual(s.events, ['BackoffLimitExceeded']);
    s.finish();
    assert.deepEqual(s.reconcile(), []);
  });
});

describe('planSweep', () => {
  const pod = (name: string, nodeName?: string, owner?: string): Stored<Pod> => ({
    object: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        ...meta(name),
        ...(owner
          ? {
              ownerReferences: [
                {
                  apiVersion: 'apps/v1',
                  kind: 'Deployment',
                  name: owner,
                  uid: `uid-${owner}`,
                  controller: true,
                },
              ],
            }
          : {}),
      },
      spec: { containers: [{ name: 'main', image: 'busybox' }], ...(nodeName ? { nodeName } : {}) },
      status: { phase: 'Running' },
    },
    createRevision: '5',
    modRevision: '5',
  });
  const now = '2026-01-01T00:00:00Z';

  test('orphans: deleted (gracefully on a live node: the ownerReferences cascade), a Terminating one left to its agent', () => {
    const world: World = {
      nodes: [node('n1')],
      drained: new Set(),
      pods: [
        pod('a', undefined, 'gone'),
        pod('b', 'n1', 'gone'),
        pod('c', 'n9', 'gone'),
        pod('d', 'n9', 'web'),
        markTerminating(pod('e', 'n1', 'gone')),
      ],
    };
    const actions = planSweep(world, new Set(['uid-web']), now);
    assert.deepEqual(
      actions.map((a) => `${a.type}:${a.type === 'delete' ? a.pod.object.metadata.name : ''}`),
      ['delete:a', 'delete:b', 'delete:c', 'podStatus:'],
      'd is its controller’s (marked lost: its toleration starts); e is Terminating already',
    );
  });

  test('a Terminating pod whose node has no record is removed (no agent to finish it), only while it is absent', () => {
    const world: World = {
      nodes: [node('n1')],
      drained: new Set(['n2']),
      pods: [
        markTerminating(pod('lost', 'n9', 'web')),
        markTerminating(pod('bare', 'n9')),
        markTerminating(pod('here', 'n1', 'web')),
        markTerminating(pod('drained', 'n2', 'web')),
      ],
    };
    const actions = planSweep(world, new Set(['uid-web']), now);
    assert.deepEqual(
      actions.map((a) =>
        a.type === 'delete' ? `${a.pod.object.metadata.name}:${a.whileNodeAbsent}` : a.type,
      ),
      ['lost:n9', 'bare:n9'],
    );
  });

  test('a bare pod on a lost node: Unknown/NodeLost once; a bare unbound pod is bound', () => {
    const lost = pod('lost', 'n9');
    const world: World = { nodes: [node('n1')], pods: [lost, pod('free')], drained: new Set() };
    const actions = planSweep(world, new Set(), now);
    assert.equal(actions.length, 2);
    const st = actions.find((a) => a.type === 'podStatus');
    assert.equal(st?.type === 'podStatus' && st.status.phase, 'Unknown');
    assert.equal(st?.type === 'podStatus' && st.status.reason, 'NodeLost');
    const bind = actions.find((a) => a.type === 'bind');
    assert.equal(bind?.type === 'bind' && bind.node, 'n1');
    lost.object.status = (st as { status: Pod['status'] }).status;
    assert.deepEqual(
      planSweep({ nodes: world.nodes, pods: [lost], drained: new Set() }, new Set(), now),
      [],
      'NodeLost is written once',
    );
  });

  test('pods of a gone namespace (absent, or created again after them) are deleted while it stays so', () => {
    const inNs = (name: string, ns: string, owner?: string) => {
      const p = pod(name, 'n1', owner);
      p.object.metadata.namespace = ns;
      return p;
    };
    const world: World = {
      nodes: [node('n1')],
      drained: new Set(),
      pods: [
        inNs('kept', 'team'),
        inNs('absent', 'gone'),
        inNs('older', 'again', 'web'),
        inNs('sys', 'kube-system'),
      ],
    };
    const namespaces = new Map([
      ['team', '5'], // created with its pod, in one transaction
      ['again', '9'], // deleted and created again after the pod (revision 5)
    ]);
    const actions = planSweep(world, new Set(['uid-web']), now, namespaces);
    assert.deepEqual(
      actions.map((a) => (a.type === 'delete' ? [a.pod.object.metadata.name, a.whileNamespace] : a.type)),
      [
        ['absent', { name: 'gone', createRevision: '0' }],
        ['older', { name: 'again', createRevision: '9' }],
      ],
    );
    assert.deepEqual(planSweep(world, new Set(['uid-web']), now), [], 'no namespaces given: no verdict');
  });
});

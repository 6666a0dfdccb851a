// The ImagePrewarm controller's decisions (head/prewarm/reconcile.ts), pure: a model of etcd (the task's
// status, the image pull requests with their revisions) and of the nodes' agents (their node statuses)
// that applies each reconcile's actions, as the kubecontroller's edge and the agents would.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ImagePullRequest, NodeStatus } from '../agent/images/pull-requests.ts';
import type { Stored } from '../agent/objects/store.ts';
import type { ImagePrewarm, ImagePrewarmSpec } from '../agent/objects/types.ts';
import type { Entry } from '../agent/store/informer/informer.ts';
import type { NodeRecord } from '../agent/store/node-registry.ts';
import type { Action } from '../head/controllers/actions.ts';
import type { World } from '../head/controllers/world.ts';
import { reconcileImagePrewarm } from '../head/prewarm/reconcile.ts';

const T0 = Date.parse('2026-12-04T00:00:00Z');

class Model {
  revision = 100;
  now = T0;
  task: Stored<ImagePrewarm>;
  readonly requests = new Map<string, Entry<ImagePullRequest>>();
  readonly statuses = new Map<string, NodeStatus>();
  readonly events: string[] = [];
  nodes: Array<NodeRecord & { unschedulable?: boolean }>;
  wakeAt: number | undefined;

  constructor(
    spec: Partial<ImagePrewarmSpec>,
    nodes: string[],
    labels: Record<string, Record<string, string>> = {},
  ) {
    this.nodes = nodes.map((name) => ({ name, labels: labels[name] ?? {} }) as NodeRecord);
    for (const n of nodes) this.statuses.set(n, { images: [], pulls: [] });
    this.task = {
      object: {
        apiVersion: 'nokube.io/v1',
        kind: 'ImagePrewarm',
        metadata: {
          name: 'warm',
          namespace: 'default',
          uid: 'u1',
          resourceVersion: '1',
          generation: 1,
          creationTimestamp: '',
        },
        spec: { images: ['reg/a:1', 'reg/b:1'], batchSize: 2, ...spec },
      },
      modRevision: '1',
      createRevision: '1',
    };
  }

  get status() {
    return this.task.object.status!;
  }

  /** One reconcile, its actions applied. */
  step(): Action[] {
    const world: World = {
      nodes: this.nodes,
      pods: [],
      drained: new Set(),
      imagePulls: this.requests,
      nodeStatuses: this.statuses,
    };
    const actions = reconcileImagePrewarm(structuredClone(this.task), world, {
      now: new Date(this.now).toISOString(),
    });
    this.wakeAt = undefined;
    for (const a of actions) {
      if (a.type === 'status') this.task.object.status = a.status as ImagePrewarm['status'];
      else if (a.type === 'event') this.events.push(a.reason);
      else if (a.type === 'wake') this.wakeAt = a.at;
      else if (a.type === 'imagePull') {
        const had = this.requests.get(a.key);
        assert.equal(had?.modRevision, a.prevRevision, `${a.key}: written only as read`);
        if (a.request)
          this.requests.set(a.key, {
            value: a.request,
            modRevision: String(++this.revision),
          } as Entry<ImagePullRequest>);
        else this.requests.delete(a.key);
      } else assert.fail(`unexpected action ${a.type}`);
    }
    return actions;
  }

  /** The nodes asked now. */
  asked(): string[] {
    return [...this.requests.keys()].map((k) => k.split('/')[0]!).sort();
  }

  /** A node's agent answers its request: every image pulled, or `image` failed. */
  answer(node: string, outcome: 'Pulled' | { failed: string }) {
    const e = this.requests.get(`${node}/ImagePrewarm/default/warm`);
    assert.ok(e, `${node} has a request`);
    const pulls = e.value.images.map(({ image }) => ({
      image,
      state:
        outcome === 'Pulled'
          ? ('Pulled' as const)
          : image === outcome.failed
            ? ('Failed' as const)
            : ('Pulled' as const),
      revision: e.modRevision,
      time: new Date(this.now).toISOString(),
      ...(outcome !== 'Pulled' && image === outcome.failed
        ? { message: `Failed to pull image "${image}": connection refused` }
        : {}),
    }));
    this.statuses.set(node, { images: [], pulls });
  }
}

describe('ImagePrewarm controller', () => {
  test('batches: the next starts when every node of this one is done; progress and estimate follow', () => {
    const m = new Model({}, ['n3', 'n1', 'n2', 'n4', 'n5']);
    m.step();
    assert.equal(m.status.phase, 'Running');
    assert.deepEqual(m.status.nodes, ['n1', 'n2', 'n3', 'n4', 'n5']);
    assert.deepEqual(m.asked(), ['n1', 'n2']);
    assert.deepEqual(m.status.progress, {
      totalNodes: 5,
      completedNodes: 0,
      failedNodes: 0,
      currentBatch: 1,
      totalBatches: 3,
      percentage: 0,
    });
    m.now += 4000;
    m.answer('n1', 'Pulled');
    m.step();
    assert.deepEqual(m.asked(), ['n2'], 'a node done: its request removed, the batch waits for the other');
    assert.equal(m.status.progress!.percentage, 20);
    assert.equal(m.status.estimatedCompletion, new Date(T0 + 20_000).toISOString());
    m.answer('n2', 'Pulled');
    m.step();
    assert.deepEqual(m.asked(), ['n3', 'n4']);
    assert.equal(m.status.progress!.currentBatch, 2);
    m.answer('n3', 'Pulled');
    m.answer('n4', 'Pulled');
    m.step();
    assert.deepEqual(m.asked(), ['n5']);
    m.answer('n5', 'Pulled');
    m.step();
    assert.equal(m.status.phase, 'Completed');
    assert.deepEqual(m.asked(), []);
    assert.equal(m.status.progress!.completedNodes, 5);
    assert.equal(m.status.completionTime, new Date(m.now).toISOString());
    assert.deepEqual(m.events, ['Started', 'Completed']);
    assert.deepEqual(m.step(), [], 'a finished task does nothing more');
  });

  test("imagePullSecrets: each node's request names the task's Secrets in its namespace", () => {
    const m = new Model({ imagePullSecrets: [{ name: 'regcred' }, { name: 'other' }] }, ['n1']);
    m.step();
    assert.deepEqual(m.requests.get('n1/ImagePrewarm/default/warm')?.value.pullSecrets, [
      { namespace: 'default', name: 'regcred' },
      { namespace: 'default', name: 'other' },
    ]);
    const plain = new Model({}, ['n1']);
    plain.step();
    assert.equal(plain.requests.get('n1/ImagePrewarm/default/warm')?.value.pullSecrets, undefined);
  });

  test('a node failed within maxFailureRatio: completed, the failure detailed; over it: failed at once', () => {
    const within = new Model({ maxFailureRatio: 0.25, retries: 0 }, ['n1', 'n2', 'n3', 'n4']);
    within.step();
    within.answer('n1', { failed: 'reg/b:1' });
    within.answer('n2', 'Pulled');
    within.step();
    assert.equal(within.status.phase, 'Running');
    assert.deepEqual(
      within.status.failedNodeDetails?.map((f) => [f.node, f.image, f.reason]),
      [['n1', 'reg/b:1', 'PullFailed']],
    );
    within.answer('n3', 'Pulled');
    within.answer('n4', 'Pulled');
    within.step();
    assert.equal(within.status.phase, 'Completed');
    assert.deepEqual([within.status.progress!.completedNodes, within.status.progress!.failedNodes], [3, 1]);

    const over = new Model({ maxFailureRatio: 0.2, retries: 0 }, ['n1', 'n2', 'n3', 'n4']);
    over.step();
    over.answer('n1', { failed: 'reg/a:1' });
    over.step();
    assert.equal(over.status.phase, 'Failed');
    assert.match(over.status.message!, /1 of 4 node\(s\) failed, more than maxFailureRatio 0.2/);
    assert.deepEqual(over.asked(), [], "n2's pull in flight is stopped (its request removed)");
    assert.ok(over.events.includes('TooManyFailures'));
  });

  test('retries: a failed attempt is asked again after the back-off (a new request revision); then it may pass', () => {
    const m = new Model({ retries: 1, batchSize: 1 }, ['n1', 'n2']);
    m.step();
    const first = m.requests.get('n1/ImagePrewarm/default/warm')!.modRevision;
    m.answer('n1', { failed: 'reg/a:1' });
    m.step();
    assert.equal(m.status.batch!.n1!.attempts, 1);
    assert.equal(m.wakeAt, T0 + 10_000, 'woken when the back-off ends');
    assert.equal(
      m.requests.get('n1/ImagePrewarm/default/warm')!.modRevision,
      first,
      'not asked again before',
    );
    m.step();
    assert.equal(m.status.batch!.n1!.attempts, 1, 'the same failure counts once');
    m.now = T0 + 10_000;
    m.step();
    assert.notEqual(m.requests.get('n1/ImagePrewarm/default/warm')!.modRevision, first, 'asked again');
    m.answer('n1', 'Pulled');
    m.step();
    assert.deepEqual(m.asked(), ['n2']);
    m.answer('n2', { failed: 'reg/a:1' });
    m.step();
    m.now += 10_000;
    m.step();
    m.answer('n2', { failed: 'reg/a:1' });
    m.step();
    assert.equal(m.status.phase, 'Failed', 'n2 failed twice (retries 1): 1 of 2 over the default 0.1');
    assert.equal(m.status.failedNodeDetails![0]!.node, 'n2');
  });

  test('an attempt without an answer within pullTimeoutSeconds fails; with retries left its clock starts again', () => {
    const m = new Model({ pullTimeoutSeconds: 30, retries: 1, batchSize: 1, maxFailureRatio: 1 }, [
      'n1',
      'n2',
    ]);
    m.statuses.delete('n1'); // its agent reports nothing (an agent cut off)
    m.step();
    assert.equal(m.wakeAt, T0 + 30_000);
    m.now = T0 + 30_000;
    m.step();
    assert.equal(m.status.batch!.n1!.attempts, 1);
    assert.equal(m.wakeAt, T0 + 60_000);
    m.now = T0 + 60_000;
    m.step();
    assert.deepEqual(
      m.status.failedNodeDetails?.map((f) => [f.node, f.reason]),
      [['n1', 'PullTimeout']],
    );
    assert.deepEqual(m.asked(), ['n2'], 'the next batch');
  });

  test('cancel: Cancelled, every request removed; nodes by selector and affinity, cordoned ones left out', () => {
    const m = new Model({ nodeSelector: { site: 'a' } }, ['n1', 'n2', 'n3', 'n4'], {
      n1: { site: 'a' },
      n2: { site: 'a' },
      n3: { site: 'b' },
      n4: { site: 'a' },
    });
    m.nodes[3]!.unschedulable = true;
    m.step();
    assert.deepEqual(m.status.nodes, ['n1', 'n2']);
    m.task.object.spec.cancel = true;
    m.step();
    assert.equal(m.status.phase, 'Cancelled');
    assert.deepEqual(m.asked(), []);

    const affinity = new Model(
      {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: 'site', operator: 'In', values: ['b'] }] }],
            },
          },
        },
      },
      ['n1', 'n2'],
      { n2: { site: 'b' } },
    );
    affinity.step();
    assert.deepEqual(affinity.status.nodes, ['n2']);

    const none = new Model({ nodeSelector: { site: 'z' } }, ['n1']);
    none.step();
    assert.equal(none.status.phase, 'Failed');
    assert.match(none.status.message!, /no node matches/);
  });

  test('a new leader with a request lost in between writes it again; a finished task leaves no request', () => {
    const m = new Model({}, ['n1', 'n2']);
    m.step();
    m.requests.delete('n2/ImagePrewarm/default/warm');
    m.step();
    assert.deepEqual(m.asked(), ['n1', 'n2']);
    m.answer('n1', 'Pulled');
    m.answer('n2', 'Pulled');
    m.step();
    assert.equal(m.status.phase, 'Completed');
    m.requests.set('n1/ImagePrewarm/default/warm', {
      value: m.requests.get('x') ?? ({ images: [], owner: '', uid: 'u1', revision: '1' } as ImagePullRequest),
      modRevision: '999',
    } as Entry<ImagePullRequest>);
    m.step();
    assert.deepEqual(m.asked(), []);
  });
});

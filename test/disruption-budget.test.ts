// PodDisruptionBudgets: the manifest as kubectl takes it, the status as k8s' disruption controller
// computes it (head/controllers/disruption.ts, pure), and the eviction API on a real etcd
// (head/api/pod-eviction.ts): a budget spent one pod at a time in the transaction that deletes it, two
// evictions racing for the last disruption never both pass, unhealthy pods by the policy, k8s' refusals.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  createObjects,
  getObject,
  newMeta,
  objectKey,
  statusKey,
  toStoredJson,
} from '../agent/objects/store.ts';
import type {
  Deployment,
  KubeObject,
  Pod,
  PodDisruptionBudget,
  PodDisruptionBudgetStatus,
} from '../agent/objects/types.ts';
import { ManifestError, validateManifestText } from '../agent/objects/validate.ts';
import { keys } from '../agent/store/keys.ts';
import { HttpError } from '../head/api/http-error.ts';
import { evictPod } from '../head/api/pod-eviction.ts';
import { DISRUPTED_POD_TIMEOUT_MS, disruptionStatus, scaled } from '../head/controllers/disruption.ts';
import { suiteEtcd } from './harness/etcd.ts';

const NOW = Date.parse('2026-12-05T12:00:00Z');

const budget = (
  spec: PodDisruptionBudget['spec'],
  status?: PodDisruptionBudgetStatus,
): PodDisruptionBudget => ({
  apiVersion: 'policy/v1',
  kind: 'PodDisruptionBudget',
  metadata: { name: 'b', namespace: 'ns', uid: 'b-uid', generation: 1 } as PodDisruptionBudget['metadata'],
  spec,
  ...(status ? { status } : {}),
});

const pod = (
  name: string,
  o: { ready?: boolean; owner?: string; ownerKind?: string; app?: string } = {},
): Pod =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'ns',
      uid: `${name}-uid`,
      labels: { app: o.app ?? 'web' },
      ...(o.owner
        ? {
            ownerReferences: [
              {
                apiVersion: 'apps/v1',
                kind: o.ownerKind ?? 'Deployment',
                name: o.owner,
                uid: o.owner,
                controller: true,
              },
            ],
          }
        : {}),
    },
    spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox' }] },
    status: {
      phase: 'Running',
      containerStatuses: [
        {
          name: 'c',
          ready: o.ready ?? true,
          restartCount: 0,
          state: { running: { startedAt: '2026-12-05T11:00:00Z' } },
        },
      ],
    },
  }) as unknown as Pod;

const deployment = (uid: string, replicas: number) =>
  ({ kind: 'Deployment', metadata: { uid }, spec: { replicas } }) as unknown as Deployment;

const web = { matchLabels: { app: 'web' } };

describe('PodDisruptionBudget manifests', () => {
  const manifest = (spec: string) =>
    `apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: b}\nspec:\n${spec}`;
  const problems = (spec: string) => {
    try {
      validateManifestText(manifest(spec), 'pdb.yaml');
      return [];
    } catch (err) {
      if (err instanceof ManifestError) return err.problems;
      throw err;
    }
  };

  test('as kubectl takes them: a count or a percentage, a selector (empty: every pod), the eviction policy', () => {
    for (const spec of [
      '  minAvailable: 2\n  selector: {matchLabels: {app: web}}\n',
      '  minAvailable: "50%"\n  selector: {matchLabels: {app: web}}\n',
      '  maxUnavailable: 1\n  selector: {}\n',
      '  maxUnavailable: "100%"\n  unhealthyPodEvictionPolicy: AlwaysAllow\n',
      '  {}\n',
    ])
      assert.deepEqual(problems(spec), [], spec);
  });

  test('both bounds, a percentage over 100 or a negative count, an unknown policy: refused, each named', () => {
    assert.match(
      problems('  minAvailable: 1\n  maxUnavailable: 1\n').join('\n'),
      /minAvailable and maxUnavailable cannot be both set/,
    );
    assert.match(problems('  minAvailable: "150%"\n').join('\n'), /spec\.minAvailable/);
    assert.match(problems('  maxUnavailable: -1\n').join('\n'), /spec\.maxUnavailable/);
    assert.match(
      problems('  unhealthyPodEvictionPolicy: Sometimes\n').join('\n'),
      /spec\.unhealthyPodEvictionPolicy/,
    );
  });
});

describe('a budget’s status', () => {
  const three = [pod('a', { owner: 'd' }), pod('b', { owner: 'd' }), pod('c', { owner: 'd', ready: false })];
  const view = (pods: Pod[], replicas = 3) => ({
    pods,
    deployments: new Map([['d', deployment('d', replicas)]]),
    nowMs: NOW,
  });

  test('minAvailable 1 of three pods, two Ready: one disruption allowed', () => {
    const { status } = disruptionStatus(budget({ minAvailable: 1, selector: web }), view(three));
    assert.deepEqual(
      { ...status, conditions: status.conditions.map((c) => [c.type, c.status, c.reason]) },
      {
        observedGeneration: 1,
        disruptionsAllowed: 1,
        currentHealthy: 2,
        desiredHealthy: 1,
        expectedPods: 3,
        conditions: [['DisruptionAllowed', 'True', 'SufficientPods']],
      },
    );
  });

  test('maxUnavailable and percentages count the Deployment’s replicas, rounded up', () => {
    assert.equal(scaled('50%', 3), 2);
    assert.equal(scaled(2, 3), 2);
    // 4 replicas (one pod not made yet), maxUnavailable 1: 3 must be healthy, 2 are.
    const max = disruptionStatus(budget({ maxUnavailable: 1, selector: web }), view(three, 4)).status;
    assert.deepEqual(
      [max.expectedPods, max.desiredHealthy, max.currentHealthy, max.disruptionsAllowed],
      [4, 3, 2, 0],
    );
    assert.equal(max.conditions[0]!.reason, 'InsufficientPods');
    const pct = disruptionStatus(budget({ minAvailable: '50%', selector: web }), view(three, 2)).status;
    assert.deepEqual([pct.expectedPods, pct.desiredHealthy, pct.disruptionsAllowed], [2, 1, 1]);
  });

  test('pods of a controller with no scale (a DaemonSet) fail a percentage: SyncFailed, nothing allowed', () => {
    const ds = [pod('a', { owner: 'ds', ownerKind: 'DaemonSet' })];
    const { status } = disruptionStatus(budget({ maxUnavailable: '50%', selector: web }), view(ds));
    assert.equal(status.disruptionsAllowed, 0);
    assert.deepEqual(
      [status.conditions[0]!.reason, status.conditions[0]!.message],
      ['SyncFailed', 'found no controllers for pod "a"'],
    );
  });

  test('no selector picks nothing; neither bound allows nothing; other labels and namespaces are not covered', () => {
    assert.equal(disruptionStatus(budget({ minAvailable: 0 }), view(three)).status.expectedPods, 0);
    assert.equal(disruptionStatus(budget({ selector: web }), view(three)).status.disruptionsAllowed, 0);
    const other = { ...pod('x', { app: 'db' }) };
    const elsewhere = pod('y');
    elsewhere.metadata.namespace = 'other';
    const s = disruptionStatus(budget({ minAvailable: 0, selector: web }), view([other, elsewhere])).status;
    assert.deepEqual([s.expectedPods, s.currentHealthy], [0, 0]);
  });

  test('an evicted pod is not healthy until seen terminating, and forgotten after the timeout', () => {
    const at = new Date(NOW - 1000).toISOString();
    const spent = budget(
      { minAvailable: 1, selector: web },
      {
        observedGeneration: 1,
        disruptedPods: { a: at },
        disruptionsAllowed: 0,
        currentHealthy: 1,
        desiredHealthy: 1,
        expectedPods: 3,
        conditions: [],
      },
    );
    const held = disruptionStatus(spent, view(three));
    assert.deepEqual(held.status.disruptedPods, { a: at });
    assert.equal(held.status.currentHealthy, 1);
    assert.equal(held.wakeAt, NOW - 1000 + DISRUPTED_POD_TIMEOUT_MS);
    const later = disruptionStatus(spent, { ...view(three), nowMs: NOW - 1000 + DISRUPTED_POD_TIMEOUT_MS });
    assert.equal(later.status.disruptedPods, undefined);
    assert.equal(later.status.currentHealthy, 2);
    const terminating = three.map((p) =>
      p.metadata.name === 'a' ? { ...p, metadata: { ...p.metadata, deletionTimestamp: at } } : p,
    );
    assert.equal(disruptionStatus(spent, view(terminating)).status.disruptedPods, undefined);
  });
});

describe('the eviction API on etcd', () => {
  const suite = suiteEtcd();
  const cluster = 'eviction';
  const put = (...objs: KubeObject[]) =>
    createObjects(
      suite.client,
      cluster,
      objs.map((o) => newMeta(o)),
    );
  const node = () => suite.client.put(keys.node(cluster, 'n1')).value('{}').exec();
  const writeBudgetStatus = (name: string, status: PodDisruptionBudgetStatus) =>
    suite.client
      .put(statusKey(cluster, { kind: 'PodDisruptionBudget', namespace: 'ns', name }))
      .value(JSON.stringify(status))
      .exec();
  const podStatus = (p: Pod) =>
    suite.client
      .put(statusKey(cluster, { kind: 'Pod', namespace: 'ns', name: p.metadata.name }))
      .value(JSON.stringify(p.status))
      .exec();
  const bare = (p: Pod): Pod => {
    const { uid: _u, ...metadata } = p.metadata;
    const { status: _s, ...rest } = p;
    return { ...rest, metadata } as Pod;
  };
  const pdb = (name: string, spec: PodDisruptionBudget['spec']): PodDisruptionBudget =>
    ({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name, namespace: 'ns' },
      spec,
    }) as PodDisruptionBudget;
  const status = (allowed: number, healthy: number, desired: number): PodDisruptionBudgetStatus => ({
    observedGeneration: 1,
    disruptionsAllowed: allowed,
    currentHealthy: healthy,
    desiredHealthy: desired,
    expectedPods: healthy,
    conditions: [],
  });
  const ref = (name: string) => ({ kind: 'Pod' as const, namespace: 'ns', name });
  const refused = (status: number, message: RegExp) => (err: unknown) =>
    err instanceof HttpError && err.status === status && message.test(err.message);
  const terminating = async (name: string) =>
    (await getObject(suite.client, cluster, ref(name)))?.object.metadata.deletionTimestamp !== undefined;

  test('two evictions racing for the last disruption: one pod goes, the other is refused (429); the budget spent once', async () => {
    await node();
    const pods = ['r1', 'r2', 'r3'].map((n) => pod(n));
    await put(pdb('race', { minAvailable: 2, selector: web }), ...pods.map(bare));
    for (const p of pods) await podStatus(p);
    await writeBudgetStatus('race', status(1, 3, 2));
    const results = await Promise.allSettled([
      evictPod(suite.client, cluster, ref('r1')),
      evictPod(suite.client, cluster, ref('r2')),
    ]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const no = results.filter((r) => r.status === 'rejected');
    assert.equal(ok.length, 1, JSON.stringify(results));
    assert.deepEqual((ok[0] as PromiseFulfilledResult<unknown>).value, {
      pod: (ok[0] as PromiseFulfilledResult<{ pod: string }>).value.pod,
      namespace: 'ns',
      outcome: 'terminating',
      budget: 'race',
    });
    assert.ok(
      refused(
        429,
        /^Cannot evict pod as it would violate the pod's disruption budget: the disruption budget race needs 2 healthy pods and has 3 currently$/,
      )((no[0] as PromiseRejectedResult).reason),
      String((no[0] as PromiseRejectedResult).reason),
    );
    const evicted = (ok[0] as PromiseFulfilledResult<{ pod: string }>).value.pod;
    assert.ok(await terminating(evicted));
    const kept = evicted === 'r1' ? 'r2' : 'r1';
    assert.equal(await terminating(kept), false);
    const after = JSON.parse(
      (await suite.client
        .get(statusKey(cluster, { kind: 'PodDisruptionBudget', namespace: 'ns', name: 'race' }))
        .string())!,
    ) as PodDisruptionBudgetStatus;
    assert.equal(after.disruptionsAllowed, 0);
    assert.deepEqual(Object.keys(after.disruptedPods ?? {}), [evicted]);
  });

  test('an unhealthy pod goes without spending while the budget is met; not when it is short, unless AlwaysAllow', async () => {
    const sick = pod('s1', { app: 'sick', ready: false });
    const sick2 = pod('s2', { app: 'sick', ready: false });
    await put(
      pdb('sick', { minAvailable: 1, selector: { matchLabels: { app: 'sick' } } }),
      bare(sick),
      bare(sick2),
    );
    await podStatus(sick);
    await podStatus(sick2);
    await writeBudgetStatus('sick', status(0, 0, 1));
    await assert.rejects(
      evictPod(suite.client, cluster, ref('s1')),
      refused(429, /needs 1 healthy pods and has 0 currently/),
    );
    await writeBudgetStatus('sick', status(0, 1, 1));
    assert.equal((await evictPod(suite.client, cluster, ref('s1'))).outcome, 'terminating');
    const always = pdb('sick', {
      minAvailable: 1,
      selector: { matchLabels: { app: 'sick' } },
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    });
    const stored = (await getObject(
      suite.client,
      cluster,
      { kind: 'PodDisruptionBudget', namespace: 'ns', name: 'sick' },
      false,
    ))!;
    await suite.client
      .put(objectKey(cluster, { kind: 'PodDisruptionBudget', namespace: 'ns', name: 'sick' }))
      .value(toStoredJson({ ...stored.object, spec: always.spec }))
      .exec();
    await writeBudgetStatus('sick', status(0, 0, 1));
    assert.equal((await evictPod(suite.client, cluster, ref('s2'))).outcome, 'terminating');
  });

  test('k8s’ refusals: no pod (404), two budgets (500), a budget not computed yet (429); no budget: a plain delete', async () => {
    await assert.rejects(evictPod(suite.client, cluster, ref('nobody')), /pods "nobody" not found/);
    const twice = pod('t1', { app: 'twice' });
    const sel = { matchLabels: { app: 'twice' } };
    await put(
      pdb('one', { minAvailable: 0, selector: sel }),
      pdb('two', { minAvailable: 0, selector: sel }),
      bare(twice),
    );
    await podStatus(twice);
    await assert.rejects(
      evictPod(suite.client, cluster, ref('t1')),
      refused(500, /more than one PodDisruptionBudget/),
    );
    const fresh = pod('f1', { app: 'fresh' });
    await put(pdb('fresh', { minAvailable: 0, selector: { matchLabels: { app: 'fresh' } } }), bare(fresh));
    await podStatus(fresh);
    await assert.rejects(
      evictPod(suite.client, cluster, ref('f1')),
      refused(429, /^The disruption budget fresh is still being processed by the server\.$/),
    );
    const free = pod('free', { app: 'free' });
    await put(bare(free));
    await podStatus(free);
    assert.deepEqual(await evictPod(suite.client, cluster, ref('free')), {
      pod: 'free',
      namespace: 'ns',
      outcome: 'terminating',
    });
  });
});

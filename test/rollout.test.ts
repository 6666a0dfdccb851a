// Deployment rollouts (issue 16 item 2): the kubecontroller's leader in this process against a real
// etcd, its pods placed on node records the test wrote and "run" by simulated agents
// (harness/fake-agents.ts: Running and Ready a moment after they are bound, gone a moment after they are
// Terminating). Every state the pods go through is checked (the watch sees each etcd revision), not
// samples. Plus the pure rollout numbers (k8s rounding) and the validation of the new fields.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { applyManifests } from '../agent/objects/apply.ts';
import { listEvents } from '../agent/objects/events.ts';
import { createObjects, deleteObjects, getObject } from '../agent/objects/store.ts';
import type { Deployment, Pod, PodTemplateSpec } from '../agent/objects/types.ts';
import { validateManifestText } from '../agent/objects/validate.ts';
import { podFromTemplate, templateHash } from '../head/controllers/pod-template.ts';
import { REVISION_ANNOTATION } from '../head/controllers/revision-meta.ts';
import { rolloutParams } from '../head/controllers/rollout-params.ts';
import { eventually } from './harness/cluster.ts';
import { isPodReady } from './harness/fake-agents.ts';
import { progressing, RolloutWorld, template, testDeployment } from './harness/rollout-world.ts';

const cluster = 'rollout';
const NODES = ['f1', 'f2', 'f3'];

const deployment = (name: string, spec: Partial<Deployment['spec']> = {}) => testDeployment(name, spec);

describe('Deployment rollouts: the leader against real etcd, simulated agents', { timeout: 120_000 }, () => {
  const w = new RolloutWorld(cluster, NODES);
  before(() => w.start());
  after(() => w.stop());
  const { ref, read, mine, revisions, complete, imagesOf } = w;
  const update = (name: string, change: (d: Deployment) => void) => w.update(name, change);

  test('6 replicas, maxSurge 2 / maxUnavailable 1: at every etcd revision at most 8 pods and at least 5 ready; revisions 1 and 2 recorded', async () => {
    const strategy = { type: 'RollingUpdate' as const, rollingUpdate: { maxSurge: 2, maxUnavailable: 1 } };
    await createObjects(w.etcd, cluster, [deployment('roll', { replicas: 6, strategy })]);
    await complete('roll');
    let maxLive = 0;
    let minReady = Number.POSITIVE_INFINITY;
    let states = 0;
    w.agents.observer = (pods) => {
      const live = mine('roll', pods);
      maxLive = Math.max(maxLive, live.length);
      minReady = Math.min(minReady, live.filter(isPodReady).length);
      states++;
    };
    await update('roll', (d) => {
      d.spec.template.spec.containers[0]!.image = 'app:v2';
    });
    await eventually(
      () => imagesOf('roll').every((i) => i === 'app:v2') && imagesOf('roll').length === 6,
      30_000,
      'every pod on app:v2',
    );
    const d = await complete('roll');
    w.agents.observer = undefined;
    assert.ok(states > 12, `the watch saw the rollout's states (${states})`);
    // Both limits are reached (the rollout uses its room) and never passed.
    assert.equal(maxLive, 8, 'at most replicas + maxSurge pods, and the surge used');
    assert.equal(minReady, 5, 'at least replicas - maxUnavailable ready, and the room used');
    assert.equal(d.status?.readyReplicas, 6);
    assert.equal(d.status?.conditions?.find((c) => c.type === 'Available')?.status, 'True');

    const rs = await revisions('roll');
    assert.deepEqual(
      rs.map((r) => [r.metadata.annotations?.[REVISION_ANNOTATION], r.spec.replicas, r.status?.replicas]),
      [
        ['1', 0, 0],
        ['2', 6, 6],
      ],
    );
    const hash = templateHash(d.spec.template);
    assert.equal(rs[1]!.metadata.name, `roll-${hash}`);
    assert.equal(rs[1]!.spec.template.metadata?.labels?.['pod-template-hash'], hash);
    assert.ok(
      mine('roll', [...w.agents.pods.values()]).every(
        (p) => p.object.metadata.labels?.['pod-template-hash'] === hash,
      ),
    );
    await eventually(
      async () => {
        const said = (await listEvents(w.etcd, cluster, ref('roll'))).map((e) => `${e.reason}: ${e.message}`);
        return (
          said.includes(`ScalingReplicaSet: Scaled up replica set roll-${hash} from 0 to 2`) &&
          said.includes(`ScalingReplicaSet: Scaled down replica set ${rs[0]!.metadata.name} from 6 to 5`)
        );
      },
      5000,
      "kubectl's ScalingReplicaSet events",
    );
    assert.deepEqual(
      rs[1]!.metadata.ownerReferences?.map((o) => [o.kind, o.name, o.uid, o.controller]),
      [['Deployment', 'roll', d.metadata.uid, true]],
    );
  });

  test('readiness never passes: Progressing=False ProgressDeadlineExceeded with a Warning event, the old pods kept; the old template again rolls back (its revision renumbered)', async () => {
    const strategy = { type: 'RollingUpdate' as const, rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } };
    await createObjects(w.etcd, cluster, [
      deployment('stuck', { replicas: 3, strategy, progressDeadlineSeconds: 2 }),
    ]);
    await complete('stuck');
    w.agents.neverReady.add('app:broken');
    let minReady = Number.POSITIVE_INFINITY;
    let maxLive = 0;
    w.agents.observer = (pods) => {
      minReady = Math.min(minReady, mine('stuck', pods).filter(isPodReady).length);
      maxLive = Math.max(maxLive, mine('stuck', pods).length);
    };
    const t0 = Date.now();
    await update('stuck', (d) => {
      d.spec.template.spec.containers[0]!.image = 'app:broken';
    });
    const d = await eventually(
      async () => {
        const x = await read('stuck');
        return progressing(x)?.reason === 'ProgressDeadlineExceeded' && x;
      },
      15_000,
      'ProgressDeadlineExceeded',
    );
    const took = Date.now() - t0;
    assert.ok(took >= 2000, `not before the deadline (${took} ms)`);
    assert.equal(progressing(d)?.status, 'False');
    assert.equal(d.status?.availableReplicas, 3, 'the old pods still serve');
    assert.equal(d.status?.updatedReplicas, 1, 'one surge pod, never ready');
    assert.ok(minReady >= 3 && maxLive <= 4, `ready ${minReady}, pods ${maxLive}`);
    await eventually(
      async () =>
        (await listEvents(w.etcd, cluster, ref('stuck'))).some(
          (e) => e.type === 'Warning' && e.reason === 'ProgressDeadlineExceeded',
        ),
      5000,
      'a Warning event ProgressDeadlineExceeded',
    );

    const before = await revisions('stuck');
    const v1 = before.find((r) => r.spec.template.spec.containers[0]!.image === 'app:v1')!;
    await update('stuck', (x) => {
      x.spec.template.spec.containers[0]!.image = 'app:v1';
    });
    await complete('stuck');
    w.agents.observer = undefined;
    assert.ok(minReady >= 3, `never below 3 ready while going back: ${minReady}`);
    const rs = await revisions('stuck');
    assert.deepEqual(
      rs.map((r) => [r.metadata.name, r.metadata.annotations?.[REVISION_ANNOTATION], r.spec.replicas]),
      [
        [rs[0]!.metadata.name, '2', 0],
        [v1.metadata.name, '3', 3],
      ],
      'app:v1 is revision 3 now, app:broken stays 2',
    );
    assert.ok(imagesOf('stuck').every((i) => i === 'app:v1'));
  });

  test('paused: a template change waits (no new pod, no new revision), scaling keeps the running revision; resumed, it rolls out', async () => {
    await createObjects(w.etcd, cluster, [deployment('pause', { replicas: 2 })]);
    await complete('pause');
    await update('pause', (d) => {
      d.spec.paused = true;
    });
    await update('pause', (d) => {
      d.spec.template.spec.containers[0]!.image = 'app:v2';
    });
    const seen = await eventually(
      async () => {
        const d = await read('pause');
        return (
          d.status?.observedGeneration === d.metadata.generation &&
          progressing(d)?.reason === 'DeploymentPaused' &&
          d
        );
      },
      10_000,
      'the paused change observed',
    );
    assert.equal(progressing(seen)?.status, 'Unknown');
    assert.deepEqual(imagesOf('pause'), ['app:v1', 'app:v1']);
    assert.equal((await revisions('pause')).length, 1, 'no revision for the waiting template');

    await update('pause', (d) => {
      d.spec.replicas = 3;
    });
    await eventually(
      () => imagesOf('pause').length === 3 && imagesOf('pause').every((i) => i === 'app:v1'),
      10_000,
      '3 pods of app:v1',
    );

    await update('pause', (d) => {
      delete d.spec.paused;
    });
    await complete('pause');
    assert.deepEqual(imagesOf('pause'), ['app:v2', 'app:v2', 'app:v2']);
    assert.deepEqual(
      (await revisions('pause')).map((r) => r.metadata.annotations?.[REVISION_ANNOTATION]),
      ['1', '2'],
    );
  });

  test('revisionHistoryLimit 2: after 5 templates, the current revision and the 2 before it are kept', async () => {
    await createObjects(w.etcd, cluster, [deployment('hist', { replicas: 1, revisionHistoryLimit: 2 })]);
    await complete('hist');
    for (const v of [2, 3, 4, 5]) {
      await update('hist', (d) => {
        d.spec.template.spec.containers[0]!.image = `app:v${v}`;
      });
      await eventually(() => imagesOf('hist').join() === `app:v${v}`, 15_000, `app:v${v}`);
      await complete('hist');
    }
    await eventually(
      async () =>
        (await revisions('hist')).map((r) => r.metadata.annotations?.[REVISION_ANNOTATION]).join() ===
        '3,4,5',
      10_000,
      'revisions 3, 4 and 5 left',
    );
  });

  test('a Deployment whose pods predate revisions: they are adopted (same pods, none restarted), one record per hash, the current one last', async () => {
    // As the controller of before left it: pods owned by the Deployment itself, labelled with their
    // template's hash; a rollout was under way (one pod of an older template).
    const d = deployment('legacy', { replicas: 3 });
    const hash = templateHash(d.spec.template);
    const oldTemplate = template('legacy', 'app:v0');
    const oldHash = templateHash(oldTemplate);
    const pod = (h: string, t: PodTemplateSpec, i: number): Pod =>
      podFromTemplate(
        { ...d, spec: { ...d.spec, template: t } },
        `legacy-${h}-p${i}`,
        { 'pod-template-hash': h },
        NODES[i % 3],
      );
    const current = [0, 1, 2].map((i) => pod(hash, d.spec.template, i));
    const old = pod(oldHash, oldTemplate, 3);
    // All at once (a pod without its Deployment would be collected as an orphan).
    await createObjects(w.etcd, cluster, [d, old, ...current]);
    const uids = current.map((p) => p.metadata.uid).sort();
    const done = await complete('legacy');
    assert.deepEqual(
      mine('legacy', [...w.agents.pods.values()])
        .map((p) => p.object.metadata.uid)
        .sort(),
      uids,
      'the same three pods: adopted, not replaced',
    );
    const rs = await revisions('legacy');
    assert.deepEqual(
      rs.map((r) => [r.metadata.name, r.metadata.annotations?.[REVISION_ANNOTATION], r.spec.replicas]),
      [
        [`legacy-${oldHash}`, '1', 0],
        [`legacy-${hash}`, '2', 3],
      ],
    );
    assert.deepEqual(
      rs[0]!.spec.template.spec,
      oldTemplate.spec,
      "the older revision's template, read back from its pod",
    );
    assert.equal(done.status?.availableReplicas, 3);
  });

  test('an apply that expects a resourceVersion (the CLI read-modify-write): written only over it, else a conflict and nothing written', async () => {
    const text = (image: string) =>
      `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: rmw}\nspec:\n  replicas: 0\n  selector: {matchLabels: {app: rmw}}\n  template:\n    metadata: {labels: {app: rmw}}\n    spec: {containers: [{name: main, image: "${image}"}]}\n`;
    await applyManifests(w.etcd, cluster, validateManifestText(text('app:v1'), 'rmw.yaml'), 'test');
    const read1 = (await getObject(w.etcd, cluster, ref('rmw'), false))!;
    const [done] = await applyManifests(
      w.etcd,
      cluster,
      validateManifestText(text('app:v2'), 'rmw.yaml'),
      'test',
      {
        expect: [read1.modRevision],
      },
    );
    assert.equal(done?.action, 'configured');
    await assert.rejects(
      applyManifests(w.etcd, cluster, validateManifestText(text('app:v3'), 'rmw.yaml'), 'test', {
        expect: [read1.modRevision],
      }),
      (err: Error) => err.name === 'ObjectConflictError' && /resourceVersion/.test(err.message),
    );
    const now = (await getObject(w.etcd, cluster, ref('rmw'), false))!.object;
    assert.equal(now.spec.template.spec.containers[0]!.image, 'app:v2', 'the stale write changed nothing');
  });

  test("settled: every Deployment above, reconciled from the leader's caches, asks for no write (revisions included)", async () => {
    const pending = () => w.pending();
    let last: unknown;
    await eventually(
      async () => {
        const actions = await pending();
        last = actions.map((a) => a.type);
        return actions.length === 0;
      },
      10_000,
      'no action left',
    ).catch((err) => assert.fail(`${err.message}: ${JSON.stringify(last)}`));
    assert.ok((await revisions('roll')).length === 2);
  });

  test('a record deleted with its Deployment: collected by the sweep', async () => {
    await createObjects(w.etcd, cluster, [deployment('gone', { replicas: 1 })]);
    await complete('gone');
    assert.equal((await revisions('gone')).length, 1);
    assert.ok(await deleteObjects(w.etcd, cluster, [ref('gone')]));
    await eventually(async () => (await revisions('gone')).length === 0, 10_000, 'its revision collected');
  });
});

describe('rollout numbers and fields, as Kubernetes', () => {
  const params = (replicas: number, maxSurge: number | string, maxUnavailable: number | string) =>
    rolloutParams(
      deployment('x', {
        replicas,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge, maxUnavailable } },
      }),
    );
  test('percentages: surge rounded up, unavailable down; both 0 after rounding means 1 unavailable; defaults 25%/25%, 600 s, 10', () => {
    assert.deepEqual([params(10, '25%', '25%').maxSurge, params(10, '25%', '25%').maxUnavailable], [3, 2]);
    assert.deepEqual([params(1, '10%', '10%').maxSurge, params(1, '10%', '10%').maxUnavailable], [1, 0]);
    assert.deepEqual([params(4, 0, '10%').maxSurge, params(4, 0, '10%').maxUnavailable], [0, 1]);
    assert.equal(params(3, 1, 5).maxUnavailable, 3, 'never more than replicas');
    const p = rolloutParams(deployment('x', { replicas: 4 }));
    assert.deepEqual(
      [p.maxSurge, p.maxUnavailable, p.progressDeadlineSeconds, p.revisionHistoryLimit, p.paused],
      [1, 1, 600, 10, false],
    );
    const r = rolloutParams(deployment('x', { replicas: 4, strategy: { type: 'Recreate' } }));
    assert.deepEqual([r.maxSurge, r.maxUnavailable], [0, 0]);
  });

  const manifest = (spec: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: main, image: app}]}
${spec}`;
  test('validation: rollingUpdate fields, both 0 refused, a percentage over 100 for unavailable, deadline after minReadySeconds; ReplicaSet refused in a manifest', () => {
    const ok = validateManifestText(
      manifest(
        '  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: "50%", maxUnavailable: 0}}\n  paused: true\n  progressDeadlineSeconds: 30\n',
      ),
      'web.yaml',
    );
    assert.equal((ok[0]!.object as Deployment).spec.strategy?.rollingUpdate?.maxSurge, '50%');
    const refused = (spec: string, re: RegExp) =>
      assert.throws(() => validateManifestText(manifest(spec), 'web.yaml'), re);
    refused(
      '  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 0, maxUnavailable: "0%"}}\n',
      /maxUnavailable: may not be 0 when `maxSurge` is 0/,
    );
    refused(
      '  strategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: "150%"}}\n',
      /must not be greater than 100%/,
    );
    refused('  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: "1.5%"}}\n', /whole percentage/);
    refused(
      '  strategy: {type: Recreate, rollingUpdate: {maxSurge: 1}}\n',
      /may not be specified when strategy `type` is 'Recreate'/,
    );
    refused(
      '  minReadySeconds: 10\n  progressDeadlineSeconds: 10\n',
      /progressDeadlineSeconds: must be greater than minReadySeconds/,
    );
    assert.throws(
      () =>
        validateManifestText(
          'apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: r}\nspec: {}\n',
          'rs.yaml',
        ),
      /ReplicaSets are made by their Deployment/,
    );
  });
});

// Canaries and automatic rollback (issue 16 item 3): the kubecontroller's leader in this process against
// a real etcd, its pods "run" by simulated agents (harness/fake-agents.ts). Every state the pods go
// through is seen by the watch (not samples). Plus the pure parts on a fake clock: when canaries promote
// themselves, and the annotations' validation.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AUTO_PROMOTE_ANNOTATION,
  AUTO_ROLLBACK_ANNOTATION,
  CANARY_ANNOTATION,
  FULLY_AVAILABLE_ANNOTATION,
  PROMOTE_ANNOTATION,
  PROMOTED_AT_ANNOTATION,
  rolloutAnnotations,
} from '../agent/objects/rollout-annotations.ts';
import { createObjects, deleteObjects, refOf, type Stored } from '../agent/objects/store.ts';
import type { Deployment, Pod } from '../agent/objects/types.ts';
import { validateManifestText } from '../agent/objects/validate.ts';
import { rolloutState } from '../head/cli/rollout/status.ts';
import { canaryState } from '../head/controllers/canary.ts';
import { templateHash } from '../head/controllers/pod-template.ts';
import { REVISION_ANNOTATION } from '../head/controllers/revision-meta.ts';
import { eventually } from './harness/cluster.ts';
import { isPodReady } from './harness/fake-agents.ts';
import { progressing, RolloutWorld, template, testDeployment } from './harness/rollout-world.ts';

const cluster = 'canary';
const NODES = ['f1', 'f2', 'f3'];
const STRATEGY = { type: 'RollingUpdate' as const, rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } };

const deployment = (
  name: string,
  annotations: Record<string, string>,
  spec: Partial<Deployment['spec']> = {},
): Deployment => testDeployment(name, { replicas: 3, strategy: STRATEGY, ...spec }, annotations);

describe('canaries and auto-rollback: the leader against real etcd, simulated agents', {
  timeout: 120_000,
}, () => {
  const w = new RolloutWorld(cluster, NODES);
  before(async () => {
    await w.start();
    w.agents.readyDelayMs = 50;
    w.agents.stopDelayMs = 50;
  });
  after(() => w.stop());
  const { read, mine, revisions, complete, setImage, events } = w;
  const update = (name: string, change: (d: Deployment) => void) => w.update(name, change);
  const imagesOf = (name: string) => w.imagesOf(name).sort();
  const condition = (d: Deployment, type: string) => d.status?.conditions?.find((c) => c.type === type);
  const waitReason = (name: string, reason: string, timeoutMs = 15_000) =>
    eventually(
      async () => {
        const d = await read(name);
        return (
          d.status?.observedGeneration === d.metadata.generation && progressing(d)?.reason === reason && d
        );
      },
      timeoutMs,
      `${name}: Progressing ${reason}`,
    );
  const pending = (name: string) => w.pending(name);
  const settled = (name: string) =>
    eventually(async () => (await pending(name)).length === 0, 10_000, `${name}: nothing left to do`);
  const promote = async (name: string) => {
    const d = await read(name);
    const hash = d.status && (await revisions(name)).at(-1);
    assert.ok(hash, 'a current revision');
    await update(name, (x) => {
      x.metadata.annotations = {
        ...x.metadata.annotations,
        [PROMOTE_ANNOTATION]: hash.metadata.annotations![REVISION_ANNOTATION]!,
      };
    });
  };

  test('canary 1 of 3: one new pod beside the 3 old, held (CanaryWaiting: 1 of 1 ready) until promoted; then the rolling update', async () => {
    await createObjects(w.etcd, cluster, [deployment('can', { [CANARY_ANNOTATION]: '1' })]);
    await complete('can');
    let maxNew = 0;
    let minOldReady = Number.POSITIVE_INFINITY;
    let promoted = false;
    w.agents.observer = (pods) => {
      if (promoted) return;
      const live = mine('can', pods);
      maxNew = Math.max(maxNew, live.filter((p) => p.object.spec.containers[0]!.image === 'app:v2').length);
      const oldReady = live.filter((p) => p.object.spec.containers[0]!.image === 'app:v1' && isPodReady(p));
      minOldReady = Math.min(minOldReady, oldReady.length);
    };
    await setImage('can', 'app:v2');
    const waiting = await waitReason('can', 'CanaryWaiting');
    assert.equal(progressing(waiting)?.status, 'True');
    assert.match(
      progressing(waiting)!.message!,
      /^1 of 1 canaries of ReplicaSet "can-\w+" ready; waiting for promotion \(nokube rollout promote deployment\/can\)$/,
    );
    assert.deepEqual(rolloutState(waiting), {
      state: 'waiting',
      message: `Waiting for deployment "can" rollout to finish: ${progressing(waiting)!.message}`,
    });
    await settled('can');
    assert.deepEqual(imagesOf('can'), ['app:v1', 'app:v1', 'app:v1', 'app:v2'], 'held: 3 old + 1 canary');
    assert.equal(waiting.status?.updatedReplicas, 1);

    promoted = true;
    await promote('can');
    await complete('can');
    assert.deepEqual(imagesOf('can'), ['app:v2', 'app:v2', 'app:v2']);
    assert.equal(maxNew, 1, 'never more than the canary before the promotion');
    assert.equal(minOldReady, 3, 'the old pods stayed at full count');
    const current = (await revisions('can')).at(-1)!;
    assert.ok(
      current.metadata.annotations?.[PROMOTED_AT_ANNOTATION],
      'the promotion recorded on the revision',
    );
    assert.ok(current.metadata.annotations?.[FULLY_AVAILABLE_ANNOTATION], 'fully available, recorded');
    await eventually(
      async () =>
        (await events('can')).some((e) =>
          /^Normal CanaryPromoted: Canaries of ReplicaSet "can-\w+" promoted by nokube rollout promote \(revision 2\)$/.test(
            e,
          ),
        ),
      5000,
      'a CanaryPromoted event',
    );
    w.agents.observer = undefined;

    // Applied again without the promotion (a GitOps loop): the rollout is done and stays so.
    await update('can', (d) => {
      delete d.metadata.annotations![PROMOTE_ANNOTATION];
    });
    await settled('can');
  });

  test('a new template while canaries wait starts over: the waiting canary goes, the newest revision gets its own', async () => {
    await createObjects(w.etcd, cluster, [deployment('over', { [CANARY_ANNOTATION]: '1' })]);
    await complete('over');
    await setImage('over', 'app:v2');
    await waitReason('over', 'CanaryWaiting');
    await setImage('over', 'app:v3');
    const d = await eventually(
      async () => {
        const x = await read('over');
        return (
          x.status?.observedGeneration === x.metadata.generation &&
          progressing(x)?.reason === 'CanaryWaiting' &&
          imagesOf('over').join() === 'app:v1,app:v1,app:v1,app:v3' &&
          x
        );
      },
      15_000,
      '3 old + the canary of app:v3',
    );
    assert.match(progressing(d)!.message!, /^1 of 1 canaries/);
    await settled('over');
    assert.deepEqual(imagesOf('over'), ['app:v1', 'app:v1', 'app:v1', 'app:v3']);
    // An old pod lost while the canary waits: made again, of the old template.
    const lost = mine('over').find((p) => p.object.spec.containers[0]!.image === 'app:v1')!;
    assert.ok(
      await deleteObjects(w.etcd, cluster, [{ ...refOf(lost.object), createRevision: lost.createRevision }]),
    );
    await eventually(
      () =>
        imagesOf('over').join() === 'app:v1,app:v1,app:v1,app:v3' &&
        !mine('over').some((p) => p.object.metadata.name === lost.object.metadata.name),
      10_000,
      'the lost old pod replaced by one of app:v1',
    );
    await settled('over');
    assert.equal(progressing(await read('over'))?.reason, 'CanaryWaiting');
    assert.deepEqual(
      (await revisions('over')).map((r) => [r.metadata.annotations?.[REVISION_ANNOTATION], r.spec.replicas]),
      [
        ['1', 3],
        ['2', 0],
        ['3', 1],
      ],
    );
  });

  test('auto-promote after 1s: promoted once both canaries have been Ready for 1 s, not before', async () => {
    await createObjects(w.etcd, cluster, [
      deployment('auto', { [CANARY_ANNOTATION]: '2', [AUTO_PROMOTE_ANNOTATION]: '1s' }),
    ]);
    await complete('auto');
    await setImage('auto', 'app:v2');
    const waiting = await waitReason('auto', 'CanaryWaiting');
    assert.match(
      progressing(waiting)!.message!,
      /^2 of 2 canaries .* ready; waiting for promotion \(promoted automatically at \S+Z, or by nokube rollout promote deployment\/auto\)$/,
    );
    const canaries = mine('auto').filter((p) => p.object.spec.containers[0]!.image === 'app:v2');
    assert.equal(canaries.length, 2);
    const readyAt = Math.max(
      ...canaries.map((p) =>
        Date.parse(p.status!.conditions!.find((c) => c.type === 'Ready')!.lastTransitionTime),
      ),
    );
    await complete('auto');
    const rs = (await revisions('auto')).at(-1)!;
    const promotedAt = Date.parse(rs.metadata.annotations![PROMOTED_AT_ANNOTATION]!);
    assert.ok(promotedAt - readyAt >= 1000, `promoted ${promotedAt - readyAt} ms after both were Ready`);
    assert.ok(promotedAt - readyAt < 5000, `and soon after (${promotedAt - readyAt} ms)`);
    assert.ok(
      (await events('auto')).some((e) => /promoted automatically: 2 of 2 canaries Ready for 1s/.test(e)),
    );
  });

  test('a crash-looping canary fails the rollout (Progressing=False CanaryFailed, Warning), the old pods untouched; rollout status fails', async () => {
    await createObjects(w.etcd, cluster, [deployment('crash', { [CANARY_ANNOTATION]: '1' })]);
    await complete('crash');
    w.agents.crashLooping.add('app:crash');
    await setImage('crash', 'app:crash');
    const d = await waitReason('crash', 'CanaryFailed');
    assert.equal(progressing(d)?.status, 'False');
    assert.match(
      progressing(d)!.message!,
      /^canary pod crash-\w+-\w+: container main is crash-looping \(3 restarts\)$/,
    );
    assert.equal(rolloutState(d).state, 'failed');
    assert.match(rolloutState(d).message, /^deployment "crash" canaries failed: canary pod/);
    await settled('crash');
    assert.deepEqual(imagesOf('crash'), ['app:crash', 'app:v1', 'app:v1', 'app:v1']);
    assert.ok((await events('crash')).some((e) => e.startsWith('Warning CanaryFailed: canary pod crash-')));
  });

  test('auto-rollback on failed canaries: back to the fully available revision, RolledBack (Warning, condition), no canary step for it', async () => {
    await createObjects(w.etcd, cluster, [
      deployment('crashback', { [CANARY_ANNOTATION]: '1', [AUTO_ROLLBACK_ANNOTATION]: 'true' }),
    ]);
    await complete('crashback');
    await setImage('crashback', 'app:crash');
    const d = await complete('crashback');
    assert.deepEqual(imagesOf('crashback'), ['app:v1', 'app:v1', 'app:v1']);
    assert.equal(d.spec.template.spec.containers[0]!.image, 'app:v1');
    const rolled = condition(d, 'RolledBack');
    assert.equal(rolled?.status, 'True');
    assert.equal(rolled?.reason, 'CanaryFailed');
    assert.match(
      rolled!.message!,
      /^Rolled back from revision 2 to revision 1 \(CanaryFailed: canary pod crashback-\w+-\w+: container main is crash-looping/,
    );
    assert.equal(rolloutState(d).state, 'failed', 'the update asked for did not happen');
    assert.match(
      rolloutState(d).message,
      /^deployment "crashback" rolled back from revision 2 to revision 1/,
    );
    assert.deepEqual(
      (await revisions('crashback')).map((r) => [
        r.spec.template.spec.containers[0]!.image,
        r.metadata.annotations?.[REVISION_ANNOTATION],
      ]),
      [
        ['app:crash', '2'],
        ['app:v1', '3'],
      ],
    );
    assert.ok(
      (await events('crashback')).some((e) =>
        /^Warning RolledBack: Rolled back from revision 2 to revision 1/.test(e),
      ),
    );
    await settled('crashback');
  });

  test('auto-rollback on ProgressDeadlineExceeded (readiness never passes): back to the previous revision with every replica ready', async () => {
    await createObjects(w.etcd, cluster, [
      deployment('pde', { [AUTO_ROLLBACK_ANNOTATION]: 'true' }, { progressDeadlineSeconds: 1 }),
    ]);
    await complete('pde');
    w.agents.neverReady.add('app:unready');
    let minReady = Number.POSITIVE_INFINITY;
    w.agents.observer = (pods) => {
      minReady = Math.min(minReady, mine('pde', pods).filter(isPodReady).length);
    };
    await setImage('pde', 'app:unready');
    await eventually(async () => condition(await read('pde'), 'RolledBack'), 15_000, 'rolled back');
    const d = await complete('pde');
    w.agents.observer = undefined;
    assert.equal(minReady, 3, 'never below 3 ready');
    assert.equal(condition(d, 'RolledBack')?.reason, 'ProgressDeadlineExceeded');
    assert.match(
      condition(d, 'RolledBack')!.message!,
      /^Rolled back from revision 2 to revision 1 \(ProgressDeadlineExceeded: ReplicaSet "pde-\w+" has timed out progressing\.\)$/,
    );
    assert.equal(rolloutState(d).state, 'failed');
    // A new update clears it.
    await setImage('pde', 'app:v3');
    const next = await complete('pde');
    assert.equal(condition(next, 'RolledBack'), undefined);
    assert.equal(rolloutState(next).state, 'done');
  });

  test('no loop: a rollback whose own rollout fails stays there (one RolledBack event); a revision never fully available is never a target', async () => {
    // maxUnavailable 1: an old pod goes first, so going back needs a new pod of the old template.
    const strategy = { type: 'RollingUpdate' as const, rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } };
    await createObjects(w.etcd, cluster, [
      deployment(
        'loop',
        { [AUTO_ROLLBACK_ANNOTATION]: 'true' },
        { replicas: 2, strategy, progressDeadlineSeconds: 1, template: template('loop', 'app:good') },
      ),
    ]);
    await complete('loop');
    // From now on no new pod of either image turns Ready (the running app:good ones stay so).
    w.agents.neverReady.add('app:good');
    w.agents.neverReady.add('app:bad');
    await setImage('loop', 'app:bad');
    await eventually(async () => condition(await read('loop'), 'RolledBack'), 15_000, 'rolled back');
    const back = await eventually(
      async () => {
        const x = await read('loop');
        return (
          x.status?.observedGeneration === x.metadata.generation &&
          progressing(x)?.reason === 'ProgressDeadlineExceeded' &&
          x
        );
      },
      15_000,
      'the rollback times out too',
    );
    assert.equal(back.spec.template.spec.containers[0]!.image, 'app:good');
    await settled('loop');
    const after = await read('loop');
    assert.equal(after.metadata.generation, back.metadata.generation, 'no further rollback');
    assert.equal(after.spec.template.spec.containers[0]!.image, 'app:good');
    assert.equal((await events('loop')).filter((e) => / RolledBack: /.test(e)).length, 1);
    w.agents.neverReady.delete('app:good');
    w.agents.neverReady.delete('app:bad');
  });

  test('auto-rollback with no earlier fully available revision: stays, says so once', async () => {
    w.agents.neverReady.add('app:never');
    await createObjects(w.etcd, cluster, [
      deployment(
        'first',
        { [AUTO_ROLLBACK_ANNOTATION]: 'true' },
        { progressDeadlineSeconds: 1, template: template('first', 'app:never') },
      ),
    ]);
    await waitReason('first', 'ProgressDeadlineExceeded');
    const impossible = async () => (await events('first')).filter((e) => / RollbackImpossible: /.test(e));
    // Events leave the recorder's queue after the status write: waited for, then counted once settled.
    await eventually(async () => (await impossible()).length > 0, 15_000, 'the RollbackImpossible event');
    await settled('first');
    const said = await impossible();
    assert.deepEqual(said, [
      'Warning RollbackImpossible: auto-rollback: revision 1 failed (ProgressDeadlineExceeded) and no earlier revision was fully available; staying',
    ]);
  });
});

describe('canary rules, on a fake clock', () => {
  const pod = (name: string, readyAt: number | undefined): Stored<Pod> => ({
    object: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: 'default',
        uid: name,
        resourceVersion: '1',
        generation: 1,
        creationTimestamp: '',
      },
      spec: { containers: [{ name: 'main', image: 'app' }] },
      status:
        readyAt === undefined
          ? {
              phase: 'Running',
              conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: new Date(0).toISOString() }],
              containerStatuses: [
                {
                  name: 'main',
                  image: 'app',
                  ready: false,
                  restartCount: 0,
                  state: { running: { startedAt: new Date(0).toISOString() } },
                },
              ],
            }
          : {
              phase: 'Running',
              conditions: [
                { type: 'Ready', status: 'True', lastTransitionTime: new Date(readyAt).toISOString() },
              ],
              containerStatuses: [
                {
                  name: 'main',
                  image: 'app',
                  ready: true,
                  restartCount: 0,
                  state: { running: { startedAt: new Date(readyAt).toISOString() } },
                },
              ],
            },
    },
    modRevision: '1',
    createRevision: '1',
  });
  const state = (nowMs: number, current: Array<Stored<Pod>>, annotations: Record<string, string>) =>
    canaryState({
      name: 'web',
      annotations: rolloutAnnotations({ annotations }),
      replicas: 4,
      rolling: true,
      record: undefined,
      recordName: 'web-abc',
      current,
      old: [pod('o1', 0), pod('o2', 0), pod('o3', 0), pod('o4', 0)],
      ended: [],
      available: (p) => p.object.status?.conditions?.[0]?.status === 'True',
      nowMs,
    });

  test('auto-promote: holds until the latest of the N canaries has been Ready for the duration, then promotes', () => {
    const a = { [CANARY_ANNOTATION]: '2', [AUTO_PROMOTE_ANNOTATION]: '30s' };
    const t0 = 1_000_000;
    const one = state(t0 + 60_000, [pod('c1', t0), pod('c2', undefined)], a);
    assert.deepEqual([one.holding, one.ready, one.promoteAt, one.promote], [true, 1, undefined, undefined]);
    const both = [pod('c1', t0), pod('c2', t0 + 5000)];
    const early = state(t0 + 34_999, both, a);
    assert.deepEqual([early.holding, early.promoteAt], [true, t0 + 35_000]);
    const due = state(t0 + 35_000, both, a);
    assert.equal(due.holding, false);
    assert.equal(
      due.promote,
      'promoted automatically: 2 of 2 canaries Ready for 30s (nokube.io/canary-auto-promote-after)',
    );
    const manual = state(t0 + 10 ** 9, both, { [CANARY_ANNOTATION]: '2' });
    assert.deepEqual(
      [manual.holding, manual.promoteAt],
      [true, undefined],
      'without the annotation: waits for promote',
    );
    assert.equal(state(t0, [], { [CANARY_ANNOTATION]: '5' }).count, 4, 'never more canaries than replicas');
  });

  test('rollout status: RolledBack (written with the rollback, observed) fails it until a later apply', () => {
    const d = testDeployment('web', {}, { 'nokube.io/rolled-back-to': templateHash(template('web')) });
    d.metadata.generation = 3;
    const at = new Date(0).toISOString();
    d.status = {
      observedGeneration: 3,
      conditions: [
        {
          type: 'RolledBack',
          status: 'True',
          reason: 'ProgressDeadlineExceeded',
          message: 'Rolled back from revision 3 to revision 2 (x)',
          lastTransitionTime: at,
        },
      ],
    };
    assert.deepEqual(rolloutState(d), {
      state: 'failed',
      message: 'deployment "web" rolled back from revision 3 to revision 2 (x)',
    });
    d.metadata.generation = 4; // a template applied since, not observed yet
    assert.deepEqual(rolloutState(d), {
      state: 'waiting',
      message: 'Waiting for deployment spec update to be observed...',
    });
  });

  const manifest = (annotations: string, spec = '') => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: {${annotations}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: main, image: app}]}
${spec}`;
  test('validation at apply: canary count, auto-promote duration, auto-rollback value; refused with the annotation named', () => {
    validateManifestText(
      manifest(
        'nokube.io/canary: "3", nokube.io/canary-auto-promote-after: "1h30m", nokube.io/auto-rollback: "true"',
      ),
      'web.yaml',
    );
    const refused = (annotations: string, re: RegExp, spec?: string) =>
      assert.throws(() => validateManifestText(manifest(annotations, spec), 'web.yaml'), re);
    refused(
      'nokube.io/canary: "0"',
      /metadata\.annotations\.nokube\.io\/canary: "0": expected a whole number of canary pods, 1 or more/,
    );
    refused('nokube.io/canary: "two"', /"two": expected a whole number of canary pods/);
    refused('nokube.io/canary: "4"', /4 canaries for 3 replicas: must not be more than spec.replicas \(3\)/);
    refused(
      'nokube.io/canary: "1"',
      /canaries need strategy RollingUpdate/,
      '  strategy: {type: Recreate}\n',
    );
    refused(
      'nokube.io/canary: "1", nokube.io/canary-auto-promote-after: "5 minutes"',
      /canary-auto-promote-after: "5 minutes": expected a duration above 0 such as 30s, 5m, 1h30m/,
    );
    refused(
      'nokube.io/canary: "1", nokube.io/canary-auto-promote-after: "0s"',
      /"0s": expected a duration above 0/,
    );
    refused('nokube.io/canary-auto-promote-after: "30s"', /needs nokube.io\/canary/);
    refused('nokube.io/auto-rollback: "yes"', /auto-rollback: "yes": expected "true" or "false"/);
  });
});

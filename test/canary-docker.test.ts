// Canaries and automatic rollback on Docker (issue 16 items 3 and 7): three agents on one machine share a
// real Docker engine and a real etcd; the user's side is the CLI (`apply`, `rollout status|promote`).
// One Deployment `web` of 3 replicas goes through: a canary held until `rollout promote`; a canary that
// promotes itself after its healthy time; an image that cannot be pulled and a readiness probe that never
// passes, each rolled back automatically to the revision before, every replica ready, `rollout status`
// exiting 1. Deadlines are short: the file's time is mostly containers starting.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { listEvents } from '../agent/objects/events.ts';
import { PROMOTED_AT_ANNOTATION } from '../agent/objects/rollout-annotations.ts';
import { getObject, listObjects } from '../agent/objects/store.ts';
import type { Deployment, Pod } from '../agent/objects/types.ts';
import { connectEtcd } from '../agent/store/etcd.ts';
import { templateHash } from '../head/controllers/pod-template.ts';
import { REVISION_ANNOTATION } from '../head/controllers/revision-meta.ts';
import {
  clusterCli,
  createTestCluster,
  eventually,
  startAgentsReady,
  type TestCluster,
} from './harness/cluster.ts';
import { ensureBusyboxImage, requireDocker } from './harness/docker.ts';

interface Version {
  version: string;
  annotations?: Record<string, string>;
  image?: string;
  /** A readinessProbe that never passes. */
  unready?: boolean;
  progressDeadlineSeconds?: number;
}

describe('canaries and auto-rollback on Docker, three agents', { timeout: 600_000 }, () => {
  let c: TestCluster;
  let etcd: Etcd3;
  let busybox: string;

  const { cli, ok } = clusterCli(() => c);
  const manifest = (v: Version) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: ${JSON.stringify(v.annotations ?? {})}
spec:
  replicas: 3
  progressDeadlineSeconds: ${v.progressDeadlineSeconds ?? 30}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: web
          image: ${v.image ?? busybox}
          command: [sh, -c, 'trap "exit 0" TERM; while true; do sleep 1; done']
          env: [{name: VERSION, value: "${v.version}"}]
${v.unready ? '          readinessProbe: {exec: {command: ["false"]}, periodSeconds: 1}\n' : ''}`;
  const apply = (v: Version) => ok(['apply', '-f', '-'], manifest(v));
  const read = async () =>
    (await getObject(etcd, c.name, { kind: 'Deployment', namespace: 'default', name: 'web' }))!.object;
  const progressing = (d: Deployment) => d.status?.conditions?.find((x) => x.type === 'Progressing');
  const pods = async () =>
    (await listObjects(etcd, c.name, 'Pod', 'default'))
      .map((p) => p.object)
      .filter((p) => p.metadata.labels?.app === 'web' && !p.metadata.deletionTimestamp);
  const ready = (p: Pod) => p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True');
  const versionOf = (p: Pod) => p.spec.containers[0]!.env?.[0]?.value;
  const versions = async () => (await pods()).map(versionOf).sort().join();
  const revisions = async () =>
    (await listObjects(etcd, c.name, 'ReplicaSet', 'default'))
      .map((r) => r.object)
      .sort(
        (a, b) =>
          Number(a.metadata.annotations?.[REVISION_ANNOTATION]) -
          Number(b.metadata.annotations?.[REVISION_ANNOTATION]),
      );
  const events = async () =>
    (await listEvents(etcd, c.name, { kind: 'Deployment', namespace: 'default', name: 'web' })).map(
      (e) => `${e.type} ${e.reason}: ${e.message}`,
    );
  const canaryWaiting = () =>
    eventually(
      async () => {
        const d = await read();
        return (
          d.status?.observedGeneration === d.metadata.generation &&
          progressing(d)?.reason === 'CanaryWaiting' &&
          d
        );
      },
      60_000,
      'the canary to wait for its promotion',
    );
  /** Every replica of the template of `v`, Ready. */
  const allReady = (v: Version) =>
    eventually(
      async () => {
        const list = await pods();
        return list.length === 3 && list.every((p) => ready(p) && versionOf(p) === v.version) && list;
      },
      60_000,
      `3 ready pods of version ${v.version}`,
    );

  before(async () => {
    await requireDocker();
    busybox = await ensureBusyboxImage();
    c = await createTestCluster({ nodes: 3, net: 56 });
    etcd = await connectEtcd({ endpoints: [c.etcd.url], dialTimeoutMs: 3000 });
    await startAgentsReady(c);
  });
  after(async () => {
    etcd?.close();
    await c?.stop();
  });

  const canary = { 'nokube.io/canary': '1', 'nokube.io/auto-rollback': 'true' };

  test('canary 1: one new pod beside the 3 old, held until `nokube rollout promote`, then the rolling update', async () => {
    await apply({ version: '1', annotations: canary });
    await ok(['rollout', 'status', 'deployment/web', '--timeout', '60s']);
    // Bad annotations are refused at apply, naming the field; nothing changes.
    const generation = (await read()).metadata.generation;
    const bad = await cli(
      ['apply', '-f', '-'],
      manifest({
        version: '2',
        annotations: { 'nokube.io/canary': '4', 'nokube.io/canary-auto-promote-after': 'soon' },
      }),
    );
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /metadata\.annotations\.nokube\.io\/canary: 4 canaries for 3 replicas: must not be more than spec\.replicas \(3\)/,
    );
    assert.match(
      bad.stderr,
      /canary-auto-promote-after: "soon": expected a duration above 0 such as 30s, 5m, 1h30m/,
    );
    assert.equal((await read()).metadata.generation, generation);
    await apply({ version: '2', annotations: canary });
    const d = await canaryWaiting();
    assert.match(
      progressing(d)!.message!,
      /^1 of 1 canaries of ReplicaSet "web-\w+" ready; waiting for promotion/,
    );
    assert.equal(await versions(), '1,1,1,2', '3 old + 1 canary');
    assert.ok((await pods()).every(ready));
    const described = await ok(['describe', 'deployment', 'web']);
    assert.match(described, /Canary:\s+1 pod, promoted by nokube rollout promote/);
    assert.match(described, /Progressing\s+True\s+CanaryWaiting\s+1 of 1 canaries/);
    const waiting = await cli(['rollout', 'status', 'deployment/web', '--timeout', '1s']);
    assert.equal(waiting.code, 1, 'still waiting: timed out');
    assert.match(waiting.stdout, /Waiting for deployment "web" rollout to finish: 1 of 1 canaries/);

    assert.match(await ok(['rollout', 'promote', 'deployment/web']), /^deployment.apps\/web promoted\n$/);
    await ok(['rollout', 'status', 'deployment/web', '--timeout', '60s']);
    await allReady({ version: '2' });
    assert.match(
      await ok(['rollout', 'promote', 'deployment/web']),
      /is rolled out already: nothing to promote/,
    );
    assert.ok((await events()).some((e) => /CanaryPromoted: .* promoted by nokube rollout promote/.test(e)));
  });

  test('auto-promote after 2s: the canary promotes itself once Ready that long; rollout status waits it out', async () => {
    const v = { version: '3', annotations: { ...canary, 'nokube.io/canary-auto-promote-after': '2s' } };
    await apply(v);
    const d = await canaryWaiting();
    assert.match(progressing(d)!.message!, /promoted automatically at /);
    const canaryPod = (await pods()).find((p) => versionOf(p) === '3')!;
    const readyAt = Date.parse(
      canaryPod.status!.conditions!.find((x) => x.type === 'Ready')!.lastTransitionTime,
    );
    await ok(['rollout', 'status', 'deployment/web', '--timeout', '60s']);
    await allReady(v);
    const promotedAt = Date.parse((await revisions()).at(-1)!.metadata.annotations![PROMOTED_AT_ANNOTATION]!);
    assert.ok(promotedAt - readyAt >= 2000, `promoted ${promotedAt - readyAt} ms after the canary was Ready`);
  });

  /** The update fails; auto-rollback returns to `good` (revision and every replica); rollout status exits 1. */
  const rolledBack = async (bad: Version, good: Version, why: RegExp) => {
    const goodHash = templateHash((await read()).spec.template);
    const goodRevision = (await revisions()).at(-1)!.metadata.annotations![REVISION_ANNOTATION];
    await apply(bad);
    const status = await cli(['rollout', 'status', 'deployment/web', '--timeout', '90s']);
    assert.equal(status.code, 1, status.stdout + status.stderr);
    assert.match(
      status.stderr,
      new RegExp(
        `deployment "web" rolled back from revision \\d+ to revision ${goodRevision} \\(ProgressDeadlineExceeded`,
      ),
    );
    const list = await allReady(good);
    assert.ok(
      list.every((p) => p.metadata.labels?.['pod-template-hash'] === goodHash),
      'the previous revision',
    );
    const d = await read();
    assert.equal(templateHash(d.spec.template), goodHash);
    assert.equal(
      d.status?.conditions?.find((x) => x.type === 'RolledBack')?.reason,
      'ProgressDeadlineExceeded',
    );
    const said = await events();
    assert.ok(said.some((e) => e.startsWith('Warning ProgressDeadlineExceeded: ')));
    assert.ok(
      said.some((e) => why.test(e)),
      said.join('\n'),
    );
    const again = await cli(['rollout', 'status', 'deployment/web', '--timeout', '5s']);
    assert.equal(again.code, 1, 'the update asked for failed: still said');
  };

  test('an image that cannot be pulled: ProgressDeadlineExceeded, rolled back to the previous revision, every replica ready', async () => {
    const good = { version: '3', annotations: { 'nokube.io/auto-rollback': 'true' } };
    await apply(good); // the same template: no new revision, the canary annotations gone
    await rolledBack(
      { ...good, image: '127.0.0.1:1/nokube-test/none:1', progressDeadlineSeconds: 4 },
      good,
      /^Warning RolledBack: Rolled back from revision \d+ to revision \d+ \(ProgressDeadlineExceeded/,
    );
  });

  test('a readiness probe that never passes: likewise', async () => {
    const good = { version: '3', annotations: { 'nokube.io/auto-rollback': 'true' } };
    await rolledBack(
      { version: '4', annotations: good.annotations, unready: true, progressDeadlineSeconds: 4 },
      good,
      /^Warning RolledBack: Rolled back from revision \d+ to revision \d+ \(ProgressDeadlineExceeded/,
    );
  });
});

// Pod lifecycle end to end, one agent on a real Docker engine and a real etcd, manifests applied with
// `nokube apply`: a Job whose container exits 1 (restartPolicy Never): each pod ends Failed, the Job
// controller counts it, retries after the back-off and fails the Job past its backoffLimit as k8s does;
// and `nokube delete pod` of a running pod: Terminating, SIGTERM, the object gone, then the CLI returns.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { getObject, listObjects } from '../agent/objects/store.ts';
import type { JobStatus } from '../agent/objects/types.ts';
import { createTestCluster, eventually, getJson, runCli, type TestCluster } from './harness/cluster.ts';
import { type Docker, ensureBusyboxImage, requireDocker } from './harness/docker.ts';

describe('pod lifecycle on Docker: a failing Job, a graceful delete', { timeout: 240_000 }, () => {
  let c: TestCluster;
  let image: string;
  let docker: Docker;
  const cli = (args: string[], input?: string) => runCli(args, c.env, input);

  before(async () => {
    docker = await requireDocker();
    image = await ensureBusyboxImage();
    c = await createTestCluster({ nodes: 1, net: 72 });
    await c.startAgent('n1');
    await eventually(() => getJson(`${c.headUrl()}/readyz`), 60_000, 'head ready');
  });
  after(async () => {
    await c?.stop();
  });

  test('container exits 1, backoffLimit 2: three failed pods, then Failed (BackoffLimitExceeded) with a Warning', async () => {
    const applied = await cli(
      ['apply', '-f', '-'],
      `apiVersion: batch/v1
kind: Job
metadata: {name: doomed}
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: main
          image: ${image}
          command: [sh, -c, 'exit 1']
`,
    );
    assert.equal(applied.code, 0, applied.stderr);
    // backoffLimit 2 allows two retries: three pods, with 10 s then 20 s of back-off between them.
    const status = await eventually(
      async () => {
        const r = await cli(['get', 'job', 'doomed', '-o', 'json']);
        const s = (JSON.parse(r.stdout) as { status?: JobStatus }).status;
        return s?.conditions?.some((x) => x.type === 'Failed') && s;
      },
      150_000,
      'job doomed Failed',
    );
    const failed = status.conditions!.find((x) => x.type === 'Failed')!;
    assert.deepEqual(
      [failed.status, failed.reason, failed.message],
      ['True', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit'],
    );
    assert.deepEqual([status.failed, status.succeeded, status.active], [3, 0, 0]);
    const pods = (await c.withEtcd((etcd) => listObjects(etcd, c.name, 'Pod'))).filter(
      (p) => p.object.metadata.labels?.['job-name'] === 'doomed',
    );
    assert.deepEqual(
      pods.map((p) => p.object.status?.phase),
      ['Failed', 'Failed', 'Failed'],
      'the failed pods are kept (for their logs); none is started after the Job failed',
    );
    for (const p of pods)
      assert.equal(p.object.status?.containerStatuses?.[0]?.state.terminated?.exitCode, 1);
    const get = await cli(['get', 'job', 'doomed']);
    assert.match(get.stdout, /^doomed\s+Failed\s+0\/1\s/m);
    const describe = await cli(['describe', 'job', 'doomed']);
    assert.match(
      describe.stdout,
      /Warning\s+BackoffLimitExceeded\s.*Job has reached the specified backoff limit/,
    );
  });

  test('delete pod: Terminating while its agent stops it (SIGTERM), then gone; delete waits for that', async () => {
    const applied = await cli(
      ['apply', '-f', '-'],
      `apiVersion: v1
kind: Pod
metadata: {name: sleeper}
spec:
  terminationGracePeriodSeconds: 60
  containers:
    - name: main
      image: ${image}
      command: [sh, -c, 'trap "exit 0" TERM; while true; do sleep 1; done']
`,
    );
    assert.equal(applied.code, 0, applied.stderr);
    const ref = { kind: 'Pod' as const, namespace: 'default', name: 'sleeper' };
    const read = () => c.withEtcd((etcd) => getObject(etcd, c.name, ref));
    await eventually(
      async () => (await read())?.object.status?.phase === 'Running',
      60_000,
      'sleeper Running',
    );
    const started = Date.now();
    const del = cli(['delete', 'pod', 'sleeper']);
    await eventually(
      async () => {
        const p = await read();
        return p === null ? 'gone' : p.object.metadata.deletionTimestamp ? 'terminating' : undefined;
      },
      30_000,
      'sleeper Terminating or gone',
    );
    const r = await del;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'pods "sleeper" deleted\n');
    assert.equal(await read(), null, 'delete returned once the pod was gone');
    // The container took SIGTERM (its trap exits 0) well within the 60 s grace: no SIGKILL was needed.
    assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
    const left = await docker.listContainers({
      all: true,
      filters: { label: [`nokube.cluster=${c.name}`, 'nokube.pod=sleeper'] },
    });
    assert.deepEqual(left, [], 'its container is removed');
  });
});

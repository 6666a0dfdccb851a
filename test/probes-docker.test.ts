// Probes against the real engine and etcd (one agent process, busybox containers on the host network):
// exec, httpGet (busybox httpd), tcpSocket and gRPC probes each seen passing and failing through the
// pod's Ready condition and Unhealthy events; a failing liveness probe restarts the container; a startup
// probe holds liveness. busybox has no gRPC server and no image with one can be built offline here, so
// the gRPC probe checks a grpc.health.v1 server run by this test on the node's address (pods use the
// host network: the agent probes the node address either way).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listEvents } from '../agent/objects/events.ts';
import { createObjects, getObject, newMeta } from '../agent/objects/store.ts';
import type { Container, Pod, PodStatus } from '../agent/objects/types.ts';
import { createTestCluster, eventually, type TestCluster } from './harness/cluster.ts';
import { type Docker, ensureBusyboxImage, execIn, requireDocker } from './harness/docker.ts';
import { healthServer } from './harness/grpc-health.ts';
import { freePorts } from './harness/ports.ts';

describe('probes on Docker', { timeout: 300_000 }, () => {
  let c: TestCluster;
  let docker: Docker;
  let image: string;
  let address: string;

  const ref = (name: string) => ({ kind: 'Pod' as const, namespace: 'default', name });
  const put = (name: string, containers: Container[]) =>
    c.withEtcd((etcd) =>
      createObjects(etcd, c.name, [
        newMeta({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name, namespace: 'default' },
          spec: { nodeName: 'n1', terminationGracePeriodSeconds: 1, containers },
        } as Pod),
      ]),
    );
  const status = async (name: string): Promise<PodStatus | undefined> =>
    (await c.withEtcd((etcd) => getObject(etcd, c.name, ref(name))))?.object.status as PodStatus | undefined;
  const ready = (s: PodStatus | undefined) => s?.conditions?.find((x) => x.type === 'Ready')?.status;
  /** Until the pod's Ready condition says `want`. */
  const untilReady = (name: string, want: 'True' | 'False', ms = 30_000) =>
    eventually(
      async () => {
        const s = await status(name);
        return ready(s) === want && s;
      },
      ms,
      `${name} Ready=${want}`,
    );
  const events = (name: string) => c.withEtcd((etcd) => listEvents(etcd, c.name, ref(name)));
  /** Until an event of `reason` whose message matches. */
  const untilEvent = (name: string, reason: string, message: RegExp, ms = 30_000) =>
    eventually(
      async () => (await events(name)).find((e) => e.reason === reason && message.test(e.message)),
      ms,
      `${name}: a ${reason} event matching ${message}`,
    );
  const containerId = async (name: string) =>
    (
      await docker.listContainers({
        filters: { label: [`nokube.cluster=${c.name}`, `nokube.pod=${name}`] },
      })
    )[0]!.Id;
  const sh = (script: string, extra: Partial<Container> = {}): Container => ({
    name: 'm',
    image,
    command: ['sh', '-c', script],
    ...extra,
  });
  const fast = { periodSeconds: 1, failureThreshold: 1 };

  before(async () => {
    docker = await requireDocker();
    image = await ensureBusyboxImage();
    c = await createTestCluster({ nodes: 1, net: 151 });
    address = c.nodes[0]!.address;
    await c.startAgent('n1');
  });
  after(async () => {
    await c?.stop();
  });

  test('exec: ready while the command succeeds, unready with its output when it fails', async () => {
    await put('exec', [
      sh('sleep 3600', { readinessProbe: { exec: { command: ['cat', '/tmp/ready'] }, ...fast } }),
    ]);
    await untilEvent(
      'exec',
      'Unhealthy',
      /^Readiness probe failed: command \["cat","\/tmp\/ready"\] exited with 1: cat: can't open/,
    );
    assert.equal(ready(await status('exec')), 'False');
    const id = await containerId('exec');
    await execIn(docker, id, ['touch', '/tmp/ready']);
    const s = await untilReady('exec', 'True');
    assert.equal(s.containerStatuses?.[0]?.ready, true);
    await execIn(docker, id, ['rm', '/tmp/ready']);
    await untilReady('exec', 'False');
    assert.equal(
      (await status('exec'))?.containerStatuses?.[0]?.restartCount,
      0,
      'readiness restarts nothing',
    );
  });

  test('exec: a command past its timeout is killed in the container, not left running', async () => {
    const probe = {
      exec: { command: ['sleep', '31'] },
      timeoutSeconds: 1,
      periodSeconds: 2,
      failureThreshold: 10,
    };
    await put('exec-slow', [sh('sleep 3600', { readinessProbe: probe })]);
    await eventually(
      async () =>
        (await events('exec-slow'))
          .filter((e) => e.reason === 'Unhealthy' && /timed out after 1s/.test(e.message))
          .reduce((n, e) => n + e.count, 0) >= 3,
      30_000,
      'three probe timeouts',
    );
    // Each attempt lives 1 s of its 2 s period: one at most is running now; abandoned, three or more.
    const top = await docker.getContainer(await containerId('exec-slow')).top();
    const sleeping = (top.Processes as string[][]).filter((p) => p.join(' ').includes('sleep 31'));
    assert.ok(sleeping.length <= 1, `probe commands still running: ${sleeping.length}`);
  });

  test('httpGet (busybox httpd, named port, path): 200 ready, 404 unready', async () => {
    const [port] = await freePorts(1, address);
    await put('http', [
      sh(`mkdir -p /www && echo ok > /www/healthz && exec httpd -f -p ${address}:${port} -h /www`, {
        ports: [{ containerPort: port!, name: 'http' }],
        readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, ...fast },
      }),
    ]);
    await untilReady('http', 'True', 60_000);
    await execIn(docker, await containerId('http'), ['rm', '/www/healthz']);
    await untilReady('http', 'False');
    await untilEvent(
      'http',
      'Unhealthy',
      new RegExp(
        `^Readiness probe failed: HTTP GET http://${address.replaceAll('.', '\\.')}:${port}/healthz: status code 404$`,
      ),
    );
  });

  test('tcpSocket: a listening port is ready; liveness on a closed port restarts the container', async () => {
    const [open, closed] = await freePorts(2, address);
    await put('tcp', [
      sh(`mkdir -p /www && exec httpd -f -p ${address}:${open} -h /www`, {
        readinessProbe: { tcpSocket: { port: open! }, ...fast },
        livenessProbe: {
          tcpSocket: { port: open! },
          initialDelaySeconds: 5,
          periodSeconds: 1,
          failureThreshold: 3,
        },
      }),
    ]);
    await put('tcp-dead', [
      sh('sleep 3600', {
        livenessProbe: { tcpSocket: { port: closed! }, ...fast, terminationGracePeriodSeconds: 1 },
      }),
    ]);
    await untilReady('tcp', 'True', 60_000);
    const unhealthy = await untilEvent(
      'tcp-dead',
      'Unhealthy',
      /^Liveness probe failed: dial tcp .*: ECONNREFUSED$/,
    );
    assert.equal(unhealthy.type, 'Warning');
    const killing = await untilEvent('tcp-dead', 'Killing', /failed liveness probe/);
    assert.equal(killing.message, 'Container m failed liveness probe, will be restarted');
    // The back-off (10 s) ends: the container runs again, restarted once.
    await eventually(
      async () => ((await status('tcp-dead'))?.containerStatuses?.[0]?.restartCount ?? 0) >= 1,
      60_000,
      'tcp-dead restarted',
    );
    const s = (await status('tcp'))!;
    assert.equal(s.containerStatuses?.[0]?.restartCount, 0, 'a passing liveness probe kills nothing');
    assert.deepEqual(
      (await events('tcp')).filter((e) => e.reason === 'Killing'),
      [],
    );
  });

  test('grpc: SERVING is ready, NOT_SERVING unready with the answer in the event', async () => {
    const [port] = await freePorts(1, address);
    const health = await healthServer(address, port);
    try {
      health.set('', 1);
      await put('grpc', [sh('sleep 3600', { readinessProbe: { grpc: { port: port! }, ...fast } })]);
      await untilReady('grpc', 'True', 60_000);
      health.set('', 2);
      await untilReady('grpc', 'False');
      await untilEvent(
        'grpc',
        'Unhealthy',
        /^Readiness probe failed: service unhealthy \(responded with "NOT_SERVING"\)$/,
      );
      health.set('', 1);
      await untilReady('grpc', 'True');
    } finally {
      health.server.forceShutdown();
    }
  });

  test('a startup probe holds a failing liveness probe until it succeeds', async () => {
    const check = { exec: { command: ['cat', '/tmp/started'] } };
    await put('slow', [
      sh('sleep 3600', {
        startupProbe: { ...check, periodSeconds: 1, failureThreshold: 60 },
        livenessProbe: { ...check, periodSeconds: 1, failureThreshold: 1 },
        readinessProbe: { ...check, periodSeconds: 1 },
      }),
    ]);
    // Three startup failures seen: an unheld liveness probe would have killed it by then.
    await eventually(
      async () => {
        const startup = (await events('slow')).find(
          (e) => e.reason === 'Unhealthy' && e.message.startsWith('Startup'),
        );
        return (startup?.count ?? 0) >= 3;
      },
      60_000,
      'three startup probe failures',
    );
    const s = (await status('slow'))!;
    assert.equal(s.containerStatuses?.[0]?.started, false);
    assert.equal(ready(s), 'False');
    const evs = await events('slow');
    assert.deepEqual(
      evs.filter((e) => e.reason === 'Killing' || e.message.startsWith('Liveness')),
      [],
    );
    await execIn(docker, await containerId('slow'), ['touch', '/tmp/started']);
    const after = await untilReady('slow', 'True');
    assert.equal(after.containerStatuses?.[0]?.started, true);
    assert.equal(after.containerStatuses?.[0]?.restartCount, 0);
  });
});

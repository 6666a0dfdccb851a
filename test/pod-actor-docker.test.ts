// The pod actor against the real engine and etcd (one agent process): a command that does not exist
// surfaces as the kubelet says it, a ConfigMap edit restarts nothing while the mounted file changes, and
// a graceful delete runs preStop, delivers SIGTERM to the process and removes the object last.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { listEvents } from '../agent/objects/events.ts';
import { createObjects, getObject, newMeta, objectKey, toStoredJson } from '../agent/objects/store.ts';
import type { ConfigMap, KubeObject, Pod, PodSpec } from '../agent/objects/types.ts';
import { createTestCluster, eventually, type TestCluster } from './harness/cluster.ts';
import { type Docker, ensureBusyboxImage, requireDocker } from './harness/docker.ts';

describe('pod actor on Docker', { timeout: 300_000 }, () => {
  let c: TestCluster;
  let docker: Docker;
  let image: string;

  const put = (...objs: KubeObject[]) =>
    c.withEtcd((etcd) =>
      createObjects(
        etcd,
        c.name,
        objs.map((o) => newMeta(o)),
      ),
    );
  const pod = (name: string, spec: Omit<PodSpec, 'nodeName'>): Pod =>
    ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default' },
      spec: { ...spec, nodeName: 'n1' },
    }) as Pod;
  const ref = (name: string) => ({ kind: 'Pod' as const, namespace: 'default', name });
  const stored = (name: string) => c.withEtcd((etcd) => getObject(etcd, c.name, ref(name)));
  const containerOf = async (podName: string) =>
    (
      await docker.listContainers({
        all: true,
        filters: { label: [`nokube.cluster=${c.name}`, `nokube.pod=${podName}`] },
      })
    )[0];
  const execIn = async (id: string, cmd: string[]): Promise<string> => {
    const exec = await docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({});
    const chunks: Buffer[] = [];
    stream.on('data', (d: Buffer) => chunks.push(d));
    await new Promise((r) => stream.on('end', r));
    // Multiplexed output: skip the 8-byte frame headers.
    const buf = Buffer.concat(chunks);
    let out = '';
    for (let at = 0; at + 8 <= buf.length; at += 8 + buf.readUInt32BE(at + 4))
      out += buf.subarray(at + 8, at + 8 + buf.readUInt32BE(at + 4)).toString();
    return out;
  };

  before(async () => {
    docker = await requireDocker();
    image = await ensureBusyboxImage();
    c = await createTestCluster({ nodes: 1, net: 48 });
    await c.startAgent('n1');
  });
  after(async () => {
    await c?.stop();
  });

  test('command /nonexistent: Failed event with the engine message, StartError 128, CrashLoopBackOff; Never ends Failed', async () => {
    await put(
      pod('nx', {
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'm', image, command: ['/nonexistent'] }],
      }),
      pod('nx-never', {
        restartPolicy: 'Never',
        containers: [{ name: 'm', image, command: ['/nonexistent'] }],
      }),
    );
    const cs = await eventually(
      async () => {
        const s = (await stored('nx'))?.object.status?.containerStatuses?.[0];
        return s?.state.waiting?.reason === 'CrashLoopBackOff' && s;
      },
      30_000,
      'nx in CrashLoopBackOff',
    );
    assert.equal(cs.lastState?.terminated?.reason, 'StartError');
    assert.equal(cs.lastState?.terminated?.exitCode, 128);
    assert.match(cs.lastState?.terminated?.message ?? '', /nonexistent/);
    const events = await eventually(
      async () => {
        const ev = await c.withEtcd((etcd) => listEvents(etcd, c.name, ref('nx')));
        return ev.some((e) => e.reason === 'Failed') && ev;
      },
      10_000,
      'a Failed event for nx',
    );
    const failed = events.find((e) => e.reason === 'Failed')!;
    assert.equal(failed.type, 'Warning');
    assert.match(failed.message, /failed to start container "m".*\/nonexistent/);
    const never = await eventually(
      async () => {
        const s = (await stored('nx-never'))?.object.status;
        return s?.phase === 'Failed' && s;
      },
      30_000,
      'nx-never Failed',
    );
    assert.equal(never.containerStatuses?.[0]?.state.terminated?.reason, 'StartError');
  });

  test('a ConfigMap edit restarts nothing; the mounted file changes in place', async () => {
    const cm = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'live', namespace: 'default' },
      data: { color: 'blue' },
    } as unknown as ConfigMap;
    await put(
      cm,
      pod('reader', {
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'm',
            image,
            command: ['sleep', '3600'],
            env: [{ name: 'COLOR', valueFrom: { configMapKeyRef: { name: 'live', key: 'color' } } }],
            volumeMounts: [{ name: 'cfg', mountPath: '/cfg' }],
          },
        ],
        volumes: [{ name: 'cfg', configMap: { name: 'live' } }],
      }),
    );
    const before = await eventually(
      async () => {
        const ct = await containerOf('reader');
        return ct?.State === 'running' && ct;
      },
      60_000,
      'reader running',
    );
    const startedAt = (await docker.getContainer(before.Id).inspect()).State.StartedAt;
    assert.equal(await execIn(before.Id, ['cat', '/cfg/color']), 'blue');
    await c.withEtcd(async (etcd) => {
      const current = (await getObject(etcd, c.name, {
        kind: 'ConfigMap',
        namespace: 'default',
        name: 'live',
      }))!;
      const edited = { ...current.object, data: { color: 'red' } } as ConfigMap;
      await etcd
        .put(objectKey(c.name, { kind: 'ConfigMap', namespace: 'default', name: 'live' }))
        .value(toStoredJson(edited));
    });
    await eventually(
      async () => (await execIn(before.Id, ['cat', '/cfg/color'])) === 'red',
      20_000,
      'the mounted file says red inside the running container',
    );
    const now = await docker.getContainer(before.Id).inspect();
    assert.equal(now.State.StartedAt, startedAt, 'not restarted');
    assert.equal((await containerOf('reader'))?.Id, before.Id, 'not re-created');
    assert.ok(now.Config.Env.includes('COLOR=blue'), 'env is what it was when the container was made');
  });

  test('a graceful delete: preStop, then SIGTERM seen by the process, then the object is deleted', async () => {
    const out = join(c.dir, 'term');
    await put(
      pod('graceful', {
        terminationGracePeriodSeconds: 20,
        containers: [
          {
            name: 'm',
            image,
            command: ['sh', '-c'],
            args: [
              "trap 'echo TERM >> /out/log; exit 0' TERM; echo up >> /out/log; while true; do sleep 0.2; done",
            ],
            volumeMounts: [{ name: 'out', mountPath: '/out' }],
            lifecycle: { preStop: { exec: { command: ['sh', '-c', 'echo prestop >> /out/log'] } } },
          },
        ],
        volumes: [{ name: 'out', hostPath: { path: out, type: 'DirectoryOrCreate' } }],
      }),
    );
    await eventually(
      async () => (await readFile(join(out, 'log'), 'utf8').catch(() => '')).includes('up'),
      60_000,
      'graceful up',
    );
    // What the API's delete does for a bound pod (the contract in the issue): set deletionTimestamp.
    await c.withEtcd(async (etcd) => {
      const s = (await getObject(etcd, c.name, ref('graceful'), false))!;
      s.object.metadata.deletionTimestamp = new Date(Date.now() + 20_000).toISOString();
      s.object.metadata.deletionGracePeriodSeconds = 20;
      await etcd.put(objectKey(c.name, ref('graceful'))).value(toStoredJson(s.object));
    });
    await eventually(async () => !(await stored('graceful')), 30_000, 'the pod object deleted by its agent');
    assert.equal(await readFile(join(out, 'log'), 'utf8'), 'up\nprestop\nTERM\n');
    assert.equal(await containerOf('graceful'), undefined, 'container removed before the object');
    const left = await c.withEtcd((etcd) => etcd.getAll().prefix(`/nokube/${c.name}/`).keys());
    assert.deepEqual(
      left.filter((k) => k.includes('graceful') && !k.includes('/events/')),
      [],
      'no status or alive key left',
    );
  });
});

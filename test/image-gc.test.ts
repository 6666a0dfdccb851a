// Image garbage collection (issue 19 item 4): the plan (agent/images/image-gc.ts) in table cases, and on a
// netns host with its own Docker engine and agent: with the thresholds lowered (config set, applied at
// once) the unused image nokube brought (it ran in a pod that is gone) goes, and nothing else: an image of
// a running pod, one an exited container of someone else's uses, one a prewarm task's request asks for and
// one nokube never used (another user's on a shared engine) stay; once the task is cancelled, its image goes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import type { Etcd3 } from 'etcd3';
import { type GCImage, normalizeRef, planImageGC } from '../agent/images/image-gc.ts';
import { connectEtcd } from '../agent/store/etcd.ts';
import { keys } from '../agent/store/keys.ts';
import {
  createTestCluster,
  eventually,
  runCli,
  startAgentsReady,
  type TestCluster,
} from './harness/cluster.ts';
import { ensureBusyboxImage, requireDocker } from './harness/docker.ts';
import { startTestHosts, type TestHosts } from './harness/hosts.ts';

const GB = 1e9;
const image = (
  id: string,
  names: string[],
  sizeBytes: number,
  lastUsedMs: number,
  firstSeenMs = 0,
): GCImage => ({
  id,
  names,
  sizeBytes,
  lastUsedMs,
  firstSeenMs,
});

describe('image GC plan', () => {
  const config = { highThresholdPercent: 85, lowThresholdPercent: 80, minAgeSeconds: 120 };
  const images = [
    image('a', ['app:1'], 2 * GB, 100),
    image('b', ['docker.io/library/old:1'], 3 * GB, 50),
    image('c', ['reg:5000/x:2'], 1 * GB, 10),
    image('d', ['young:1'], 4 * GB, 0, 1_000_000),
    image('e', ['busybox:latest'], 1 * GB, 5),
    image('f', ['theirs:1'], 5 * GB, 1),
  ];
  const plan = (availableBytes: number, keep: string[] = [], inUse: string[] = []) =>
    planImageGC({
      disk: { sizeBytes: 100 * GB, availableBytes },
      images,
      inUse: new Set(inUse),
      keep: new Set(keep),
      ours: new Set(['app:1', 'old:1', 'reg:5000/x:2', 'young:1', 'busybox'].map(normalizeRef)),
      config,
      nowMs: 1_000_000 + 60_000,
    });

  test('below the high threshold nothing; above it, least recently used first down to the low threshold', () => {
    assert.deepEqual(plan(16 * GB).remove, [], '84 % used');
    const p = plan(14 * GB); // 86 % used: 6 GB to free
    assert.equal(p.toFreeBytes, 6 * GB);
    assert.deepEqual(
      p.remove.map((i) => i.id),
      ['e', 'c', 'b', 'a'],
      "oldest use first: e (1), c (1), b (3): 5 GB, then a; d is younger than minAge; f is not ours (another user's image)",
    );
  });

  test('never an image in use, asked for, or named another way for the same reference', () => {
    const p = plan(14 * GB, ['busybox', 'reg:5000/x:2'], ['a']);
    assert.deepEqual(
      p.remove.map((i) => i.id),
      ['b'],
      '"busybox" is docker.io/library/busybox:latest',
    );
    assert.equal(normalizeRef('busybox'), 'docker.io/library/busybox:latest');
    assert.equal(normalizeRef('library/busybox:1'), 'docker.io/library/busybox:1');
    assert.equal(normalizeRef('localhost:5000/a/b'), 'localhost:5000/a/b:latest');
    assert.equal(normalizeRef('reg.io/a@sha256:00'), 'reg.io/a@sha256:00');
  });
});

describe('image GC on a host with its own Docker engine', { timeout: 300_000 }, () => {
  let hosts: TestHosts;
  let c: TestCluster;
  let etcd: Etcd3;
  let engine: Docker;
  const tags = {
    app: 'nokube-gc/app:1',
    junk: 'nokube-gc/junk:1',
    theirs: 'nokube-gc/theirs:1',
    wanted: 'nokube-gc/wanted:1',
    spare: 'nokube-gc/spare:1',
  };

  const ok = async (args: string[], input?: string) => {
    const r = await runCli(args, c.env, input);
    assert.equal(r.code, 0, `nokube ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const present = async (ref: string) =>
    engine
      .getImage(ref)
      .inspect()
      .then(
        () => true,
        () => false,
      );

  before(async () => {
    const machine = await requireDocker();
    const busybox = await ensureBusyboxImage();
    hosts = await startTestHosts(1, { sshd: false, docker: true });
    const h = hosts.hosts[0]!;
    engine = new Docker({ socketPath: h.dockerSocket! });
    await engine.loadImage(await machine.getImage(busybox).get());
    // The same content under several names: one image each only when its layers differ, so each tag gets
    // its own image (a label changes the config, hence the id).
    for (const [name, ref] of Object.entries(tags)) {
      const [repo, tag] = ref.split(':');
      const container = await engine.createContainer({ Image: busybox, Cmd: ['true'], Labels: { gc: name } });
      await container.commit({ repo, tag, changes: `LABEL gc=${name}` });
      await container.remove();
    }
    // Someone else's exited container on the same engine.
    const theirs = await engine.createContainer({ Image: tags.theirs, Cmd: ['true'] });
    await theirs.start();
    await theirs.wait();
    c = await createTestCluster({
      nodes: [
        {
          name: h.name,
          address: h.address,
          roles: ['head', 'worker'],
          dockerSocket: h.dockerSocket!,
          fields: { imageGC: { highThresholdPercent: 100, lowThresholdPercent: 0, minAgeSeconds: 0 } },
        },
      ],
      etcdHost: hosts.gateway,
      wrap: () => ['ip', 'netns', 'exec', h.netns],
      namePrefix: 'gc',
    });
    await startAgentsReady(c);
    etcd = await connectEtcd({ endpoints: [c.etcd.url], dialTimeoutMs: 3000 });
  });
  after(async () => {
    etcd?.close();
    await c?.stop();
    await hosts?.stop();
  });

  test('thresholds lowered: unused images removed; in use, exited containers, asked for kept', async () => {
    // `junk` ran in a pod that is gone now: ours, and unused.
    await ok(
      ['apply', '-f', '-'],
      `apiVersion: v1\nkind: Pod\nmetadata: {name: once}\nspec:\n  restartPolicy: Never\n  containers: [{name: main, image: ${tags.junk}, imagePullPolicy: Never, command: ['true']}]\n`,
    );
    await eventually(
      async () =>
        (JSON.parse(await ok(['get', 'pod', 'once', '-o', 'json'])) as { status?: { phase?: string } }).status
          ?.phase === 'Succeeded',
      60_000,
      'once succeeded',
    );
    await ok(['delete', 'pod', 'once']);
    await ok(
      ['apply', '-f', '-'],
      `apiVersion: v1\nkind: Pod\nmetadata: {name: app}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers: [{name: main, image: ${tags.app}, imagePullPolicy: Never, command: [sleep, '3600']}]\n`,
    );
    await eventually(
      async () =>
        (JSON.parse(await ok(['get', 'pod', 'app', '-o', 'json'])) as { status?: { phase?: string } }).status
          ?.phase === 'Running',
      60_000,
      'app running',
    );
    // A prewarm task asks for `wanted` (held already) and an image no registry serves: its request stays
    // while the second is retried.
    const node = c.nodes[0]!.name;
    await ok([
      'prewarm',
      'create',
      '--name',
      'keep',
      '--image',
      tags.wanted,
      '--image',
      '127.0.0.1:9/nokube-gc/missing:1',
      '--batch-size',
      '1',
      '--retries',
      '10',
    ]);
    await eventually(
      async () => {
        const v = await etcd.get(keys.nodeStatus(c.name, node)).string();
        return (
          v &&
          (JSON.parse(v) as { pulls: Array<{ image: string; state: string }> }).pulls.some(
            (p) => p.image === tags.wanted && p.state === 'Pulled',
          )
        );
      },
      30_000,
      'the request answered for the image held',
    );
    assert.ok(await present(tags.junk));
    await ok(['config', 'set', `nodes.${node}.imageGC.highThresholdPercent`, '1']);
    await eventually(async () => !(await present(tags.junk)), 30_000, 'the unused image of ours removed');
    for (const ref of [tags.app, tags.theirs, tags.wanted, tags.spare])
      assert.ok(await present(ref), `${ref} kept (in use, used by a container, asked for, not ours)`);
    const metrics = await (await fetch(`${c.agentUrl(node)}/metrics`)).text();
    assert.match(metrics, /^nokube_image_gc_removed_total\{(?=[^}]*unit="images")[^}]*\} 1$/m);
    // Asked for no more: it goes too at the next pass (a config change makes one).
    await ok(['prewarm', 'cancel', 'keep']);
    await eventually(
      async () => (await etcd.getAll().prefix(keys.imagePullsPrefix(c.name)).keys()).length === 0,
      20_000,
      'the request removed',
    );
    await ok(['config', 'set', `nodes.${node}.imageGC.highThresholdPercent`, '2']);
    await eventually(
      async () => !(await present(tags.wanted)),
      30_000,
      'the image no longer asked for removed',
    );
    assert.ok(await present(tags.app), 'the running pod keeps its image');
  });
});

// The peers fetcher (agent/images/peers/fetcher.ts) in this process, on real etcd, the machine's engine
// and a registry: with no holder it claims the site's uplink fetch and pulls from the registry, the claim
// gone after; with etcd frozen or down (holders and claims live there) it pulls straight from the
// registry, so a node cut off still gets images for its pods.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import type { ClusterConfig, NodeConfig } from '../agent/config/schema.ts';
import { Bandwidth } from '../agent/images/peers/bandwidth.ts';
import { ImageFetcher } from '../agent/images/peers/fetcher.ts';
import { sweepParts } from '../agent/images/peers/transfer.ts';
import { createLogger } from '../agent/log/logger.ts';
import { connectEtcd } from '../agent/store/etcd.ts';
import { keys } from '../agent/store/keys.ts';
import { eventually } from './harness/cluster.ts';
import {
  type Docker,
  ensureBusyboxImage,
  imageExists,
  pushImage,
  requireDocker,
  startRegistry,
  type TestRegistry,
} from './harness/docker.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';
import { freezeProcess } from './harness/frozen.ts';

describe('image fetcher, no peer holding the image', { timeout: 120_000 }, () => {
  let etcdServer: TestEtcd;
  let etcd: Etcd3;
  let docker: Docker;
  let registry: TestRegistry;
  let dir: string;
  const lines: string[] = [];
  const cluster = `fetch-${process.pid}`;
  const fetched: string[] = [];

  /** Each fetcher made, stopped at the end (its claims' lease would keep renewing: the process alive). */
  const fetchers: ImageFetcher[] = [];
  const fetcher = () => {
    const f = new ImageFetcher({
      etcd,
      cluster,
      node: 'n1',
      docker,
      config: () => ({ images: { peers: true, siteLabel: 'topology.kubernetes.io/zone' } }) as ClusterConfig,
      self: () => ({ name: 'n1', labels: { 'topology.kubernetes.io/zone': 'a' } }) as unknown as NodeConfig,
      member: () => undefined,
      transfer: {
        docker,
        dir: join(dir, 'parts'),
        bandwidth: new Bandwidth(undefined),
        counts: { sent: () => undefined, received: () => undefined },
        openStream: () => Promise.reject(new Error('no peer in this test')),
        log: createLogger({ node: 'n1' }, 'silent'),
      },
      log: createLogger(
        { node: 'n1' },
        'info',
        new Writable({
          write(chunk, _enc, done) {
            lines.push(String(chunk));
            done();
          },
        }),
      ),
      fetched: (image, source) => fetched.push(`${source} ${image}`),
    });
    fetchers.push(f);
    return f;
  };
  /** A fresh image in the registry that the engine does not hold. */
  const fresh = async (name: string) => {
    const ref = await pushImage(docker, await ensureBusyboxImage(), registry.host, `${name}:1`);
    await docker.getImage(ref).remove();
    return ref;
  };

  before(async () => {
    docker = await requireDocker();
    registry = await startRegistry();
    etcdServer = await startTestEtcd();
    etcd = await connectEtcd({ endpoints: [etcdServer.url], dialTimeoutMs: 1000 });
    dir = await mkdtemp(join(tmpdir(), 'nokube-fetcher-'));
  });
  after(async () => {
    for (const f of fetchers) f.stop();
    etcd?.close();
    await etcdServer?.stop();
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('etcd answering: the site claim is taken, the image pulled from the registry, the claim removed', async () => {
    const ref = await fresh(`fetcher-up-${process.pid}`);
    const seen: string[] = [];
    const watcher = await etcd
      .watch()
      .prefix(keys.imageSource(cluster, 'a', ''))
      .create();
    watcher.on('put', (kv) => seen.push(`put ${JSON.parse(kv.value.toString()).node}`));
    watcher.on('delete', () => seen.push('delete'));
    // What a peer had sent of it before (a transfer that gave up): of no use once it came another way.
    const base = join(dir, 'parts', createHash('sha256').update(ref).digest('hex').slice(0, 32));
    await mkdir(join(dir, 'parts'), { recursive: true });
    await writeFile(`${base}.part`, 'half an image');
    await writeFile(`${base}.json`, '{}');
    try {
      assert.equal(await fetcher().pull(ref, new AbortController().signal), 'registry');
      assert.ok(await imageExists(docker, ref));
      assert.deepEqual(fetched.at(-1), `registry ${ref}`);
      assert.deepEqual(await readdir(join(dir, 'parts')), [], 'the part dropped');
      // The claim's put and delete reach the watcher after the pull returned.
      await eventually(async () => seen.length >= 2, 5000, 'the claim put and deleted');
      assert.deepEqual(seen, ['put n1', 'delete']);
      assert.deepEqual(
        await etcd
          .getAll()
          .prefix(keys.imageSource(cluster, 'a', ''))
          .keys(),
        [],
      );
    } finally {
      await watcher.cancel();
    }
  });

  test('etcd frozen (SIGSTOP) or down: straight to the registry, said in the log each time', async () => {
    const said = () =>
      lines.filter((l) => l.includes('etcd does not answer: pulling from the registry')).length;
    const frozenRef = await fresh(`fetcher-frozen-${process.pid}`);
    const pid = etcdServer.process.pid!;
    await freezeProcess(pid);
    try {
      // The calls' deadline (dialTimeoutMs) bounds the wait for the site's holders.
      assert.equal(await fetcher().pull(frozenRef, new AbortController().signal), 'registry');
      assert.ok(await imageExists(docker, frozenRef));
      assert.equal(said(), 1);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const downRef = await fresh(`fetcher-down-${process.pid}`);
    await etcdServer.pause();
    try {
      assert.equal(await fetcher().pull(downRef, new AbortController().signal), 'registry');
      assert.ok(await imageExists(docker, downRef));
      assert.equal(said(), 2);
    } finally {
      await etcdServer.resume();
    }
  });

  test('at start, parts not written for a day are removed, newer ones kept for a resume', async () => {
    const parts = join(dir, 'sweep');
    await mkdir(parts, { recursive: true });
    for (const name of ['old.part', 'old.json', 'new.part', 'new.json', 'other.txt'])
      await writeFile(join(parts, name), 'x');
    const dayAndMore = new Date(Date.now() - 25 * 3600_000);
    for (const name of ['old.part', 'old.json', 'other.txt'])
      await utimes(join(parts, name), dayAndMore, dayAndMore);
    assert.equal(await sweepParts(parts, 24 * 3600_000), 2);
    assert.deepEqual((await readdir(parts)).sort(), ['new.json', 'new.part', 'other.txt']);
    assert.equal(await sweepParts(join(dir, 'none'), 1), 0, 'no folder yet: nothing to do');
  });
});

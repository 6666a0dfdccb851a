// Per-node pod subnets against a real etcd (agent/podnet/subnet.ts, head/controllers/pod-subnets.ts): a
// node keeps its block across restarts (from etcd, and from its workspace when etcd does not answer), two
// nodes never hold one block even when they claim at once, a full pod CIDR is an error, and only the
// leading head frees the block (and the node's VTEP record) of a node gone from the config, once its
// record is gone.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import type { ClusterConfig } from '../agent/config/schema.ts';
import { createLogger } from '../agent/log/logger.ts';
import { claimSubnet, NodeSubnet, subnetCachePath } from '../agent/podnet/subnet.ts';
import { connectEtcd, createEtcd } from '../agent/store/etcd.ts';
import { keys } from '../agent/store/keys.ts';
import { Leader } from '../head/controllers/kubecontroller.ts';
import { freeRemovedSubnets } from '../head/controllers/pod-subnets.ts';
import { eventually } from './harness/cluster.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';
import { leaderContext } from './harness/leader-context.ts';

const log = createLogger({ test: 'pod-subnets' }, 'silent');
const net = { podCidr: '10.77.0.0/21', nodeMaskSize: 24 };

describe('pod subnets', () => {
  let server: TestEtcd;
  let etcd: Etcd3;
  let dir: string;

  before(async () => {
    server = await startTestEtcd();
    etcd = await connectEtcd({ endpoints: [server.url], dialTimeoutMs: 3000 });
    dir = await mkdtemp(join(tmpdir(), 'pod-subnets-'));
  });
  after(async () => {
    etcd?.close();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const subnets = async (cluster: string) =>
    etcd.getAll().prefix(keys.networkSubnetsPrefix(cluster)).strings();
  const owners = async (cluster: string) =>
    etcd.getAll().prefix(keys.networkSubnetOwnersPrefix(cluster)).strings();

  test('a node keeps its block across restarts, from etcd and, cut off from etcd, from its workspace', async () => {
    const cluster = 'stable';
    const workspace = join(dir, 'stable-a');
    const first = new NodeSubnet({ etcd, cluster, node: 'a', network: net, workspace, log });
    await first.start();
    const cidr = await first.ready();
    assert.equal(cidr, '10.77.0.0/24');
    first.stop();
    // b takes the next block; a's restart (with or without its cache) gets its own again.
    assert.equal(await claimSubnet(etcd, cluster, 'b', net), '10.77.1.0/24');
    await rm(subnetCachePath(workspace));
    const again = new NodeSubnet({ etcd, cluster, node: 'a', network: net, workspace, log });
    await again.start();
    assert.equal(await again.ready(), cidr);
    again.stop();
    // Cut off: an etcd that does not answer; the cached block is there at once.
    const dead = await createEtcd({ endpoints: ['http://127.0.0.1:9'], dialTimeoutMs: 300 });
    const cut = new NodeSubnet({ etcd: dead, cluster, node: 'a', network: net, workspace, log });
    await cut.start();
    assert.equal(cut.get(), cidr);
    cut.stop();
    dead.close();
    assert.deepEqual(await subnets(cluster), {
      [keys.networkSubnet(cluster, 'a')]: JSON.stringify({ cidr: '10.77.0.0/24' }),
      [keys.networkSubnet(cluster, 'b')]: JSON.stringify({ cidr: '10.77.1.0/24' }),
    });
  });

  test('nodes claiming at once never share a block; a full pod CIDR is an error that claims nothing', async () => {
    const cluster = 'race';
    const names = Array.from({ length: 8 }, (_, i) => `n${i}`);
    const got = await Promise.all(names.map((n) => claimSubnet(etcd, cluster, n, net)));
    assert.equal(new Set(got).size, 8, got.join(' '));
    for (const c of got) assert.match(c, /^10\.77\.[0-7]\.0\/24$/);
    await assert.rejects(
      claimSubnet(etcd, cluster, 'n8', net),
      /10\.77\.0\.0\/21 has no free \/24 left for node n8 \(8 taken\)/,
    );
    assert.equal(Object.keys(await subnets(cluster)).length, 8);
    assert.equal(Object.keys(await owners(cluster)).length, 8);
    // A recorded block the config no longer fits is refused, not renumbered.
    await assert.rejects(
      claimSubnet(etcd, cluster, 'n0', { podCidr: '10.78.0.0/16', nodeMaskSize: 24 }),
      /is not a \/24 of network\.podCidr 10\.78\.0\.0\/16 \(changing podCidr or nodeMaskSize under running nodes is not supported\)/,
    );
  });

  const config = (names: string[]) =>
    ({ cluster: 'free', nodes: names.map((name) => ({ name })) }) as unknown as ClusterConfig;

  test('freed only under the fence, only once the node is out of the config and its record gone', async () => {
    const cluster = 'free';
    for (const n of ['a', 'b', 'c']) await claimSubnet(etcd, cluster, n, net);
    await etcd.put(keys.node(cluster, 'c')).value('{}');
    // VTEP records (agent/routes) go with their node's subnet.
    for (const n of ['a', 'b'])
      await etcd.put(keys.networkVtep(cluster, n)).value('{"mac":"02:00:00:00:00:01"}');
    const fence = '/nokube/free/election/test-fence';
    await etcd.put(fence).value('h1');
    const created = (await etcd.get(fence).exec()).kvs[0]!.create_revision;
    const guard = [{ key: fence, target: 'Create' as const, op: '==' as const, value: created }];
    const stale = [{ key: fence, target: 'Create' as const, op: '==' as const, value: '1' }];
    // A deposed leader frees nothing.
    assert.deepEqual(await freeRemovedSubnets({ etcd, cluster, guard: stale }, config(['a']), log), []);
    // b is out of the config and has no record: freed; c still has a record: kept; a is listed: kept.
    assert.deepEqual(await freeRemovedSubnets({ etcd, cluster, guard }, config(['a']), log), ['b']);
    assert.deepEqual(Object.keys(await subnets(cluster)).sort(), [
      keys.networkSubnet(cluster, 'a'),
      keys.networkSubnet(cluster, 'c'),
    ]);
    assert.deepEqual(Object.values(await owners(cluster)).sort(), ['a', 'c']);
    assert.deepEqual(await etcd.getAll().prefix(keys.networkVtepsPrefix(cluster)).keys(), [
      keys.networkVtep(cluster, 'a'),
    ]);
    // b's block is free again: the next node gets it.
    assert.equal(await claimSubnet(etcd, cluster, 'd', net), '10.77.1.0/24');
  });

  test("the leader frees a removed node's block when its record goes", async () => {
    const cluster = 'leader';
    for (const n of ['a', 'b']) await claimSubnet(etcd, cluster, n, net);
    await etcd.put(keys.node(cluster, 'b')).value('{}');
    const ctx = { ...leaderContext(etcd, cluster), config: () => config(['a']) };
    const leader = new Leader(ctx, []);
    leader.start();
    try {
      // Kicked at start, on config changes and when a node record goes.
      await etcd.delete().key(keys.node(cluster, 'b'));
      await eventually(
        async () => !(keys.networkSubnet(cluster, 'b') in (await subnets(cluster))),
        5000,
        "b's block freed",
      );
      assert.deepEqual(Object.keys(await subnets(cluster)), [keys.networkSubnet(cluster, 'a')]);
      assert.deepEqual(Object.values(await owners(cluster)), ['a']);
    } finally {
      leader.stop();
    }
  });
});

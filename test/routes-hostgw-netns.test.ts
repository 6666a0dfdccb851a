// Routes between nodes' pod subnets with network.backend host-gw, on the real kernel: two netns hosts
// with real agents (test/harness/route-world.ts), a third host whose node has records only, and a node
// beyond a router. Stand-in pods (a namespace on each node's pod bridge) reach each other by pod IP
// without NAT; the node beyond the router gets no route and a NoRouteToPods warning; a node removed
// loses its routes on every peer; an agent restart with unchanged records changes no route and keeps an
// open connection; an agent cut off from etcd and restarted restores its routes from its workspace cache.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listEvents } from '../agent/objects/events.ts';
import { eventually } from './harness/cluster.ts';
import {
  ipIn,
  ourRoutes,
  type RouteWorld,
  reconciled,
  type StandInPod,
  sh,
  startRouteWorld,
} from './harness/route-world.ts';

describe('routes between nodes, host-gw (netns hosts, real agents)', { timeout: 120_000 }, () => {
  let w: RouteWorld;
  let pods: StandInPod[];
  const subnets: Record<string, string> = {};

  before(async () => {
    w = await startRouteWorld({ agents: 2, recordOnly: 1, far: ['far'] });
    await w.startAgents();
    subnets.h2 = await w.fakeNode('h2');
    subnets.far = await w.fakeNode('far');
    pods = [await w.pod('h0'), await w.pod('h1')];
    subnets.h0 = await w.subnetOf('h0');
    subnets.h1 = await w.subnetOf('h1');
  });
  after(async () => {
    await w?.stop();
  });

  test('pods on two hosts reach each other by pod IP, without NAT', async () => {
    const [a, b] = pods as [StandInPod, StandInPod];
    await eventually(async () => (await w.call(a, b)) === a.ip, 20_000, 'h0 pod -> h1 pod');
    await eventually(async () => (await w.call(b, a)) === b.ip, 20_000, 'h1 pod -> h0 pod');
    const h = (n: string) => w.host(n).address;
    assert.deepEqual(await ourRoutes(w.host('h0')), {
      [subnets.h1!]: `${h('h1')} eth0`,
      [subnets.h2!]: `${h('h2')} eth0`,
    });
    assert.deepEqual(await ourRoutes(w.host('h1')), {
      [subnets.h0!]: `${h('h0')} eth0`,
      [subnets.h2!]: `${h('h2')} eth0`,
    });
  });

  test('a node behind a router: no route to its pods, a NoRouteToPods warning that suggests vxlan', async () => {
    const event = await eventually(
      () =>
        w.c
          .withEtcd((etcd) => listEvents(etcd, w.c.name, { kind: 'Node', name: 'h0' }))
          .then((evs) => evs.find((e) => e.reason === 'NoRouteToPods')),
      20_000,
      'NoRouteToPods on h0',
    );
    assert.equal(event.type, 'Warning');
    assert.match(
      event.message,
      /node far \(10\.79\.\d+\.10\): it is behind a router .*network\.backend vxlan/,
    );
    assert.equal((await ourRoutes(w.host('h0')))[subnets.far!], undefined);
  });

  test('a node removed (its subnet record gone): its routes go on every peer', async () => {
    await w.removeNodeRecords('h2');
    for (const n of ['h0', 'h1'])
      await eventually(
        async () => !(subnets.h2! in (await ourRoutes(w.host(n)))),
        15_000,
        `${n}: route to h2's pods gone`,
      );
    assert.equal(Object.keys(await ourRoutes(w.host('h0'))).length, 1);
  });

  test('an agent restart with unchanged records changes no route and drops no connection', async () => {
    const held = await w.hold(pods[0]!, pods[1]!);
    try {
      assert.equal(await held.echo('before'), 'before');
      const before = await ipIn<unknown[]>(w.host('h0'), ['-4', 'route', 'show', 'table', 'all']);
      await w.stopAgent('h0');
      await w.startAgents(['h0']);
      await reconciled(w, 'h0', 'etcd');
      assert.deepEqual(await ipIn<unknown[]>(w.host('h0'), ['-4', 'route', 'show', 'table', 'all']), before);
      assert.equal(await held.echo('after'), 'after');
      assert.equal(await w.call(pods[0]!, pods[1]!), pods[0]!.ip);
    } finally {
      held.close();
    }
  });

  test('cut off from etcd, a restarted agent restores its routes from its cache', async () => {
    const h0 = w.host('h0');
    const want = await ourRoutes(h0);
    await w.stopAgent('h0');
    // etcd (on the hosts' gateway) out of h0's reach; the routes lost (as after a reboot).
    await sh('ip', ['-n', h0.netns, 'route', 'add', 'blackhole', `${w.hosts.gateway}/32`]);
    try {
      await sh('ip', ['-n', h0.netns, 'route', 'flush', 'proto', '78']);
      assert.deepEqual(await ourRoutes(h0), {});
      await w.startAgents(['h0']);
      await reconciled(w, 'h0', 'cache');
      assert.deepEqual(await ourRoutes(h0), want);
      assert.equal(await w.call(pods[0]!, pods[1]!), pods[0]!.ip);
      assert.ok(!w.c.agents.get('h0')!.output().includes('"source":"etcd"'), 'etcd was out of reach');
    } finally {
      await sh('ip', ['-n', h0.netns, 'route', 'del', 'blackhole', `${w.hosts.gateway}/32`]);
    }
  });
});

// Routes between nodes' pod subnets with network.backend vxlan, on the real kernel: two netns hosts with
// real agents (test/harness/route-world.ts) and a third host whose node has records only. Each agent makes
// its VXLAN device (VNI 1, UDP 8472, no learning, MTU of its link less 50, its MAC derived from cluster
// and node and published in etcd) and per peer a forwarding entry, a permanent neighbour and an on-link
// route; stand-in pods reach each other by pod IP without NAT; a node removed loses them on every peer;
// an agent restart with unchanged records changes nothing in the kernel; the teardown removes the device.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { addressAt } from '../agent/net/cidr.ts';
import { vxlanName } from '../agent/podnet/names.ts';
import { vtepMac } from '../agent/routes/plan.ts';
import { keys } from '../agent/store/keys.ts';
import { eventually } from './harness/cluster.ts';
import {
  bridgeIn,
  ipIn,
  ourRoutes,
  type RouteWorld,
  reconciled,
  type StandInPod,
  sh,
  startRouteWorld,
} from './harness/route-world.ts';

const FAKE_MAC = '02:00:00:00:00:12';

interface Link {
  mtu: number;
  address: string;
  linkinfo: { info_kind: string; info_data: { id: number; port: number; learning: boolean; local: string } };
}

describe('routes between nodes, vxlan (netns hosts, real agents)', { timeout: 120_000 }, () => {
  let w: RouteWorld;
  let pods: StandInPod[];
  const subnets: Record<string, string> = {};
  const kernelOf = async (node: string) => {
    const host = w.host(node);
    const dev = vxlanName(w.c.name, node);
    return {
      routes: await ipIn<unknown[]>(host, ['-4', 'route', 'show', 'table', 'all']),
      neigh: await ipIn<unknown[]>(host, ['neigh', 'show', 'dev', dev]),
      fdb: await bridgeIn<unknown[]>(host, ['fdb', 'show', 'dev', dev]),
      link: await ipIn<unknown[]>(host, ['-d', 'link', 'show', 'dev', dev]),
    };
  };

  before(async () => {
    w = await startRouteWorld({ agents: 2, recordOnly: 1, far: [] });
    await w.config('vxlan');
    await w.startAgents();
    subnets.h2 = await w.fakeNode('h2', FAKE_MAC);
    pods = [await w.pod('h0', 1450), await w.pod('h1', 1450)];
    subnets.h0 = await w.subnetOf('h0');
    subnets.h1 = await w.subnetOf('h1');
  });
  after(async () => {
    await w?.stop();
  });

  test('pods on two hosts reach each other by pod IP over VXLAN, without NAT', async () => {
    const [a, b] = pods as [StandInPod, StandInPod];
    await eventually(async () => (await w.call(a, b)) === a.ip, 20_000, 'h0 pod -> h1 pod');
    await eventually(async () => (await w.call(b, a)) === b.ip, 20_000, 'h1 pod -> h0 pod');
  });

  test("each node's device, its published VTEP, and per peer a route, a neighbour and an fdb entry", async () => {
    const h0 = w.host('h0');
    const dev = vxlanName(w.c.name, 'h0');
    const [link] = await ipIn<Link[]>(h0, ['-d', 'link', 'show', 'dev', dev]);
    assert.equal(link!.linkinfo.info_kind, 'vxlan');
    assert.deepEqual(
      { ...link!.linkinfo.info_data, mtu: link!.mtu, mac: link!.address },
      {
        ...link!.linkinfo.info_data,
        id: 1,
        port: 8472,
        learning: false,
        local: h0.address,
        mtu: 1450,
        mac: vtepMac(w.c.name, 'h0'),
      },
    );
    const published = await w.c.withEtcd((etcd) => etcd.get(keys.networkVtep(w.c.name, 'h1')).string());
    assert.deepEqual(JSON.parse(published!), { mac: vtepMac(w.c.name, 'h1') });
    const vtep = (n: string) => addressAt(subnets[n]!, 0);
    assert.deepEqual(await ourRoutes(h0), {
      [subnets.h1!]: `${vtep('h1')} ${dev} onlink`,
      [subnets.h2!]: `${vtep('h2')} ${dev} onlink`,
    });
    const neigh = await ipIn<Array<{ dst: string; lladdr: string; state: string[] }>>(h0, [
      'neigh',
      'show',
      'dev',
      dev,
    ]);
    assert.deepEqual(
      neigh.map((n) => [n.dst, n.lladdr, n.state.join()]).sort(),
      [
        [vtep('h1'), vtepMac(w.c.name, 'h1'), 'PERMANENT'],
        [vtep('h2'), FAKE_MAC, 'PERMANENT'],
      ].sort(),
    );
    const fdb = await bridgeIn<Array<{ mac: string; dst?: string }>>(h0, ['fdb', 'show', 'dev', dev]);
    assert.deepEqual(
      fdb
        .filter((f) => f.dst)
        .map((f) => [f.mac, f.dst])
        .sort(),
      [
        [vtepMac(w.c.name, 'h1'), w.host('h1').address],
        [FAKE_MAC, w.host('h2').address],
      ].sort(),
    );
  });

  test('a node removed (its records gone): its route, neighbour and fdb entry go on every peer', async () => {
    await w.removeNodeRecords('h2');
    for (const n of ['h0', 'h1'])
      await eventually(
        async () => {
          const k = await kernelOf(n);
          return !JSON.stringify(k).includes(FAKE_MAC) && !JSON.stringify(k.routes).includes(subnets.h2!);
        },
        15_000,
        `${n}: h2's route, neighbour and fdb entry gone`,
      );
  });

  test('an agent restart with unchanged records changes nothing in the kernel', async () => {
    const before = await kernelOf('h0');
    await w.stopAgent('h0');
    await w.startAgents(['h0']);
    await reconciled(w, 'h0', 'etcd');
    assert.deepEqual(await kernelOf('h0'), before);
    assert.equal(await w.call(pods[0]!, pods[1]!), pods[0]!.ip);
  });

  test("`nokube down`'s teardown (agent/podnet/teardown.ts) removes the node's VXLAN device and its routes", async () => {
    const h0 = w.host('h0');
    await w.stopAgent('h0');
    const teardown = new URL('../agent/podnet/teardown.ts', import.meta.url).pathname;
    await sh('ip', [
      'netns',
      'exec',
      h0.netns,
      process.execPath,
      '-e',
      `import(${JSON.stringify(teardown)}).then((m) => m.removeNodeNetwork(${JSON.stringify(w.c.name)}, 'h0'))`,
    ]);
    assert.deepEqual(await ipIn<unknown[]>(h0, ['link', 'show', 'type', 'vxlan']), []);
    assert.deepEqual(await ourRoutes(h0), {});
  });
});

// The route planner between nodes' pod subnets (agent/routes/plan.ts): pure, no kernel.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { diffEntries, planRoutes, vtepMac } from '../agent/routes/plan.ts';

const peers = [
  { node: 'b', address: '192.0.2.12', subnet: '10.42.2.0/24' },
  { node: 'a', address: '192.0.2.11', subnet: '10.42.1.0/24' },
  { node: 'c', address: '192.0.2.13', subnet: '10.42.3.0/24' },
];

describe('routes between pod subnets', () => {
  test('host-gw: each peer subnet via its node, not our own', () => {
    assert.deepEqual(planRoutes('k', 'a', 'host-gw', peers, 'nkx'), {
      routes: [
        { dst: '10.42.2.0/24', via: '192.0.2.12' },
        { dst: '10.42.3.0/24', via: '192.0.2.13' },
      ],
      neighbours: [],
      fdb: [],
    });
  });

  test("vxlan: on-link via the peer's VTEP, its MAC in the neighbours, the MAC to the peer's address", () => {
    const plan = planRoutes('k', 'a', 'vxlan', peers, 'nkx');
    assert.deepEqual(plan.routes, [
      { dst: '10.42.2.0/24', via: '10.42.2.0', dev: 'nkx' },
      { dst: '10.42.3.0/24', via: '10.42.3.0', dev: 'nkx' },
    ]);
    assert.deepEqual(plan.neighbours, [
      { ip: '10.42.2.0', mac: vtepMac('k', 'b'), dev: 'nkx' },
      { ip: '10.42.3.0', mac: vtepMac('k', 'c'), dev: 'nkx' },
    ]);
    assert.deepEqual(plan.fdb, [
      { mac: vtepMac('k', 'b'), dst: '192.0.2.12', dev: 'nkx' },
      { mac: vtepMac('k', 'c'), dst: '192.0.2.13', dev: 'nkx' },
    ]);
  });

  test('VTEP MACs: stable, locally administered unicast, distinct per cluster and node', () => {
    const macs = [vtepMac('k', 'a'), vtepMac('k', 'b'), vtepMac('j', 'a')];
    assert.equal(new Set(macs).size, 3);
    assert.equal(vtepMac('k', 'a'), macs[0]);
    for (const m of macs) {
      assert.match(m, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      assert.equal(Number.parseInt(m.slice(0, 2), 16) & 0x03, 0x02);
    }
  });

  test('the difference: only what changed; the same wish changes nothing', () => {
    const have = planRoutes('k', 'a', 'host-gw', peers, 'nkx').routes;
    assert.deepEqual(diffEntries(have, have), { add: [], remove: [] });
    const moved = planRoutes(
      'k',
      'a',
      'host-gw',
      [peers[0]!, { ...peers[2]!, address: '192.0.2.99' }],
      'nkx',
    ).routes;
    assert.deepEqual(diffEntries(moved, have), {
      add: [{ dst: '10.42.3.0/24', via: '192.0.2.99' }],
      remove: [{ dst: '10.42.3.0/24', via: '192.0.2.13' }],
    });
    // Key order does not make a difference.
    assert.deepEqual(
      diffEntries([{ via: '1.1.1.1', dst: '10.0.0.0/24' }], [{ dst: '10.0.0.0/24', via: '1.1.1.1' }]),
      {
        add: [],
        remove: [],
      },
    );
  });
});

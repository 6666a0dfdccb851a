// The commands a route difference becomes (agent/routes/kernel.ts diffCommands): pure, no kernel.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { diffCommands } from '../agent/routes/kernel.ts';
import { diffEntries, planRoutes } from '../agent/routes/plan.ts';

const peers = [
  { node: 'a', address: '192.0.2.11', subnet: '10.42.1.0/24' },
  { node: 'b', address: '192.0.2.12', subnet: '10.42.2.0/24', vtepMac: '02:00:00:00:00:0b' },
];
const none = { add: [], remove: [] };

describe('route commands', () => {
  test('host-gw: a new peer is a route add, a moved one a replace (no moment without), a gone one a del', () => {
    const have = planRoutes('k', 'self', 'host-gw', peers, 'nkx').routes;
    const want = planRoutes(
      'k',
      'self',
      'host-gw',
      [
        { ...peers[1]!, address: '192.0.2.99' },
        { node: 'c', address: '192.0.2.13', subnet: '10.42.3.0/24' },
      ],
      'nkx',
    ).routes;
    const cmds = diffCommands({ routes: diffEntries(want, have), neighbours: none, fdb: none });
    assert.deepEqual(cmds.ip, [
      'route replace 10.42.2.0/24 via 192.0.2.99 proto 78',
      'route add 10.42.3.0/24 via 192.0.2.13 proto 78',
      'route del 10.42.1.0/24 via 192.0.2.11 proto 78',
    ]);
    assert.deepEqual(cmds.bridge, []);
  });

  test('vxlan: neighbours, on-link routes and fdb entries; the published MAC is used', () => {
    const want = planRoutes('k', 'self', 'vxlan', peers, 'nkx');
    const empty = { routes: [], neighbours: [], fdb: [] };
    const cmds = diffCommands({
      routes: diffEntries(want.routes, empty.routes),
      neighbours: diffEntries(want.neighbours, empty.neighbours),
      fdb: diffEntries(want.fdb, empty.fdb),
    });
    assert.ok(cmds.ip.includes('neigh replace 10.42.2.0 lladdr 02:00:00:00:00:0b dev nkx nud permanent'));
    assert.ok(cmds.ip.includes('route add 10.42.2.0/24 via 10.42.2.0 dev nkx onlink proto 78'));
    assert.ok(cmds.bridge.includes('fdb append 02:00:00:00:00:0b dev nkx dst 192.0.2.12'));
    // Neighbours before the routes that use them.
    assert.ok(
      cmds.ip.findIndex((l) => l.startsWith('neigh')) < cmds.ip.findIndex((l) => l.startsWith('route')),
    );
    // All gone: deletes only, routes before their neighbours.
    const gone = diffCommands({
      routes: diffEntries([], want.routes),
      neighbours: diffEntries([], want.neighbours),
      fdb: diffEntries([], want.fdb),
    });
    assert.deepEqual(gone.ip, [
      'route del 10.42.1.0/24 via 10.42.1.0 dev nkx proto 78',
      'route del 10.42.2.0/24 via 10.42.2.0 dev nkx proto 78',
      'neigh del 10.42.1.0 dev nkx',
      'neigh del 10.42.2.0 dev nkx',
    ]);
    assert.equal(gone.bridge.length, 2);
  });

  test('the same wish: no command', () => {
    const want = planRoutes('k', 'self', 'vxlan', peers, 'nkx');
    const cmds = diffCommands({
      routes: diffEntries(want.routes, want.routes),
      neighbours: diffEntries(want.neighbours, want.neighbours),
      fdb: diffEntries(want.fdb, want.fdb),
    });
    assert.deepEqual(cmds, { ip: [], bridge: [] });
  });
});
